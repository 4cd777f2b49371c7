// A command's Context from plain options, the same for the CLI and the programmatic API: the
// migrations of a directory, and for database commands the database a URL names, opened while
// the files load and closed when the command is done. Options are checked before anything is
// opened: a bad one is a UsageError.
import { DirectorySource, LoadNeed, loadingNow } from "../revision/loader.ts";
import { defaultDatabaseUrl } from "../sql/connect.ts";
import type { Context } from "./context.ts";
import { dialectOf, openDatabase } from "./database.ts";
import { UsageError } from "./revision.ts";

/**
 * The shortest lease taken. The lease is renewed every third of its length and a renewal is a
 * round trip to the lock store (DynamoDB, retried): a lease of a second or less runs out between
 * renewals, and the run stops with "Lost the migration lock". Two seconds still leaves a renewal
 * two thirds of a second, which a local lock store answers in far less.
 */
export const MIN_LEASE_MS = 2_000;
/** The longest: a runner that dies holds the lock this long; beyond ~74 days the heartbeat's timer overflows. */
export const MAX_LEASE_MS = 24 * 3_600_000;

/** The migrations directory when none is given: RETORT_DIR, else `migrations`. */
export function defaultDirectory(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env["RETORT_DIR"]?.trim() || "migrations";
}

export interface ProjectOptions {
  /** The migrations directory. @default RETORT_DIR, else "migrations" */
  dir?: string;
}

export interface DatabaseOptions extends ProjectOptions {
  /** The target database (pglite://dir, postgres://..., data-api://...). @default RETORT_DB, else "pglite://" */
  db?: string;
  /**
   * The target schema (a tenant's): retort's own tables live in it, and the migrations' unqualified
   * names (first on the search_path of every transaction a run opens); a PostgreSQL identifier, 1
   * to 63 bytes. @default "public"
   */
  schema?: string;
  /** DynamoDB table for the lock and the history. @default RETORT_LOCK_TABLE, else none: an in-process lock, the history in the database */
  lockTable?: string;
  /** How long to wait for a held lock, in ms, polling. @default 0: fail at once */
  waitMs?: number;
  /** Lease duration in ms, from 5 s to 24 h, renewed by a heartbeat while a run works. @default 30000 */
  leaseMs?: number;
}

export function projectContext(options: ProjectOptions & { db?: string } = {}): Context {
  const directory = options.dir ?? defaultDirectory();
  // The language of the database --db names, for the commands that work without opening it.
  const dialect = dialectOf(options.db ?? defaultDatabaseUrl());
  return { source: new DirectorySource(directory), directory, ...(dialect ? { dialect } : {}) };
}

/**
 * Runs `body` with a Context that has the database of `options.db`, closing it afterwards; `need`
 * is how much of the migrations `body` needs (LoadNeed), loaded while the database connects.
 */
export async function withDatabase<T>(options: DatabaseOptions, body: (ctx: Context) => Promise<T>, need: LoadNeed = LoadNeed.Code): Promise<T> {
  checkDatabaseOptions(options);
  const base = projectContext(options);
  const ctx = { ...base, source: loadingNow(base.source, need) };
  const lockTable = options.lockTable ?? (process.env["RETORT_LOCK_TABLE"]?.trim() || undefined);
  const database = await openDatabase(options.db ?? defaultDatabaseUrl(), {
    ...(options.schema !== undefined ? { versionSchema: options.schema, defaultSchema: options.schema } : {}),
    ...(lockTable ? { lockTable } : {}),
    ...(options.waitMs !== undefined ? { lockWaitMs: options.waitMs } : {}),
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
  });
  try {
    return await body({ ...ctx, database });
  } finally {
    await database.close();
  }
}

/** Refuses, as a UsageError naming the option and what it takes, what the database would refuse later. */
function checkDatabaseOptions(options: DatabaseOptions): void {
  // The database's own rules for a name; a URL no dialect speaks is refused when it is opened.
  const dialect = dialectOf(options.db ?? defaultDatabaseUrl());
  if (options.schema !== undefined && dialect) {
    try {
      dialect.checkIdentifier(options.schema);
    } catch (error) {
      throw new UsageError(
        `Invalid target schema (--schema, schema): ${(error as Error).message}; ` +
          `give a name of 1 to ${dialect.maxIdentifierBytes} bytes, or leave the option out for "public"`,
      );
    }
  }
  const lease = options.leaseMs;
  if (lease !== undefined && !(lease >= MIN_LEASE_MS && lease <= MAX_LEASE_MS)) {
    throw new UsageError(
      `Invalid lease (--lease, leaseMs): ${lease} ms; a lease is from ${MIN_LEASE_MS / 1000}s to ${MAX_LEASE_MS / 3_600_000}h ` +
        "(default 30s). It is renewed every third of its length, so a shorter one runs out between renewals",
    );
  }
}
