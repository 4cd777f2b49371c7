// Errors the op object raises itself, before or instead of the database. A database failure is
// the executor's SqlError, passed through unchanged so its message stays PostgreSQL's own.

import { RetortError } from "../errors.ts";

/** A migration called an operation with arguments retort refuses (bad name, empty column list). */
export class InvalidOperationError extends RetortError {
  override readonly code: string = "invalid-operation";
  protected override details(): Record<string, unknown> {
    return { method: this.method };
  }
  constructor(
    /** The op method called, e.g. "safeCreateIndex". */
    readonly method: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${method}: ${message}`, options);
    this.name = "InvalidOperationError";
  }
}

/** An operation called after an earlier one of the same migration failed; it was not run. */
export class OperationsAbortedError extends RetortError {
  override readonly code: string = "operations-aborted";
  protected override details(): Record<string, unknown> {
    return { method: this.method };
  }
  constructor(
    readonly method: string,
    cause: unknown,
  ) {
    super(
      `${method} was not run: an earlier operation of this migration failed (${cause instanceof Error ? cause.message : String(cause)})`,
      { cause },
    );
    this.name = "OperationsAbortedError";
  }
}
