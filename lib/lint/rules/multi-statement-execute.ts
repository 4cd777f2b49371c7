// data-api: one `op.execute` with several statements. The Data API takes one statement per call,
// so retort splits the string and sends the statements one by one: in a `transactional: false`
// migration a failure leaves the first ones applied, and every report names only the whole string.
import { COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";

export const multiStatementExecute: LintRule = {
  code: "multi-statement-execute",
  category: RuleCategory.DataApi,
  description: "one op.execute holds several SQL statements",
  check(subject) {
    const { target } = subject;
    if (target.kind !== "operation" || target.operation.operation.kind !== "execute") return NOT_APPLICABLE;
    const count = target.operation.statements.length;
    if (count <= 1) return COMPLIANT;
    return nonCompliant(
      `runs ${count} statements from one string; the Data API takes one statement per call, so they are sent one by one ` +
        "and a failure is reported against the whole string",
      "write one op.execute (or op.safeExecute with its own guard) per statement",
    );
  },
};
