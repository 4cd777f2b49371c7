// `retort stamp <rev|heads> [--purge]`: record the database as being at a revision without
// running any migration (a database built by hand, or restored). Under the lock, in one statement.
import { currentHolder } from "../state/lock.ts";
import { type Context, loadSoundGraph, requireDatabase } from "./context.ts";
import { UnknownDatabaseRevisionsError } from "./errors.ts";

export interface StampResult {
  fromHeads: string[];
  toHeads: string[];
  purged: boolean;
}

export async function stamp(ctx: Context, options: { target: string; purge?: boolean }): Promise<StampResult> {
  const db = requireDatabase(ctx, "stamp");
  const { map } = await loadSoundGraph(ctx);
  const toHeads = map.headsOf(map.ancestors(map.resolve(options.target), true));
  const lease = await db.lock.acquire(db.lockKey, currentHolder("stamp", db.holder), { waitMs: db.lockWaitMs });
  try {
    const state = await db.versionTable.read(db.executor);
    const unknown = state.heads.filter((h) => !map.has(h));
    if (unknown.length > 0 && !options.purge) {
      throw new UnknownDatabaseRevisionsError(unknown, state.heads);
    }
    const applied = map.ancestors(toHeads, true);
    const statement = db.dialect.renderBatch(
      state.exists ? [] : db.versionTable.createStatements().map((sql) => ({ sql })),
      db.versionTable.transition({
        from: state.heads,
        to: toHeads,
        applied: [...applied].map((revision) => ({ revision, checksum: map.get(revision)!.checksum })),
        reverted: state.applied.map((a) => a.revision).filter((r) => !applied.has(r)),
      }),
    );
    lease.assertHeld();
    await db.executor.query(statement!);
    return { fromHeads: state.heads, toHeads, purged: Boolean(options.purge) && unknown.length > 0 };
  } finally {
    await lease.release();
  }
}
