// How the statements of consecutive migrations reach the database in as few round trips as
// possible (through the Data API each is an HTTPS call), and without waiting on each one.
//
// A group is one transaction over one or more migrations, with the version-table update that
// records them as its last statement, so each migration is still committed together with its
// record and nothing of a failed group stays applied. Parameterless DDL is queued and sent as one
// DO block; a statement with bound values, or one a DO block cannot hold, first sends the queue
// and then goes on its own. Sends are pipelined: they are chained in order and not awaited, so
// the runner plans the next migration while the database works on the last one; a failure is
// kept and surfaces at the next read, at commit, or through `failed`. A group that never had to
// send anything before its end is one autocommitted DO block: no BEGIN, no COMMIT.
//
// A non-transactional group (one migration marked `transactional: false`) sends every statement
// at once in autocommit and waits for it, so a failure stops it where it happened.
//
// A statement its operation marks to commit on its own (StatementTransaction: setNotNull's steps,
// validateConstraint, CREATE INDEX CONCURRENTLY) detaches a transactional migration: what it sent
// before is committed (without its version record), and from that statement on it runs as a
// non-transactional one does, its version record last. Only the first migration of a group can
// detach: from any other, the statement throws CommitsAloneError, and the runner commits the
// migrations before it without it and runs it again first in a group of its own.
//
// Every transaction starts with `settings` (lock_timeout, statement_timeout: lock-retry.ts), in
// the PL/pgSQL it sends first. A statement outside a transaction is bounded too: one that may run
// in a DO block goes in one with the preamble and the settings (one call); any other (CREATE INDEX
// CONCURRENTLY) carries `timeouts`, when the runner gives any, as QueryOptions.timeouts, which
// the adapter applies in its session where it has one.
import { RetortError } from "../errors.ts";
import type { Dialect, RenderedStatement } from "../dialect/dialect.ts";
import type { SinkStatement, StatementSink } from "../ops/sink.ts";
import type { QueryResult, SqlExecutor, SqlParams, SqlSession, StatementTimeouts } from "../sql/executor.ts";
import { type HeldTransaction, holdTransaction } from "./held-transaction.ts";

/** A statement that PostgreSQL refuses inside a transaction, in a migration that runs in one. */
export class NeedsNonTransactionalError extends RetortError {
  override readonly code: string = "needs-non-transactional";
  override name = "NeedsNonTransactionalError";
  constructor(readonly statement: SinkStatement) {
    super(
      `${statement.sql.split("\n")[0]} cannot run inside a transaction; ` +
        "mark the migration `transactional: false` (it then runs statement by statement, each safe to retry)",
    );
  }
}

/**
 * A statement that must commit on its own, from a migration sharing its transaction with earlier
 * ones (GroupTransaction.shared): the runner rolls the group back, commits the earlier migrations
 * without it, and runs it again first in a group of its own, where it can detach.
 */
export class CommitsAloneError extends RetortError {
  override readonly code: string = "commits-alone";
  override name = "CommitsAloneError";
  constructor(readonly statement: SinkStatement) {
    super(`${statement.sql.split("\n")[0]} must commit on its own, and its migration shares a transaction with the ones before it`);
  }
}

/** What a migration the runner stopped gets for any statement it still sends. */
export class MigrationStoppedError extends RetortError {
  override readonly code: string = "migration-stopped";
  override name = "MigrationStoppedError";
  constructor() {
    super("this migration was stopped (its time limit or the run's deadline passed); nothing more of it is sent");
  }
}

/** Queued DDL is sent once it reaches this much SQL: keeps each call well inside the Data API's limits. */
const MAX_BLOCK_SQL = 48_000;

const LONG = { continueAfterTimeout: true } as const;

export interface GroupTransactionOptions {
  /** false: every statement runs at once in autocommit (CREATE INDEX CONCURRENTLY). */
  transactional: boolean;
  /** PL/pgSQL first in the transaction: serialisation, the fencing claim, the heads assertion. */
  preamble: readonly string[];
  /** DDL first in the transaction: creating the version table on a fresh database. */
  prefix: readonly string[];
  /**
   * PL/pgSQL after the preamble in a transaction: its lock_timeout and statement_timeout; outside
   * one, put before each statement a DO block can hold, in one.
   */
  settings?: readonly string[];
  /** Bounds for a statement outside a transaction that a DO block cannot hold (QueryOptions.timeouts). */
  timeouts?: StatementTimeouts;
  /** Runs before every send (the runner asserts its lease there). */
  beforeSend: () => void;
  /**
   * A comment put first in every statement sent outside a transaction, so a later run finds it in
   * pg_stat_activity while it runs on (VersionTable.writerLabel).
   */
  label?: string;
}

/** The members (their indexes in the run's plan) a send carried statements of. */
export interface Owners {
  from: number;
  to: number;
}

export class GroupTransaction implements StatementSink {
  private queue: RenderedStatement[] = [];
  private queuedSql = 0;
  /**
   * The member whose statements arrive now (GroupRunner sets it as each migration starts), and
   * the first member with a statement in the queue: a failed send is blamed on exactly the
   * members whose statements it carried.
   */
  owner = 0;
  /** The member sending now shares the transaction with earlier ones (GroupRunner sets it). */
  shared = false;
  private queueFrom: number | undefined;
  /** The member of the first send: the preamble, sent with it, is everyone's. */
  private firstOwner: number | undefined;
  /** Preamble not sent yet (again, after a detach): it goes first, with whatever is sent next. */
  private preamblePending: boolean;
  /** Prefix not sent yet: it goes first, with whatever is sent first. */
  private prefixPending: boolean;
  /** A marked statement committed what came before: from there on the member runs outside a transaction. */
  private detachedNow = false;
  /** Every send, in order; the transaction is opened by the first. */
  private tail: Promise<void> = Promise.resolve();
  /** Whether anything went into the transaction (a non-transactional group never has one). */
  private started = false;
  private held: HeldTransaction | undefined;
  private failure: { error: unknown; owners: Owners } | undefined;
  /** When the group was created (performance.now()), so the runner can bound how long it stays open. */
  readonly openedAt = performance.now();
  /** Rejects once the runner abandons the statement in flight outside a transaction (abandon()). */
  private readonly abandoned: Promise<never>;
  private abandonNow: (error: Error) => void = () => {};
  /** A statement outside a transaction is in flight (sendAlone). */
  private sendingAlone = false;
  private closed = false;

  constructor(
    private readonly executor: SqlExecutor,
    private readonly dialect: Dialect,
    private readonly options: GroupTransactionOptions,
  ) {
    this.preamblePending = options.preamble.length > 0 || (options.settings?.length ?? 0) > 0;
    this.prefixPending = options.prefix.length > 0;
    this.abandoned = new Promise<never>((_, reject) => {
      this.abandonNow = reject;
    });
    this.abandoned.catch(() => {});
  }

  /**
   * Stops waiting for the statement in flight outside a transaction: it runs on in the database
   * (sent with continueAfterTimeout) and the send rejects with `error` now. No later one is sent.
   * True when a statement was in flight.
   */
  abandon(error: Error): boolean {
    this.abandonNow(error);
    return this.sendingAlone;
  }

  /**
   * Whether a statement marked to commit on its own detached the migration: what it sent before
   * is committed, and a failure now leaves its statements up to the failing one applied.
   */
  get detached(): boolean {
    return this.detachedNow;
  }

  /** The first failure of a pipelined send, if one has come back yet, and whose statements it carried. */
  get failed(): { error: unknown; owners: Owners } | undefined {
    return this.failure;
  }

  /**
   * Refuses everything from now on: a migration the runner stopped (its time limit) may still be
   * running, and nothing it does later may reach the database.
   */
  close(): void {
    this.closed = true;
  }

  private refuseWhenClosed(): void {
    if (this.closed) throw new MigrationStoppedError();
  }

  statement(statement: SinkStatement): void | Promise<void> {
    this.refuseWhenClosed();
    if (!this.options.transactional || this.detachedNow) return this.sendAlone(statement);
    if (statement.transaction !== undefined) {
      if (this.shared) throw new CommitsAloneError(statement);
      return this.detach().then(() => this.sendAlone(statement));
    }
    const kind = this.dialect.classifyStatement(statement.sql);
    if (!kind.transactional) throw new NeedsNonTransactionalError(statement);
    const hasParams = statement.params !== undefined && Object.keys(statement.params).length > 0;
    if (hasParams || !kind.combinable) {
      this.flushQueue();
      this.pipeline((session) => session.query(statement.sql, statement.params, LONG), this.alone()).catch(() => {});
      return;
    }
    this.queueFrom ??= this.owner;
    this.queue.push(statement);
    this.queuedSql += statement.sql.length;
    if (this.queuedSql >= MAX_BLOCK_SQL) this.flushQueue();
  }

  async query(sql: string, params?: SqlParams): Promise<QueryResult> {
    this.refuseWhenClosed();
    if (!this.options.transactional || this.detachedNow) {
      this.options.beforeSend();
      return this.executor.query(sql, params);
    }
    this.flushQueue();
    return this.pipeline((session) => session.query(sql, params), this.alone());
  }

  /**
   * Sends what is queued with `procedural` (the version-table update) last, waits for every send,
   * and commits. Throws the first failure; the caller then calls rollback().
   */
  async commit(procedural: readonly string[]): Promise<void> {
    // The version-table update records every member: its failure is the whole group's.
    const owners = { from: Math.min(this.queueFrom ?? this.owner, this.firstOwner ?? this.owner), to: this.owner };
    const sql = this.takeBlock(procedural);
    if (!this.options.transactional || !this.started || this.detachedNow) {
      // Nothing was sent in a transaction: one autocommitted statement is atomic on its own.
      if (sql === null) return;
      this.options.beforeSend();
      await this.executor.query(sql, undefined, LONG);
      return;
    }
    if (sql !== null) this.pipeline((session) => session.query(sql, undefined, LONG), owners).catch(() => {});
    await this.commitSent();
  }

  /** Waits for every send, throws the first failure, else commits the transaction. */
  private async commitSent(): Promise<void> {
    await this.tail;
    if (this.failure) throw this.failure.error;
    const held = this.held;
    this.held = undefined;
    this.options.beforeSend();
    await held?.commit();
  }

  /** Waits for what was sent, then rolls the transaction back (its errors are not the story). */
  async rollback(): Promise<void> {
    this.queue = [];
    this.queueFrom = undefined;
    await this.tail;
    const held = this.held;
    this.held = undefined;
    await held?.rollback().catch(() => {});
  }

  /** Queued statements, preamble and prefix as one statement (null when there is nothing). */
  private takeBlock(procedural: readonly string[] = []): string | null {
    const statements = this.prefixPending ? [...this.options.prefix.map((sql) => ({ sql })), ...this.queue] : this.queue;
    const preamble = this.preamblePending ? [...this.options.preamble, ...(this.options.settings ?? [])] : [];
    const sql = this.dialect.renderBlock(statements, procedural, preamble);
    this.queue = [];
    this.queueFrom = undefined;
    this.queuedSql = 0;
    this.preamblePending = false;
    this.prefixPending = false;
    return sql;
  }

  /**
   * Commits what the migration sent so far (its version record comes at the end, outside any
   * transaction) and runs the rest of it outside a transaction. Nothing sent yet: nothing to do.
   */
  private async detach(): Promise<void> {
    this.detachedNow = true;
    if (this.started) {
      this.flushQueue();
      await this.commitSent();
    } else if (this.queue.length > 0) {
      const sql = this.takeBlock();
      if (sql !== null) {
        this.options.beforeSend();
        await this.executor.query(sql, undefined, LONG);
      }
    } else {
      return;
    }
    // The version record, sent last on its own, is fenced and checked against the heads again.
    this.preamblePending = this.options.preamble.length > 0 || (this.options.settings?.length ?? 0) > 0;
  }

  private flushQueue(): void {
    const owners = { from: this.queueFrom ?? this.owner, to: this.owner };
    const sql = this.takeBlock();
    if (sql !== null) this.pipeline((session) => session.query(sql, undefined, LONG), owners).catch(() => {});
  }

  /** A send of the current member's alone. */
  private alone(): Owners {
    return { from: this.owner, to: this.owner };
  }

  /**
   * Runs `send` after everything sent before it, in the group's transaction (opened by the first
   * send). Once a send has failed, later ones are not run: they reject with the same error.
   */
  private pipeline<T>(send: (session: SqlSession) => Promise<T>, owners: Owners): Promise<T> {
    this.started = true;
    this.firstOwner ??= owners.from;
    const next = this.tail.then(async () => {
      if (this.failure) throw this.failure.error;
      this.options.beforeSend();
      this.held ??= await holdTransaction(this.executor);
      return send(this.held.session);
    });
    this.tail = next.then(
      () => {},
      (error: unknown) => {
        this.failure ??= { error, owners };
      },
    );
    return next;
  }

  /**
   * A statement outside a transaction, in autocommit. One a DO block can hold goes in one after
   * the preamble (the fence claim, the heads check) and the settings: one call (bounded). For any
   * other (CREATE INDEX CONCURRENTLY) no transaction can carry the fence, so the preamble
   * goes in a call of its own immediately before it: a runner that lost its lease is refused there
   * rather than running the statement. The window left is the time between the two calls.
   */
  private async sendAlone(statement: SinkStatement): Promise<void> {
    const [sql, params, options, fenced] = this.bounded(statement);
    const claim = fenced ? null : this.dialect.renderBlock([], [], this.options.preamble);
    if (claim !== null) {
      this.options.beforeSend();
      await this.executor.query(claim);
    }
    this.options.beforeSend();
    const sent = this.executor.query(sql, params, options);
    sent.catch(() => {});
    this.sendingAlone = true;
    try {
      await Promise.race([sent, this.abandoned]);
    } finally {
      this.sendingAlone = false;
    }
  }

  /**
   * A statement outside a transaction with its bounds, and whether it carries the preamble: in a
   * DO block after the preamble and the settings when one can hold it (autocommitted, a DO block
   * is one transaction: the settings, transaction-local, bound the statement after them);
   * otherwise alone, with QueryOptions.timeouts when there are any.
   */
  private bounded(
    statement: SinkStatement,
  ): [string, SqlParams | undefined, { continueAfterTimeout: true; timeouts?: StatementTimeouts }, boolean] {
    const label = this.options.label ?? "";
    const block = this.dialect.classifyStatement(statement.sql).transactional
      ? this.dialect.renderBlock([statement], [], [...this.options.preamble, ...(this.options.settings ?? [])])
      : null;
    if (block !== null) return [`${label}${block}`, undefined, LONG, true];
    const timeouts = this.options.timeouts;
    return [`${label}${statement.sql}`, statement.params, timeouts ? { ...LONG, timeouts } : LONG, false];
  }
}
