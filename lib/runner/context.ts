// What every command runs over: a Context (the migration source and, for commands that need a
// database, a DatabaseContext: executor, dialect, version table, lock, history), and the graph loaded
// from it. Built by session.ts (CLI, API), functions/context.ts (Lambda) and scratch-database.ts.
import { DEFAULT_SCHEMA } from "../constants.ts";
import type { Dialect } from "../dialect/dialect.ts";
import { RevisionMap } from "../revision/graph.ts";
import type { RevisionError } from "../revision/errors.ts";
import { LoadNeed, type MigrationSource } from "../revision/loader.ts";
import type { Migration } from "../revision/migration.ts";
import type { SqlExecutor } from "../sql/executor.ts";
import type { History } from "../state/history.ts";
import type { Lock, LockHolder } from "../state/lock.ts";
import type { VersionTable } from "../state/version-table.ts";
import { NoDatabaseError } from "./errors.ts";

export interface Context {
  source: MigrationSource;
  /** Where `revision` and `reset-heads` write new files (the CLI's --dir). */
  directory?: string;
  /** The clock, injectable so tests are deterministic. */
  now?: () => Date;
  /** The target database, for the commands that need one. */
  database?: DatabaseContext;
  /**
   * The target's language where no database is opened (`--sql`, `lint`): the dialect its URL
   * names (runner/database.ts dialectOf). A database's own dialect comes first.
   */
  dialect?: Dialect;
}

/** A target schema's own lock: `<database's key>?schema=<name>`; the database's key for "public". */
export function schemaLockKey(databaseKey: string, schema: string | undefined): string {
  return schema === undefined || schema === DEFAULT_SCHEMA ? databaseKey : `${databaseKey}?schema=${schema}`;
}

/**
 * PL/pgSQL putting a target schema first on the search_path, transaction-local, so raw SQL's
 * unqualified names land where the operations' do; nothing for "public", already first.
 */
export function searchPathSettings(db: Pick<DatabaseContext, "defaultSchema" | "dialect">): string[] {
  if (db.defaultSchema === DEFAULT_SCHEMA) return [];
  const path = `${db.dialect.quoteIdentifier(db.defaultSchema)}, ${DEFAULT_SCHEMA}`;
  return [`PERFORM pg_catalog.set_config('search_path', ${db.dialect.renderLiteral(path)}, true)`];
}

/** The dialect a command without a database works in; an error naming the command when none is known. */
export function requireDialect(ctx: Context, command: string): Dialect {
  const dialect = ctx.database?.dialect ?? ctx.dialect;
  if (!dialect) throw new NoDatabaseError(`${command} (to know the database's SQL dialect)`);
  return dialect;
}

export interface DatabaseContext {
  executor: SqlExecutor;
  dialect: Dialect;
  versionTable: VersionTable;
  /**
   * Where unqualified names in migrations live: the operations' names, and (first on the
   * search_path of every transaction a run opens, searchPathSettings) raw SQL's.
   */
  defaultSchema: string;
  lock: Lock;
  /** One lock per target database. */
  lockKey: string;
  /** How long to wait for a held lock; 0 fails at once. */
  lockWaitMs?: number;
  /** Lease duration (renewed by a heartbeat while a run works). @default 30 s */
  leaseMs?: number;
  /** Where runs are recorded; none when absent. */
  history?: History;
  /** Extra details recorded with the lock (Lambda request id, stack id). */
  holder?: Partial<LockHolder>;
  /**
   * Commit every migration on its own unless a command says otherwise (the Lambda's setting).
   * @default false: consecutive migrations share a transaction
   */
  transactionPerMigration?: boolean;
  /**
   * The longest one migration may run (its upgrade or downgrade and its statements); then the run
   * fails naming it and rolls back what it can. @default DEFAULT_MIGRATION_TIMEOUT_MS
   */
  migrationTimeoutMs?: number;
  /**
   * How long a migration's statement may wait for a lock on its first try (ms; 0: no limit), set
   * transaction-local as lock_timeout; each later try waits longer (lock-retry.ts).
   * @default DEFAULT_LOCK_TIMEOUT_MS (5 s)
   */
  lockTimeoutMs?: number;
  /** Tries in all before a migration that cannot get its locks fails. @default DEFAULT_LOCK_ATTEMPTS (8) */
  lockAttempts?: number;
}

/** 15 minutes: what a Lambda invocation can give a migration at most. */
export const DEFAULT_MIGRATION_TIMEOUT_MS = 15 * 60_000;

export function requireDatabase(ctx: Context, command = "this command"): DatabaseContext {
  if (!ctx.database) throw new NoDatabaseError(command);
  return ctx.database;
}

export interface LoadedGraph {
  migrations: Migration[];
  map: RevisionMap<Migration>;
  /** Loading and structural problems (invalid files, bad names, duplicates, dangling edges, cycles). */
  problems: RevisionError[];
}

/** The graph of the migrations, loaded as far as `need` (LoadNeed: metadata only for the graph commands). */
export async function loadGraph(ctx: Context, need: LoadNeed = LoadNeed.Code): Promise<LoadedGraph> {
  const { migrations, problems } = await ctx.source.load(need);
  const map = new RevisionMap(migrations);
  return { migrations, map, problems: [...problems, ...map.problems] };
}

/** Problems that make the graph unusable (a bad file name alone does not). */
export function blocking(problems: readonly RevisionError[]): RevisionError[] {
  return problems.filter((p) => p.code !== "bad-filename");
}

/** Loads the graph and throws the first problem that would make any answer wrong. */
export async function loadSoundGraph(ctx: Context, need: LoadNeed = LoadNeed.Code): Promise<LoadedGraph> {
  const graph = await loadGraph(ctx, need);
  const first = blocking(graph.problems)[0];
  if (first) throw first;
  return graph;
}
