// destructive: dropping a column that exists before the migration deletes its data, and breaks
// any running code that still reads or writes it.
import type { QualifiedName } from "../../schema/names.ts";
import { type Compliance, COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";
import { columnExisted, type LintSubject, tableName } from "../subject.ts";

export const dropColumn: LintRule = {
  code: "drop-column",
  category: RuleCategory.Destructive,
  description: "a column that exists before the migration is dropped, with its data",
  check(subject) {
    const { target } = subject;
    if (target.kind === "operation" && target.operation.operation.kind === "dropColumn") {
      const op = target.operation.operation;
      return verdict(subject, op.table, op.column);
    }
    if (target.kind === "fact" && target.fact.kind === "dropColumn") return verdict(subject, target.fact.table, target.fact.column);
    return NOT_APPLICABLE;
  },
};

function verdict(subject: LintSubject, table: QualifiedName, column: string): Compliance {
  if (!columnExisted(subject.migration, table, column)) return COMPLIANT;
  const name = `${tableName(subject, table)}.${column}`;
  return nonCompliant(
    `drops column ${name} and its data`,
    `deploy code that no longer reads or writes ${name} first, then drop the column in a later migration ` +
      `(expand, then contract), after a backup`,
  );
}
