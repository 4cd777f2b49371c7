// Errors raised by executors. Every adapter turns its driver's failure into one of these, so
// callers can read the SQLState whichever way the statement travelled.

/** The database refused a statement. `sqlState` is PostgreSQL's five-character code. */
export class SqlError extends Error {
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
export class ConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConnectionError";
  }
}
