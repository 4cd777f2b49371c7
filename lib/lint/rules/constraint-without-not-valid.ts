// locking: adding a foreign key or a check to an existing table checks every row while holding a
// lock that blocks writes (ACCESS EXCLUSIVE for a check). The safe pattern is two steps: add it
// NOT VALID (only new rows are checked, the lock is brief), then VALIDATE CONSTRAINT in a later
// migration, which scans without blocking writes. Validating in the same transaction gains
// nothing: the first lock is held until commit.
import { sameName, type QualifiedName } from "../../schema/names.ts";
import type { Dialect } from "../../dialect/dialect.ts";
import { type Compliance, COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";
import { type LintSubject, tableExisted, tableName } from "../subject.ts";

export const constraintWithoutNotValid: LintRule = {
  code: "constraint-without-not-valid",
  category: RuleCategory.Locking,
  description: "a foreign key or check is added to an existing table without NOT VALID, then VALIDATE in a later migration",
  check(subject) {
    const { target } = subject;
    if (target.kind === "operation") {
      const op = target.operation.operation;
      if (op.kind === "createForeignKey") {
        return verdict(subject, op.table, op.name, "foreign key", op.notValid, target.operation.index);
      }
      if (op.kind === "addCheckConstraint") {
        if (!tableExisted(subject.migration, op.table)) return COMPLIANT;
        const t = tableName(subject, op.table);
        const sql = subject.dialect;
        return nonCompliant(
          `adds check ${op.name} on ${t}, reading every row of ${t} under an ACCESS EXCLUSIVE lock (reads and writes wait)`,
          `add it NOT VALID in raw SQL: op.execute(${JSON.stringify(`ALTER TABLE ${sql.quoteName(op.table)} ADD CONSTRAINT ${sql.quoteIdentifier(op.name)} CHECK (${op.expression}) NOT VALID`)}), ` +
            `then validate it in a later migration: op.execute(${JSON.stringify(validateSql(subject.dialect, op.table, op.name))})`,
        );
      }
      return NOT_APPLICABLE;
    }
    if (target.kind === "fact" && target.fact.kind === "addConstraint") {
      const { fact } = target;
      const kind = fact.constraint === "check" ? "check" : "foreign key";
      return verdict(subject, fact.table, fact.name, kind, fact.notValid, target.operation.index);
    }
    return NOT_APPLICABLE;
  },
};

function validateSql(dialect: Dialect, table: QualifiedName, name: string): string {
  return `ALTER TABLE ${dialect.quoteName(table)} VALIDATE CONSTRAINT ${dialect.quoteIdentifier(name)}`;
}

function verdict(
  subject: LintSubject,
  table: QualifiedName,
  name: string | null,
  kind: string,
  notValid: boolean,
  index: number,
): Compliance {
  const { migration } = subject;
  if (!tableExisted(migration, table)) return COMPLIANT;
  const t = tableName(subject, table);
  const shown = name ?? "(unnamed)";
  const later = name === null ? "then validate it in a later migration" : `then validate it in a later migration: op.execute(${JSON.stringify(validateSql(subject.dialect, table, name))})`;
  if (!notValid) {
    return nonCompliant(
      `adds ${kind} ${shown} on ${t}, checking every existing row while writes to ${t} wait`,
      `add it NOT VALID (${kind === "foreign key" ? "{ notValid: true }" : "in raw SQL"}), ${later}`,
    );
  }
  if (name === null) {
    return nonCompliant(`adds an unnamed ${kind} NOT VALID on ${t}, which no later migration can validate by name`, `name the constraint, ${later}`);
  }
  const found = findValidation(subject, table, name, index);
  if (found === undefined) {
    return nonCompliant(
      `adds ${kind} ${name} on ${t} NOT VALID and no later migration validates it: existing rows stay unchecked`,
      `add a later migration that runs op.execute(${JSON.stringify(validateSql(subject.dialect, table, name))})`,
    );
  }
  if (found === "same" && migration.transactional) {
    return nonCompliant(
      `validates ${kind} ${name} on ${t} in the same transaction that adds it, so the lock taken by ADD CONSTRAINT is held during the whole check`,
      "move the VALIDATE CONSTRAINT to a later migration",
    );
  }
  return COMPLIANT;
}

/** Where a VALIDATE CONSTRAINT of this constraint comes after operation `index` of the migration. */
function findValidation(subject: LintSubject, table: QualifiedName, name: string, index: number): "same" | "later" | undefined {
  for (const m of subject.all) {
    if (m.position < subject.migration.position) continue;
    const same = m.position === subject.migration.position;
    const validates = m.operations.some(
      (o) =>
        (!same || o.index > index) &&
        o.statements.some((s) => s.facts.some((f) => f.kind === "validateConstraint" && sameName(f.table, table) && f.name === name)),
    );
    if (validates) return same ? "same" : "later";
  }
  return undefined;
}
