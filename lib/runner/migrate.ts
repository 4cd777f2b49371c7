// The engine behind upgrade, safe-upgrade and downgrade: take the lock, read the version table,
// plan along the graph, introspect once, then run each revision in its own transaction together
// with its version-table update. Results are filled in as "not-executed" before the run starts
// and overwritten step by step, so a failure still reports exactly what ran (Kysely's habit).
import { describeOperation } from "../ops/describe.ts";
import { createOperations, type OpResult, type RunMode } from "../ops/operations.ts";
import { introspect } from "../dialect/postgres/introspect.ts";
import type { SchemaSnapshot } from "../dialect/snapshot.ts";
import type { Migration } from "../revision/migration.ts";
import type { RevisionMap } from "../revision/graph.ts";
import { SqlError } from "../sql/errors.ts";
import { currentHolder, type Lease } from "../state/lock.ts";
import { type VersionState, VERSION_CONFLICT_SQLSTATE } from "../state/version-table.ts";
import { BatchingSink } from "./batching-sink.ts";
import { type Context, type DatabaseContext, requireDatabase } from "./context.ts";
import { MigrationError, UnknownDatabaseRevisionsError } from "./errors.ts";

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
}

export interface MigrateOptions {
  command: string;
  direction: Direction;
  target: string;
  mode: RunMode;
  /** Proceed although the database records revisions this code does not have. */
  allowUnknownRevisions?: boolean;
}

export async function migrate(ctx: Context, map: RevisionMap<Migration>, options: MigrateOptions): Promise<MigrateResult> {
  const db = requireDatabase(ctx);
  const lease = await db.lock.acquire(db.lockKey, currentHolder(options.command, db.holder), { waitMs: db.lockWaitMs });
  try {
    return await migrateLocked(db, map, options, lease);
  } finally {
    await lease.release();
  }
}

async function migrateLocked(
  db: DatabaseContext,
  map: RevisionMap<Migration>,
  options: MigrateOptions,
  lease: Lease,
): Promise<MigrateResult> {
  const state = await db.versionTable.read(db.executor);
  const unknown = state.heads.filter((h) => !map.has(h));
  if (unknown.length > 0 && !options.allowUnknownRevisions) throw new UnknownDatabaseRevisionsError(unknown, state.heads);
  const known = knownHeads(map, state);
  const plan =
    options.direction === Direction.Up ? map.upgradePlan(known, options.target) : map.downgradePlan(known, options.target);
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
  for (const [i, migration] of plan.entries()) {
    lease.assertHeld();
    const started = Date.now();
    const entry = results[i]!;
    if (options.direction === Direction.Up) applied.add(migration.revision);
    else applied.delete(migration.revision);
    const toHeads = [...map.headsOf(applied), ...unknown];
    const sink = new BatchingSink(db.executor, db.dialect, migration.transactional);
    const ops = createOperations({ snapshot, mode: options.mode, sink, defaultSchema: db.defaultSchema, dialect: db.dialect });
    try {
      await (options.direction === Direction.Up ? migration.upgrade(ops) : migration.downgrade(ops));
      lease.assertHeld();
      await sink.finish(current.exists ? [] : db.versionTable.createStatements(), [
        ...db.versionTable.transition({
          from: current.heads,
          to: toHeads,
          ...(options.direction === Direction.Up
            ? { applied: [{ revision: migration.revision, checksum: migration.checksum }] }
            : { reverted: [migration.revision] }),
        }),
      ]);
    } catch (error) {
      await sink.abort().catch(() => {});
      entry.status = "failed";
      entry.durationMs = Date.now() - started;
      entry.operations = report(ops.results, db.defaultSchema);
      const failure = new MigrationError(migration, options.direction, explain(error, options.mode, migration), { cause: error });
      entry.error = failure.message;
      result.error = { message: failure.message, revision: migration.revision, file: migration.file };
      return result;
    }
    snapshot = ops.snapshot as SchemaSnapshot;
    current = { exists: true, heads: toHeads, applied: [] };
    entry.status = "applied";
    entry.durationMs = Date.now() - started;
    entry.operations = report(ops.results, db.defaultSchema);
    result.applied += 1;
    result.skippedOperations += entry.operations.filter((o) => o.status === "skipped").length;
    result.toHeads = toHeads;
  }
  return result;
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
  const state =
    migration.transactional
      ? "nothing of this revision was applied"
      : "it is not transactional, so statements before the failure stay applied; `retort safe-upgrade` converges from there";
  if (error instanceof SqlError && error.sqlState === VERSION_CONFLICT_SQLSTATE) return `${message}; ${state}`;
  if (mode === "strict" && error instanceof SqlError && error.sqlState && EXISTS.has(error.sqlState)) {
    return (
      `${message}; ${state}. The object already exists: run \`retort safe-upgrade\` to skip what exists, ` +
      `or \`retort stamp ${migration.revision}\` if this revision was applied by hand`
    );
  }
  return `${message}; ${state}. Fix the migration and run the command again`;
}
