// destructive: TRUNCATE, or DELETE without WHERE, in raw SQL empties a table.
import { COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";
import { tableName } from "../subject.ts";

export const deleteAllRows: LintRule = {
  code: "delete-all-rows",
  category: RuleCategory.Destructive,
  description: "raw SQL deletes every row of a table (TRUNCATE, or DELETE without WHERE)",
  check(subject) {
    const { target } = subject;
    if (target.kind !== "fact") return NOT_APPLICABLE;
    const { fact } = target;
    const safer =
      "name the rows to delete with a WHERE clause (in batches for a big table); if emptying the table is the point, " +
      "copy it first (CREATE TABLE ... AS TABLE ...) and say so with a lint allow";
    if (fact.kind === "truncate") {
      return nonCompliant(`TRUNCATE deletes every row of ${fact.tables.map((t) => tableName(subject, t)).join(", ")}`, safer);
    }
    if (fact.kind === "delete") {
      return fact.where ? COMPLIANT : nonCompliant(`DELETE without WHERE deletes every row of ${tableName(subject, fact.table)}`, safer);
    }
    return NOT_APPLICABLE;
  },
};
