// locking: CREATE INDEX without CONCURRENTLY on an existing table blocks every write to it until
// the index is built, which on a big table is minutes.
import type { QualifiedName } from "../../schema/names.ts";
import { type Compliance, COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";
import { type LintSubject, tableExisted, tableName } from "../subject.ts";

export const indexWithoutConcurrently: LintRule = {
  code: "index-without-concurrently",
  category: RuleCategory.Locking,
  description: "an index is built on an existing table without CONCURRENTLY, blocking writes to it",
  check(subject) {
    const { target } = subject;
    if (target.kind === "operation" && target.operation.operation.kind === "createIndex") {
      const op = target.operation.operation;
      return verdict(subject, op.index.name, op.table, op.concurrently);
    }
    if (target.kind === "fact" && target.fact.kind === "createIndex") {
      return verdict(subject, target.fact.index, target.fact.table, target.fact.concurrently);
    }
    return NOT_APPLICABLE;
  },
};

function verdict(subject: LintSubject, index: string | null, table: QualifiedName, concurrently: boolean): Compliance {
  if (concurrently || !tableExisted(subject.migration, table)) return COMPLIANT;
  const name = tableName(subject, table);
  return nonCompliant(
    `builds index ${index ?? "(unnamed)"} on ${name} without CONCURRENTLY: every write to ${name} waits until the build ends`,
    "pass { concurrently: true } and mark the migration `transactional: false`, keeping the index in a migration of " +
      "its own (safeCreateIndex rebuilds an index that a failed concurrent build left invalid)",
  );
}
