// Errors raised by executors. Every adapter turns its driver's failure into one of these, so
// callers can read the SQLState whichever way the statement travelled.

import { RetortError } from "../errors.ts";

/** The database refused a statement. `sqlState` is PostgreSQL's five-character code. */
export class SqlError extends RetortError {
  override readonly code: string = "sql-error";
  protected override details(): Record<string, unknown> {
    return { sqlState: this.sqlState ?? null };
  }
  constructor(
    message: string,
    readonly sqlState: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SqlError";
  }
}

/** The database could not be reached or the connection settings are wrong. */
export class ConnectionError extends RetortError {
  override readonly code: string = "connection-failed";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConnectionError";
  }
}

/**
 * query() was given more than one statement (or none). Every adapter runs exactly one statement
 * per call, because the Data API does ("Multistatements aren't supported."); checking it on the
 * client makes PGlite and node-postgres refuse the same strings. SQLState 42601 is what
 * PostgreSQL itself reports for several commands in one prepared statement.
 */
export class MultipleStatementsError extends SqlError {
  override readonly code: string = "multiple-statements";
  constructor(readonly statementCount: number) {
    super(
      statementCount === 0
        ? "query() was given no SQL statement (only whitespace or comments)"
        : `Multistatements aren't supported: query() runs one statement per call and was given ` +
            `${statementCount}. Split the script with splitStatements() from lib/sql/lexer.ts and ` +
            `run each statement on its own.`,
      "42601",
    );
    this.name = "MultipleStatementsError";
  }
}

/**
 * A transaction was used the wrong way: transaction() or the executor's own query() called from
 * inside a transaction's callback (use the `tx` session it was given: transactions do not nest,
 * and on PGlite the executor would wait for the transaction forever), or a `tx` session used
 * after its transaction finished.
 */
export class TransactionUsageError extends RetortError {
  override readonly code: string = "transaction-usage";
  constructor(message: string) {
    super(message);
    this.name = "TransactionUsageError";
  }
}

/**
 * A Data API call failed in a way that is not an SQL error: a statement timeout, a transaction the
 * service no longer knows, or a failure whose outcome is unknown. `outcomeUnknown` says the
 * statement may or may not have run.
 */
export class DataApiError extends RetortError {
  override readonly code: string = "data-api";
  protected override details(): Record<string, unknown> {
    return { operation: this.operation, exceptionName: this.exceptionName ?? null, outcomeUnknown: this.outcomeUnknown };
  }
  constructor(
    message: string,
    readonly operation: DataApiCommand,
    readonly exceptionName: string | undefined,
    readonly outcomeUnknown: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "DataApiError";
  }
}

/**
 * A session in the way of a statement that waits for a lock: one holding the lock, or queued
 * ahead for it (then `waiting`, and the sessions it waits for are listed too). From
 * pg_stat_activity; a field is null where the database does not show it to this user.
 */
export interface LockBlocker {
  pid: number;
  /** pg_stat_activity's state: "idle in transaction" for a transaction nobody sends calls to. */
  state: string | null;
  applicationName: string | null;
  /** When its transaction began (ISO, UTC). */
  xactStart: string | null;
  /** When it entered its state (ISO, UTC): for an idle session, when its last statement ended. */
  stateChange: string | null;
  /** The first line of its statement (the last one it ran, when idle), at most 200 characters. */
  query: string | null;
  /** It waits for a lock itself. */
  waiting: boolean;
}

/**
 * A Data API statement ran into the call's 45 s limit while waiting for a lock other sessions
 * hold (often a transaction of a killed runner, which the service ends after 3 idle minutes), so
 * the statement is not slow. `blockers` says who is in the way, for --json output. Still a
 * StatementTimeoutException: the statement keeps waiting on the database and its outcome is unknown.
 */
export class StatementBlockedError extends DataApiError {
  override readonly code: string = "statement-blocked";
  protected override details(): Record<string, unknown> {
    return { ...super.details(), blockers: this.blockers };
  }
  constructor(
    message: string,
    operation: DataApiCommand,
    readonly blockers: readonly LockBlocker[],
    options?: { cause?: unknown },
  ) {
    super(message, operation, "StatementTimeoutException", true, options);
    this.name = "StatementBlockedError";
  }
}

export type DataApiCommand = "ExecuteStatement" | "BeginTransaction" | "CommitTransaction" | "RollbackTransaction";

/** PostgreSQL's "relation does not exist" and "schema does not exist". */
const MISSING_RELATION = new Set(["42P01", "3F000"]);

/** True when a statement failed because its table (or the table's schema) does not exist yet. */
export function isMissingRelation(error: unknown): boolean {
  return error instanceof SqlError && error.sqlState !== undefined && MISSING_RELATION.has(error.sqlState);
}

/** True when a statement failed because a column it names does not exist (undefined_column). */
export function isMissingColumn(error: unknown): boolean {
  return error instanceof SqlError && error.sqlState === "42703";
}

/**
 * A statement the runner stopped waiting for at its deadline (the Lambda invocation's time) and
 * left running on the database: one outside a transaction (CREATE INDEX CONCURRENTLY), sent with
 * continueAfterTimeout, which a later run waits for.
 */
export class StatementAbandonedError extends RetortError {
  override readonly code: string = "statement-abandoned";
  override name = "StatementAbandonedError";
}

/**
 * True when a statement's outcome is not known: the Data API answered with a timeout (the
 * statement was sent with continueAfterTimeout and may still be running, and may yet commit),
 * lost the call in flight (a 5xx, a dropped connection), or the runner left it running at its
 * deadline.
 */
export function isOutcomeUnknown(error: unknown): boolean {
  if (error instanceof StatementAbandonedError) return true;
  return error instanceof DataApiError && (error.outcomeUnknown || error.exceptionName === "StatementTimeoutException");
}
