// data-api: a migration that runs in a transaction (the default) with raw SQL PostgreSQL refuses
// inside one (CREATE or DROP INDEX CONCURRENTLY, VACUUM, ...): the run fails every time. The
// operations' own CONCURRENTLY runs outside the transaction by itself.
import { COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";

const SAFER =
  "mark the migration `transactional: false` (its statements then run one by one, each committing on its own) and " +
  "keep it to operations that are safe to run again (safe forms), so safe-upgrade can resume it";

/** Raw SQL: the operations run outside the migration's transaction by themselves. */
const SAFER_RAW =
  "write the index as op.safeCreateIndex(name, table, columns, { concurrently: true }) or " +
  "op.safeDropIndex(name, { concurrently: true }): the runner sends them outside the migration's transaction by itself " +
  "(what the migration did before is committed first), and they rebuild or drop an index a failed concurrent build left INVALID; " +
  `or ${SAFER}`;

export const concurrentlyInTransaction: LintRule = {
  code: "concurrently-in-transaction",
  category: RuleCategory.DataApi,
  description: "a transactional migration has raw SQL that cannot run inside a transaction (CONCURRENTLY)",
  check(subject) {
    const { target, migration } = subject;
    if (target.kind === "operation") {
      // An operation's CONCURRENTLY is planned to run outside the transaction (lib/ops/sink.ts).
      const op = target.operation.operation;
      return (op.kind === "createIndex" || op.kind === "dropIndex") && op.concurrently ? COMPLIANT : NOT_APPLICABLE;
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
