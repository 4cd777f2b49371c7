// `retort stamp <rev|heads> [--purge]`: record the database as being at a revision without
// running any migration (a database built by hand, or restored). Under the lock, fenced, in one
// statement, and recorded in the history like any run.
import { LoadNeed } from "../revision/loader.ts";
import { type Context, loadSoundGraph, requireDatabase } from "./context.ts";
import { UnknownDatabaseRevisionsError } from "./errors.ts";
import { beginRun, endRun, failedOutcome } from "./locked-run.ts";

export interface StampResult {
  fromHeads: string[];
  toHeads: string[];
  purged: boolean;
  /** Problems that did not change the outcome (history not written, lock not released). */
  warnings?: string[];
}

/** `target`: a target as the CLI takes it, or a list of revisions (none: base). */
export async function stamp(ctx: Context, options: { target: string | readonly string[]; purge?: boolean }): Promise<StampResult> {
  const db = requireDatabase(ctx, "stamp");
  const { map } = await loadSoundGraph(ctx, LoadNeed.Metadata);
  const targets = typeof options.target === "string" ? map.resolve(options.target) : options.target.flatMap((t) => map.resolve(t));
  const toHeads = map.headsOf(map.ancestors(targets, true));
  const run = await beginRun(db, "stamp", typeof options.target === "string" ? options.target : options.target.join(",") || "base");
  let result: StampResult;
  try {
    const state = await db.versionTable.read(db.executor);
    const unknown = state.heads.filter((h) => !map.has(h));
    if (unknown.length > 0 && !options.purge) {
      throw new UnknownDatabaseRevisionsError(unknown, state.heads);
    }
    const applied = map.ancestors(toHeads, true);
    await run.recorded;
    const statement = db.dialect.renderBlock(
      state.exists ? [] : db.versionTable.createStatements().map((sql) => ({ sql })),
      db.versionTable.transition({
        from: state.heads,
        to: toHeads,
        applied: [...applied].map((revision) => ({ revision, checksum: map.get(revision)!.checksum })),
        reverted: state.applied.map((a) => a.revision).filter((r) => !applied.has(r)),
      }),
      run.preamble,
    );
    run.lease.assertHeld();
    await db.executor.query(statement!);
    result = { fromHeads: state.heads, toHeads, purged: Boolean(options.purge) && unknown.length > 0 };
  } catch (error) {
    await endRun(db, run, failedOutcome(error));
    throw error;
  }
  await endRun(db, run, { status: "succeeded", fromHeads: result.fromHeads, toHeads: result.toHeads, applied: 0, skippedOperations: 0 });
  if (run.warnings.length > 0) result.warnings = run.warnings;
  return result;
}
