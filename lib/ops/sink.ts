// Where the op object sends what it decided to run. The runner's sink queues statements and sends
// a migration's DDL together (one DO block, one Data API call); DirectSink runs each statement at
// once and is the baseline the runner's grouping is measured against.
import type { QueryResult, SqlParams, SqlSession } from "../sql/executor.ts";
import type { Operation } from "../schema/operation.ts";

export interface SinkStatement {
  readonly sql: string;
  readonly params?: SqlParams;
  /** The operation the statement belongs to, so a failure can be reported against it. */
  readonly operation: Operation;
}

export interface StatementSink {
  /**
   * Queue a statement (already rendered; values bound as named params where PostgreSQL allows).
   * A sink may also run it at once and return the promise, which the op object then awaits, so
   * a failure surfaces at the operation that caused it.
   */
  statement(statement: SinkStatement): void | Promise<void>;
  /** Run a read now (the sink flushes queued statements first). */
  query(sql: string, params?: SqlParams): Promise<QueryResult>;
}

/** Runs every statement immediately on `session`: one round trip per statement. */
export class DirectSink implements StatementSink {
  /** What ran, in order. */
  readonly executed: SinkStatement[] = [];

  constructor(private readonly session: SqlSession) {}

  async statement(statement: SinkStatement): Promise<void> {
    // DDL can outlast the Data API's 45 s HTTP limit (an index build on a big table).
    await this.session.query(statement.sql, statement.params, { continueAfterTimeout: true });
    this.executed.push(statement);
  }

  query(sql: string, params?: SqlParams): Promise<QueryResult> {
    return this.session.query(sql, params);
  }
}
