// A SqlExecutor wrapper that records every call it passes on: through the Data API each one is an
// HTTPS round trip (one per statement, plus BeginTransaction and Commit/RollbackTransaction), so
// tests and benchmarks count these to keep introspection and grouping honest.

import type { ExecutorKind, QueryOptions, QueryResult, SqlExecutor, SqlParams, SqlSession } from "./executor.ts";

export type CallKind = "query" | "begin" | "commit" | "rollback";

export interface RecordedCall {
  kind: CallKind;
  /** The statement for a query; "BEGIN", "COMMIT" or "ROLLBACK" for the others. */
  sql: string;
  /** True for statements run on a transaction's `tx` session (and for its commit/rollback). */
  inTransaction: boolean;
}

export class CountingExecutor implements SqlExecutor {
  readonly dialect = "postgresql" as const;
  readonly #inner: SqlExecutor;
  readonly #calls: RecordedCall[] = [];

  constructor(inner: SqlExecutor) {
    this.#inner = inner;
  }

  get kind(): ExecutorKind {
    return this.#inner.kind;
  }

  get description(): string {
    return this.#inner.description;
  }

  /** The wrapped executor. */
  get inner(): SqlExecutor {
    return this.#inner;
  }

  /** Every call so far, oldest first (a copy). */
  get calls(): readonly RecordedCall[] {
    return [...this.#calls];
  }

  /** How many calls so far: the number of Data API round trips they would cost. */
  get count(): number {
    return this.#calls.length;
  }

  /** How many calls of one kind so far. */
  countOf(kind: CallKind): number {
    return this.#calls.filter((call) => call.kind === kind).length;
  }

  /** Forgets the calls recorded so far. */
  reset(): void {
    this.#calls.length = 0;
  }

  query<Row = Record<string, unknown>>(sql: string, params?: SqlParams, options?: QueryOptions): Promise<QueryResult<Row>> {
    // Recorded before running: a statement the server refuses still cost its round trip.
    this.#calls.push({ kind: "query", sql, inTransaction: false });
    return this.#inner.query<Row>(sql, params, options);
  }

  /**
   * Records "begin" when the inner executor hands over its `tx` (so a transaction refused before
   * it began, such as a nested one, costs nothing), then each statement, then "commit" when `fn`
   * resolves or "rollback" when it throws.
   */
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    return this.#inner.transaction(async (tx) => {
      this.#calls.push({ kind: "begin", sql: "BEGIN", inTransaction: true });
      const counted: SqlSession = {
        query: <Row>(sql: string, params?: SqlParams, options?: QueryOptions) => {
          this.#calls.push({ kind: "query", sql, inTransaction: true });
          return tx.query<Row>(sql, params, options);
        },
      };
      let result: T;
      try {
        result = await fn(counted);
      } catch (error) {
        this.#calls.push({ kind: "rollback", sql: "ROLLBACK", inTransaction: true });
        throw error;
      }
      this.#calls.push({ kind: "commit", sql: "COMMIT", inTransaction: true });
      return result;
    });
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
