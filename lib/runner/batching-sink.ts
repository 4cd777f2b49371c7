// The runner's statement sink: how one migration's statements reach the database in as few round
// trips as possible (through the Data API each is an HTTPS call). Parameterless DDL is queued and
// sent as one DO block together with the version-table update, so a migration of pure DDL costs
// one call and is atomic without BEGIN/COMMIT. Only when a migration needs bound values or reads
// does the sink open a transaction, flushing the queue into it first.
import type { Dialect, RenderedStatement } from "../dialect/dialect.ts";
import type { SinkStatement, StatementSink } from "../ops/sink.ts";
import type { QueryResult, SqlExecutor, SqlParams, SqlSession } from "../sql/executor.ts";
import { type HeldTransaction, holdTransaction } from "./held-transaction.ts";

/** A statement that PostgreSQL refuses inside a transaction, in a migration that runs in one. */
export class NeedsNonTransactionalError extends Error {
  override name = "NeedsNonTransactionalError";
  constructor(readonly statement: SinkStatement) {
    super(
      `${statement.sql.split("\n")[0]} cannot run inside a transaction; ` +
        "mark the migration `transactional: false` (it then runs statement by statement, each safe to retry)",
    );
  }
}

const LONG = { continueAfterTimeout: true } as const;

export class BatchingSink implements StatementSink {
  private queue: SinkStatement[] = [];
  private held: HeldTransaction | undefined;
  /** True once something was sent for this migration: it can no longer join a group. */
  sentDirectly = false;
  /** Runs before the first statement this sink sends itself (the runner flushes its group). */
  beforeDirectSend: () => Promise<void> = async () => {};

  constructor(
    private readonly executor: SqlExecutor,
    private readonly dialect: Dialect,
    /** false: every statement runs at once in autocommit (CREATE INDEX CONCURRENTLY). */
    private readonly transactional: boolean,
  ) {}

  statement(statement: SinkStatement): void | Promise<void> {
    if (!this.transactional) return (async () => this.send(await this.direct(), statement.sql, statement.params))();
    const kind = this.dialect.classifyStatement(statement.sql);
    if (!kind.transactional) throw new NeedsNonTransactionalError(statement);
    const hasParams = statement.params !== undefined && Object.keys(statement.params).length > 0;
    if (hasParams || !kind.batchable) {
      return (async () => this.send(await this.flushIntoTransaction(), statement.sql, statement.params))();
    }
    this.queue.push(statement);
  }

  async query(sql: string, params?: SqlParams): Promise<QueryResult> {
    if (!this.transactional) {
      const executor = await this.direct();
      return executor.query(sql, params);
    }
    const session = await this.flushIntoTransaction();
    return session.query(sql, params);
  }

  /**
   * Sends what is queued plus `statements` (e.g. creating the version table) and `procedural`
   * (the version-table update) as one statement, after `preamble` (the fencing claim), then
   * commits if a transaction is open.
   */
  async finish(statements: readonly string[], procedural: readonly string[], preamble: readonly string[] = []): Promise<void> {
    const batch = this.dialect.renderBatch([...this.queue, ...statements.map((sql) => ({ sql }))], procedural, preamble);
    this.queue = [];
    if (batch === null) throw new Error("nothing to finish the migration with");
    await this.send(this.held?.session ?? this.executor, batch);
    await this.held?.commit();
    this.held = undefined;
  }

  /** Hands over the queued statements (the runner sends them with other migrations'). */
  drain(): RenderedStatement[] {
    const queued = this.queue;
    this.queue = [];
    return queued;
  }

  /** Rolls back an open transaction; queued statements are dropped. */
  async abort(): Promise<void> {
    this.queue = [];
    const held = this.held;
    this.held = undefined;
    await held?.rollback();
  }

  /** The executor, once whatever the runner holds back has been sent. */
  private async direct(): Promise<SqlExecutor> {
    if (!this.sentDirectly) {
      this.sentDirectly = true;
      await this.beforeDirectSend();
    }
    return this.executor;
  }

  private async flushIntoTransaction(): Promise<SqlSession> {
    this.held ??= await holdTransaction(await this.direct());
    if (this.queue.length > 0) {
      const batch = this.dialect.renderBatch(this.queue);
      this.queue = [];
      if (batch !== null) await this.send(this.held.session, batch);
    }
    return this.held.session;
  }

  private async send(session: SqlSession, sql: string, params?: SqlParams): Promise<void> {
    await session.query(sql, params, LONG);
  }
}
