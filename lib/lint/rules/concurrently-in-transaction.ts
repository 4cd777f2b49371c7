// data-api: a migration that runs in a transaction (the default) with a statement PostgreSQL
// refuses inside one (CREATE or DROP INDEX CONCURRENTLY, VACUUM, ...): the run fails every time.
import { COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";

const SAFER =
  "mark the migration `transactional: false` (its statements then run one by one, each committing on its own) and " +
  "keep it to operations that are safe to run again (safe forms), so safe-upgrade can resume it";

/** Raw SQL: the operations do the same and are safe to run again. */
const SAFER_RAW =
  `${SAFER}; write the index as op.safeCreateIndex(name, table, columns, { concurrently: true }) or ` +
  "op.safeDropIndex(name, { concurrently: true }), which also rebuild or drop an index a failed concurrent build left INVALID";

export const concurrentlyInTransaction: LintRule = {
  code: "concurrently-in-transaction",
  category: RuleCategory.DataApi,
  description: "a transactional migration has a statement that cannot run inside a transaction (CONCURRENTLY)",
  check(subject) {
    const { target, migration } = subject;
    if (target.kind === "operation") {
      const op = target.operation.operation;
      if ((op.kind !== "createIndex" && op.kind !== "dropIndex") || !op.concurrently) return NOT_APPLICABLE;
      if (!migration.transactional) return COMPLIANT;
      return nonCompliant(
        `${op.kind === "createIndex" ? "creates" : "drops"} index ${op.index.name} CONCURRENTLY in a migration that runs in a transaction, which PostgreSQL refuses`,
        SAFER,
      );
    }
    if (target.kind === "statement") {
      if (target.statement.transactional) return NOT_APPLICABLE;
      if (!migration.transactional) return COMPLIANT;
      const first = target.statement.sql.replace(/\s+/g, " ").trim().split(" ").slice(0, 4).join(" ");
      const index = /^(CREATE|DROP) (UNIQUE )?INDEX\b/i.test(first);
      return nonCompliant(`runs ${first} ... in a migration that runs in a transaction, which PostgreSQL refuses`, index ? SAFER_RAW : SAFER);
    }
    return NOT_APPLICABLE;
  },
};
