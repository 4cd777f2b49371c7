// What every command that changes the database does around its work: take the lock, record the
// run as started (and the run it took the lock over from as abandoned) while the work reads the
// database, hand the work the fencing fragments for its transactions, then record how the run
// ended and release the lock. History failures never fail a run whose changes the database
// already committed: they become warnings.
import type { DatabaseContext } from "./context.ts";
import { describeAwsError } from "../state/aws-error.ts";
import { type RevisionRecord, type RunOutcome, type RunRecord, RunStatus, runFromLease } from "../state/history.ts";
import { type AcquireOptions, currentHolder, type Lease } from "../state/lock.ts";

export interface LockedRun {
  lease: Lease;
  record: RunRecord;
  /**
   * PL/pgSQL to put first in every transaction of the run that writes the version table: the
   * database's own serialisation of writers, then the fencing claim (when the lease is fenced).
   */
  preamble: string[];
  /** History or release problems, reported with the result. */
  warnings: string[];
  /** Monotonic start, for the duration. */
  started: number;
  /**
   * The history's record of the start (and of the run taken over), written while the run reads
   * the version table and the schema; it never rejects (failures become warnings). Await it
   * before changing anything, so a run that dies part way is on record as started.
   */
  recorded: Promise<void>;
}

/**
 * Takes the lock for `command` and records the run's start. `owner` is the lease's owner id when
 * the caller has a stable one (a Step Functions execution): a repeated begin gets the same lease.
 */
export async function beginRun(
  db: DatabaseContext,
  command: string,
  targetRevision?: string,
  options: Pick<AcquireOptions, "owner"> = {},
): Promise<LockedRun> {
  const holder = currentHolder(command, db.holder);
  const lease = await db.lock.acquire(db.lockKey, holder, {
    ...(db.lockWaitMs !== undefined ? { waitMs: db.lockWaitMs } : {}),
    ...(db.leaseMs !== undefined ? { leaseMs: db.leaseMs } : {}),
    ...options,
  });
  const started = performance.now();
  const record: RunRecord = { ...runFromLease(lease.info), ...(targetRevision ? { targetRevision } : {}) };
  const run: LockedRun = {
    lease,
    record,
    preamble: [...db.versionTable.serialise(), ...(lease.fenced ? db.versionTable.fence(db.lockKey, lease.info.token, db.lock.description) : [])],
    warnings: [],
    started,
    recorded: Promise.resolve(),
  };
  const history = db.history;
  if (history) {
    const tookOver = lease.tookOver;
    run.recorded = Promise.all([
      history.start(record).catch((error) => run.warnings.push(`could not record the run in ${history.description}: ${describeAwsError(error)}`)),
      tookOver &&
        history
          .abandon(tookOver, { description: `${command} run ${record.runId}`, token: record.token, at: record.startedAt })
          .catch((error) =>
            run.warnings.push(`could not mark run ${tookOver.holder.runId ?? tookOver.token} abandoned in ${history.description}: ${describeAwsError(error)}`),
          ),
    ]).then(() => {});
  }
  return run;
}

/** Records the outcome and the revisions, then releases the lock. Never throws. */
export async function endRun(
  db: DatabaseContext,
  run: LockedRun,
  outcome: Omit<RunOutcome, "finishedAt" | "durationMs">,
  revisions: readonly RevisionRecord[] = [],
): Promise<void> {
  await run.recorded;
  const history = db.history;
  if (history) {
    const final: RunOutcome = {
      ...outcome,
      finishedAt: new Date().toISOString(),
      durationMs: Math.round(performance.now() - run.started),
    };
    await history
      .finish(run.record, final, revisions)
      .catch((error) => run.warnings.push(`could not record the end of the run in ${history.description}: ${describeAwsError(error)}`));
  }
  await run.lease
    .release()
    .catch((error) =>
      run.warnings.push(`${describeAwsError(error)} (the lock is freed when its lease expires at the latest)`),
    );
}

/** A run that threw: failed, with the error's message. */
export function failedOutcome(error: unknown): Omit<RunOutcome, "finishedAt" | "durationMs"> {
  return { status: RunStatus.Failed, error: error instanceof Error ? error.message : String(error) };
}
