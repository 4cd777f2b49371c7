// hygiene: safe-upgrade promises that running a revision again converges. Operations of the op
// object skip what exists; raw SQL cannot be skipped unless it has a guard or is idempotent by
// itself (IF [NOT] EXISTS, ON CONFLICT, CREATE OR REPLACE, DELETE). Every upgrade can be run by
// safe-upgrade (the deploy-time custom resource runs it), so every raw execute is checked.
import { isWord, tokenize } from "../../sql/lexer.ts";
import { COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";

/** Statements that do the same thing when run twice, whatever they say after the first words. */
const IDEMPOTENT_VERBS = ["select", "delete", "truncate", "comment", "grant", "revoke", "analyze", "vacuum", "refresh", "set", "reset"];

export const unguardedExecute: LintRule = {
  code: "unguarded-execute",
  category: RuleCategory.Hygiene,
  description: "raw SQL that is not idempotent runs without a guard, so running the revision again repeats it",
  check(subject) {
    const { target } = subject;
    if (target.kind !== "operation") return NOT_APPLICABLE;
    const op = target.operation.operation;
    if (op.kind !== "execute") return NOT_APPLICABLE;
    if (op.guard !== null) return COMPLIANT;
    const repeated = target.operation.statements.find((s) => !idempotent(s.sql));
    if (repeated === undefined) return COMPLIANT;
    return nonCompliant(
      "runs raw SQL without a guard: safe-upgrade runs it again whenever the revision is applied again, and the SQL does not say it is safe to repeat",
      'use op.safeExecute(sql, { guard: { query: "SELECT 1 WHERE NOT EXISTS (...)" } }) so it runs only when needed, or ' +
        "write idempotent SQL (IF NOT EXISTS, ON CONFLICT DO NOTHING, CREATE OR REPLACE, a WHERE that skips rows already done)",
    );
  },
};

function idempotent(sql: string): boolean {
  const tokens = tokenize(sql);
  if (isWord(tokens[0], ...IDEMPOTENT_VERBS)) return true;
  return tokens.some(
    (t, i) =>
      (isWord(t, "if") && (isWord(tokens[i + 1], "exists") || (isWord(tokens[i + 1], "not") && isWord(tokens[i + 2], "exists")))) ||
      (isWord(t, "on") && isWord(tokens[i + 1], "conflict")) ||
      (isWord(t, "or") && isWord(tokens[i + 1], "replace")),
  );
}
