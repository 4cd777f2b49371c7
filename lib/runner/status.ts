// `retort status` and `retort current`: the code's heads against the database's, what is
// pending, what changed since it was applied (drift) and what the database has that the code
// does not. Read-only: no lock, one query for the version table, one for the lock holder (a
// consistent read), one for the last runs when a history is configured.
import type { RunRecord } from "../state/history.ts";
import type { LockInfo } from "../state/lock.ts";
import { LoadNeed } from "../revision/loader.ts";
import { type Context, loadSoundGraph, requireDatabase } from "./context.ts";
import { knownHeads } from "./migrate.ts";

export interface RevisionSummary {
  revision: string;
  message: string;
  file: string;
}

export interface DriftEntry extends RevisionSummary {
  appliedAt: string;
  appliedChecksum: string;
  currentChecksum: string;
}

export interface StatusResult {
  codeHeads: string[];
  databaseHeads: string[];
  pending: RevisionSummary[];
  drift: DriftEntry[];
  /** Revisions the database records (as heads or as applied) that no migration file defines. */
  unknown: string[];
  upToDate: boolean;
  /** The lock's holder, or null when free. A lease past `expiresAt` is free for the next runner to take. */
  lock: LockInfo | null;
  /** The newest runs, newest first (absent without a history). */
  runs?: RunRecord[];
}

/** How many runs `status` shows. */
const STATUS_RUNS = 3;

const summary = (m: RevisionSummary): RevisionSummary => ({ revision: m.revision, message: m.message, file: m.file });

export async function status(ctx: Context): Promise<StatusResult> {
  const db = requireDatabase(ctx, "status");
  const { map } = await loadSoundGraph(ctx, LoadNeed.Metadata);
  const [state, lock, runs] = await Promise.all([
    db.versionTable.read(db.executor),
    db.lock.current(db.lockKey),
    db.history?.runs(db.lockKey, { limit: STATUS_RUNS }),
  ]);
  const known = knownHeads(map, state);
  const unknown = [...new Set([...state.heads, ...state.applied.map((a) => a.revision)])].filter((r) => !map.has(r));
  const pending = map.upgradePlan(known).map(summary);
  const drift: DriftEntry[] = [];
  for (const record of state.applied) {
    const migration = map.get(record.revision);
    if (migration && migration.checksum !== record.checksum) {
      drift.push({
        ...summary(migration),
        appliedAt: record.appliedAt,
        appliedChecksum: record.checksum,
        currentChecksum: migration.checksum,
      });
    }
  }
  return {
    codeHeads: map.heads().map((h) => h.revision),
    databaseHeads: state.heads,
    pending,
    drift,
    unknown,
    upToDate: pending.length === 0 && unknown.length === 0,
    lock,
    ...(runs ? { runs } : {}),
  };
}

/** The database's heads, as `current --json` promises: `{"heads": [...]}`. */
export async function current(ctx: Context): Promise<{ heads: string[] }> {
  const db = requireDatabase(ctx, "current");
  return { heads: (await db.versionTable.read(db.executor)).heads };
}
