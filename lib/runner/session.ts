// A command's Context from plain options, the same for the CLI and the programmatic API: the
// migrations of a directory, and for database commands the database a URL names, opened while
// the files load and closed when the command is done.
import { DirectorySource, loadingNow } from "../revision/loader.ts";
import { defaultDatabaseUrl } from "../sql/connect.ts";
import type { Context } from "./context.ts";
import { openDatabase } from "./database.ts";

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
  /** Schema of retort's own tables. @default "public" */
  schema?: string;
  /** DynamoDB table for the lock and the history. @default RETORT_LOCK_TABLE, else none: an in-process lock, the history in the database */
  lockTable?: string;
  /** How long to wait for a held lock, in ms, polling. @default 0: fail at once */
  waitMs?: number;
  /** Lease duration in ms, renewed by a heartbeat while a run works. @default 30000 */
  leaseMs?: number;
}

export function projectContext(options: ProjectOptions = {}): Context {
  const directory = options.dir ?? defaultDirectory();
  return { source: new DirectorySource(directory), directory };
}

/** Runs `body` with a Context that has the database of `options.db`, closing it afterwards. */
export async function withDatabase<T>(options: DatabaseOptions, body: (ctx: Context) => Promise<T>): Promise<T> {
  // The files load while the database connects.
  const base = projectContext(options);
  const ctx = { ...base, source: loadingNow(base.source) };
  const lockTable = options.lockTable ?? (process.env["RETORT_LOCK_TABLE"]?.trim() || undefined);
  const database = await openDatabase(options.db ?? defaultDatabaseUrl(), {
    ...(options.schema ? { versionSchema: options.schema } : {}),
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
