// hygiene: an upgrade that changes something with a downgrade that does nothing. `retort
// downgrade` would record the revision as reverted while its changes stay, and the next upgrade
// trips over them.
import { COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";

export const emptyDowngrade: LintRule = {
  code: "empty-downgrade",
  category: RuleCategory.Hygiene,
  description: "the downgrade does nothing while the upgrade does something",
  check(subject) {
    const { target, migration } = subject;
    if (target.kind !== "migration") return NOT_APPLICABLE;
    const upgradeSteps = migration.operations.length + migration.reads.length;
    if (upgradeSteps === 0 || migration.irreversible) return NOT_APPLICABLE;
    if (migration.downgradeSteps > 0) return COMPLIANT;
    return nonCompliant(
      `the upgrade makes ${upgradeSteps} operation(s) but the downgrade none: \`retort downgrade\` would record the revision as reverted while its changes stay`,
      "write the inverse operations in downgrade (safe forms: safeDropColumn, safeDropIndex, ...), or mark the migration " +
        "`irreversible: true` if it is one-way on purpose (downgrade then refuses it and validate reports it as such)",
    );
  },
};
