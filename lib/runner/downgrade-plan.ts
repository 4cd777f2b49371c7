// The plan of a downgrade, without changing anything: which revisions would be reverted (newest
// first), where the heads would end, and the SQL (a dry run from the database's head). The
// rollback state machine shows it before approval and loops one revision per step until the plan
// is empty.
import { Direction } from "../revision/migration.ts";
import { knownHeads } from "./migrate.ts";
import { type Context, loadSoundGraph, requireDatabase } from "./context.ts";
import { MigrationError, UnknownDatabaseRevisionsError } from "./errors.ts";
import { OfflineReadError } from "../ops/dry-run.ts";
import { offlineSql } from "./offline-sql.ts";
import type { RevisionSummary } from "./status.ts";

export interface DowngradePlan {
  target: string;
  fromHeads: string[];
  toHeads: string[];
  /** Newest first: the order they are reverted in. */
  revisions: RevisionSummary[];
  /** The SQL the downgrade would send, bound values as literals; null when it cannot be rendered. */
  sql: string | null;
  /** Why `sql` is null or shortened. */
  sqlNote?: string;
}

export interface PlanOptions {
  target: string;
  /** Render the SQL too. @default true */
  sql?: boolean;
  /** Longest SQL text kept (Step Functions carries at most 256 KB between states). @default 64_000 */
  maxSqlLength?: number;
}

export async function planDowngrade(ctx: Context, options: PlanOptions): Promise<DowngradePlan> {
  const db = requireDatabase(ctx, "downgrade");
  const { map } = await loadSoundGraph(ctx);
  const state = await db.versionTable.read(db.executor);
  const unknown = state.heads.filter((h) => !map.has(h));
  if (unknown.length > 0) throw new UnknownDatabaseRevisionsError(unknown, state.heads);
  const known = knownHeads(map, state);
  const plan = map.downgradePlan(known, options.target);
  const oneWay = plan.find((m) => m.irreversible);
  if (oneWay) {
    throw new MigrationError(oneWay, Direction.Down, "it is marked irreversible, so it cannot be downgraded; nothing was changed");
  }
  const remaining = map.ancestors(known, true);
  for (const m of plan) remaining.delete(m.revision);
  const result: DowngradePlan = {
    target: options.target,
    fromHeads: state.heads,
    toHeads: map.headsOf(remaining),
    revisions: plan.map((m) => ({ revision: m.revision, message: m.message, file: m.file })),
    sql: null,
  };
  if (options.sql === false || plan.length === 0) return result;
  if (known.length !== 1) {
    return { ...result, sqlNote: `the SQL is rendered from one head, and the database has ${known.length}` };
  }
  try {
    const sql = await offlineSql(ctx, { direction: Direction.Down, target: options.target, from: known[0]!, mode: "safe" });
    const max = options.maxSqlLength ?? 64_000;
    if (sql.length <= max) return { ...result, sql };
    return { ...result, sql: sql.slice(0, max), sqlNote: `shortened to ${max} of ${sql.length} characters` };
  } catch (error) {
    if (error instanceof OfflineReadError) return { ...result, sqlNote: error.message };
    throw error;
  }
}
