// The engine behind upgrade, safe-upgrade and downgrade: under the lock (locked-run.ts), read the
// version table, plan along the graph and run the plan in groups (group-runner.ts), settling a
// failure (failure-policy.ts), trying again a group whose lock_timeout ran out (lock-retry.ts);
// also what a run reports (MigrateResult), and knownHeads.
import type { RunMode } from "../ops/operations.ts";
import { Direction, type Migration } from "../revision/migration.ts";
import type { RevisionMap } from "../revision/graph.ts";
import { sleep } from "../retry.ts";
import type { LockBlocker } from "../sql/errors.ts";
import type { LockRetry, RevisionRecord } from "../state/history.ts";
import type { Transition, VersionState } from "../state/version-table.ts";
import { type Context, type DatabaseContext, DEFAULT_MIGRATION_TIMEOUT_MS, requireDatabase } from "./context.ts";
import { MigrationError, MigrationTimeoutError, StatementStillRunningError, UnknownDatabaseRevisionsError } from "./errors.ts";
import { codeOf, replayable, settleFailure } from "./failure-policy.ts";
import { type GroupOutcome, GroupRunner, MAX_GROUP_SIZE, type Member } from "./group-runner.ts";
import { CommitsAloneError } from "./group-transaction.ts";
import { attemptLockTimeout, DEFAULT_LOCK_ATTEMPTS, LockTimeoutError, retrySleep } from "./lock-retry.ts";
import { beginRun, endRun, failedOutcome, type LockedRun } from "./locked-run.ts";

// The errors that stop a migration in flight live in errors.ts; importable from here too.
export { DeadlineReachedError, MigrationTimeoutError } from "./errors.ts";

export interface OperationReport {
  operation: string;
  /**
   * applied: its statements committed. skipped: its effect was already there (`reason`).
   * rolled-back: sent, but its revision's transaction failed and rolled back. unknown: sent in a
   * call whose outcome is unknown (it may yet commit).
   */
  status: "applied" | "skipped" | "rolled-back" | "unknown";
  reason?: string;
}

export interface RevisionResult {
  revision: string;
  message: string;
  file: string;
  direction: Direction;
  /** unknown: its statement outlived its call (a Data API timeout), so it may yet have committed. */
  status: "applied" | "failed" | "unknown" | "not-executed";
  durationMs: number;
  operations: OperationReport[];
  /**
   * Its tries whose lock_timeout ran out (lock-retry.ts): each with its lock_timeout, who held the
   * lock, and the wait before the next try (none after the last of a failed run). Absent: none.
   */
  lockRetries?: LockRetry[];
  error?: string;
}

export interface MigrateResult {
  command: string;
  target: string;
  fromHeads: string[];
  toHeads: string[];
  results: RevisionResult[];
  applied: number;
  skippedOperations: number;
  /**
   * The first failure, already reported against its revision in `results`. outcome "unknown": a
   * statement outlived its call and may still commit; "stopped": the run stopped itself at its
   * deadline and rolled back what was in flight.
   */
  error?: {
    /** What went wrong, as the errors' codes say it (`migration-failed` for a migration's own throw). */
    code: string;
    message: string;
    revision?: string;
    file?: string;
    outcome?: "unknown" | "stopped";
    sqlState?: string;
    /**
     * The sessions in the way of a statement that waited for a lock: at the Data API's 45 s limit
     * (StatementBlockedError), or after the last try of a migration whose lock_timeout kept
     * running out (LockTimeoutError, code `lock-timeout`).
     */
    blockers?: readonly LockBlocker[];
  };
  /** The run as the history records it: its id and the lease's fencing token. */
  run?: { id: string; token: number };
  /** Problems that did not change the outcome (history not written, lock not released). */
  warnings?: string[];
}

export interface MigrateOptions {
  command: string;
  direction: Direction;
  target: string;
  mode: RunMode;
  /** Proceed although the database records revisions this code does not have. */
  allowUnknownRevisions?: boolean;
  /** Run at most this many revisions of the plan (the Lambda's bounded steps); the rest stay pending. */
  limit?: number;
  /**
   * Commit every migration on its own (Alembic's transaction_per_migration). By default
   * consecutive transactional migrations share a transaction of up to 1000 migrations or 5 s.
   * @default the database context's transactionPerMigration (false)
   */
  transactionPerMigration?: boolean;
  /**
   * When the run must stop (epoch ms; the Lambda invocation's time less what it needs to answer).
   * A transaction still running then is cancelled on the database and rolled back, and reported
   * with outcome "stopped"; a statement outside a transaction is left running on the database
   * (outcome "unknown"), and the next run waits for it. Nothing new starts after it.
   */
  deadline?: number;
  /** Called as each migration starts (the deploy hook names it should its invocation time out). */
  onMigration?: (migration: Pick<Migration, "revision" | "file">) => void;
  /**
   * The longest one migration may take; then it is stopped like a run at its deadline (its
   * transaction cancelled and rolled back), and the run fails naming it.
   * @default the database context's migrationTimeoutMs, else DEFAULT_MIGRATION_TIMEOUT_MS
   */
  migrationTimeoutMs?: number;
  /**
   * How long a statement may wait for a lock on its first try (ms; 0: no limit, and no retries);
   * a migration's own `lockTimeout` comes first. Each try after it waits longer (lock-retry.ts).
   * @default the database context's lockTimeoutMs, else DEFAULT_LOCK_TIMEOUT_MS (5 s)
   */
  lockTimeoutMs?: number;
  /** Tries in all before a migration that cannot get its locks fails. @default the context's lockAttempts, else 8 */
  lockAttempts?: number;
  /** Called when a try's lock_timeout ran out, before the run waits for the next (or gives up). */
  onLockRetry?: (migration: Pick<Migration, "revision" | "file" | "message">, retry: LockRetry, attempts: number) => void;
}

/**
 * Runs the plan from the database's heads towards `options.target`, introspecting once. A failed
 * group is rolled back and, when nothing of it can have committed, run again one revision at a
 * time, so the failure is reported against the revision that caused it. Results are filled in as
 * "not-executed" before the run starts and overwritten step by step, so a failure still reports
 * exactly what ran (Kysely's habit). Under a fenced lease every transaction first claims the fence
 * (VersionTable.fence), so a runner that lost its lease cannot commit; the run and its revisions
 * are recorded in the history.
 */
export async function migrate(ctx: Context, map: RevisionMap<Migration>, options: MigrateOptions): Promise<MigrateResult> {
  const db = requireDatabase(ctx);
  const run = await beginRun(db, options.command, options.target);
  let result: MigrateResult;
  try {
    result = await migrateLocked(db, map, options, run);
  } catch (error) {
    await endRun(db, run, failedOutcome(error));
    throw error;
  }
  await endRun(
    db,
    run,
    {
      status: result.error ? (result.error.outcome === "unknown" ? "unknown" : "failed") : "succeeded",
      fromHeads: result.fromHeads,
      toHeads: result.toHeads,
      applied: result.applied,
      skippedOperations: result.skippedOperations,
      ...lockRetryCount(result),
      ...(result.error ? { error: result.error.message } : {}),
    },
    revisionRecords(map, run, result),
  );
  result.run = { id: run.record.runId, token: run.record.token };
  if (run.warnings.length > 0) result.warnings = run.warnings;
  return result;
}

/** The history's record of each revision that ran (applied or failed), in order. */
function revisionRecords(map: RevisionMap<Migration>, run: LockedRun, result: MigrateResult): RevisionRecord[] {
  const at = new Date().toISOString();
  return result.results
    .filter((r) => r.status !== "not-executed")
    .map((r, i) => ({
      runId: run.record.runId,
      seq: i + 1,
      at,
      revision: r.revision,
      direction: r.direction,
      status: r.status === "applied" ? "applied" : r.status === "unknown" ? "unknown" : "failed",
      message: r.message,
      file: r.file,
      checksum: map.get(r.revision)?.checksum ?? "",
      durationMs: r.durationMs,
      skipped: r.operations.filter((o) => o.status === "skipped").map((o) => `${o.operation}: ${o.reason ?? "already there"}`),
      ...(r.lockRetries ? { lockRetries: r.lockRetries } : {}),
      ...(r.error ? { error: r.error } : {}),
    }));
}

/** The run's tries whose lock_timeout ran out, for its history record; nothing when none did. */
function lockRetryCount(result: MigrateResult): { lockRetries?: number } {
  const count = result.results.reduce((n, r) => n + (r.lockRetries?.length ?? 0), 0);
  return count > 0 ? { lockRetries: count } : {};
}

async function migrateLocked(
  db: DatabaseContext,
  map: RevisionMap<Migration>,
  options: MigrateOptions,
  run: LockedRun,
): Promise<MigrateResult> {
  const lease = run.lease;
  const state = await readWhenIdle(db, run);
  const unknown = state.heads.filter((h) => !map.has(h));
  if (unknown.length > 0 && !options.allowUnknownRevisions) throw new UnknownDatabaseRevisionsError(unknown, state.heads);
  const known = knownHeads(map, state);
  const plan = (
    options.direction === Direction.Up ? map.upgradePlan(known, options.target) : map.downgradePlan(known, options.target)
  ).slice(0, options.limit ?? Infinity);
  if (options.direction === Direction.Down) {
    const oneWay = plan.find((m) => m.irreversible);
    if (oneWay) {
      throw new MigrationError(
        oneWay,
        options.direction,
        "it is marked irreversible, so it cannot be downgraded; nothing was changed. " +
          "Pick a downgrade target after it, or restore from a backup",
      );
    }
  }
  const results: RevisionResult[] = plan.map((m) => ({
    revision: m.revision,
    message: m.message,
    file: m.file,
    direction: options.direction,
    status: "not-executed",
    durationMs: 0,
    operations: [],
  }));
  const result: MigrateResult = {
    command: options.command,
    target: options.target,
    fromHeads: state.heads,
    toHeads: state.heads,
    results,
    applied: 0,
    skippedOperations: 0,
  };
  if (plan.length === 0) return result;

  const members = planMembers(map, plan, results, state, known, unknown, options.direction);
  const snapshot = await db.dialect.introspect(db.executor, [db.defaultSchema]);
  await run.recorded;
  const runner = new GroupRunner(db, result, lease, run.preamble, options, snapshot, state.exists);
  const size = (options.transactionPerMigration ?? db.transactionPerMigration) ? 1 : MAX_GROUP_SIZE;
  const attempts = Math.max(1, Math.floor(options.lockAttempts ?? db.lockAttempts ?? DEFAULT_LOCK_ATTEMPTS));
  const limitMs = options.migrationTimeoutMs ?? db.migrationTimeoutMs ?? DEFAULT_MIGRATION_TIMEOUT_MS;

  /** The try of a group of several whose lock_timeout ran out: its migrations then run one at a time. */
  let groupRetry: LockRetry | undefined;

  /**
   * Runs a group; while its lock_timeout runs out (SQLSTATE 55P03: it rolled back, and the queries
   * queued behind it went on), tries again after a jittered sleep with a longer lock_timeout. A
   * group of several is not tried again as a whole: which of them waited is not known (one DO
   * block can carry them all), so the caller runs them one at a time and the first to wait again
   * carries the group's try (`carry`). The last try's failure is a LockTimeoutError naming who
   * held the lock.
   */
  const runRetrying = async (start: number, groupSize: number, carry?: { retry?: LockRetry | undefined }): Promise<GroupOutcome> => {
    const began = Date.now();
    for (;;) {
      // A migration's tries so far set its next lock_timeout (lock-retry.ts).
      const attempt = members[start]!.entry.lockRetries?.length ?? 0;
      const outcome = await runner.run(members, start, groupSize, attempt);
      if (outcome.kind === "committed" || !outcome.lock) return outcome;
      const member = outcome.ran[outcome.ran.length - 1];
      const base = member ? runner.baseLockTimeout(member.migration) : 0;
      // Without a lock_timeout, a NOWAIT found the lock taken: that is the migration's own choice.
      if (!member || base <= 0) return outcome;
      const retry: LockRetry = { attempt: attempt + 1, lockTimeoutMs: outcome.lock.lockTimeoutMs, at: new Date().toISOString(), blockers: outcome.lock.blockers };
      if (outcome.ran.length > 1) {
        groupRetry = { ...retry, retryInMs: 0, grouped: outcome.ran.length };
        options.onLockRetry?.(outcome.ran[0]!.migration, groupRetry, attempts);
        return outcome;
      }
      const retries = (member.entry.lockRetries ??= []);
      if (carry?.retry) {
        retries.push(carry.retry);
        carry.retry = undefined;
      }
      retry.attempt = retries.length + 1;
      retries.push(retry);
      const pause = retrySleep(base, retries.length);
      const nextWait = attemptLockTimeout(base, retries.length);
      // Why no further try (undefined: there is one); "" when the tries ran out.
      const stoppedBy =
        retries.length >= attempts
          ? ""
          : (!member.migration.transactional || member.partial) && options.mode === "strict"
            ? "a strict upgrade does not run a non-transactional migration twice: what it did stays, and `retort safe-upgrade` converges from there"
            : options.deadline !== undefined && Date.now() + pause + nextWait >= options.deadline
              ? "this invocation's deadline comes before another try could end"
              : Date.now() - began + pause + nextWait >= limitMs
                ? "another try would pass its time limit (--migration-timeout)"
                : undefined;
      if (stoppedBy === undefined) retry.retryInMs = pause;
      options.onLockRetry?.(member.migration, retry, attempts);
      if (stoppedBy !== undefined) return { ...outcome, error: new LockTimeoutError(retries, stoppedBy || undefined, { cause: outcome.error }) };
      await sleep(pause);
      try {
        lease.assertHeld();
        // Outside a transaction its statements before the wait stayed: the next try must see them.
        if (!member.migration.transactional || member.partial) await runner.reintrospect();
      } catch (error) {
        return { kind: "failed", error, ran: outcome.ran };
      }
    }
  };

  /** A group's try that no migration of it carried (none waited again): the last one keeps it. */
  const keepGroupRetry = (member: Member, carry: { retry?: LockRetry | undefined }) => {
    if (carry.retry) member.entry.lockRetries = [carry.retry, ...(member.entry.lockRetries ?? [])];
    carry.retry = undefined;
  };

  /**
   * Applies the members of a failed group that ran before `stuck`, as groups again; the failed
   * outcome of one that fails now (reported), else undefined.
   */
  const applyBefore = async (ran: readonly Member[], stuck: Member): Promise<GroupOutcome | undefined> => {
    for (let k = ran[0]!.index; k < stuck.index; ) {
      const before = await runRetrying(k, stuck.index - k);
      if (before.kind === "failed") {
        settleFailure(result, before.ran, options, before.error);
        return before;
      }
      k = before.next;
    }
    return undefined;
  };

  let next = 0;
  while (next < members.length) {
    // At the deadline nothing new starts; the rest stays not-executed, for the next run.
    if (options.deadline !== undefined && Date.now() >= options.deadline) return result;
    const outcome = await runRetrying(next, size);
    if (outcome.kind === "committed") {
      next = outcome.next;
      continue;
    }
    const { error, ran } = outcome;
    if (ran.length === 0) {
      // The lease was lost before anything of the group ran: nothing more is sent.
      result.error = { code: codeOf(error), message: (error as Error).message };
      return result;
    }
    if (error instanceof CommitsAloneError && ran.length > 1) {
      // A statement of the last one must commit on its own: the ones before it commit as a group
      // without it, and it runs again first in a group of its own, where it can.
      const stuck = ran[ran.length - 1]!;
      if (await applyBefore(ran, stuck)) return result;
      next = stuck.index;
      continue;
    }
    if (ran.length > 1 && replayable(error)) {
      // Nothing of the group was committed. One by one, the members before the failing one
      // apply and the failing one is reported with its own error.
      // When its lock_timeout ran out, the first of them to wait again carries the group's try.
      const carry = { retry: outcome.lock ? groupRetry : undefined };
      for (const member of ran) {
        const alone = await runRetrying(member.index, 1, carry);
        if (alone.kind === "failed") {
          keepGroupRetry(member, carry);
          settleFailure(result, [member], options, alone.error);
          return result;
        }
      }
      keepGroupRetry(ran[ran.length - 1]!, carry);
      next = ran[ran.length - 1]!.index + 1;
      continue;
    }
    const stuck = ran[ran.length - 1]!;
    if (error instanceof MigrationTimeoutError && ran.length > 1) {
      // The migrations grouped before the one that hung were fine: they apply, it fails alone.
      if (await applyBefore(ran, stuck)) return result;
      settleFailure(result, [stuck], options, error);
      return result;
    }
    settleFailure(result, ran, options, error);
    return result;
  }
  return result;
}

/**
 * The version table once no earlier run's statement is still executing on it, waiting for that
 * up to the run's lock wait (polling about once a second), else refusing, naming the statement.
 */
async function readWhenIdle(db: DatabaseContext, run: LockedRun): Promise<VersionState> {
  const started = Date.now();
  for (;;) {
    const read = await db.versionTable.read(db.executor);
    // No tables yet: only then are the writers a read of their own (a new database's first run).
    const state = read.exists ? read : { ...read, busy: await db.versionTable.writers(db.executor) };
    if (state.busy.length === 0) return state;
    const waited = Date.now() - started;
    if (waited >= (db.lockWaitMs ?? 0)) {
      // Under a fenced lease, the writer may be a runner of another lock table: say so.
      const others = run.lease.fenced ? await db.versionTable.otherIssuers(db.executor, db.lockKey, db.lock.description) : [];
      throw new StatementStillRunningError(state.busy, waited, others);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, (db.lockWaitMs ?? 0) - waited) * (0.75 + Math.random() / 2)));
    run.lease.assertHeld();
  }
}

/** Every migration of the plan with the heads before and after it. */
function planMembers(
  map: RevisionMap<Migration>,
  plan: readonly Migration[],
  results: readonly RevisionResult[],
  state: VersionState,
  known: readonly string[],
  unknown: readonly string[],
  direction: Direction,
): Member[] {
  const applied = map.ancestors(known, true);
  let heads = state.heads;
  return plan.map((migration, index) => {
    if (direction === Direction.Up) applied.add(migration.revision);
    else applied.delete(migration.revision);
    const toHeads = [...map.headsOf(applied), ...unknown];
    const transition: Transition = {
      from: heads,
      to: toHeads,
      ...(direction === Direction.Up
        ? { applied: [{ revision: migration.revision, checksum: migration.checksum }] }
        : { reverted: [migration.revision] }),
    };
    heads = toHeads;
    return { index, entry: results[index]!, migration, toHeads, transition };
  });
}

/**
 * The database's heads restricted to what this code knows. When the database also records
 * revisions the code does not have, its record of applied revisions says how far the known part
 * of the graph got. Unknown heads themselves stay recorded (see `toHeads`).
 */
export function knownHeads(map: RevisionMap<Migration>, state: VersionState): string[] {
  if (state.heads.every((h) => map.has(h))) return state.heads;
  const known = [...state.heads, ...state.applied.map((a) => a.revision)].filter((r) => map.has(r));
  return map.headsOf(map.ancestors(known, true));
}
