// locking: adding a column whose default is volatile (random(), gen_random_uuid(), nextval(), a
// function of unknown volatility), or an identity or serial column, to an existing table makes
// PostgreSQL compute a value per row: the whole table is rewritten under an ACCESS EXCLUSIVE lock.
// A constant or stable default (false, now()) is stored once in the catalog and costs nothing.
import { isSqlExpression } from "../../schema/operation.ts";
import { COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";
import { tableExisted, tableName } from "../subject.ts";

export const volatileDefault: LintRule = {
  code: "volatile-default",
  category: RuleCategory.Locking,
  description: "a column added to an existing table needs a value computed per row, which rewrites the table",
  check(subject) {
    const { target } = subject;
    if (target.kind !== "operation") return NOT_APPLICABLE;
    const op = target.operation.operation;
    if (op.kind !== "addColumn") return NOT_APPLICABLE;
    if (!tableExisted(subject.migration, op.table)) return COMPLIANT;
    const name = `${tableName(subject, op.table)}.${op.column.name}`;
    const call = op.column.default !== undefined && isSqlExpression(op.column.default) ? subject.dialect.volatileCall(op.column.default.sql) : undefined;
    const why =
      call !== undefined
        ? `the volatile default ${call}()`
        : op.column.identity !== null
          ? "an identity"
          : subject.dialect.isSerialType(op.column.type)
            ? `the serial type ${op.column.type}`
            : undefined;
    if (why === undefined) return COMPLIANT;
    return nonCompliant(
      `adds ${name} with ${why}: PostgreSQL rewrites the whole of ${tableName(subject, op.table)} under an ACCESS EXCLUSIVE lock, blocking reads and writes`,
      "add the column without a default (or with a constant one), then set the default with op.alterColumn " +
        "(it applies to new rows only), and fill existing rows in batches",
    );
  },
};
