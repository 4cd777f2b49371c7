// destructive: dropping a table that exists before the migration deletes it with all its rows.
import type { QualifiedName } from "../../schema/names.ts";
import { type Compliance, COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";
import { type LintSubject, tableExisted, tableName } from "../subject.ts";

export const dropTable: LintRule = {
  code: "drop-table",
  category: RuleCategory.Destructive,
  description: "a table that exists before the migration is dropped, with every row in it",
  check(subject) {
    const { target } = subject;
    if (target.kind === "operation" && target.operation.operation.kind === "dropTable") {
      return verdict(subject, [target.operation.operation.table]);
    }
    if (target.kind === "fact" && target.fact.kind === "dropTable") return verdict(subject, target.fact.tables);
    return NOT_APPLICABLE;
  },
};

function verdict(subject: LintSubject, tables: readonly QualifiedName[]): Compliance {
  const existing = tables.filter((t) => tableExisted(subject.migration, t));
  if (existing.length === 0) return COMPLIANT;
  const names = existing.map((t) => tableName(subject, t)).join(", ");
  return nonCompliant(
    `drops table ${names} and every row in it`,
    `stop using ${names} in the application and deploy that first; drop it in a later migration once a backup ` +
      `exists (or rename it with op.renameTable and drop the renamed table after a grace period)`,
  );
}
