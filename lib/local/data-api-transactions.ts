// The local Data API's transaction table: BeginTransaction / CommitTransaction /
// RollbackTransaction, each transaction's own backend session, one call at a time on it, and the
// idle and lifetime clocks that roll it back, remembering why a transaction id is gone.

import { randomBytes } from "node:crypto";
import type { SqlExecutor, SqlSession } from "../sql/executor.ts";
import { rethrowAsService, serviceError, type ServiceError } from "./data-api-wire.ts";

export interface TransactionOptions {
  /**
   * A transaction no call has used for this long is rolled back (`--transaction-idle-timeout`).
   * @default 180000 (the service's 3 minutes)
   */
  transactionTimeoutMs?: number;
  /**
   * A transaction still open this long after it began is rolled back, however busy.
   * @default 86400000 (the service's 24 hours)
   */
  transactionMaxLifetimeMs?: number;
}

const DEFAULT_TRANSACTION_TIMEOUT_MS = 3 * 60_000;
const DEFAULT_TRANSACTION_MAX_LIFETIME_MS = 24 * 3_600_000;
/** How many finished transaction ids are remembered, to say why one is no longer there. */
const ENDED_MEMORY = 1000;

type EndReason = "committed" | "rolled back" | "expired" | "outlived" | "aborted";

type Job =
  | { kind: "run"; work: (tx: SqlSession) => Promise<unknown>; resolve(value: unknown): void; reject(error: unknown): void }
  | { kind: "commit" }
  | { kind: "rollback" };

/** Thrown inside the backend transaction's callback to make it roll back. */
class RollbackSignal extends Error {
  constructor() {
    super("rollback requested");
  }
}

/**
 * One Data API transaction, holding one backend transaction open: the backend's callback waits
 * on a queue of jobs until CommitTransaction (return -> COMMIT) or RollbackTransaction, expiry or
 * a failed statement (throw -> ROLLBACK). On PGlite, other calls wait behind it, as they would
 * behind any open transaction on its single connection.
 */
class OpenTransaction {
  /** A call is running on it; a second concurrent call is refused. */
  busy = false;
  /** The idle clock, restarted by every call. */
  timer: NodeJS.Timeout | undefined;
  /** The lifetime clock, started by BeginTransaction. */
  lifetime: NodeJS.Timeout | undefined;
  /** Settles when the backend transaction has committed or rolled back. */
  done!: Promise<unknown>;
  #jobs: Job[] = [];
  #wake: (() => void) | undefined;

  constructor(readonly id: string) {}

  push(job: Job): void {
    this.#jobs.push(job);
    this.#wake?.();
  }

  async next(): Promise<Job> {
    for (;;) {
      const job = this.#jobs.shift();
      if (job) return job;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  run<T>(work: (tx: SqlSession) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.push({ kind: "run", work, resolve: (v) => resolve(v as T), reject });
    });
  }
}

/** The open transactions of one endpoint, and why the recently finished ones ended. */
export class TransactionTable {
  readonly #backend: SqlExecutor;
  readonly #options: TransactionOptions;
  readonly #open = new Map<string, OpenTransaction>();
  readonly #ended = new Map<string, EndReason>();
  #closing = false;

  /** `options` is read as it is when each timeout is needed. */
  constructor(backend: SqlExecutor, options: TransactionOptions) {
    this.#backend = backend;
    this.#options = options;
  }

  /** Transactions begun and not yet committed, rolled back or expired. */
  get size(): number {
    return this.#open.size;
  }

  /** Refuses new transactions and rolls back the open ones. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const tx of [...this.#open.values()]) await this.#end(tx, "rolled back").catch(() => undefined);
  }

  /** BeginTransaction: opens a backend transaction and returns the new transaction's id. */
  async begin(): Promise<string> {
    if (this.#closing) throw shuttingDown();
    const id = randomBytes(48).toString("base64");
    const tx = new OpenTransaction(id);
    let started!: () => void;
    const ready = new Promise<void>((resolve) => (started = resolve));
    tx.done = this.#backend.transaction(async (session) => {
      started();
      for (;;) {
        const job = await tx.next();
        if (job.kind === "commit") return;
        if (job.kind === "rollback") throw new RollbackSignal();
        try {
          job.resolve(await job.work(session));
        } catch (error) {
          // The service ends a transaction whose statement failed; later calls do not find it.
          this.#forget(tx, "aborted");
          job.reject(error);
          throw new RollbackSignal();
        }
      }
    });
    // BEGIN itself can fail (backend closed, connection refused): then the callback never runs.
    const failedEarly = tx.done.then(
      () => {
        throw new Error("the backend transaction ended before it began");
      },
      (error: unknown) => {
        throw error;
      },
    );
    failedEarly.catch(() => undefined);
    await Promise.race([ready, failedEarly]).catch(rethrowAsService);
    this.#open.set(id, tx);
    if (this.#closing) {
      // Began (behind others, on PGlite) while the endpoint was closing: do not leave it open.
      await this.#end(tx, "rolled back").catch(() => undefined);
      throw shuttingDown();
    }
    this.#arm(tx);
    // The lifetime clock runs whether the transaction is busy or not: a rollback queued behind a
    // running statement ends it as soon as that statement is done.
    tx.lifetime = setTimeout(() => {
      if (this.#open.get(tx.id) === tx) void this.#end(tx, "outlived").catch(() => undefined);
    }, this.#options.transactionMaxLifetimeMs ?? DEFAULT_TRANSACTION_MAX_LIFETIME_MS);
    tx.lifetime.unref();
    return id;
  }

  /** CommitTransaction or RollbackTransaction. */
  async finish(id: string, how: "committed" | "rolled back"): Promise<void> {
    const tx = this.#transaction(id);
    this.#claim(tx);
    await this.#end(tx, how);
  }

  /**
   * Runs `work` in the named transaction's session. The transaction stays busy until the work
   * really finishes, even when the caller has stopped waiting for it.
   */
  run<T>(id: string, work: (session: SqlSession) => Promise<T>): Promise<T> {
    const tx = this.#transaction(id);
    this.#claim(tx);
    const job = tx.run(work);
    void job.then(
      () => this.#release(tx),
      () => this.#release(tx),
    );
    return job;
  }

  /** Ends the transaction: COMMIT or ROLLBACK on the backend, and remembers why it is gone. */
  async #end(tx: OpenTransaction, how: EndReason): Promise<void> {
    this.#forget(tx, how);
    tx.push(how === "committed" ? { kind: "commit" } : { kind: "rollback" });
    try {
      await tx.done;
    } catch (error) {
      if (error instanceof RollbackSignal) return;
      rethrowAsService(error);
    }
  }

  #forget(tx: OpenTransaction, reason: EndReason): void {
    clearTimeout(tx.timer);
    clearTimeout(tx.lifetime);
    if (this.#open.get(tx.id) !== tx) return;
    this.#open.delete(tx.id);
    this.#ended.set(tx.id, reason);
    if (this.#ended.size > ENDED_MEMORY) {
      const oldest = this.#ended.keys().next().value;
      if (oldest !== undefined) this.#ended.delete(oldest);
    }
  }

  #transaction(id: string): OpenTransaction {
    const tx = this.#open.get(id);
    if (tx) return tx;
    const why: Record<EndReason, string> = {
      committed: "One previous call resulted in a termination of your transaction (it was committed).",
      "rolled back": "One previous call resulted in a termination of your transaction (it was rolled back).",
      expired:
        "Transaction may be expired: no call used it for " +
        `${spell(this.#options.transactionTimeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS)}, so it was rolled back.`,
      outlived:
        "Transaction may be expired: it was begun more than " +
        `${spell(this.#options.transactionMaxLifetimeMs ?? DEFAULT_TRANSACTION_MAX_LIFETIME_MS)} ago, so it was rolled back.`,
      aborted: "Transaction has been aborted due to an error from a previous call.",
    };
    const reason = this.#ended.get(id);
    throw serviceError(
      "TransactionNotFoundException",
      `Transaction ${id} isn't found. ` +
        (reason ? why[reason] : "Transaction may be expired, or it was not started by BeginTransaction."),
    );
  }

  /**
   * Marks a transaction as running a call. A concurrent call on it is refused at once, as Serverless
   * v2 and provisioned clusters do (Serverless v1 queued it).
   */
  #claim(tx: OpenTransaction): void {
    if (tx.busy) {
      throw serviceError(
        "DatabaseErrorException",
        "Transaction is still running a query. Wait for the call running in transaction " +
          `${tx.id} to finish before sending the next one.`,
      );
    }
    tx.busy = true;
    clearTimeout(tx.timer);
  }

  #release(tx: OpenTransaction): void {
    tx.busy = false;
    if (this.#open.get(tx.id) === tx) this.#arm(tx);
  }

  /** (Re)starts the idle clock: the transaction expires when no call uses it for the timeout. */
  #arm(tx: OpenTransaction): void {
    clearTimeout(tx.timer);
    const ms = this.#options.transactionTimeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS;
    tx.timer = setTimeout(() => {
      if (tx.busy || this.#open.get(tx.id) !== tx) return;
      void this.#end(tx, "expired").catch(() => undefined);
    }, ms);
    tx.timer.unref();
  }
}

/** A duration for a message: `180 s`, or `150 ms` below a second. */
function spell(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

function shuttingDown(): ServiceError {
  return serviceError("ServiceUnavailableError", "The local Data API is shutting down");
}
