// A migration run without a database: its upgrade or downgrade against a schema snapshot, the
// statements it would send recorded (bound values shown as literals). `--sql` prints them (with
// the runner's grouping, runner/offline-sql.ts) and `retort lint` inspects the operations; both
// the CLI and the Lambda reach it through those.
import { RetortError } from "../errors.ts";
import type { Dialect } from "../dialect/dialect.ts";
import { normalizeSnapshot, type SchemaSnapshot } from "../schema/snapshot.ts";
import { mapNamedParameters } from "../sql/lexer.ts";
import type { QueryResult, SqlParams, SqlValue } from "../sql/executor.ts";
import type { LiteralValue } from "../schema/operation.ts";
import { createOperations, type Operations, type OperationsWithResults, type OpResult, type RunMode } from "./operations.ts";
import type { SinkStatement, StatementSink } from "./sink.ts";

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

export const NO_ROWS: QueryResult = { rows: [], columns: [], rowCount: 0 };

/**
 * What a dry run needs of a migration (a revision/migration.ts Migration is one): its name for
 * messages and its two functions; ops does not depend on the revision model.
 */
export interface DryRunMigration {
  readonly revision: string;
  readonly file: string;
  upgrade(op: Operations): Promise<void> | void;
  downgrade(op: Operations): Promise<void> | void;
}

/** Collects statement text (and, when simulating, the reads). */
class RecordingSink implements StatementSink {
  readonly statements: string[] = [];
  readonly reads: string[] = [];
  constructor(
    private readonly dialect: Dialect,
    private readonly migration: DryRunMigration,
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

export function inlineParameters(dialect: Dialect, sql: string, params: SqlParams | undefined): string {
  if (!params) return sql;
  return mapNamedParameters(sql, (name) => dialect.renderLiteral(toLiteral(params[name] ?? null)));
}

function toLiteral(value: SqlValue): LiteralValue {
  if (value === null || typeof value !== "object" || value instanceof Date || value instanceof Uint8Array) return value;
  return { json: value };
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
  migration: DryRunMigration,
  /** Which of its functions runs (revision/migration.ts's Direction). */
  direction: "upgrade" | "downgrade",
  snapshot: SchemaSnapshot,
  options: DryRunOptions,
  /** Also receives each statement as it is made (offlineSql's group transaction). */
  forward?: StatementSink,
): Promise<DryRun> {
  const reads = options.reads ?? "refuse";
  const sink = new RecordingSink(options.dialect, migration, reads, forward);
  let ops: OperationsWithResults | undefined;
  const dialect = reads === "simulate" ? simulatedDialect(options.dialect, () => ops?.snapshot ?? snapshot) : options.dialect;
  ops = createOperations({ snapshot, mode: options.mode, sink, defaultSchema: options.defaultSchema, dialect });
  await migration[direction](ops);
  return { statements: sink.statements, reads: sink.reads, results: ops.results, snapshot: ops.snapshot };
}
