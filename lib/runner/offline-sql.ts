// `upgrade --sql` / `downgrade --sql`: the SQL a run would send, printed without connecting
// (Alembic's offline mode). The schema is simulated from the migrations themselves, starting from
// an empty database at base, so safe operations skip exactly what earlier revisions created.
// Bound values are shown as literals: the output is a script for a human or a DBA, not run by retort.
// Each migration runs as a dry run (ops/dry-run.ts, which `retort lint` inspects too).
import type { Dialect } from "../dialect/dialect.ts";
import { emptySnapshot, type SchemaSnapshot } from "../schema/snapshot.ts";
import { type DryRunOptions, dryRun, inlineParameters, NO_ROWS } from "../ops/dry-run.ts";
import type { RunMode } from "../ops/operations.ts";
import { Direction } from "../revision/migration.ts";
import type { QueryResult, SqlExecutor, SqlParams, SqlSession } from "../sql/executor.ts";
import { VersionTable } from "../state/version-table.ts";
import { DEFAULT_SCHEMA } from "../constants.ts";
import { GroupTransaction } from "./group-transaction.ts";
import { type Context, loadSoundGraph, requireDialect, searchPathSettings } from "./context.ts";

export interface OfflineOptions {
  direction: Direction;
  target: string;
  /** Where the run starts: `base` (default for upgrade) or a revision; downgrade defaults to `heads`. */
  from?: string;
  mode: RunMode;
}

/**
 * The script a run would send, statement for statement: each migration goes through the same
 * grouping as a run (runner/group-transaction.ts) over an executor that prints instead of sending, so the DO
 * blocks, the statements sent alone, BEGIN/COMMIT and the version-table update are what a run
 * sends, and the script fed to psql does what the run does. Each migration is its own group (a
 * run may put several in one transaction; the effect is the same).
 */
export async function offlineSql(ctx: Context, options: OfflineOptions): Promise<string> {
  const { map } = await loadSoundGraph(ctx);
  const dialect = requireDialect(ctx, "--sql");
  const db = ctx.database ?? { dialect, versionTable: new VersionTable(DEFAULT_SCHEMA, dialect), defaultSchema: DEFAULT_SCHEMA };
  const offline: DryRunOptions = { dialect: db.dialect, defaultSchema: db.defaultSchema, mode: options.mode };
  const from = options.from ?? (options.direction === Direction.Up ? "base" : "heads");
  const fromHeads = from === "base" ? [] : map.resolve(from);
  // Simulate reaching `from`, discarding the text, to know the schema there.
  let snapshot: SchemaSnapshot = emptySnapshot([db.defaultSchema]);
  for (const m of map.upgradePlan([], from === "base" ? "base" : from)) {
    snapshot = (await dryRun(m, Direction.Up, snapshot, offline)).snapshot;
  }
  const plan =
    options.direction === Direction.Up ? map.upgradePlan(fromHeads, options.target) : map.downgradePlan(fromHeads, options.target);
  const applied = map.ancestors(fromHeads, true);
  let heads = map.headsOf(applied);
  let tableExists = fromHeads.length > 0;
  const out: string[] = [];
  for (const m of plan) {
    if (options.direction === Direction.Up) applied.add(m.revision);
    else applied.delete(m.revision);
    const next = map.headsOf(applied);
    out.push(`-- ${options.direction} ${m.revision}: ${m.message} (${m.file})`);
    const script = new ScriptExecutor(db.dialect, out);
    const group = new GroupTransaction(script, db.dialect, {
      transactional: m.transactional,
      preamble: [...db.versionTable.serialise(), ...(tableExists ? db.versionTable.assertHeads(heads) : [])],
      prefix: tableExists ? [] : db.versionTable.createStatements(),
      settings: searchPathSettings(db),
      beforeSend: () => {},
    });
    const ran = await dryRun(m, options.direction, snapshot, offline, group);
    snapshot = ran.snapshot;
    const transition = { from: heads, to: next };
    await group.commit(
      db.versionTable.transition(
        options.direction === Direction.Up
          ? { ...transition, applied: [{ revision: m.revision, checksum: m.checksum }] }
          : { ...transition, reverted: [m.revision] },
      ),
    );
    out.push("");
    heads = next;
    tableExists = true;
  }
  return out.length ? out.join("\n") : `-- nothing to ${options.direction}`;
}

/**
 * An executor that prints: each statement (bound values shown as literals) ended for psql, and a
 * transaction as BEGIN ... COMMIT around what it ran. Reads never reach it (the dry run refuses them).
 */
class ScriptExecutor implements SqlExecutor {
  readonly dialect = "postgresql";
  readonly kind = "postgres";
  readonly description = "the printed script";
  constructor(
    private readonly sqlDialect: Dialect,
    private readonly out: string[],
  ) {}

  async query<Row>(sql: string, params?: SqlParams): Promise<QueryResult<Row>> {
    this.out.push(this.sqlDialect.terminate(inlineParameters(this.sqlDialect, sql, params)));
    return NO_ROWS as QueryResult<Row>;
  }

  async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    this.out.push("BEGIN;");
    try {
      const result = await fn(this);
      this.out.push("COMMIT;");
      return result;
    } catch (error) {
      this.out.push("ROLLBACK;");
      throw error;
    }
  }

  async close(): Promise<void> {}
}

