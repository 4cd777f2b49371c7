// A scratch database to run migrations on and read back (validate, diff, autogenerate): an
// in-memory PGlite unless told otherwise, with a runner Context over it, so every run goes through
// the runner's own engine (migrate.ts). Open it, run and stamp, read schema and rows, rebuild, close.
import type { RevisionMap } from "../revision/graph.ts";
import type { MigrationSource } from "../revision/loader.ts";
import { Direction, type Migration } from "../revision/migration.ts";
import type { RunMode } from "../ops/operations.ts";
import { displayRelation } from "../schema/diff.ts";
import type { CatalogObject, SchemaSnapshot } from "../schema/snapshot.ts";
import type { SqlExecutor } from "../sql/executor.ts";
import { InProcessLock } from "../state/lock.ts";
import type { Context } from "./context.ts";
import { databaseContext } from "./database.ts";
import { migrate, type MigrateResult } from "./migrate.ts";
import { stamp } from "./stamp.ts";

export interface ScratchDatabaseOptions {
  /** The command using it, named in its runs and its lock key ("validate": "retort validate"). */
  command: string;
  map: RevisionMap<Migration>;
  /** Where the runner's commands load the migrations (normally the ones already loaded). */
  source: MigrationSource;
  /** Where unqualified names in migrations live. */
  defaultSchema: string;
  /** Opens the database. @default a new in-memory PGlite */
  open?: () => Promise<SqlExecutor>;
}

export class ScratchDatabase {
  private executor: SqlExecutor | undefined;
  private ctx!: Context;
  private currentHeads: string[] = [];
  private openedAs = "";
  private readonly openExecutor: () => Promise<SqlExecutor>;

  private constructor(private readonly options: ScratchDatabaseOptions) {
    // PGlite is imported only when the default is opened: it is slow to load, and most commands never need it.
    this.openExecutor = options.open ?? (async () => (await import("../sql/pglite-executor.ts")).PgliteExecutor.open());
  }

  /** Opens an empty scratch database. */
  static async open(options: ScratchDatabaseOptions): Promise<ScratchDatabase> {
    const scratch = new ScratchDatabase(options);
    await scratch.start();
    return scratch;
  }

  /** The database, as its executor describes it, e.g. "PGlite (in memory)". */
  get description(): string {
    return this.openedAs;
  }

  /** The heads its version table holds now. */
  get heads(): string[] {
    return this.currentHeads;
  }

  /** One run of the runner's engine towards `target`. */
  async migrate(direction: Direction, target: string, mode: RunMode): Promise<MigrateResult> {
    const run = await migrate(this.ctx, this.options.map, { command: this.options.command, direction, target, mode });
    if (!run.error) this.currentHeads = run.toHeads;
    return run;
  }

  /** Upgrades to `target`; a failure throws, saying `why` it was upgraded. */
  async upgradeTo(target: string, why: string): Promise<void> {
    const run = await this.migrate(Direction.Up, target, "strict");
    if (run.error) throw new Error(`${this.options.command} could not upgrade the scratch database to ${target} (${why}): ${run.error.message}`);
  }

  /** Points the version table at `heads` without running anything (`retort stamp`). */
  async stamp(heads: string[]): Promise<void> {
    await stamp(this.ctx, { target: heads });
    this.currentHeads = heads;
  }

  /** Every user schema, so objects a migration puts outside the default schema are seen too. */
  async snapshot(): Promise<SchemaSnapshot> {
    const executor = this.executor!;
    const dialect = this.ctx.database!.dialect;
    return dialect.introspect(executor, await dialect.userSchemas(executor));
  }

  /** Enum types, sequences no column owns and views, in every user schema. */
  async catalogObjects(): Promise<CatalogObject[]> {
    const executor = this.executor!;
    const dialect = this.ctx.database!.dialect;
    return dialect.catalogObjects(executor, await dialect.userSchemas(executor));
  }

  /** A fingerprint of each table's rows, by table name as messages show it. */
  async fingerprints(snapshot: SchemaSnapshot): Promise<Map<string, string>> {
    if (snapshot.tables.length === 0) return new Map();
    const query = this.ctx.database!.dialect.tableFingerprints(snapshot.tables);
    const rows = (await this.executor!.query<{ fingerprints: string }>(query.sql)).rows;
    const prints = JSON.parse(rows[0]!.fingerprints) as string[];
    return new Map(snapshot.tables.map((t, i) => [displayRelation(t, this.options.defaultSchema), prints[i]!]));
  }

  /**
   * Puts the database back to exactly the revisions in `applied`: every user schema is dropped (the
   * version table with it) and the revisions are applied again. A fresh database is opened only
   * when that reset itself fails.
   */
  async rebuild(applied: ReadonlySet<string>): Promise<void> {
    try {
      const dialect = this.ctx.database!.dialect;
      for (const sql of dialect.resetSchemas(await dialect.userSchemas(this.executor!), this.options.defaultSchema)) await this.executor!.query(sql);
      this.currentHeads = [];
    } catch {
      await this.close();
      await this.start();
    }
    for (const head of this.options.map.headsOf(applied)) await this.upgradeTo(head, "rebuilding the scratch database");
  }

  async close(): Promise<void> {
    await this.executor?.close();
    this.executor = undefined;
  }

  private async start(): Promise<void> {
    const executor = await this.openExecutor();
    this.executor = executor;
    this.openedAs = executor.description;
    this.currentHeads = [];
    this.ctx = {
      source: this.options.source,
      database: databaseContext(executor, {
        defaultSchema: this.options.defaultSchema,
        lock: new InProcessLock(),
        lockKey: `retort ${this.options.command}`,
      }),
    };
  }
}
