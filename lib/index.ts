// The public API of retort: what migration files and embedding applications import.
export { defineMigration } from "./revision/migration.ts";
export type { Migration, MigrationDefinition } from "./revision/migration.ts";
export type {
  Operations,
  OpResult,
  SafeExecuteOptions,
  DropOptions,
  DropIndexOptions,
  CheckConstraintOptions,
  CreateIndexOptions,
  ForeignKeyOptions,
  AlterColumnChanges,
  PlannedStatement,
  StatementTransaction,
} from "./ops/operations.ts";
export type {
  ColumnDefinition,
  TableDefinition,
  DefaultValue,
  ForeignKeyDefinition,
  KeyDefinition,
  CheckDefinition,
  IndexColumn,
} from "./schema/operation.ts";
export type { RelationName } from "./schema/names.ts";
export type { SchemaSnapshot } from "./schema/snapshot.ts";
// The lock and history ports (lib/state), for code that embeds the runner. Types only, so a
// migration file importing "retort" never loads the AWS SDK; the adapters are in lib/state.
export type { Lock, Lease, LockInfo, LockHolder, AcquireOptions, ForceReleaseResult } from "./state/lock.ts";
export type { History, RunRecord, RevisionRecord, RunOutcome } from "./state/history.ts";
// Every error retort throws: `instanceof RetortError`, its stable `code`, and its JSON.
export { RetortError, errorJson } from "./errors.ts";
// The programmatic runner: each command as a function (the runner loads on first call).
export { check, heads, history, status, current, safeUpgrade, upgrade, downgrade, stamp, validate, lint } from "./api.ts";
export type {
  ProjectOptions,
  DatabaseOptions,
  MigrateOptions,
  CheckResult,
  RevisionInfo,
  LintResult,
  MigrateResult,
  StampResult,
  StatusResult,
  ValidateResult,
} from "./api.ts";
export { RevisionError } from "./revision/errors.ts";
