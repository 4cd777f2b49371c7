// Builds the database half of a Context from an executor and a few options with defaults, so
// the CLI, the Lambda handlers and the tests assemble it the same way. A lock table (--lock-table
// or RETORT_LOCK_TABLE) selects DynamoDB for the lock and the history, its endpoint from the SDK's
// own AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL; without one, the in-process lock, and (through
// openDatabase) the history in a table of the target database, so the CLI works offline.
import path from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DEFAULT_SCHEMA } from "../constants.ts";
import { type DatabaseTarget, openExecutor, parseDatabaseUrl } from "../sql/connect.ts";
import type { Dialect } from "../dialect/dialect.ts";
import { postgres } from "../dialect/postgres/index.ts";
import type { SqlExecutor } from "../sql/executor.ts";
import { DatabaseHistory } from "../state/database-history.ts";
import type { History } from "../state/history.ts";
import { InProcessLock, type Lock, type LockHolder } from "../state/lock.ts";
import { VersionTable } from "../state/version-table.ts";
import { type DatabaseContext, schemaLockKey } from "./context.ts";

export interface DatabaseOptions {
  /** Schema of retort's own tables. @default "public" */
  versionSchema?: string;
  /** Where unqualified names in migrations live. @default "public" */
  defaultSchema?: string;
  /**
   * DynamoDB table for the lock and the history (overrides `lock` and `history`).
   * @default none: `lock` and `history` are used
   */
  lockTable?: string;
  /** The client for `lockTable`. @default createDynamoClient() */
  dynamodb?: DynamoDBClient;
  /** @default one in-process lock shared by this process */
  lock?: Lock;
  /** @default none (openDatabase: a table in the target database) */
  history?: History;
  /** Lease duration, renewed by a heartbeat while a run works. @default 30 s */
  leaseMs?: number;
  /** @default the executor's description */
  lockKey?: string;
  /** @default 0 (fail at once when held) */
  lockWaitMs?: number;
  holder?: Partial<LockHolder>;
  /** @default false (see DatabaseContext) */
  transactionPerMigration?: boolean;
  /** @default DEFAULT_MIGRATION_TIMEOUT_MS (see DatabaseContext) */
  migrationTimeoutMs?: number;
  /** @default DEFAULT_LOCK_TIMEOUT_MS, 5 s (see DatabaseContext) */
  lockTimeoutMs?: number;
  /** @default DEFAULT_LOCK_ATTEMPTS, 8 (see DatabaseContext) */
  lockAttempts?: number;
}

const processLock = new InProcessLock();

export function databaseContext(executor: SqlExecutor, options: DatabaseOptions = {}): DatabaseContext {
  const lock = options.lock ?? processLock;
  const history = options.history;
  return {
    executor,
    dialect: postgres,
    versionTable: new VersionTable(options.versionSchema ?? DEFAULT_SCHEMA, postgres),
    defaultSchema: options.defaultSchema ?? DEFAULT_SCHEMA,
    lock,
    lockKey: options.lockKey ?? executor.description,
    ...(history ? { history } : {}),
    ...(options.lockWaitMs !== undefined ? { lockWaitMs: options.lockWaitMs } : {}),
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
    ...(options.holder ? { holder: options.holder } : {}),
    ...(options.transactionPerMigration ? { transactionPerMigration: true } : {}),
    ...(options.migrationTimeoutMs !== undefined ? { migrationTimeoutMs: options.migrationTimeoutMs } : {}),
    ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
    ...(options.lockAttempts !== undefined ? { lockAttempts: options.lockAttempts } : {}),
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

/**
 * A PostgreSQL server's own name for one of its databases, `postgres://<system identifier>/<db>`:
 * the same however the URL spells the host (127.0.0.1, localhost, a DNS name), so every runner of
 * one database shares one lock and one fence. Undefined where the server does not say (a role
 * without access to pg_control_system()): the URL's spelling is the key then.
 */
async function postgresIdentity(executor: SqlExecutor): Promise<string | undefined> {
  try {
    const { rows } = await executor.query<{ id: string; db: string }>(
      "SELECT system_identifier::text AS id, current_database() AS db FROM pg_catalog.pg_control_system()",
    );
    return rows[0] ? `postgres://${rows[0].id}/${rows[0].db}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The SQL dialect of the database a URL names, without opening it (for `--sql` and `lint`);
 * undefined for a URL no database here speaks. Every database retort opens today is PostgreSQL.
 */
export function dialectOf(url: string): Dialect | undefined {
  return /^(pglite|postgres|postgresql|data-api):/i.test(url.trim()) ? postgres : undefined;
}

/** A database opened once, with a context for each schema in it that is a target (a fleet's tenants). */
export interface SharedDatabase {
  readonly executor: SqlExecutor;
  /**
   * The context of one schema: its own version tables, default schema, history (in the database)
   * and lock key; `options`' schemas when none is given.
   */
  context(schemas?: Pick<DatabaseOptions, "versionSchema" | "defaultSchema">): DatabaseContext;
  close(): Promise<void>;
}

/** Opens the database a URL names, with its context; `close()` closes the executor. */
export async function openDatabase(
  url: string,
  options: DatabaseOptions & { cwd?: string } = {},
): Promise<DatabaseContext & { close(): Promise<void> }> {
  const shared = await openSharedDatabase(url, options);
  return { ...shared.context(), close: () => shared.close() };
}

/**
 * Opens the database a URL names once for every target schema in it; `maxConnections` sizes a
 * node-postgres pool for the runs that share it.
 */
export async function openSharedDatabase(url: string, options: DatabaseOptions & { cwd?: string; maxConnections?: number } = {}): Promise<SharedDatabase> {
  const target = parseDatabaseUrl(url);
  // An embedded database's directory is waited for as the migration lock is (--wait).
  const executor = await openExecutor(url, {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.lockWaitMs !== undefined ? { waitMs: options.lockWaitMs } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
  });
  // Anything failing once the executor is open closes it again: an open PGlite runs PostgreSQL's
  // timers (emulated with setTimeout) and would keep the process alive after the error.
  let dynamodb: DynamoDBClient | undefined;
  const close = async () => {
    dynamodb?.destroy();
    await executor.close();
  };
  try {
    // The DynamoDB SDK is loaded only when a lock table is asked for: most runs never need it.
    let stores: Pick<DatabaseOptions, "lock" | "history"> = {};
    if (options.lockTable) {
      const [{ createDynamoClient }, { DynamoLock }, { DynamoHistory }] = await Promise.all([
        import("../state/dynamo-client.ts"),
        import("../state/dynamo-lock.ts"),
        import("../state/dynamo-history.ts"),
      ]);
      const client = options.dynamodb ?? (dynamodb = createDynamoClient());
      stores = {
        lock: new DynamoLock({ table: options.lockTable, client }),
        history: new DynamoHistory({ table: options.lockTable, client }),
      };
    }
    const identity = target.kind === "postgres" && options.lockKey === undefined ? await postgresIdentity(executor) : undefined;
    const databaseKey = identity ?? lockKeyFor(target, options.cwd);
    return {
      executor,
      context: (schemas = options) => {
        const versionSchema = schemas.versionSchema ?? DEFAULT_SCHEMA;
        return databaseContext(executor, {
          ...options,
          versionSchema,
          defaultSchema: schemas.defaultSchema ?? DEFAULT_SCHEMA,
          lockKey: options.lockKey ?? schemaLockKey(databaseKey, versionSchema),
          ...stores,
          history: stores.history ?? options.history ?? new DatabaseHistory(executor, versionSchema, postgres),
        });
      },
      close,
    };
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}
