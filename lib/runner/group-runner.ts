// Runs consecutive migrations of a plan as groups, each one transaction (group-transaction.ts)
// that commits with the version-table update recording them; stops the migration in flight at the
// run's deadline or its own time limit. What a failed group means is failure-policy.ts's business;
// retrying one whose lock_timeout ran out is migrate.ts's (lock-retry.ts).
import { describeOperation } from "../ops/describe.ts";
import { createOperations, type OpResult } from "../ops/operations.ts";
import type { Operation } from "../schema/operation.ts";
import type { SchemaSnapshot } from "../schema/snapshot.ts";
import { Direction, type Migration } from "../revision/migration.ts";
import { type LockBlocker, SqlError, StatementAbandonedError } from "../sql/errors.ts";
import type { StatementTimeouts } from "../sql/executor.ts";
import { lockHolders } from "../sql/lock-blockers.ts";
import type { Lease } from "../state/lock.ts";
import type { Transition } from "../state/version-table.ts";
import { type DatabaseContext, DEFAULT_MIGRATION_TIMEOUT_MS, searchPathSettings } from "./context.ts";
import { DeadlineReachedError, MigrationTimeoutError } from "./errors.ts";
import { GroupTransaction } from "./group-transaction.ts";
import { attemptLockTimeout, DEFAULT_LOCK_TIMEOUT_MS, isLockNotAvailable, relationsOf, settingMs, timeoutSettings } from "./lock-retry.ts";
import type { MigrateOptions, MigrateResult, OperationReport, RevisionResult } from "./migrate.ts";

/** A migration of the plan, with the version-table change that records it. */
export interface Member {
  index: number;
  entry: RevisionResult;
  migration: Migration;
  toHeads: string[];
  transition: Transition;
  /**
   * Its last try failed after committing part of it: a statement that commits on its own
   * (StatementTransaction) detached it from its transaction, so what it did before that stays.
   */
  partial?: boolean;
}

/** Most migrations one transaction holds, and how long (ms) it may stay open before it commits. */
export const MAX_GROUP_SIZE = 1000;
const MAX_GROUP_MS = 5_000;

export type GroupOutcome =
  | { kind: "committed"; next: number }
  /** `ran`: the members whose work the failed group rolled back, the last one in flight. */
  | { kind: "failed"; error: unknown; ran: Member[]; lock?: LockWait };

/** A group whose lock_timeout ran out (SQLSTATE 55P03): what it waited with, and for whom. */
export interface LockWait {
  lockTimeoutMs: number;
  /** The sessions holding locks on the relations its operations name, read once after it gave up. */
  blockers: LockBlocker[];
}

/** The longest delay setTimeout honours; a longer one fires immediately. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** SQLSTATE of a statement cancelled (pg_cancel_backend), as the run does at its deadline. */
const QUERY_CANCELED = "57014";

/**
 * Runs consecutive members as groups (group-transaction.ts): each group holds up to `size` transactional
 * migrations, or one non-transactional migration, and commits them with one version-table update.
 * The schema snapshot moves on as migrations run; a failed group puts it back where it started.
 */
export class GroupRunner {
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

  /** Raw SQL of a migration already run changed the schema after `snapshot` was read: the next one reads it again. */
  private stale = false;

  /**
   * The lock_timeout (ms) a migration's statements get on their first try; 0: no limit. Its own
   * comes first, except that a run without a limit (a maintenance window) has none for any.
   */
  baseLockTimeout(migration: Migration): number {
    const run = this.options.lockTimeoutMs ?? this.db.lockTimeoutMs;
    if (run === 0) return 0;
    return migration.lockTimeoutMs ?? run ?? DEFAULT_LOCK_TIMEOUT_MS;
  }

  /**
   * A migration's statement_timeout (ms; 0: none): its own, else in a transaction its time limit
   * (the runner stops it there anyway). Outside a transaction only its own: there the runner lets
   * a statement it stops waiting for run on (a CREATE INDEX CONCURRENTLY cancelled half-way
   * leaves an invalid index behind).
   */
  private statementTimeout(migration: Migration): number {
    if (migration.statementTimeoutMs !== undefined) return settingMs(migration.statementTimeoutMs);
    return migration.transactional ? settingMs(this.limitMs()) : 0;
  }

  private limitMs(): number {
    return this.options.migrationTimeoutMs ?? this.db.migrationTimeoutMs ?? DEFAULT_MIGRATION_TIMEOUT_MS;
  }

  /**
   * Reads the schema again: before a non-transactional migration runs a second time, what its
   * first try left (an index, or the invalid index of a CREATE INDEX CONCURRENTLY cut short, which
   * the safe form drops and builds again) is then known.
   */
  async reintrospect(): Promise<void> {
    this.snapshot = await this.db.dialect.introspect(this.db.executor, [this.db.defaultSchema]);
    this.stale = false;
  }

  /**
   * Runs members from `start` as one group; `attempt` (from 0) is the try, which sets how long its
   * statements may wait for a lock (lock-retry.ts). A group holds only migrations with the same
   * bounds, so each runs with exactly its own.
   */
  async run(members: readonly Member[], start: number, size: number, attempt = 0): Promise<GroupOutcome> {
    const first = members[start]!;
    const startSnapshot = this.snapshot;
    const startStale = this.stale;
    const baseLock = this.baseLockTimeout(first.migration);
    const baseStatement = this.statementTimeout(first.migration);
    const timeouts: StatementTimeouts = { lockTimeoutMs: attemptLockTimeout(baseLock, attempt), statementTimeoutMs: baseStatement };
    const group = new GroupTransaction(this.db.executor, this.db.dialect, {
      transactional: first.migration.transactional,
      settings: [...timeoutSettings(timeouts), ...searchPathSettings(this.db)],
      // A statement no transaction can hold (CREATE INDEX CONCURRENTLY) takes locks the
      // application's reads and writes never queue behind, and one cut short leaves an invalid
      // index: it is bounded only when its migration says so.
      ...(first.migration.lockTimeoutMs !== undefined || first.migration.statementTimeoutMs !== undefined ? { timeouts } : {}),
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
    const limitMs = this.limitMs();
    const touched: Operation[] = [];
    // Until a statement that commits on its own detaches it (group-transaction.ts).
    const inTransaction = () => first.migration.transactional && !group.detached;
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
      if (inTransaction()) {
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
            : stop(new MigrationTimeoutError(limitMs, inTransaction()), "the migration's time limit passed"),
        Math.min(untilDeadline, limitMs),
      );
    };
    try {
      for (let k = start; k < members.length && ran.length < size; k += 1) {
        const member = members[k]!;
        if (ran.length > 0 && (!member.migration.transactional || performance.now() - group.openedAt >= MAX_GROUP_MS)) break;
        // Another lock_timeout or statement_timeout: the group ends before it.
        if (ran.length > 0 && (this.baseLockTimeout(member.migration) !== baseLock || this.statementTimeout(member.migration) !== baseStatement)) break;
        this.lease.assertHeld();
        if (ran.length > 0 && deadline !== undefined && Date.now() >= deadline) break;
        const started = performance.now();
        inFlightSince = started;
        arm();
        ran.push(member);
        member.partial = false;
        group.owner = member.index;
        group.shared = ran.length > 1;
        this.options.onMigration?.(member.migration);
        const ops = createOperations({
          snapshot: this.snapshot,
          stale: this.stale,
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
          touched.push(...ops.results.filter((r) => r.kind === "applied").map((r) => r.operation));
        }
        this.lease.assertHeld();
        if (group.failed) throw group.failed.error;
        this.snapshot = ops.snapshot as SchemaSnapshot;
        this.stale = ops.stale;
        timing.push(performance.now() - started);
        if (!member.migration.transactional || group.detached) break;
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
      const error = stopped && inTransaction() && cancelled ? stopped : caught;
      // Whatever the stopped code does later, nothing more of it reaches the database.
      group.close();
      await cancelling;
      // A pipelined send that failed is blamed on the members whose statements it carried: the
      // members planned after it never had a statement run, and are not part of the failure.
      const failedSend = group.failed;
      const blamed = failedSend && failedSend.error === caught ? ran.filter((m) => m.index <= failedSend.owners.to) : ran;
      await group.rollback();
      this.snapshot = startSnapshot;
      this.stale = startStale;
      // Its lock_timeout ran out: who holds the locks its operations wanted, read once, now.
      const lock: LockWait | undefined = isLockNotAvailable(error)
        ? {
            lockTimeoutMs: timeouts.lockTimeoutMs,
            blockers: await lockHolders(this.db.executor, relationsOf(touched, this.db.dialect, this.db.defaultSchema), timeouts.lockTimeoutMs),
          }
        : undefined;
      const inFlight = blamed[blamed.length - 1];
      if (inFlight && group.detached) inFlight.partial = true;
      if (inFlight && (error instanceof DeadlineReachedError || error instanceof MigrationTimeoutError)) inFlight.entry.durationMs = Math.round(performance.now() - inFlightSince);
      // What the one in flight had done stays in its report (settled as rolled back or unknown);
      // the others were rolled back, and those after it never ran.
      for (const member of ran) if (member !== inFlight) member.entry.operations = [];
      return { kind: "failed", error, ran: blamed, ...(lock ? { lock } : {}) };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What a migration's operations did, as the run reports them. */
function report(results: readonly OpResult[], defaultSchema: string): OperationReport[] {
  return results.map((r) =>
    r.kind === "applied"
      ? { operation: describeOperation(r.operation, defaultSchema), status: "applied" }
      : { operation: describeOperation(r.operation, defaultSchema), status: "skipped", reason: r.reason },
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
