// The engine behind upgrade, safe-upgrade and downgrade: take the lock, read the version table,
// plan along the graph, introspect once, then run the revisions in groups (group-transaction.ts), each one
// transaction that ends with the version-table update recording its revisions. A failed group is
// rolled back and run again one revision at a time, so the failure is reported against the
// revision that caused it. Results are filled in as "not-executed" before the run starts and
// overwritten step by step, so a failure still reports exactly what ran (Kysely's habit).
// Under a fenced lease every transaction first claims the fence (VersionTable.fence), so a runner
// that lost its lease cannot commit; the run and its revisions are recorded in the history.
import { RetortError } from "../errors.ts";
import { describeOperation } from "../ops/describe.ts";
import { createOperations, type OpResult, type RunMode } from "../ops/operations.ts";
import type { SchemaSnapshot } from "../schema/snapshot.ts";
import { Direction, type Migration } from "../revision/migration.ts";
import type { RevisionMap } from "../revision/graph.ts";
import { ConnectionError, isOutcomeUnknown, type LockBlocker, SqlError, StatementAbandonedError, StatementBlockedError } from "../sql/errors.ts";
import type { RevisionRecord } from "../state/history.ts";
import { type Lease, LeaseLostError } from "../state/lock.ts";
import { FENCED_OUT_SQLSTATE, type Transition, type VersionState, VERSION_CONFLICT_SQLSTATE } from "../state/version-table.ts";
import { GroupTransaction } from "./group-transaction.ts";
import { type Context, type DatabaseContext, DEFAULT_MIGRATION_TIMEOUT_MS, requireDatabase } from "./context.ts";
import { MigrationError, StatementStillRunningError, UnknownDatabaseRevisionsError } from "./errors.ts";
import { beginRun, endRun, failedOutcome, type LockedRun } from "./locked-run.ts";


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
   * The first failure, already reported against its revision in `results`; `outcome: "unknown"`
   * when the database may still be applying what was sent.
   */
  /**
   * outcome "unknown": a statement outlived its call and may still commit; "stopped": the run
   * stopped itself at its deadline and rolled back what was in flight.
   */
  error?: {
    /** What went wrong, as the errors' codes say it (`migration-failed` for a migration's own throw). */
    code: string;
    message: string;
    revision?: string;
    file?: string;
    outcome?: "unknown" | "stopped";
    sqlState?: string;
    /** A statement that timed out waiting for a lock: the sessions in the way (StatementBlockedError). */
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
}

/** A migration ran past its time limit (MigrateOptions.migrationTimeoutMs). */
export class MigrationTimeoutError extends RetortError {
  override readonly code: string = "migration-timeout";
  protected override details(): Record<string, unknown> {
    return { limitMs: this.limitMs };
  }
  override name = "MigrationTimeoutError";
  constructor(
    readonly limitMs: number,
    transactional: boolean,
  ) {
    super(
      `it did not finish within its time limit of ${describeMs(limitMs)} (--migration-timeout): ` +
        (transactional ? "its transaction was rolled back (a statement still running was cancelled). " : "the run stopped waiting for it. ") +
        "If it needs longer, give it more with --migration-timeout (RETORT_MIGRATION_TIMEOUT_SECONDS in the Lambda); " +
        "if it should have finished, look for a promise it never settles (a missing await, an event it waits for)",
    );
  }
}

/** The longest delay setTimeout honours; a longer one fires immediately. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function describeMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/**
 * The run reached its deadline (MigrateOptions.deadline) with a migration in flight: cancelled and
 * rolled back, so nothing of it is applied.
 */
export class DeadlineReachedError extends RetortError {
  override readonly code: string = "deadline-reached";
  override name = "DeadlineReachedError";
  constructor(ranMs: number, options?: { cause?: unknown }) {
    super(`stopped at this invocation's deadline after ${Math.round(ranMs / 1000)} s: its statement was cancelled and the transaction rolled back`, options);
  }
}

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
      ...(r.error ? { error: r.error } : {}),
    }));
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
  let next = 0;
  while (next < members.length) {
    // At the deadline nothing new starts; the rest stays not-executed, for the next run.
    if (options.deadline !== undefined && Date.now() >= options.deadline) return result;
    const outcome = await runner.run(members, next, size);
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
    if (ran.length > 1 && replayable(error)) {
      // Nothing of the group was committed. One by one, the members before the failing one
      // apply and the failing one is reported with its own error.
      for (const member of ran) {
        const alone = await runner.run(members, member.index, 1);
        if (alone.kind === "failed") {
          settleFailure(result, [member], options, alone.error);
          return result;
        }
      }
      next = ran[ran.length - 1]!.index + 1;
      continue;
    }
    const stuck = ran[ran.length - 1]!;
    if (error instanceof MigrationTimeoutError && ran.length > 1) {
      // The migrations grouped before the one that hung were fine: they apply, it fails alone.
      for (let k = ran[0]!.index; k < stuck.index; ) {
        const before = await runner.run(members, k, stuck.index - k);
        if (before.kind === "failed") {
          settleFailure(result, before.ran, options, before.error);
          return result;
        }
        k = before.next;
      }
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

/** A migration of the plan, with the version-table change that records it. */
interface Member {
  index: number;
  entry: RevisionResult;
  migration: Migration;
  toHeads: string[];
  transition: Transition;
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

/** Most migrations one transaction holds, and how long (ms) it may stay open before it commits. */
const MAX_GROUP_SIZE = 1000;
const MAX_GROUP_MS = 5_000;

type GroupOutcome =
  | { kind: "committed"; next: number }
  /** `ran`: the members whose work the failed group rolled back, the last one in flight. */
  | { kind: "failed"; error: unknown; ran: Member[] };

/**
 * Runs consecutive members as groups (group-transaction.ts): each group holds up to `size` transactional
 * migrations, or one non-transactional migration, and commits them with one version-table update.
 * The schema snapshot moves on as migrations run; a failed group puts it back where it started.
 */
class GroupRunner {
  constructor(
    private readonly db: DatabaseContext,
    private readonly result: MigrateResult,
    private readonly lease: Lease,
    /** The run's PL/pgSQL for the start of every transaction (serialisation, fence). */
    private readonly preamble: readonly string[],
    private readonly options: MigrateOptions,
    private snapshot: SchemaSnapshot,
    /** Whether the version table exists; until then every group creates it first. */
    private tablesExist: boolean,
  ) {}

  async run(members: readonly Member[], start: number, size: number): Promise<GroupOutcome> {
    const first = members[start]!;
    const startSnapshot = this.snapshot;
    const group = new GroupTransaction(this.db.executor, this.db.dialect, {
      transactional: first.migration.transactional,
      // After the database's serialisation: the heads this group starts from, so a runner that
      // waited there for another one fails before it runs anything (a new table has none yet).
      preamble: [...this.preamble, ...(this.tablesExist ? this.db.versionTable.assertHeads(first.transition.from) : [])],
      prefix: this.tablesExist ? [] : this.db.versionTable.createStatements(),
      beforeSend: () => {
        this.lease.assertHeld();
        if (deadline !== undefined && Date.now() >= deadline) throw new DeadlineReachedError(performance.now() - inFlightSince);
      },
      label: this.db.versionTable.writerLabel(),
    });
    const ran: Member[] = [];
    const timing: number[] = [];
    const deadline = this.options.deadline;
    const limitMs = this.options.migrationTimeoutMs ?? this.db.migrationTimeoutMs ?? DEFAULT_MIGRATION_TIMEOUT_MS;
    const transactional = first.migration.transactional;
    let inFlightSince = performance.now();
    let stopped: DeadlineReachedError | MigrationTimeoutError | undefined;
    // The cancel sent when stopping: awaited before anything else is sent, or it could cancel that.
    let cancelling: Promise<unknown> = Promise.resolve();
    // Rejects when the run stops the migration in flight: raced with its code, which may never settle.
    let halt!: (error: Error) => void;
    const halted = new Promise<never>((_, reject) => (halt = reject));
    halted.catch(() => {});
    // At the deadline, or when a migration passes its time limit: a transaction is cancelled on the
    // database (its statement fails, and the group rolls back); a statement outside one is left
    // running and no longer waited for (its outcome is unknown).
    const stop = (error: DeadlineReachedError | MigrationTimeoutError, running: string) => {
      stopped = error;
      if (transactional) {
        cancelling = this.db.versionTable.cancelWriters(this.db.executor).catch(() => 0);
        halt(error);
        return;
      }
      const seconds = Math.round((performance.now() - inFlightSince) / 1000);
      const abandoned = new StatementAbandonedError(
        `${running} after ${seconds} s with the statement still running outside a transaction; it runs on in the database, and the next run waits for it`,
      );
      halt(group.abandon(abandoned) ? abandoned : error);
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    /** Stops the member starting now at the run's deadline or its own time limit, whichever is first. */
    const arm = () => {
      clearTimeout(timer);
      const untilDeadline = deadline === undefined ? Infinity : Math.max(0, deadline - Date.now());
      // Beyond what a timer can hold (about 24.8 days) Node fires at once: such a limit is none.
      if (Math.min(untilDeadline, limitMs) > MAX_TIMER_MS) return;
      const byDeadline = untilDeadline <= limitMs;
      timer = setTimeout(
        () =>
          byDeadline
            ? stop(new DeadlineReachedError(performance.now() - inFlightSince), "this invocation's time ran out")
            : stop(new MigrationTimeoutError(limitMs, transactional), "the migration's time limit passed"),
        Math.min(untilDeadline, limitMs),
      );
    };
    try {
      for (let k = start; k < members.length && ran.length < size; k += 1) {
        const member = members[k]!;
        if (ran.length > 0 && (!member.migration.transactional || performance.now() - group.openedAt >= MAX_GROUP_MS)) break;
        this.lease.assertHeld();
        if (ran.length > 0 && deadline !== undefined && Date.now() >= deadline) break;
        const started = performance.now();
        inFlightSince = started;
        arm();
        ran.push(member);
        group.owner = member.index;
        this.options.onMigration?.(member.migration);
        const ops = createOperations({
          snapshot: this.snapshot,
          mode: this.options.mode,
          sink: group,
          defaultSchema: this.db.defaultSchema,
          dialect: this.db.dialect,
        });
        try {
          const body = this.options.direction === Direction.Up ? member.migration.upgrade(ops) : member.migration.downgrade(ops);
          await Promise.race([body, halted]);
        } finally {
          member.entry.operations = report(ops.results, this.db.defaultSchema);
        }
        this.lease.assertHeld();
        if (group.failed) throw group.failed.error;
        this.snapshot = ops.snapshot as SchemaSnapshot;
        timing.push(performance.now() - started);
        if (!member.migration.transactional) break;
      }
      const committing = performance.now();
      const last = ran[ran.length - 1]!;
      await group.commit(
        this.db.versionTable.transition(ran.length === 1 ? last.transition : mergeTransitions(ran.map((m) => m.transition))),
      );
      const share = (performance.now() - committing) / ran.length;
      for (const [i, member] of ran.entries()) {
        member.entry.durationMs = Math.round(timing[i]! + share);
        member.entry.status = "applied";
        this.result.applied += 1;
        this.result.skippedOperations += member.entry.operations.filter((o) => o.status === "skipped").length;
      }
      this.result.toHeads = last.toHeads;
      this.tablesExist = true;
      return { kind: "committed", next: last.index + 1 };
    } catch (caught) {
      // A statement cancelled at the deadline fails with the database's "canceling statement".
      const cancelled = caught instanceof SqlError && caught.sqlState === QUERY_CANCELED;
      const error = stopped && transactional && cancelled ? stopped : caught;
      // Whatever the stopped code does later, nothing more of it reaches the database.
      group.close();
      await cancelling;
      // A pipelined send that failed is blamed on the members whose statements it carried: the
      // members planned after it never had a statement run, and are not part of the failure.
      const failedSend = group.failed;
      const blamed = failedSend && failedSend.error === caught ? ran.filter((m) => m.index <= failedSend.owners.to) : ran;
      await group.rollback();
      this.snapshot = startSnapshot;
      const inFlight = blamed[blamed.length - 1];
      if (inFlight && (error instanceof DeadlineReachedError || error instanceof MigrationTimeoutError)) inFlight.entry.durationMs = Math.round(performance.now() - inFlightSince);
      // What the one in flight had done stays in its report (settled as rolled back or unknown);
      // the others were rolled back, and those after it never ran.
      for (const member of ran) if (member !== inFlight) member.entry.operations = [];
      return { kind: "failed", error, ran: blamed };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Records a migration's failure in its entry and in the run's result. */
function settle(
  result: MigrateResult,
  { entry, migration }: Member,
  options: { direction: Direction; mode: RunMode },
  error: unknown,
  groupSize = 1,
): void {
  entry.status = "failed";
  if (migration.transactional) settleOperations(entry, "rolled-back");
  let detail = explain(error, options.mode, migration);
  if (groupSize > 1) {
    detail +=
      `; it ran in one transaction with the ${groupSize - 1} revision(s) before it, ` +
      "so their outcome is unknown too: run `retort status`";
  }
  const failure = new MigrationError(migration, options.direction, detail, { cause: error });
  entry.error = failure.message;
  result.error = {
    code: codeOf(error),
    message: failure.message,
    revision: migration.revision,
    file: migration.file,
    ...(error instanceof SqlError && error.sqlState ? { sqlState: error.sqlState } : {}),
  };
}

/** Reports how a group of `ran` failed: its outcome unknown, the run stopped, or a migration refused. */
function settleFailure(result: MigrateResult, ran: readonly Member[], options: { direction: Direction; mode: RunMode }, error: unknown): void {
  if (isOutcomeUnknown(error)) settleUnknown(result, ran, options, error);
  else if (error instanceof DeadlineReachedError) settleStopped(result, ran, options, error);
  else if (error instanceof MigrationTimeoutError) settle(result, ran[ran.length - 1]!, options, error);
  else if (stopsTheRun(error)) settle(result, ran[0]!, options, error);
  else settle(result, ran[ran.length - 1]!, options, error, ran.length);
}

/** A group stopped at the run's deadline: the one in flight failed, nothing of the group applied. */
function settleStopped(result: MigrateResult, ran: readonly Member[], options: { direction: Direction }, error: DeadlineReachedError): void {
  const { entry, migration } = ran[ran.length - 1]!;
  const before = ran.length > 1 ? ` nor of the ${ran.length - 1} revision(s) grouped with it` : "";
  const failure = new MigrationError(migration, options.direction, `${error.message}; nothing of it${before} was applied`, { cause: error });
  entry.status = "failed";
  settleOperations(entry, "rolled-back");
  entry.error = failure.message;
  result.error = { code: error.code, message: failure.message, revision: migration.revision, file: migration.file, outcome: "stopped" };
}

/**
 * A group whose outcome is unknown (its statement outlived the call): every migration in it is
 * reported as such, since they commit together or not at all, and none as failed.
 */
function settleUnknown(result: MigrateResult, ran: readonly Member[], options: { direction: Direction }, error: unknown): void {
  const first = ran[0]!.migration;
  const last = ran[ran.length - 1]!.migration;
  const which = ran.length === 1 ? `${first.revision} (${first.file})` : `${first.revision} (${first.file}) to ${last.revision} (${last.file})`;
  const message =
    `${options.direction} of ${which}: the outcome is unknown: ${(error as Error).message}. ` +
    "The statement may still be running on the database and may yet commit; run `retort status` once it has finished " +
    "(a run started meanwhile refuses, naming it)";
  for (const member of ran) {
    member.entry.status = "unknown";
    member.entry.error = message;
    settleOperations(member.entry, "unknown");
  }
  result.error = {
    code: codeOf(error, "outcome-unknown"),
    message,
    revision: last.revision,
    file: last.file,
    outcome: "unknown",
    ...(error instanceof StatementBlockedError ? { blockers: error.blockers } : {}),
  };
}

/** An error's code for a run's report; a migration's own exception is a failed migration. */
function codeOf(error: unknown, fallback = "migration-failed"): string {
  return error instanceof RetortError ? error.code : fallback;
}

/** The operations a revision sent, once its transaction did not commit: none of them is applied. */
function settleOperations(entry: RevisionResult, status: "rolled-back" | "unknown"): void {
  entry.operations = entry.operations.map((o) => (o.status === "applied" ? { ...o, status } : o));
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

function report(results: readonly OpResult[], defaultSchema: string): OperationReport[] {
  return results.map((r) =>
    r.kind === "applied"
      ? { operation: describeOperation(r.operation, defaultSchema), status: "applied" }
      : { operation: describeOperation(r.operation, defaultSchema), status: "skipped", reason: r.reason },
  );
}

/** SQLSTATE of a statement cancelled (pg_cancel_backend), as the run does at its deadline. */
const QUERY_CANCELED = "57014";

/** PostgreSQL's "already exists" family. */
const EXISTS = new Set(["42P07", "42701", "42710", "42P06", "42P16"]);

/** The database's message plus what to do next. */
function explain(error: unknown, mode: RunMode, migration: Migration): string {
  const message = error instanceof Error ? error.message : String(error);
  // An unknown outcome never comes here (settleUnknown reports it).
  const state = migration.transactional
    ? "nothing of this revision was applied"
    : "it is not transactional, so statements before the failure stay applied; `retort safe-upgrade` converges from there";
  // Both say what happened and what to run next; nothing of the revision was sent or committed.
  if (error instanceof LeaseLostError) return message;
  if (error instanceof SqlError && error.sqlState === FENCED_OUT_SQLSTATE) return message;
  if (error instanceof SqlError && error.sqlState === VERSION_CONFLICT_SQLSTATE) return `${message}; ${state}`;
  if (mode === "strict" && error instanceof SqlError && error.sqlState && EXISTS.has(error.sqlState)) {
    return (
      `${message}; ${state}. The object already exists: run \`retort safe-upgrade\` to skip what exists, ` +
      `or \`retort stamp ${migration.revision}\` if this revision was applied by hand`
    );
  }
  return `${message}; ${state}. Fix the migration and run the command again`;
}

/**
 * Whether a failed group is worth running again one migration at a time to find which one fails:
 * yes when the database refused a statement or a migration threw, since then nothing committed.
 * Not when the run must stop (lease lost, fenced out), nor when the outcome is unknown (a lost
 * connection, a Data API timeout): the database may still be working on it.
 */
function replayable(error: unknown): boolean {
  return !isOutcomeUnknown(error) && !stopsTheRun(error) && !(error instanceof ConnectionError);
}

function stopsTheRun(error: unknown): boolean {
  return (
    error instanceof LeaseLostError ||
    error instanceof DeadlineReachedError ||
    // Run again, it would hang again.
    error instanceof MigrationTimeoutError ||
    (error instanceof SqlError && error.sqlState === FENCED_OUT_SQLSTATE)
  );
}

/** Consecutive transitions as one: from the first's heads to the last's, recording every revision. */
function mergeTransitions(transitions: readonly Transition[]): Transition {
  return {
    from: transitions[0]!.from,
    to: transitions[transitions.length - 1]!.to,
    applied: transitions.flatMap((t) => t.applied ?? []),
    reverted: transitions.flatMap((t) => t.reverted ?? []),
  };
}
