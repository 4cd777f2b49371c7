// A fleet from one machine (`retort fleet upgrade` and `retort fleet status`): every target of a
// list, each under its own lock, at most `concurrency` at once. The migrations are loaded once for
// all of them; a database several targets live in (one schema per tenant) is opened once, and an
// embedded one (PGlite, a single session) runs its targets one after another.
import { LoadNeed, loadingNow } from "../revision/loader.ts";
import type { Context } from "../runner/context.ts";
import { openSharedDatabase, type SharedDatabase } from "../runner/database.ts";
import type { MigrateOptions } from "../runner/migrate.ts";
import { status, type StatusResult } from "../runner/status.ts";
import { safeUpgrade } from "../runner/upgrade.ts";
import { parseDatabaseUrl } from "../sql/connect.ts";
import { type FleetSummary, summarize, targetResult } from "./summary.ts";
import type { FleetTarget } from "./targets.ts";

export interface FleetProgress {
  total: number;
  done: number;
  failed: number;
  running: number;
}

export interface FleetOptions {
  /** Targets run at once. @default 1 */
  concurrency?: number;
  /** DynamoDB table for the locks and the history (--lock-table); none: in-process locks, history in each target. */
  lockTable?: string;
  /** How long each target waits for its lock, in ms. @default 0 */
  lockWaitMs?: number;
  leaseMs?: number;
  /** Called as targets start and end. */
  onProgress?: (progress: FleetProgress) => void;
}

export interface FleetUpgradeOptions extends FleetOptions, Pick<MigrateOptions, "transactionPerMigration" | "migrationTimeoutMs" | "lockTimeoutMs"> {
  /** The share of targets (0 to 1) that may fail with the run still succeeding. @default 0 */
  tolerate?: number;
}

/** safe-upgrade on every target; the summary says which failed and whether that is within `tolerate`. */
export async function fleetUpgrade(project: Context, targets: readonly FleetTarget[], options: FleetUpgradeOptions = {}): Promise<FleetSummary> {
  const started = performance.now();
  const run: Pick<MigrateOptions, "transactionPerMigration" | "migrationTimeoutMs" | "lockTimeoutMs"> = {
    ...(options.transactionPerMigration !== undefined ? { transactionPerMigration: options.transactionPerMigration } : {}),
    ...(options.migrationTimeoutMs !== undefined ? { migrationTimeoutMs: options.migrationTimeoutMs } : {}),
    ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
  };
  const results = await forEachTarget(
    project,
    targets,
    options,
    LoadNeed.Code,
    async (ctx, target) => {
      const began = performance.now();
      try {
        return targetResult(target, await safeUpgrade(ctx, run), performance.now() - began);
      } catch (error) {
        return targetResult(target, { error }, performance.now() - began);
      }
    },
    (target, error) => targetResult(target, { error }, 0),
  );
  return summarize(results, options.tolerate ?? 0, performance.now() - started);
}

export interface FleetTargetStatus {
  name: string;
  schema?: string;
  /** behind: revisions pending; ahead: the database records revisions this code does not have; drifted: an applied file changed since. */
  state: "up-to-date" | "behind" | "ahead" | "drifted" | "unreachable";
  databaseHeads: string[];
  pending: number;
  unknown: string[];
  drift: number;
  /** Whether its lock is held now. */
  locked: boolean;
  error?: { code: string; message: string };
}

export interface FleetStatus {
  command: "fleet status";
  codeHeads: string[];
  targets: number;
  upToDate: number;
  results: FleetTargetStatus[];
}

/** Where every target is against the code: one read per target. */
export async function fleetStatus(project: Context, targets: readonly FleetTarget[], options: FleetOptions = {}): Promise<FleetStatus> {
  let codeHeads: string[] = [];
  const unreachable = (target: FleetTarget, error: unknown): FleetTargetStatus => {
    const e = error as { code?: unknown; message?: unknown };
    return {
      name: target.name,
      ...(target.schema ? { schema: target.schema } : {}),
      state: "unreachable",
      databaseHeads: [],
      pending: 0,
      unknown: [],
      drift: 0,
      locked: false,
      error: { code: typeof e?.code === "string" ? e.code : "error", message: String(e?.message ?? error) },
    };
  };
  const results = await forEachTarget(
    project,
    targets,
    options,
    LoadNeed.Metadata,
    async (ctx, target): Promise<FleetTargetStatus> => {
      let s: StatusResult;
      try {
        s = await status(ctx);
      } catch (error) {
        return unreachable(target, error);
      }
      codeHeads = s.codeHeads;
      const state = s.unknown.length > 0 ? "ahead" : s.drift.length > 0 ? "drifted" : s.pending.length > 0 ? "behind" : "up-to-date";
      return {
        name: target.name,
        ...(target.schema ? { schema: target.schema } : {}),
        state,
        databaseHeads: s.databaseHeads,
        pending: s.pending.length,
        unknown: s.unknown,
        drift: s.drift.length,
        locked: s.lock !== null,
      };
    },
    unreachable,
  );
  return { command: "fleet status", codeHeads, targets: results.length, upToDate: results.filter((r) => r.state === "up-to-date").length, results };
}

/**
 * Runs `body` for every target with at most `concurrency` at once, in the list's order, and
 * returns the results in that order. Each database is opened once (when its first target starts)
 * and closed at the end; PGlite, one session, runs one target at a time.
 */
async function forEachTarget<R extends { status?: string; state?: string }>(
  project: Context,
  targets: readonly FleetTarget[],
  options: FleetOptions,
  need: LoadNeed,
  body: (ctx: Context, target: FleetTarget) => Promise<R>,
  unreachable: (target: FleetTarget, error: unknown) => R,
): Promise<R[]> {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
  // The migrations, read and checked once for every target.
  const source = loadingNow(project.source, need);
  const opened = new Map<string, Promise<SharedDatabase>>();
  const busy = new Map<string, Promise<void>>();
  const results: R[] = new Array(targets.length);
  const progress: FleetProgress = { total: targets.length, done: 0, failed: 0, running: 0 };
  const open = (db: string) => {
    let database = opened.get(db);
    if (!database) {
      database = openSharedDatabase(db, {
        ...(options.lockTable ? { lockTable: options.lockTable } : {}),
        ...(options.lockWaitMs !== undefined ? { lockWaitMs: options.lockWaitMs } : {}),
        ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
        // A run may hold a transaction and read on a second connection.
        maxConnections: 2 * concurrency + 1,
      });
      database.catch(() => {});
      opened.set(db, database);
    }
    return database;
  };
  /** One target, after the one before it on the same embedded database. */
  const runOne = async (index: number) => {
    const target = targets[index]!;
    const single = parseDatabaseUrl(target.db).kind.startsWith("pglite");
    const before = single ? busy.get(target.db) : undefined;
    let release = () => {};
    if (single) busy.set(target.db, new Promise<void>((resolve) => (release = resolve)));
    try {
      await before;
      progress.running += 1;
      options.onProgress?.({ ...progress });
      let database: SharedDatabase | undefined;
      let result: R;
      try {
        database = await open(target.db);
      } catch (error) {
        // Its database could not be opened: the target failed, the others go on.
        result = unreachable(target, error);
      }
      if (database) {
        const schema = target.schema ?? "public";
        result = await body({ ...project, source, database: database.context({ versionSchema: schema, defaultSchema: schema }) }, target);
      }
      result ??= unreachable(target, new Error("not run"));
      results[index] = result;
      progress.running -= 1;
      progress.done += 1;
      if (result.status === "failed" || result.state === "unreachable") progress.failed += 1;
      options.onProgress?.({ ...progress });
    } finally {
      release();
    }
  };
  try {
    let next = 0;
    const workers = Array.from({ length: Math.min(concurrency, targets.length) }, async () => {
      while (next < targets.length) await runOne(next++);
    });
    await Promise.all(workers);
  } finally {
    await Promise.all([...opened.values()].map(async (database) => (await database.catch(() => undefined))?.close().catch(() => {})));
  }
  return results;
}
