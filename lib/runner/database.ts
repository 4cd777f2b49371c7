// Builds the database half of a Context from an executor and a few options with defaults, so
// the CLI, the Lambda handlers and the tests assemble it the same way.
import path from "node:path";
import { DEFAULT_SCHEMA } from "../constants.ts";
import { type DatabaseTarget, openExecutor, parseDatabaseUrl } from "../sql/connect.ts";
import { postgres } from "../dialect/postgres/index.ts";
import type { SqlExecutor } from "../sql/executor.ts";
import { InProcessLock, type Lock, type LockHolder } from "../state/lock.ts";
import { VersionTable } from "../state/version-table.ts";
import type { DatabaseContext } from "./context.ts";

export interface DatabaseOptions {
  /** Schema of retort's own tables. @default "public" */
  versionSchema?: string;
  /** Where unqualified names in migrations live. @default "public" */
  defaultSchema?: string;
  /** @default one in-process lock shared by this process */
  lock?: Lock;
  /** @default the executor's description */
  lockKey?: string;
  /** @default 0 (fail at once when held) */
  lockWaitMs?: number;
  holder?: Partial<LockHolder>;
}

const processLock = new InProcessLock();

export function databaseContext(executor: SqlExecutor, options: DatabaseOptions = {}): DatabaseContext {
  return {
    executor,
    dialect: postgres,
    versionTable: new VersionTable(options.versionSchema ?? DEFAULT_SCHEMA, postgres),
    defaultSchema: options.defaultSchema ?? DEFAULT_SCHEMA,
    lock: options.lock ?? processLock,
    lockKey: options.lockKey ?? executor.description,
    ...(options.lockWaitMs !== undefined ? { lockWaitMs: options.lockWaitMs } : {}),
    ...(options.holder ? { holder: options.holder } : {}),
  };
}

/**
 * One lock per target database: the same key whichever way the database is named (relative or
 * absolute directory, password or not).
 */
export function lockKeyFor(target: DatabaseTarget, cwd = process.cwd()): string {
  switch (target.kind) {
    case "pglite":
      return `pglite:${path.resolve(cwd, target.dataDir)}`;
    case "pglite-memory":
      return `pglite:memory:${process.pid}`;
    case "postgres":
      return `postgres://${target.host}:${target.port}/${target.database ?? target.user ?? ""}`;
    case "data-api":
      return `${target.resourceArn}/${target.database}`;
  }
}

/** Opens the database a URL names, with its context; `close()` closes the executor. */
export async function openDatabase(
  url: string,
  options: DatabaseOptions & { cwd?: string } = {},
): Promise<DatabaseContext & { close(): Promise<void> }> {
  const target = parseDatabaseUrl(url);
  const executor = await openExecutor(url, options.cwd ? { cwd: options.cwd } : {});
  const context = databaseContext(executor, { lockKey: lockKeyFor(target, options.cwd), ...options });
  return { ...context, close: () => executor.close() };
}
