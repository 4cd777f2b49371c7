// Errors the runner raises. Each names the revision, its file and the next command to run.
import type { Migration } from "../revision/migration.ts";

export class MigrationError extends Error {
  override name = "MigrationError";
  readonly revision: string;
  readonly file: string;
  constructor(migration: Migration, direction: string, detail: string, options?: { cause?: unknown }) {
    super(`${direction} of ${migration.revision} (${migration.file}: ${migration.message}) failed: ${detail}`, options);
    this.revision = migration.revision;
    this.file = migration.file;
  }
}

/** The database records heads that no migration file defines: it is ahead of this code. */
export class UnknownDatabaseRevisionsError extends Error {
  override name = "UnknownDatabaseRevisionsError";
  constructor(
    readonly unknown: string[],
    readonly databaseHeads: string[],
  ) {
    super(
      `The database is ahead of this code: it records revision(s) ${unknown.join(", ")} that no migration file defines ` +
        `(database heads: ${databaseHeads.join(", ")}); nothing was changed. Deploy the code that has them, or, if they ` +
        "were removed on purpose, run `retort stamp <revision>` to point the database at a revision this code knows",
    );
  }
}

/** A command needs a database and none was configured. */
export class NoDatabaseError extends Error {
  override name = "NoDatabaseError";
  constructor(command: string) {
    super(`${command} needs a database; pass --db <url> or set RETORT_DB`);
  }
}
