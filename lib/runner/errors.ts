// Errors the runner raises: a migration that failed, ran out of time or was stopped at the run's
// deadline, a database ahead of the code or still being written, no database at all. Each message
// says what happened and, where there is one, what to do next.
import { RetortError } from "../errors.ts";
import type { Migration } from "../revision/migration.ts";
import { type BusyWriter, describeOtherIssuers, type OtherIssuer } from "../state/version-table.ts";

export class MigrationError extends RetortError {
  override readonly code: string = "migration-failed";
  protected override details(): Record<string, unknown> {
    return { revision: this.revision, file: this.file };
  }
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
export class UnknownDatabaseRevisionsError extends RetortError {
  override readonly code: string = "unknown-database-revisions";
  protected override details(): Record<string, unknown> {
    return { unknown: this.unknown };
  }
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
export class NoDatabaseError extends RetortError {
  override readonly code: string = "no-database";
  override name = "NoDatabaseError";
  constructor(command: string) {
    super(`${command} needs a database; pass --db <url> or set RETORT_DB`);
  }
}

/**
 * Another session holds the version table's writer lock: a statement of an earlier run still
 * executing (its Data API call timed out, and it runs on), or a runner that holds another lock
 * table's lock (two stacks, two lock tables, one database). What it will leave is not known yet,
 * so no run may start beside it.
 */
export class StatementStillRunningError extends RetortError {
  override readonly code: string = "statement-still-running";
  protected override details(): Record<string, unknown> {
    return { writers: this.writers };
  }
  override name = "StatementStillRunningError";
  constructor(
    readonly writers: readonly BusyWriter[],
    waitedMs: number,
    /** Other lock tables whose runners write this database: the writer may be one of theirs. */
    others: readonly OtherIssuer[] = [],
  ) {
    const list = writers.map((w) => `pid ${w.pid}, ${w.state || "state hidden"} since ${w.since || "?"}${w.query ? `: ${w.query}` : ""}`).join("; ");
    // An idle transaction runs nothing a cancel could stop: only ending its session (or the Data
    // API's own expiry of a transaction nobody calls) lets its locks go.
    const idle = writers.filter((w) => w.state.startsWith("idle in transaction"));
    const running = writers.filter((w) => !idle.includes(w));
    const stop = [
      running.length ? `stop it with ${running.map((w) => `SELECT pg_cancel_backend(${w.pid})`).join(", ")}` : "",
      idle.length
        ? `end the open transaction with ${idle.map((w) => `SELECT pg_terminate_backend(${w.pid})`).join(", ")} ` +
          "(a Data API transaction of a killed runner also ends by itself 3 minutes after its last call)"
        : "",
    ].filter(Boolean);
    super(
      `another session is still writing the version table (${list}): ` +
        (idle.length && !running.length
          ? "a transaction left open, by a runner that was killed or one that does not share this run's lock"
          : "a statement of an earlier run that outlived its call, or a runner that does not share this run's lock") +
        `${waitedMs > 0 ? `; waited ${Math.round(waitedMs / 1000)} s` : ""}. ` +
        "What it will leave is not known yet, so nothing was started. Run again when it has finished (--wait <duration> waits for it), " +
        `or ${stop.join(", and ") || `stop it with SELECT pg_cancel_backend(<pid>)`} and run again` +
        (others.length ? `. ${describeOtherIssuers(others)}` : ""),
    );
  }
}

/** A migration ran past its time limit (MigrateOptions.migrationTimeoutMs). */
export class MigrationTimeoutError extends RetortError {
  override readonly code: string = "migration-timeout";
  protected override details(): Record<string, unknown> {
    return { limitMs: this.limitMs };
  }
  override name = "MigrationTimeoutError";
  constructor(
    readonly limitMs: number,
    transactional: boolean,
  ) {
    super(
      `it did not finish within its time limit of ${describeMs(limitMs)} (--migration-timeout): ` +
        (transactional ? "its transaction was rolled back (a statement still running was cancelled). " : "the run stopped waiting for it. ") +
        "If it needs longer, give it more with --migration-timeout (RETORT_MIGRATION_TIMEOUT_SECONDS in the Lambda); " +
        "if it should have finished, look for a promise it never settles (a missing await, an event it waits for)",
    );
  }
}

function describeMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/**
 * The run reached its deadline (MigrateOptions.deadline) with a migration in flight: cancelled and
 * rolled back, so nothing of it is applied.
 */
export class DeadlineReachedError extends RetortError {
  override readonly code: string = "deadline-reached";
  override name = "DeadlineReachedError";
  constructor(ranMs: number, options?: { cause?: unknown }) {
    super(`stopped at this invocation's deadline after ${Math.round(ranMs / 1000)} s: its statement was cancelled and the transaction rolled back`, options);
  }
}
