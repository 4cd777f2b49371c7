// The public API of retort: what migration files and embedding applications import.
export { defineMigration } from "./revision/migration.ts";
export type { Migration, MigrationDefinition } from "./revision/migration.ts";
export type { Operations, OpResult, SafeExecuteOptions, DropOptions, DropIndexOptions } from "./ops/operations.ts";
export type {
  ColumnDefinition,
  TableDefinition,
  DefaultValue,
  ForeignKeyDefinition,
  KeyDefinition,
  CheckDefinition,
  IndexColumn,
} from "./ops/operation.ts";
export type { RelationName } from "./dialect/names.ts";
export type { SchemaSnapshot } from "./dialect/snapshot.ts";
