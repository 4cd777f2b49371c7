// Every lint rule, in the order findings are listed within a migration.
import type { LintRule } from "../rule.ts";
import { concurrentlyInTransaction } from "./concurrently-in-transaction.ts";
import { constraintWithoutNotValid } from "./constraint-without-not-valid.ts";
import { deleteAllRows } from "./delete-all-rows.ts";
import { dropColumn } from "./drop-column.ts";
import { dropTable } from "./drop-table.ts";
import { emptyDowngrade } from "./empty-downgrade.ts";
import { indexWithoutConcurrently } from "./index-without-concurrently.ts";
import { longStatement } from "./long-statement.ts";
import { multiStatementExecute } from "./multi-statement-execute.ts";
import { narrowType } from "./narrow-type.ts";
import { setNotNullWithoutCheck } from "./set-not-null-without-check.ts";
import { typeChangeRewrite } from "./type-change-rewrite.ts";
import { unguardedExecute } from "./unguarded-execute.ts";
import { volatileDefault } from "./volatile-default.ts";

export const RULES: readonly LintRule[] = [
  // destructive
  dropTable,
  dropColumn,
  narrowType,
  deleteAllRows,
  // locking
  volatileDefault,
  typeChangeRewrite,
  indexWithoutConcurrently,
  constraintWithoutNotValid,
  setNotNullWithoutCheck,
  // Data API
  longStatement,
  multiStatementExecute,
  concurrentlyInTransaction,
  // hygiene
  emptyDowngrade,
  unguardedExecute,
];

export {
  concurrentlyInTransaction,
  constraintWithoutNotValid,
  deleteAllRows,
  dropColumn,
  dropTable,
  emptyDowngrade,
  indexWithoutConcurrently,
  longStatement,
  multiStatementExecute,
  narrowType,
  setNotNullWithoutCheck,
  typeChangeRewrite,
  unguardedExecute,
  volatileDefault,
};
