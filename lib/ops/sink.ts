// Where the op object sends what it decided to run. The runner's sink queues statements and sends
// a migration's DDL together (one DO block, one Data API call); DirectSink runs each statement at
// once and is the baseline the runner's grouping is measured against.
import type { QueryResult, SqlParams, SqlSession } from "../sql/executor.ts";
import type { Operation } from "../schema/operation.ts";

/**
 * How a statement must be committed when it cannot simply join its migration's transaction; the
 * planner marks such statements (PlannedStatement.transaction), and an unmarked statement goes in
 * the migration's transaction, which the runner may share with other migrations and fold into a
 * DO block.
 *
 * - "own": in a transaction of its own. Whatever the migration sent before it is committed first,
 *   and it is committed before anything after it is sent, so the locks it takes are held only
 *   while it runs. setNotNull's four steps and validateConstraint are marked so: the ACCESS
 *   EXCLUSIVE lock of ADD CONSTRAINT must not be held through VALIDATE's scan of the table.
 *   PostgreSQL accepts such a statement inside a transaction too; there it is correct, only
 *   without that benefit (its locks and those before it are held until the transaction ends).
 * - "none": outside any transaction block, in autocommit, because PostgreSQL refuses it inside
 *   one (CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY). As with "own", what came before is
 *   committed first.
 *
 * A migration with a marked statement is not atomic: a failure after one leaves what was committed
 * before it in place. Only operations whose plan converges from every such intermediate state
 * (their safe forms re-plan from the schema they find) are marked. Raw SQL (`op.execute`) is never
 * marked: the runner classifies its statements itself (Dialect.classifyStatement).
 *
 * A migration marked `transactional: false` already commits every statement on its own, so its
 * marked statements get what they ask for. In a transactional migration the runner commits what
 * the migration sent before the first marked statement, and runs the rest of it as it runs a
 * non-transactional one (lib/runner/group-transaction.ts); unmarked raw SQL PostgreSQL refuses
 * in a transaction is refused (NeedsNonTransactionalError).
 */
export type StatementTransaction = "own" | "none";

export interface SinkStatement {
  readonly sql: string;
  readonly params?: SqlParams;
  /** The operation the statement belongs to, so a failure can be reported against it. */
  readonly operation: Operation;
  /** Absent: in the migration's transaction. See StatementTransaction. */
  readonly transaction?: StatementTransaction;
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

/**
 * Runs every statement immediately on `session`: one round trip per statement. On a session in
 * autocommit each statement commits on its own, which is what every StatementTransaction asks; on
 * a transaction's session, a "none" statement fails.
 */
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
