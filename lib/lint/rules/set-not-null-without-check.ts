// locking: SET NOT NULL on an existing column reads the whole table under an ACCESS EXCLUSIVE lock
// to prove there is no NULL, unless a validated CHECK (column IS NOT NULL) already proves it
// (PostgreSQL 12+ then skips the scan). The safe sequence: add the check NOT VALID, validate it,
// then SET NOT NULL (and drop the check), each committing on its own: op.safeSetNotNull does all
// four (it is another operation, so this rule does not look at it).
import { sameName, type QualifiedName } from "../../schema/names.ts";
import { findTable } from "../../schema/snapshot.ts";
import { COMMITS_ON_ITS_OWN, opCall, relationArg } from "../advice.ts";
import { type Compliance, COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";
import { columnBefore, columnExisted, type LintSubject, tableName } from "../subject.ts";

export const setNotNullWithoutCheck: LintRule = {
  code: "set-not-null-without-check",
  category: RuleCategory.Locking,
  description: "an existing column is made NOT NULL without a validated CHECK (column IS NOT NULL) proving it first",
  check(subject) {
    const { target } = subject;
    if (target.kind === "operation") {
      const op = target.operation.operation;
      if (op.kind !== "alterColumn" || op.nullable !== false) return NOT_APPLICABLE;
      // Already NOT NULL: safe-upgrade skips it, and nothing is scanned.
      if (columnBefore(subject.migration, op.table, op.column)?.nullable === false) return COMPLIANT;
      return verdict(subject, op.table, op.column);
    }
    if (target.kind === "fact" && target.fact.kind === "setNotNull") return verdict(subject, target.fact.table, target.fact.column);
    return NOT_APPLICABLE;
  },
};

function verdict(subject: LintSubject, table: QualifiedName, column: string): Compliance {
  if (!columnExisted(subject.migration, table, column)) return COMPLIANT;
  if (provenNotNull(subject, table, column)) return COMPLIANT;
  const t = tableName(subject, table);
  const call = opCall("safeSetNotNull", relationArg(table, subject.defaultSchema), JSON.stringify(column));
  return nonCompliant(
    `sets ${t}.${column} NOT NULL, reading every row of ${t} under an ACCESS EXCLUSIVE lock (reads and writes wait)`,
    `use ${call} instead, ${COMMITS_ON_ITS_OWN}: it adds CHECK (${subject.dialect.quoteIdentifier(column)} IS NOT NULL) NOT VALID, ` +
      "validates it while reads and writes go on, sets NOT NULL without a scan and drops the check",
  );
}

/** A validated CHECK (column IS NOT NULL) on the table before this migration starts. */
function provenNotNull(subject: LintSubject, table: QualifiedName, column: string): boolean {
  const wanted = new Set([`${column} is not null`]);
  const known = findTable(subject.migration.before, table);
  if (known?.constraints.some((c) => c.kind === "check" && c.validated && wanted.has(subject.dialect.expressionText(c.expression)))) return true;
  // Checks added and validated by raw SQL in earlier migrations (the simulation cannot see them).
  const earlier = subject.all.filter((m) => m.position < subject.migration.position);
  const facts = earlier.flatMap((m) => m.operations.flatMap((o) => o.statements.flatMap((s) => s.facts)));
  return facts.some(
    (f) =>
      f.kind === "addConstraint" &&
      f.constraint === "check" &&
      sameName(f.table, table) &&
      f.expression !== null &&
      wanted.has(f.expression) &&
      (!f.notValid || facts.some((v) => v.kind === "validateConstraint" && sameName(v.table, table) && v.name === f.name)),
  );
}
