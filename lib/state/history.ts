// The History port: an append-only record of every run that held the lock (who, when, from which
// deploy, what it changed, how it ended) and of every revision it applied or reverted. Adapters:
// DynamoDB (dynamo-history.ts, beside the lock), a table in the target database
// (database-history.ts, for the embedded database with no lock table), and memory (tests).
// The version table stays the record of what is applied; history is the audit trail.
import type { LockBlocker } from "../sql/errors.ts";
import type { LockInfo } from "./lock.ts";

export const RunStatus = {
  Started: "started",
  Succeeded: "succeeded",
  Failed: "failed",
  /** The run died holding the lock; the run that took the lock over (or `unlock --force`) says so. */
  Abandoned: "abandoned",
  /** A statement outlived its call: what it did is not known (it may still commit). */
  Unknown: "unknown",
} as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];

export interface RunRecord {
  runId: string;
  /** The lock key of the target database. */
  target: string;
  command: string;
  /** What the command was asked for ("heads", a revision, "-1"). */
  targetRevision?: string;
  status: RunStatus;
  /** The fencing token of the lease the run held. */
  token: number;
  /**
   * The run's place in the target's history, from 1, where it differs from `token`: the history
   * in the database numbers runs itself, since without a lock table each process's lock starts
   * its tokens at 1. Absent where the tokens already are the order (DynamoDB).
   */
  number?: number;
  host: string;
  pid: number;
  actor?: string;
  requestId?: string;
  stackId?: string;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  fromHeads?: string[];
  toHeads?: string[];
  /** Revisions applied (or reverted). */
  applied?: number;
  skippedOperations?: number;
  /** Tries of its revisions whose lock_timeout ran out (each revision's `lockRetries`); absent: none. */
  lockRetries?: number;
  error?: string;
  /** Set when another run (or `unlock --force`) declared this one dead. */
  abandoned?: { at: string; by: string; token: number };
}

/**
 * One revision a run applied or reverted. A run touches a revision at most once per direction,
 * so (run, revision, direction) identifies the record, also for a run spread over several
 * invocations (the rollback state machine).
 */
export interface RevisionRecord {
  runId: string;
  /** Order within the (part of the) run that recorded it, from 1. */
  seq: number;
  /** ISO time it was recorded; with `seq`, the order. */
  at: string;
  revision: string;
  direction: "upgrade" | "downgrade";
  /** unknown: its statement outlived its call; it may have committed since. */
  status: "applied" | "failed" | "unknown";
  message: string;
  file: string;
  checksum: string;
  durationMs: number;
  /** The operations skipped because their effect was already there, with the reason. */
  skipped: string[];
  /** Its tries whose lock_timeout ran out, in order; absent when it got its locks at once. */
  lockRetries?: LockRetry[];
  error?: string;
}

/**
 * One try of a migration whose lock_timeout ran out (SQLSTATE 55P03): the run rolled it back,
 * read who held the lock, and tried again after `retryInMs`, or gave up (no `retryInMs`).
 */
export interface LockRetry {
  /** Which try, from 1. */
  attempt: number;
  /** Its lock_timeout, in ms. */
  lockTimeoutMs: number;
  /** When it gave up (ISO). */
  at: string;
  /** Who held the locks it waited for, as one read just after could tell (none: gone by then). */
  blockers: LockBlocker[];
  /** The wait before the next try, in ms; absent when there was none (the run failed). */
  retryInMs?: number;
  /** The try ran the migration in a group of this many; the next runs them one at a time. */
  grouped?: number;
}

/** A finished run: its final fields (status, heads, counts, error, duration). */
export type RunOutcome = Pick<
  RunRecord,
  "status" | "finishedAt" | "durationMs" | "fromHeads" | "toHeads" | "applied" | "skippedOperations" | "lockRetries" | "error"
>;

export interface History {
  /** Where it lives, for messages. */
  readonly description: string;
  /** Records a run as started (just after it took the lock). */
  start(run: RunRecord): Promise<void>;
  /** Records how a run ended, and the revisions it applied or reverted. */
  finish(run: RunRecord, outcome: RunOutcome, revisions: readonly RevisionRecord[]): Promise<void>;
  /**
   * Marks the run that held `lease` as abandoned (it died holding the lock); `by` says who
   * decided. A run that never wrote its start is recorded from the lease. False when the run had
   * already ended.
   */
  abandon(lease: LockInfo, by: { description: string; token: number; at: string }): Promise<boolean>;
  /** The newest runs on a target, newest first. */
  runs(target: string, options?: { limit?: number }): Promise<RunRecord[]>;
  /** The revisions a run applied or reverted, in order. */
  revisions(run: RunRecord): Promise<RevisionRecord[]>;
}

export const DEFAULT_RUNS_LIMIT = 20;

/** How a run is named to people: `#<number>`, its place in the target's history. */
export function runNumber(run: Pick<RunRecord, "number" | "token">): number {
  return run.number ?? run.token;
}

/** The record a lease stands for, when its run never wrote one (it died before). */
export function runFromLease(lease: LockInfo): RunRecord {
  const h = lease.holder;
  return {
    runId: h.runId ?? `token-${lease.token}`,
    target: lease.key,
    command: h.command,
    status: RunStatus.Started,
    token: lease.token,
    host: h.host,
    pid: h.pid,
    ...(h.actor ? { actor: h.actor } : {}),
    ...(h.requestId ? { requestId: h.requestId } : {}),
    ...(h.stackId ? { stackId: h.stackId } : {}),
    startedAt: lease.since,
  };
}

/** Revision records in the order they happened. */
export function sortRevisions(records: RevisionRecord[]): RevisionRecord[] {
  return records.sort((a, b) => a.at.localeCompare(b.at) || a.seq - b.seq);
}

/** The history in memory: for unit tests and for embedding without any store. */
export class InMemoryHistory implements History {
  readonly description = "in memory";
  readonly records = new Map<string, RunRecord>();
  readonly revisionRecords = new Map<string, RevisionRecord[]>();

  async start(run: RunRecord): Promise<void> {
    this.records.set(run.runId, { ...run });
  }

  async finish(run: RunRecord, outcome: RunOutcome, revisions: readonly RevisionRecord[]): Promise<void> {
    this.records.set(run.runId, { ...(this.records.get(run.runId) ?? run), ...outcome });
    const kept = (this.revisionRecords.get(run.runId) ?? []).filter(
      (old) => !revisions.some((r) => r.revision === old.revision && r.direction === old.direction),
    );
    this.revisionRecords.set(run.runId, [...kept, ...revisions]);
  }

  async abandon(lease: LockInfo, by: { description: string; token: number; at: string }): Promise<boolean> {
    const run = runFromLease(lease);
    const existing = this.records.get(run.runId) ?? run;
    if (existing.status !== RunStatus.Started) return false;
    this.records.set(run.runId, { ...existing, status: RunStatus.Abandoned, abandoned: { at: by.at, by: by.description, token: by.token } });
    return true;
  }

  async runs(target: string, options: { limit?: number } = {}): Promise<RunRecord[]> {
    return [...this.records.values()]
      .filter((r) => r.target === target)
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.token - a.token)
      .slice(0, options.limit ?? DEFAULT_RUNS_LIMIT);
  }

  async revisions(run: RunRecord): Promise<RevisionRecord[]> {
    return sortRevisions(this.revisionRecords.get(run.runId) ?? []);
  }
}
