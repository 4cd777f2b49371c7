// Bounded lock waits (GitLab's with_lock_retries, for a runner nobody watches). A DDL statement
// that waits for a lock queues every later query on its table behind itself, so each transaction
// a run opens first sets lock_timeout (and statement_timeout), transaction-local, in the PL/pgSQL
// it sends first anyway: no extra call. When the lock cannot be had in time (SQLSTATE 55P03) the
// transaction has rolled back and the application's queries went on; the run reads once who holds
// the lock, sleeps a jittered while and tries again with a longer lock_timeout, a bounded number
// of times, then fails naming the holder. This file holds the schedule, the settings, the
// relations a failed try waited on, what a retry reports, and the error of the last one.
import { describeDuration } from "../duration.ts";
import type { Dialect } from "../dialect/dialect.ts";
import { backoffDelay } from "../retry.ts";
import type { QualifiedName } from "../schema/names.ts";
import type { Operation } from "../schema/operation.ts";
import { type LockBlocker, SqlError } from "../sql/errors.ts";
import type { StatementTimeouts } from "../sql/executor.ts";
import { describeBlocker, holderAdvice, LOCK_NOT_AVAILABLE } from "../sql/lock-blockers.ts";
import type { LockRetry } from "../state/history.ts";

export type { LockRetry };

/** How long a statement may wait for a lock unless the run or the migration says otherwise. */
export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
/** Tries in all, the first included, before a migration that cannot get its locks fails. */
export const DEFAULT_LOCK_ATTEMPTS = 8;

/**
 * Each try's lock_timeout as a multiple of the first's: 5 s, 5 s, 7.5 s, 10 s, 15 s, 20 s, 30 s,
 * 30 s by default (122.5 s of waiting in all). A try after the eighth waits as long as the eighth.
 */
const RISE = [1, 1, 1.5, 2, 3, 4, 6, 6];
/** The rise stops here: a longer wait is the one a migration or a run asked for, never more. */
const MAX_RISEN_MS = 30_000;
/** The longest sleep between two tries. */
const MAX_SLEEP_MS = 10_000;

/** The lock_timeout of try `attempt` (from 0) for a base of `baseMs`; 0 (no limit) stays 0. */
export function attemptLockTimeout(baseMs: number, attempt: number): number {
  if (baseMs <= 0) return 0;
  const factor = RISE[Math.min(attempt, RISE.length - 1)]!;
  return Math.round(Math.max(baseMs, Math.min(baseMs * factor, MAX_RISEN_MS)));
}

/**
 * The sleep after the `failed`-th failed try (from 1): a fifth of the base lock_timeout, doubling,
 * at most twice the base and 10 s, with equal jitter (lib/retry.ts). With the default 5 s: about
 * 1, 2, 4, 8, 10, 10, 10 s, so eight tries take at most about 3 minutes.
 */
export function retrySleep(baseMs: number, failed: number, random: () => number = Math.random): number {
  return backoffDelay(failed, { baseDelayMs: Math.max(1, baseMs / 5), maxDelayMs: Math.max(1, Math.min(2 * baseMs, MAX_SLEEP_MS)) }, random);
}

/** PL/pgSQL setting both, transaction-local (set_config's `true`): first in a group's transaction. */
export function timeoutSettings(timeouts: StatementTimeouts): string[] {
  return [
    `PERFORM pg_catalog.set_config('lock_timeout', '${whole(timeouts.lockTimeoutMs)}', true), ` +
      `pg_catalog.set_config('statement_timeout', '${whole(timeouts.statementTimeoutMs)}', true)`,
  ];
}

/** What PostgreSQL's settings hold: whole ms up to 2^31-1 (about 24 days); beyond, no limit. */
export function settingMs(ms: number): number {
  return ms > 2 ** 31 - 1 ? 0 : Math.max(0, Math.floor(ms));
}

function whole(ms: number): number {
  return settingMs(ms);
}

/** True when a statement could not get a lock in time (lock_timeout) or at once (NOWAIT). */
export function isLockNotAvailable(error: unknown): boolean {
  return error instanceof SqlError && error.sqlState === LOCK_NOT_AVAILABLE;
}

/**
 * The relations a failed try's operations name, quoted and qualified (for lib/sql/lock-blockers.ts):
 * each `table` and `index` they carry (also inside constraints: a foreign key's referenced table),
 * and what a raw statement's text names (Dialect.readStatement).
 */
export function relationsOf(operations: readonly Operation[], dialect: Dialect, defaultSchema: string): string[] {
  const names = new Set<string>();
  const walk = (value: unknown, key: string, depth: number): void => {
    if (depth > 5 || value === null || typeof value !== "object") return;
    if ((key === "table" || key === "index" || key === "tables") && isQualified(value)) {
      names.add(dialect.quoteName(value));
      return;
    }
    for (const [k, v] of Object.entries(value)) walk(v, Array.isArray(value) ? key : k, depth + 1);
  };
  for (const op of operations) {
    walk(op, "", 0);
    if (op.kind === "execute") walk(dialect.readStatement(op.sql, defaultSchema), "", 0);
  }
  return [...names];
}

function isQualified(value: object): value is QualifiedName {
  const v = value as Partial<QualifiedName>;
  return typeof v.schema === "string" && typeof v.name === "string";
}

/**
 * One retry in a line: `try 2 of 8: lock_timeout 5 s ran out; in the way: pid 42 (...); next try
 * in 1.2 s`. `brief`: each session in the way by its pid, state and application_name only (for
 * tables; the error and the live report say the rest).
 */
export function describeLockRetry(retry: LockRetry, attempts?: number, options: { brief?: boolean } = {}): string {
  const describe = options.brief ? briefBlocker : describeBlocker;
  const who = retry.blockers.length > 0 ? `; in the way: ${retry.blockers.map(describe).join("; ")}` : "; the holder had gone by the time it was looked up";
  const next =
    retry.retryInMs === undefined ? "" : retry.grouped ? `; running the ${retry.grouped} migrations of its group one at a time` : `; next try in ${describeDuration(retry.retryInMs)}`;
  return `try ${retry.attempt}${attempts ? ` of ${attempts}` : ""}: lock_timeout ${describeDuration(retry.lockTimeoutMs)} ran out${who}${next}`;
}

function briefBlocker(b: LockBlocker): string {
  const facts = [b.state ?? "", b.applicationName ? `application_name ${JSON.stringify(b.applicationName)}` : ""].filter((f) => f !== "");
  return `pid ${b.pid}${facts.length ? ` (${facts.join(", ")})` : ""}`;
}

/**
 * A migration could not get its locks: lock_timeout ran out on each of its tries (or the time left
 * for the run, or for the migration, allowed no more). Nothing of it was applied (a transactional
 * one); `blockers` are the sessions holding the locks at the last try.
 */
export class LockTimeoutError extends SqlError {
  override readonly code: string = "lock-timeout";
  protected override details(): Record<string, unknown> {
    return { ...super.details(), attempts: this.retries.length, blockers: this.blockers };
  }
  readonly blockers: readonly LockBlocker[];
  constructor(
    readonly retries: readonly LockRetry[],
    /** Why no further try: undefined when the tries ran out, else what stopped them. */
    stoppedBy: string | undefined,
    options?: { cause?: unknown },
  ) {
    const last = retries[retries.length - 1]!;
    const timeouts = [...new Set(retries.map((r) => describeDuration(r.lockTimeoutMs)))];
    const blockers = last.blockers;
    super(
      `it could not take its locks: lock_timeout (${timeouts.join(", ")}) ran out on ${retries.length === 1 ? "its only try" : `each of ${retries.length} tries`}` +
        (stoppedBy ? ` (${stoppedBy})` : "") +
        ", so the statements queued behind it went on. " +
        (blockers.length > 0
          ? `In the way: ${blockers.map(describeBlocker).join("; ")}. ${holderAdvice(blockers)}`
          : "The session holding the lock had gone by the time it was looked up. Run again") +
        "; or, in a maintenance window, run with --lock-timeout 0 (no limit)",
      LOCK_NOT_AVAILABLE,
      options,
    );
    this.name = "LockTimeoutError";
    this.blockers = blockers;
  }
}
