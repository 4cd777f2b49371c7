// `retort history --runs`: the newest runs on the target database, from the history (DynamoDB,
// or the table in the database), newest first; with `revisions`, what each run applied.
import { DEFAULT_RUNS_LIMIT, type RevisionRecord, type RunRecord } from "../state/history.ts";
import { type Context, requireDatabase } from "./context.ts";

export interface RunsResult {
  target: string;
  /** Where the history lives. */
  history: string;
  runs: (RunRecord & { revisions?: RevisionRecord[] })[];
}

export async function runs(ctx: Context, options: { limit?: number; revisions?: boolean } = {}): Promise<RunsResult> {
  const db = requireDatabase(ctx, "history --runs");
  if (!db.history) return { target: db.lockKey, history: "none", runs: [] };
  const history = db.history;
  const list = await history.runs(db.lockKey, { limit: options.limit ?? DEFAULT_RUNS_LIMIT });
  return {
    target: db.lockKey,
    history: history.description,
    runs: options.revisions ? await Promise.all(list.map(async (run) => ({ ...run, revisions: await history.revisions(run) }))) : list,
  };
}
