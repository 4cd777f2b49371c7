// `upgrade --sql` / `downgrade --sql`: the SQL a run would send, printed without connecting
// (Alembic's offline mode). The schema is simulated from the migrations themselves, starting from
// an empty database at base, so safe operations skip exactly what earlier revisions created.
// Bound values are shown as literals: the output is a script for a human or a DBA, not run by retort.
import type { Dialect } from "../dialect/dialect.ts";
import { emptySnapshot, type SchemaSnapshot } from "../dialect/snapshot.ts";
import type { LiteralValue } from "../ops/operation.ts";
import { createOperations, type RunMode } from "../ops/operations.ts";
import type { SinkStatement, StatementSink } from "../ops/sink.ts";
import type { Migration } from "../revision/migration.ts";
import { mapNamedParameters } from "../sql/lexer.ts";
import type { QueryResult, SqlParams, SqlValue } from "../sql/executor.ts";
import { VersionTable } from "../state/version-table.ts";
import { DEFAULT_SCHEMA } from "../constants.ts";
import { postgres } from "../dialect/postgres/index.ts";
import { type Context, loadSoundGraph } from "./context.ts";
import { Direction } from "./migrate.ts";

export class OfflineReadError extends Error {
  override name = "OfflineReadError";
}

/** Collects statement text; a read cannot be answered without a database. */
class RecordingSink implements StatementSink {
  readonly statements: string[] = [];
  constructor(
    private readonly dialect: Dialect,
    private readonly migration: Migration,
  ) {}

  statement(s: SinkStatement): void {
    this.statements.push(inlineParameters(this.dialect, s.sql, s.params));
  }

  async query(): Promise<QueryResult> {
    throw new OfflineReadError(
      `${this.migration.revision} (${this.migration.file}) reads the database (op.query or a safeExecute guard), ` +
        "so its SQL cannot be rendered without connecting; run the command without --sql",
    );
  }
}

function inlineParameters(dialect: Dialect, sql: string, params: SqlParams | undefined): string {
  if (!params) return sql;
  return mapNamedParameters(sql, (name) => dialect.renderLiteral(toLiteral(params[name] ?? null)));
}

function toLiteral(value: SqlValue): LiteralValue {
  if (value === null || typeof value !== "object" || value instanceof Date || value instanceof Uint8Array) return value;
  return { json: value };
}

export interface OfflineOptions {
  direction: Direction;
  target: string;
  /** Where the run starts: `base` (default for upgrade) or a revision; downgrade defaults to `heads`. */
  from?: string;
  mode: RunMode;
}

export async function offlineSql(ctx: Context, options: OfflineOptions): Promise<string> {
  const { map } = await loadSoundGraph(ctx);
  const db = ctx.database ?? { dialect: postgres, versionTable: new VersionTable(), defaultSchema: DEFAULT_SCHEMA };
  const from = options.from ?? (options.direction === Direction.Up ? "base" : "heads");
  const fromHeads = from === "base" ? [] : map.resolve(from);
  // Simulate reaching `from`, discarding the text, to know the schema there.
  let snapshot: SchemaSnapshot = emptySnapshot([db.defaultSchema]);
  for (const m of map.upgradePlan([], from === "base" ? "base" : from)) {
    snapshot = (await run(m, Direction.Up, snapshot, db.dialect, db.defaultSchema, options.mode)).snapshot;
  }
  const plan =
    options.direction === Direction.Up ? map.upgradePlan(fromHeads, options.target) : map.downgradePlan(fromHeads, options.target);
  const applied = map.ancestors(fromHeads, true);
  let heads = map.headsOf(applied);
  let tableExists = fromHeads.length > 0;
  const out: string[] = [];
  for (const m of plan) {
    const ran = await run(m, options.direction, snapshot, db.dialect, db.defaultSchema, options.mode);
    snapshot = ran.snapshot;
    if (options.direction === Direction.Up) applied.add(m.revision);
    else applied.delete(m.revision);
    const next = map.headsOf(applied);
    out.push(`-- ${options.direction} ${m.revision}: ${m.message} (${m.file})`);
    if (m.transactional) out.push("BEGIN;");
    for (const s of ran.statements) out.push(`${s};`);
    out.push(`${versionUpdate(db.dialect, db.versionTable, tableExists, heads, next, m, options.direction)};`);
    if (m.transactional) out.push("COMMIT;");
    out.push("");
    heads = next;
    tableExists = true;
  }
  return out.length ? out.join("\n") : `-- nothing to ${options.direction}`;
}

async function run(
  migration: Migration,
  direction: Direction,
  snapshot: SchemaSnapshot,
  dialect: Dialect,
  defaultSchema: string,
  mode: RunMode,
): Promise<{ statements: string[]; snapshot: SchemaSnapshot }> {
  const sink = new RecordingSink(dialect, migration);
  const ops = createOperations({ snapshot, mode, sink, defaultSchema, dialect });
  await (direction === Direction.Up ? migration.upgrade(ops) : migration.downgrade(ops));
  return { statements: sink.statements, snapshot: ops.snapshot };
}

function versionUpdate(
  dialect: Dialect,
  table: VersionTable,
  exists: boolean,
  from: string[],
  to: string[],
  m: Migration,
  direction: Direction,
): string {
  return dialect.renderBatch(
    exists ? [] : table.createStatements().map((sql) => ({ sql })),
    table.transition({
      from,
      to,
      ...(direction === Direction.Up ? { applied: [{ revision: m.revision, checksum: m.checksum }] } : { reverted: [m.revision] }),
    }),
  )!;
}
