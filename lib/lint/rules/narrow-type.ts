// destructive: changing a column to a narrower type (varchar(100) -> varchar(50), bigint ->
// integer, text -> integer) fails on values that do not fit, or cuts them.
import { COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";
import { existingColumnTypeChange, tableName } from "../subject.ts";

export const narrowType: LintRule = {
  code: "narrow-type",
  category: RuleCategory.Destructive,
  description: "a column's type is changed to one that cannot hold every existing value",
  check(subject) {
    const change = existingColumnTypeChange(subject);
    if (change === undefined) return NOT_APPLICABLE;
    const { op, before } = change;
    if (!subject.dialect.typeChange(before.type, op.type, op.using !== undefined).narrowing) return COMPLIANT;
    const name = `${tableName(subject, op.table)}.${op.column}`;
    return nonCompliant(
      `changes ${name} from ${before.type} to ${op.type}: existing values may not fit, so the migration fails or values are cut`,
      `add a new column of the new type, fill it with a checked conversion, move the application to it and drop ` +
        `the old column later; or first prove every value fits with a CHECK constraint (NOT VALID, then VALIDATE)`,
    );
  },
};
