// locking: changing a column's type rewrites the table and rebuilds its indexes under an ACCESS
// EXCLUSIVE lock, except for the few changes PostgreSQL makes in the catalog only (raising a
// varchar limit, varchar -> text, numeric precision up).
import { COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";
import { existingColumnTypeChange, tableExisted, tableName } from "../subject.ts";

const SAFER =
  "add a new column of the new type, fill it in batches (keeping it filled with a trigger), then switch to it in a " +
  "short migration; raising a varchar limit, or moving from varchar to text, needs no rewrite";

export const typeChangeRewrite: LintRule = {
  code: "type-change-rewrite",
  category: RuleCategory.Locking,
  description: "a column's type change rewrites an existing table while blocking reads and writes",
  check(subject) {
    const { target, migration } = subject;
    if (target.kind === "fact" && target.fact.kind === "alterColumnType") {
      const { table, column } = target.fact;
      if (!tableExisted(migration, table)) return COMPLIANT;
      return nonCompliant(
        `changes the type of ${tableName(subject, table)}.${column} in raw SQL, which rewrites ${tableName(subject, table)} under an ACCESS EXCLUSIVE lock unless the change is binary-compatible`,
        SAFER,
      );
    }
    const change = existingColumnTypeChange(subject);
    if (change === undefined) return NOT_APPLICABLE;
    const { op, before } = change;
    if (!subject.dialect.typeChange(before.type, op.type, op.using !== undefined).rewrite) return COMPLIANT;
    return nonCompliant(
      `changes ${tableName(subject, op.table)}.${op.column} from ${before.type} to ${op.type}: PostgreSQL rewrites ` +
        `${tableName(subject, op.table)} and its indexes under an ACCESS EXCLUSIVE lock, blocking reads and writes`,
      SAFER,
    );
  },
};
