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

export interface ColumnMeta {
  name: string;
  /** The PostgreSQL type name as the server reports it, e.g. "int4", "text", "timestamptz". */
  typeName: string;
}

/** Every adapter returns rows in the same shape; the contract suite in test/sql proves it. */
export interface QueryResult<Row = Record<string, unknown>> {
  rows: Row[];
  columns: ColumnMeta[];
  /** Rows returned, or rows affected for INSERT/UPDATE/DELETE. */
  rowCount: number;
}

export interface QueryOptions {
  /**
   * Keep the statement running after the Data API's 45 s HTTP limit (DDL and long data updates).
   * Ignored by adapters that hold a real connection.
   */
  continueAfterTimeout?: boolean;
}

/** What can run statements: the executor itself, or a transaction it opened. */
export interface SqlSession {
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
   * rethrows). Statements inside run strictly one after another.
   */
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
