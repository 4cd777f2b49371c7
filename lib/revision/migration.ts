// The migration file format: what `defineMigration` accepts, and the loaded form the rest of
// retort works with.
import type { Operations } from "../ops/operations.ts";

export interface MigrationDefinition {
  /** 12 lowercase hex digits, unique in the migrations directory. */
  revision: string;
  /** null for a base, one id, or several ids for a merge. */
  revises: string | readonly string[] | null;
  message: string;
  /** ISO-8601 timestamp written by `retort revision`. */
  createdAt?: string;
  /** Extra ordering edges: these revisions must be applied first (Alembic's depends_on). */
  dependsOn?: string | readonly string[];
  /** Names that can target this revision's branch, as `label@head`. */
  branchLabels?: string | readonly string[];
  /** false runs the migration outside a transaction, statement by statement (CONCURRENTLY). */
  transactional?: boolean;
  /** A deliberate one-way migration: validate reports it as such, downgrade refuses it. */
  irreversible?: boolean;
  upgrade(op: Operations): Promise<void> | void;
  downgrade(op: Operations): Promise<void> | void;
}

/** Identity at run time; gives migration files type checking and editor help. */
export function defineMigration<T extends MigrationDefinition>(definition: T): T {
  return definition;
}

/** A migration as loaded: normalised edges plus where it came from. */
export interface Migration {
  revision: string;
  revises: string[];
  dependsOn: string[];
  branchLabels: string[];
  message: string;
  createdAt: string | undefined;
  transactional: boolean;
  irreversible: boolean;
  /** Path relative to the migrations directory's parent, as users see it (e.g. migrations/x.ts). */
  file: string;
  /** sha256 (hex) of the file's content with line endings normalised to \n. */
  checksum: string;
  upgrade: MigrationDefinition["upgrade"];
  downgrade: MigrationDefinition["downgrade"];
}
