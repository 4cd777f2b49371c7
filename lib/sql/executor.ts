// The one port every database access in retort goes through. Adapters: PGlite (embedded default),
// node-postgres (a PostgreSQL URL) and the RDS Data API (production). Parameters are always named
// (`:name`, the Data API's own convention) and always bound, never spliced into SQL text.

/** A value that can be bound as a parameter. Plain objects and arrays are sent as JSON. */
export type SqlValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Date
  | Uint8Array
  | { readonly [key: string]: unknown }
  | readonly unknown[];

export type SqlParams = Readonly<Record<string, SqlValue>>;

/**
 * Row normalisation: every adapter (PGlite, node-postgres, Data API) returns column values by
 * these rules, keyed on the column's PostgreSQL type (lib/sql/values.ts implements them):
 * - int2, int4, oid, float4, float8 -> number (NaN and +-Infinity included)
 * - int8 -> number when it is a safe integer, else its decimal string
 * - numeric (and money) -> string, never rounded through a float
 * - bool -> boolean
 * - text, varchar, bpchar (char(n)), "char", name, uuid -> string
 * - json, jsonb -> string: the raw JSON text, as the Data API returns it (callers JSON.parse)
 * - bytea -> Uint8Array
 * - date, time, timetz, timestamp, timestamptz, interval -> string in PostgreSQL's text output
 *   form with DateStyle ISO and the session time zone UTC (`2024-05-01 10:00:00+00`); never a JS
 *   Date, whose local-time parsing loses information
 * - arrays (`_int4`, `_text`, ...) -> JS arrays (nested for several dimensions) of the above
 * - every other type (enums, inet, user types) -> its text output form
 * - NULL -> null
 *
 * Parameter binding: string -> text; number -> an integer when integral, else a float; bigint ->
 * an integer; boolean; null -> NULL; Date -> its ISO 8601 UTC timestamp; Uint8Array -> bytea;
 * a plain object or an array -> its JSON text. Parameters are bound untyped where the protocol
 * allows it, so write a cast where the context does not fix the type (`:n::int4`, `:doc::jsonb`);
 * the Data API binds strings as varchar and integers as int8, and needs those casts too.
 */
export type SqlResultValue = null | boolean | number | string | Uint8Array | SqlResultValue[];

export interface ColumnMeta {
  name: string;
  /** The PostgreSQL type name as the server reports it, e.g. "int4", "text", "timestamptz". */
  typeName: string;
}

/** Every adapter returns rows in the same shape; the contract suite in test/sql proves it. */
export interface QueryResult<Row = Record<string, unknown>> {
  rows: Row[];
  columns: ColumnMeta[];
  /** Rows returned, or rows affected for INSERT/UPDATE/DELETE (also with RETURNING); 0 for DDL. */
  rowCount: number;
}

export interface QueryOptions {
  /**
   * Keep the statement running after the Data API's 45 s HTTP limit (DDL and long data updates).
   * Ignored by adapters that hold a real connection.
   */
  continueAfterTimeout?: boolean;
  /**
   * For a statement outside a transaction: how long it may wait for a lock and run. node-postgres
   * sets them in the statement's own session just before it and resets them after (one round
   * trip each, on the same connection). PGlite sends the statement as it is (one session: no
   * other can hold a lock), and so does the Data API (an autocommit call shares no session with
   * another call, and one call holds one statement). Ignored on a transaction's session.
   */
  timeouts?: StatementTimeouts;
}

/** lock_timeout and statement_timeout, in ms; 0: no limit. */
export interface StatementTimeouts {
  readonly lockTimeoutMs: number;
  readonly statementTimeoutMs: number;
}

/** What can run statements: the executor itself, or a transaction it opened. */
export interface SqlSession {
  /**
   * Runs exactly one statement (a trailing `;` and comments are fine). Rejects with SqlError
   * (carrying the SQLState) when the database refuses it; MultipleStatementsError for several
   * statements or none; MissingParameterError for a `:name` without a value;
   * UnsupportedParameterError for a value that cannot be bound; ConnectionError when the
   * database cannot be reached; TransactionUsageError when called on the executor from inside
   * one of its transactions, or on a finished transaction's session.
   */
  query<Row = Record<string, unknown>>(
    sql: string,
    params?: SqlParams,
    options?: QueryOptions,
  ): Promise<QueryResult<Row>>;
}

export type ExecutorKind = "pglite" | "postgres" | "data-api";

export interface SqlExecutor extends SqlSession {
  readonly dialect: "postgresql";
  readonly kind: ExecutorKind;
  /** A short description safe to print (never a password or secret). */
  readonly description: string;
  /**
   * Runs `fn` in one transaction: commits when it resolves, rolls back when it throws (and
   * rethrows the same error). Statements inside run strictly one after another. Transactions do
   * not nest: calling transaction() or this executor's query() from inside `fn` is a
   * TransactionUsageError. A commit after a failed statement (whose error `fn` swallowed) is a
   * SqlError with SQLState 25P02, never a silent rollback.
   */
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
