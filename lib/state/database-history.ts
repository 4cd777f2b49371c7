// The History port as a table in the target database (RETORT_TABLES.history), for the embedded
// database and any target run without a lock table: the CLI keeps its history offline. One row
// per run (item 'run') and per revision (item '<revision>:<direction>'), the record itself as
// JSON, written outside the migrations' transactions so a failed migration still leaves its run
// recorded. A run's row gets its number from a sequence beside the table (the in-process lock's
// tokens restart at 1 in every process, so they cannot order runs). The table and the sequence
// are created on first use; a table from before the numbering gets its column then.
import { DEFAULT_SCHEMA, RETORT_TABLES } from "../constants.ts";
import type { Dialect } from "../dialect/dialect.ts";
import { isMissingColumn, isMissingRelation } from "../sql/errors.ts";
import type { SqlParams, SqlSession } from "../sql/executor.ts";
import {
  DEFAULT_RUNS_LIMIT,
  type History,
  type RevisionRecord,
  type RunOutcome,
  type RunRecord,
  RunStatus,
  runFromLease,
  sortRevisions,
} from "./history.ts";
import type { LockInfo } from "./lock.ts";


export class DatabaseHistory implements History {
  readonly description: string;
  private readonly table: string;
  private readonly sequence: string;
  /** SQL for the next run number. */
  private readonly next: string;
  /** SQL for the next run number when run :runId has no row yet, else NULL. */
  private readonly nextForNewRun: string;

  constructor(
    private readonly session: SqlSession,
    private readonly schema: string,
    private readonly dialect: Dialect,
  ) {
    this.table = dialect.quoteName({ schema, name: RETORT_TABLES.history });
    this.sequence = dialect.quoteName({ schema, name: `${RETORT_TABLES.history}_number` });
    this.next = `nextval(${dialect.renderLiteral(this.sequence)}::regclass)`;
    // A number is drawn only for a run's first row, so numbers have no gaps from updates.
    this.nextForNewRun = `CASE WHEN NOT EXISTS (SELECT 1 FROM ${this.table} WHERE run_id = :runId AND item = 'run') THEN ${this.next} END`;
    this.description = `table ${schema}.${RETORT_TABLES.history} in the target database`;
  }

  async start(run: RunRecord): Promise<void> {
    await this.write(
      `INSERT INTO ${this.table} AS h (run_id, item, target, started_at, record, number)
       VALUES (:runId, 'run', :target, :startedAt::timestamptz, :record::jsonb, ${this.nextForNewRun})
       ON CONFLICT (run_id, item) DO NOTHING`,
      { runId: run.runId, target: run.target, startedAt: run.startedAt, record: JSON.stringify(run) },
    );
  }

  /** One statement: the run's final fields merged into its row, and a row per revision. */
  async finish(run: RunRecord, outcome: RunOutcome, revisions: readonly RevisionRecord[]): Promise<void> {
    const rows = [
      { item: "run", record: { ...run, ...outcome } },
      ...revisions.map((r) => ({ item: `${r.revision}:${r.direction}`, record: r })),
    ];
    await this.write(
      `INSERT INTO ${this.table} AS h (run_id, item, target, started_at, record, number)
       SELECT :runId, e->>'item', :target, :startedAt::timestamptz, e->'record', CASE WHEN e->>'item' = 'run' THEN ${this.nextForNewRun} END
       FROM jsonb_array_elements(:rows::jsonb) AS e
       ON CONFLICT (run_id, item) DO UPDATE SET record = h.record || excluded.record`,
      { runId: run.runId, target: run.target, startedAt: run.startedAt, rows: JSON.stringify(rows) },
    );
  }

  async abandon(lease: LockInfo, by: { description: string; token: number; at: string }): Promise<boolean> {
    const run = runFromLease(lease);
    const abandoned = { status: RunStatus.Abandoned, abandoned: { at: by.at, by: by.description, token: by.token } };
    const result = await this.write(
      `INSERT INTO ${this.table} AS h (run_id, item, target, started_at, record, number)
       VALUES (:runId, 'run', :target, :startedAt::timestamptz, :record::jsonb, ${this.nextForNewRun})
       ON CONFLICT (run_id, item) DO UPDATE SET record = h.record || :abandoned::jsonb
       WHERE h.record->>'status' = :started`,
      {
        runId: run.runId,
        target: run.target,
        startedAt: run.startedAt,
        record: JSON.stringify({ ...run, ...abandoned }),
        abandoned: JSON.stringify(abandoned),
        started: RunStatus.Started,
      },
    );
    return result > 0;
  }

  async runs(target: string, options: { limit?: number } = {}): Promise<RunRecord[]> {
    return this.read<RunRecord>(
      `SELECT (CASE WHEN number IS NULL THEN record ELSE record || jsonb_build_object('number', number) END)::text AS record
       FROM ${this.table} WHERE target = :target AND item = 'run'
       ORDER BY number DESC NULLS LAST, started_at DESC, (record->>'token')::bigint DESC LIMIT :limit`,
      { target, limit: options.limit ?? DEFAULT_RUNS_LIMIT },
    );
  }

  async revisions(run: RunRecord): Promise<RevisionRecord[]> {
    return sortRevisions(
      await this.read<RevisionRecord>(`SELECT record::text AS record FROM ${this.table} WHERE run_id = :runId AND item <> 'run'`, {
        runId: run.runId,
      }),
    );
  }

  private async read<T>(sql: string, params: SqlParams): Promise<T[]> {
    try {
      const result = await this.session.query<{ record: string }>(sql, params);
      return result.rows.map((row) => JSON.parse(row.record) as T);
    } catch (error) {
      if (isMissingRelation(error)) return [];
      throw error;
    }
  }

  /**
   * Runs a write; when the table, its sequence or its number column is missing (a new database,
   * or a table from before the numbering), creates what is missing once and runs it again.
   * Returns the rows affected.
   */
  private async write(sql: string, params: SqlParams): Promise<number> {
    try {
      return (await this.session.query(sql, params)).rowCount;
    } catch (error) {
      if (!isMissingRelation(error) && !isMissingColumn(error)) throw error;
    }
    await this.session.query(`CREATE SCHEMA IF NOT EXISTS ${this.dialect.quoteIdentifier(this.schema)}`);
    await this.session.query(`CREATE SEQUENCE IF NOT EXISTS ${this.sequence}`);
    await this.session.query(
      `CREATE TABLE IF NOT EXISTS ${this.table} (
        run_id text NOT NULL,
        item text NOT NULL,
        target text NOT NULL,
        started_at timestamptz NOT NULL,
        record jsonb NOT NULL,
        number bigint,
        PRIMARY KEY (run_id, item)
      )`,
    );
    await this.session.query(`ALTER TABLE ${this.table} ADD COLUMN IF NOT EXISTS number bigint`);
    return (await this.session.query(sql, params)).rowCount;
  }
}
