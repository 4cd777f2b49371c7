// The engine behind upgrade, safe-upgrade and downgrade: take the lock, read the version table,
// plan along the graph, introspect once, then run each revision in its own transaction together
// with its version-table update. Results are filled in as "not-executed" before the run starts
// and overwritten step by step, so a failure still reports exactly what ran (Kysely's habit).
// Under a fenced lease every transaction first claims the fence (VersionTable.fence), so a runner
// that lost its lease cannot commit; the run and its revisions are recorded in the history.
import { describeOperation } from "../ops/describe.ts";
import { createOperations, type OpResult, type RunMode } from "../ops/operations.ts";
import { introspect } from "../dialect/postgres/introspect.ts";
import type { RenderedStatement } from "../dialect/dialect.ts";
import type { SchemaSnapshot } from "../dialect/snapshot.ts";
import type { Migration } from "../revision/migration.ts";
import type { RevisionMap } from "../revision/graph.ts";
import { DataApiError, SqlError } from "../sql/errors.ts";
import type { RevisionRecord } from "../state/history.ts";
import { type Lease, LeaseLostError } from "../state/lock.ts";
import { FENCED_OUT_SQLSTATE, type Transition, type VersionState, VERSION_CONFLICT_SQLSTATE } from "../state/version-table.ts";
import { BatchingSink } from "./batching-sink.ts";
import { type Context, type DatabaseContext, requireDatabase } from "./context.ts";
import { MigrationError, UnknownDatabaseRevisionsError } from "./errors.ts";
import { beginRun, endRun, failedOutcome, type LockedRun } from "./locked-run.ts";

export const Direction = { Up: "upgrade", Down: "downgrade" } as const;
export type Direction = (typeof Direction)[keyof typeof Direction];

export interface OperationReport {
  operation: string;
  status: "applied" | "skipped";
  reason?: string;
}

export interface RevisionResult {
  revision: string;
  message: string;
  file: string;
  direction: Direction;
  status: "applied" | "failed" | "not-executed";
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
  /** The first failure, already reported against its revision in `results`. */
  error?: { message: string; revision?: string; file?: string };
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
      status: result.error ? "failed" : "succeeded",
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
      status: r.status === "applied" ? "applied" : "failed",
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
  const state = await db.versionTable.read(db.executor);
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

  let snapshot = await introspect(db.executor, [db.defaultSchema]);
  let current: VersionState = state;
  const applied = map.ancestors(known, true);
  const group = new Group(db, result, lease, run.fence);
  for (const [i, migration] of plan.entries()) {
    try {
      lease.assertHeld();
    } catch (error) {
      // What waits in the group was never sent, and is not: it stays "not-executed".
      result.error = { message: (error as Error).message };
      return result;
    }
    const started = Date.now();
    const entry = results[i]!;
    if (options.direction === Direction.Up) applied.add(migration.revision);
    else applied.delete(migration.revision);
    const toHeads = [...map.headsOf(applied), ...unknown];
    const sink = new BatchingSink(db.executor, db.dialect, migration.transactional);
    // Statements that cannot join a group flush the group first, so order is kept.
    sink.beforeDirectSend = () => group.flush(options.mode);
    const ops = createOperations({ snapshot, mode: options.mode, sink, defaultSchema: db.defaultSchema, dialect: db.dialect });
    const fail = async (error: unknown) => {
      await sink.abort().catch(() => {});
      // The migrations waiting in the group are sound: they are applied before this is reported
      // (unless the lease is lost: then nothing more is sent).
      try {
        if (!(error instanceof LeaseLostError)) await group.flush(options.mode);
      } catch (flushError) {
        if (flushError instanceof GroupFailed) return result;
        throw flushError;
      }
      entry.durationMs = Date.now() - started;
      entry.operations = report(ops.results, db.defaultSchema);
      settle(result, entry, migration, options, error);
      return result;
    };
    const transition: Transition = {
      from: current.heads,
      to: toHeads,
      ...(options.direction === Direction.Up
        ? { applied: [{ revision: migration.revision, checksum: migration.checksum }] }
        : { reverted: [migration.revision] }),
    };
    const member: Member = {
      entry,
      migration,
      toHeads,
      prefix: current.exists ? [] : db.versionTable.createStatements(),
      transition,
      procedural: db.versionTable.transition(transition),
      statements: [],
    };
    try {
      await (options.direction === Direction.Up ? migration.upgrade(ops) : migration.downgrade(ops));
      lease.assertHeld();
      entry.operations = report(ops.results, db.defaultSchema);
      if (sink.sentDirectly) {
        // It opened a transaction (bound values, reads) or ran outside one: it finishes on its own.
        await sink.finish(member.prefix, member.procedural, run.fence);
        entry.durationMs = Date.now() - started;
        group.succeeded(member);
      } else {
        member.statements = sink.drain();
        entry.durationMs = Date.now() - started;
        group.add(member);
        if (group.full) await group.flush(options.mode);
      }
    } catch (error) {
      if (error instanceof GroupFailed) return result;
      return fail(error);
    }
    if (result.error) return result;
    snapshot = ops.snapshot as SchemaSnapshot;
    current = { exists: true, heads: toHeads, applied: [] };
  }
  await group.flush(options.mode).catch((error) => {
    if (!(error instanceof GroupFailed)) throw error;
  });
  return result;
}

/** One migration waiting in a group: its DDL, and the version-table update that records it. */
interface Member {
  entry: RevisionResult;
  migration: Migration;
  toHeads: string[];
  prefix: string[];
  transition: Transition;
  procedural: string[];
  statements: RenderedStatement[];
}

/** Thrown through the loop when a group's flush recorded a failure in the result. */
class GroupFailed extends Error {}

/** Most migrations sent as one statement; keeps each call well inside the Data API's limits. */
const MAX_GROUP = 20;
const MAX_GROUP_SQL = 48_000;

/**
 * Consecutive migrations of pure DDL, sent as one DO block: one transaction, one round trip. If
 * PostgreSQL refuses the block, nothing of it was applied, so the members are sent again one by
 * one to apply those before the failing one and report that one with its own error: each
 * migration stays atomic with its version-table update, and the common case costs one call.
 */
class Group {
  private members: Member[] = [];
  private size = 0;

  constructor(
    private readonly db: DatabaseContext,
    private readonly result: MigrateResult,
    private readonly lease: Lease,
    /** The fencing claim, first in every block sent. */
    private readonly fence: readonly string[],
  ) {}

  get full(): boolean {
    return this.members.length >= MAX_GROUP || this.size >= MAX_GROUP_SQL;
  }

  add(member: Member): void {
    this.members.push(member);
    this.size += member.statements.reduce((n, s) => n + s.sql.length, 0) + member.procedural.join("").length;
  }

  succeeded(member: Member): void {
    member.entry.status = "applied";
    this.result.applied += 1;
    this.result.skippedOperations += member.entry.operations.filter((o) => o.status === "skipped").length;
    this.result.toHeads = member.toHeads;
  }

  async flush(mode: RunMode): Promise<void> {
    const members = this.members;
    this.members = [];
    this.size = 0;
    if (members.length === 0) return;
    const started = Date.now();
    try {
      await this.send(members);
      const share = Math.round((Date.now() - started) / members.length);
      for (const m of members) {
        m.entry.durationMs += share;
        this.succeeded(m);
      }
      return;
    } catch (error) {
      // Only a refusal by PostgreSQL proves nothing ran; anything else is reported as is. A lost
      // lease or a refused fence stops the run: sending the members one by one cannot help.
      const stop = error instanceof LeaseLostError || (error instanceof SqlError && error.sqlState === FENCED_OUT_SQLSTATE);
      if (members.length === 1 || !(error instanceof SqlError) || stop) {
        settle(this.result, members[0]!.entry, members[0]!.migration, { direction: members[0]!.entry.direction, mode }, error, stop ? 1 : members.length);
        throw new GroupFailed();
      }
    }
    for (const m of members) {
      try {
        await this.send([m]);
        this.succeeded(m);
      } catch (error) {
        settle(this.result, m.entry, m.migration, { direction: m.entry.direction, mode }, error);
        throw new GroupFailed();
      }
    }
  }

  private async send(members: Member[]): Promise<void> {
    this.lease.assertHeld();
    const sql = this.db.dialect.renderBatch(
      members.flatMap((m) => [...m.prefix.map((p) => ({ sql: p })), ...m.statements]),
      // One version-table update for the block: the first member's check covers the others,
      // whose heads the block itself moves (four statements per migration cost as much as its DDL).
      members.length === 1 ? members[0]!.procedural : this.db.versionTable.transition(mergeTransitions(members.map((m) => m.transition))),
      this.fence,
    );
    await this.db.executor.query(sql!, undefined, { continueAfterTimeout: true });
  }
}

/** Records a migration's failure in its entry and in the run's result. */
function settle(
  result: MigrateResult,
  entry: RevisionResult,
  migration: Migration,
  options: { direction: Direction; mode: RunMode },
  error: unknown,
  groupSize = 1,
): void {
  entry.status = "failed";
  let detail = explain(error, options.mode, migration);
  if (groupSize > 1) {
    detail += `; it was sent together with the ${groupSize - 1} revision(s) after it, so their outcome is unknown too: run \`retort status\``;
  }
  const failure = new MigrationError(migration, options.direction, detail, { cause: error });
  entry.error = failure.message;
  result.error = { message: failure.message, revision: migration.revision, file: migration.file };
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

/** PostgreSQL's "already exists" family. */
const EXISTS = new Set(["42P07", "42701", "42710", "42P06", "42P16"]);

/** The database's message plus what to do next. */
function explain(error: unknown, mode: RunMode, migration: Migration): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknownOutcome =
    error instanceof DataApiError && (error.outcomeUnknown || error.exceptionName === "StatementTimeoutException");
  const state = unknownOutcome
    ? "the database may still be running or have finished it; run `retort status` to see, then `retort safe-upgrade` converges"
    : migration.transactional
      ? "nothing of this revision was applied"
      : "it is not transactional, so statements before the failure stay applied; `retort safe-upgrade` converges from there";
  if (unknownOutcome) return `${message}; ${state}`;
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

/** Consecutive transitions as one: from the first's heads to the last's, recording every revision. */
function mergeTransitions(transitions: readonly Transition[]): Transition {
  return {
    from: transitions[0]!.from,
    to: transitions[transitions.length - 1]!.to,
    applied: transitions.flatMap((t) => t.applied ?? []),
    reverted: transitions.flatMap((t) => t.reverted ?? []),
  };
}
