// `upgrade --sql` / `downgrade --sql`: the SQL a run would send, printed without connecting
// (Alembic's offline mode). The schema is simulated from the migrations themselves, starting from
// an empty database at base, so safe operations skip exactly what earlier revisions created.
// Bound values are shown as literals: the output is a script for a human or a DBA, not run by retort.
// `dryRun` (one migration against a snapshot, no database) is also what `retort lint` inspects.
import { RetortError } from "../errors.ts";
import type { Dialect } from "../dialect/dialect.ts";
import { emptySnapshot, normalizeSnapshot, type SchemaSnapshot } from "../dialect/snapshot.ts";
import type { LiteralValue } from "../ops/operation.ts";
import { createOperations, type OperationsWithResults, type OpResult, type RunMode } from "../ops/operations.ts";
import type { SinkStatement, StatementSink } from "../ops/sink.ts";
import type { Migration } from "../revision/migration.ts";
import { mapNamedParameters } from "../sql/lexer.ts";
import type { QueryResult, SqlExecutor, SqlParams, SqlSession, SqlValue } from "../sql/executor.ts";
import { VersionTable } from "../state/version-table.ts";
import { DEFAULT_SCHEMA } from "../constants.ts";
import { Batch } from "./batch.ts";
import { type Context, loadSoundGraph, requireDialect } from "./context.ts";
import { Direction } from "./migrate.ts";

export class OfflineReadError extends RetortError {
  override readonly code: string = "offline-read";
  override name = "OfflineReadError";
}

/**
 * How a dry run answers reads. "refuse": the SQL of a migration that reads cannot be known without
 * a database, so a read throws OfflineReadError (`--sql`). "simulate": a read returns no rows and
 * is recorded, and introspection answers from the simulated snapshot, so raw SQL is opaque to the
 * simulation (`lint`, which looks at the operations, not at the data).
 */
export type OfflineReads = "refuse" | "simulate";

const NO_ROWS: QueryResult = { rows: [], columns: [], rowCount: 0 };

/** Collects statement text (and, when simulating, the reads). */
class RecordingSink implements StatementSink {
  readonly statements: string[] = [];
  readonly reads: string[] = [];
  constructor(
    private readonly dialect: Dialect,
    private readonly migration: Migration,
    private readonly readMode: OfflineReads,
    private readonly forward?: StatementSink,
  ) {}

  statement(s: SinkStatement): void | Promise<void> {
    this.statements.push(inlineParameters(this.dialect, s.sql, s.params));
    return this.forward?.statement(s);
  }

  async query(sql: string, params?: SqlParams): Promise<QueryResult> {
    if (this.readMode === "refuse") {
      throw new OfflineReadError(
        `${this.migration.revision} (${this.migration.file}) reads the database (op.query or a safeExecute guard), ` +
          "so its SQL cannot be rendered without connecting; run the command without --sql",
      );
    }
    this.reads.push(inlineParameters(this.dialect, sql, params));
    return NO_ROWS;
  }
}

/** The dialect, except that reading a snapshot gives the simulated one (see OfflineReads). */
function simulatedDialect(dialect: Dialect, current: () => SchemaSnapshot): Dialect {
  return {
    ...dialect,
    introspect: async (_session, schemas) => {
      const wanted = new Set(schemas);
      return normalizeSnapshot({ schemas: [...wanted], tables: current().tables.filter((t) => wanted.has(t.schema)) });
    },
  };
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

/**
 * The script a run would send, statement for statement: each migration goes through the same
 * batching as a run (runner/batch.ts) over an executor that prints instead of sending, so the DO
 * blocks, the statements sent alone, BEGIN/COMMIT and the version-table update are what a run
 * sends, and the script fed to psql does what the run does. Each migration is its own batch (a
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
    const batch = new Batch(script, db.dialect, {
      transactional: m.transactional,
      preamble: [...db.versionTable.serialise(), ...(tableExists ? db.versionTable.assertHeads(heads) : [])],
      prefix: tableExists ? [] : db.versionTable.createStatements(),
      beforeSend: () => {},
    });
    const ran = await dryRun(m, options.direction, snapshot, offline, batch);
    snapshot = ran.snapshot;
    const transition = { from: heads, to: next };
    await batch.commit(
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

/** What one migration did in a dry run. */
export interface DryRun {
  /** The statements it would send, bound values shown as literals. */
  statements: string[];
  /** The reads it made (op.query, safeExecute guards), with "simulate" reads. */
  reads: string[];
  /** The operations, applied or skipped, in call order. */
  results: readonly OpResult[];
  /** The simulated schema afterwards. */
  snapshot: SchemaSnapshot;
}

export interface DryRunOptions {
  dialect: Dialect;
  defaultSchema: string;
  mode: RunMode;
  /** @default "refuse" */
  reads?: OfflineReads;
}

/** Runs one migration's upgrade or downgrade against a snapshot, without a database. */
export async function dryRun(
  migration: Migration,
  direction: Direction,
  snapshot: SchemaSnapshot,
  options: DryRunOptions,
  /** Also receives each statement as it is made (offlineSql's batch). */
  forward?: StatementSink,
): Promise<DryRun> {
  const reads = options.reads ?? "refuse";
  const sink = new RecordingSink(options.dialect, migration, reads, forward);
  let ops: OperationsWithResults | undefined;
  const dialect = reads === "simulate" ? simulatedDialect(options.dialect, () => ops?.snapshot ?? snapshot) : options.dialect;
  ops = createOperations({ snapshot, mode: options.mode, sink, defaultSchema: options.defaultSchema, dialect });
  await (direction === Direction.Up ? migration.upgrade(ops) : migration.downgrade(ops));
  return { statements: sink.statements, reads: sink.reads, results: ops.results, snapshot: ops.snapshot };
}
