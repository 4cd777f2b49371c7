// The public API of retort: what migration files and embedding applications import.
export { defineMigration } from "./revision/migration.ts";
export type { Migration, MigrationDefinition } from "./revision/migration.ts";
