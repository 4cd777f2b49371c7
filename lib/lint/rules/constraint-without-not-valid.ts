// locking: adding a foreign key or a check to an existing table checks every row while holding a
// lock that blocks writes (ACCESS EXCLUSIVE for a check). The safe pattern is two steps: add it
// NOT VALID (only new rows are checked, the lock is brief), then validate it in a later migration
// (op.validateConstraint), which scans without blocking writes. Validating in the same transaction
// gains nothing: the first lock is held until commit.
import { sameName, type QualifiedName } from "../../schema/names.ts";
import { opCall, relationArg } from "../advice.ts";
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
        if (op.notValid) return verdict(subject, op.table, op.name, "check", true, target.operation.index);
        if (!tableExisted(subject.migration, op.table)) return COMPLIANT;
        const t = tableName(subject, op.table);
        const table = relationArg(op.table, subject.defaultSchema);
        const add = opCall("addCheckConstraint", JSON.stringify(op.name), table, JSON.stringify(op.expression), "{ notValid: true }");
        return nonCompliant(
          `adds check ${op.name} on ${t}, reading every row of ${t} under an ACCESS EXCLUSIVE lock (reads and writes wait)`,
          `add it NOT VALID: ${add}, then validate it in a later migration: ${validateCall(subject, op.table, op.name)}`,
        );
      }
      return NOT_APPLICABLE;
    }
    if (target.kind === "fact" && target.fact.kind === "addConstraint") {
      const { fact } = target;
      const kind = fact.constraint === "check" ? "check" : "foreign key";
      return verdict(subject, fact.table, fact.name, kind, fact.notValid, target.operation.index, true);
    }
    return NOT_APPLICABLE;
  },
};

function validateCall(subject: LintSubject, table: QualifiedName, name: string): string {
  return opCall("validateConstraint", relationArg(table, subject.defaultSchema), JSON.stringify(name));
}

function verdict(
  subject: LintSubject,
  table: QualifiedName,
  name: string | null,
  kind: string,
  notValid: boolean,
  index: number,
  raw = false,
): Compliance {
  const { migration } = subject;
  if (!tableExisted(migration, table)) return COMPLIANT;
  const t = tableName(subject, table);
  const shown = name ?? "(unnamed)";
  const later = name === null ? "then validate it in a later migration" : `then validate it in a later migration: ${validateCall(subject, table, name)}`;
  if (!notValid) {
    const how = raw
      ? `${kind === "foreign key" ? "op.createForeignKey" : "op.addCheckConstraint"}(..., { notValid: true }), or NOT VALID in the SQL`
      : "{ notValid: true }";
    return nonCompliant(`adds ${kind} ${shown} on ${t}, checking every existing row while writes to ${t} wait`, `add it NOT VALID (${how}), ${later}`);
  }
  if (name === null) {
    return nonCompliant(`adds an unnamed ${kind} NOT VALID on ${t}, which no later migration can validate by name`, `name the constraint, ${later}`);
  }
  const found = findValidation(subject, table, name, index);
  if (found === undefined) {
    return nonCompliant(
      `adds ${kind} ${name} on ${t} NOT VALID and no later migration validates it: existing rows stay unchecked`,
      `add a later migration that runs ${validateCall(subject, table, name)}`,
    );
  }
  if (found === "same" && migration.transactional) {
    return nonCompliant(
      `validates ${kind} ${name} on ${t} in the same transaction that adds it, so the lock taken by ADD CONSTRAINT is held during the whole check`,
      `move ${validateCall(subject, table, name)} to a later migration`,
    );
  }
  return COMPLIANT;
}

/**
 * Where a validation of this constraint (op.validateConstraint, or VALIDATE CONSTRAINT in raw SQL)
 * comes after operation `index` of the migration.
 */
function findValidation(subject: LintSubject, table: QualifiedName, name: string, index: number): "same" | "later" | undefined {
  for (const m of subject.all) {
    if (m.position < subject.migration.position) continue;
    const same = m.position === subject.migration.position;
    const validates = m.operations.some((o) => {
      if (same && o.index <= index) return false;
      const op = o.operation;
      if (op.kind === "validateConstraint" && sameName(op.table, table) && op.name === name) return true;
      return o.statements.some((s) => s.facts.some((f) => f.kind === "validateConstraint" && sameName(f.table, table) && f.name === name));
    });
    if (validates) return same ? "same" : "later";
  }
  return undefined;
}
