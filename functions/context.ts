// The runner's Context inside the Lambda, built from the function's environment: the bundled
// migrations, the Data API executor for the one cluster, the DynamoDB lock and run history, and
// who holds the lock (request id, stack id). Every handler gets its Context here, so what backs
// the lock is decided in one place (`lockFor`).
import { RetortError } from "../lib/errors.ts";
import { DataApiExecutor } from "../lib/sql/data-api-executor.ts";
import type { SqlExecutor } from "../lib/sql/executor.ts";
import type { MigrationSource } from "../lib/revision/loader.ts";
import { type Context, type DatabaseContext, schemaLockKey } from "../lib/runner/context.ts";
import { postgres } from "../lib/dialect/postgres/index.ts";
import { VersionTable } from "../lib/state/version-table.ts";
import { createDynamoClient } from "../lib/state/dynamo-client.ts";
import { DynamoHistory } from "../lib/state/dynamo-history.ts";
import { DynamoLock } from "../lib/state/dynamo-lock.ts";
import type { History } from "../lib/state/history.ts";
import { InProcessLock, type AcquireOptions, type Lease, type Lock, type LockHolder, type LockInfo } from "../lib/state/lock.ts";
import { DEFAULT_SCHEMA } from "../lib/constants.ts";
import type { DialectOf } from "../lib/fleet/targets.ts";
import { ENV } from "./constants.ts";

/** What every runner function reads from its environment, whichever database it migrates. */
export interface RunnerSettings {
  /** The DynamoDB lock and history table; absent only outside AWS (tests, the demo). */
  table: string | undefined;
  /** Every migration commits on its own, instead of sharing a transaction with the next ones. */
  transactionPerMigration: boolean;
  /** How long after onEvent a deploy keeps polling while another runner holds the lock. */
  deployLockWaitMs: number;
  /** The longest one migration may run; absent: the runner's default (15 minutes). */
  migrationTimeoutMs: number | undefined;
  /** How long a statement may wait for a lock on its first try (0: no limit); absent: the runner's default (5 s). */
  lockTimeoutMs: number | undefined;
}

/** The database one runner migrates: the construct's one target, or one of a fleet's. */
export interface RunnerConfig extends RunnerSettings {
  clusterArn: string;
  secretArn: string;
  database: string;
  /** Schema of retort's version tables. */
  schema: string;
  /**
   * Where the migrations' unqualified names live (first on the search_path of every transaction);
   * absent: "public". A fleet's tenant schema is both this and `schema`.
   */
  defaultSchema?: string;
}

/** Without the construct's value (tests, a handler run by hand): ten minutes. */
const DEFAULT_DEPLOY_LOCK_WAIT_S = 600;

export class ConfigurationError extends RetortError {
  override readonly code: string = "configuration";
  override name = "ConfigurationError";
}

export type Environment = Readonly<Record<string, string | undefined>>;

/** Reads the function's configuration; a missing variable is named, with where it comes from. */
export function readConfig(env: Environment = process.env): RunnerConfig {
  const required = (name: string) => {
    const value = env[name]?.trim();
    if (!value) {
      throw new ConfigurationError(
        `The runner function has no ${name}; it is set by the MigrationRunner construct, so redeploy the stack ` +
          "(or set it when running the handler locally)",
      );
    }
    return value;
  };
  return {
    clusterArn: required(ENV.clusterArn),
    secretArn: required(ENV.secretArn),
    database: required(ENV.database),
    schema: env[ENV.schema]?.trim() || "public",
    ...readSettings(env),
  };
}

/** The settings alone: a fleet's functions have no database of their own, each target names one. */
export function readSettings(env: Environment = process.env): RunnerSettings {
  return {
    table: env[ENV.table]?.trim() || undefined,
    transactionPerMigration: flag(env, ENV.transactionPerMigration),
    deployLockWaitMs: seconds(env, ENV.deployLockWait, DEFAULT_DEPLOY_LOCK_WAIT_S) * 1000,
    migrationTimeoutMs: optionalSeconds(env, ENV.migrationTimeout),
    lockTimeoutMs: optionalMilliseconds(env, ENV.lockTimeout),
  };
}

/** Without the construct's value: a fleet target waits ten minutes for its lock. */
const DEFAULT_FLEET_LOCK_WAIT_S = 600;

/** How long a fleet target keeps waiting while its lock is held (or a statement still runs) before it fails. */
export function readFleetLockWaitMs(env: Environment = process.env): number {
  return seconds(env, ENV.fleetLockWait, DEFAULT_FLEET_LOCK_WAIT_S) * 1000;
}

/** The fleet state machine the fleet's deploy hook starts; named when missing. */
export function readFleetStateMachine(env: Environment = process.env): string {
  const value = env[ENV.fleetStateMachine]?.trim();
  if (!value) {
    throw new ConfigurationError(`The fleet's deploy hook has no ${ENV.fleetStateMachine}; it is set by the MigrationFleet construct, so redeploy the stack`);
  }
  return value;
}

/** A whole number of milliseconds (0 included); undefined when unset. */
function optionalMilliseconds(env: Environment, name: string): number | undefined {
  const value = env[name]?.trim();
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value) || Number(value) > 2 ** 31 - 1) {
    throw new ConfigurationError(`The runner function's ${name} is ${JSON.stringify(env[name])}; it must be a whole number of milliseconds (0: no limit)`);
  }
  return Number(value);
}

/** A whole number of seconds; anything else is refused with its name. */
function seconds(env: Environment, name: string, fallback: number): number {
  const value = env[name]?.trim();
  if (value === undefined || value === "") return fallback;
  if (!/^\d+$/.test(value)) throw new ConfigurationError(`The runner function's ${name} is ${JSON.stringify(env[name])}; it must be a whole number of seconds`);
  return Number(value);
}

/** Milliseconds from a whole, positive number of seconds; undefined when unset. */
function optionalSeconds(env: Environment, name: string): number | undefined {
  const value = seconds(env, name, 0);
  if (value > 0) return value * 1000;
  if (env[name]?.trim()) throw new ConfigurationError(`The runner function's ${name} is ${JSON.stringify(env[name])}; it must be at least 1 second`);
  return undefined;
}

/** A "true"/"false" variable; anything else is refused with its name. */
function flag(env: Environment, name: string): boolean {
  const value = env[name]?.trim().toLowerCase();
  if (value === undefined || value === "" || value === "false") return false;
  if (value === "true") return true;
  throw new ConfigurationError(`The runner function's ${name} is ${JSON.stringify(env[name])}; it must be "true" or "false"`);
}

/**
 * The lock key of the configured database and schema: what lib/runner/database.ts gives a
 * `data-api://` URL and `--schema` (lockKeyFor, then schemaLockKey), so the CLI and the Lambda
 * contend for the same lock (a test holds them equal). The database's part is written out here,
 * not imported: database.ts also opens `--db` URLs, which would bundle node-postgres into the Lambda.
 */
export function lockKeyOf(config: Pick<RunnerConfig, "clusterArn" | "database" | "schema">): string {
  return schemaLockKey(`${config.clusterArn}/${config.database}`, config.schema);
}

/**
 * What a fleet target's schema is checked with: the dialect of the databases the Lambda opens
 * (every one PostgreSQL, through the Data API).
 */
export const targetNameRules: DialectOf = postgres;

/** A fleet target's database through the Data API: its `data-api://` URL's parts. */
export interface TargetDatabase {
  clusterArn: string;
  secretArn: string;
  database: string;
  /** The tenant's schema; absent: "public". */
  schema?: string;
}

/**
 * The configuration of one fleet target: the function's settings, the target's cluster, secret and
 * database, and its schema as both the version tables' and the migrations' default schema, so its
 * lock key names the schema too.
 */
export function targetConfig(settings: RunnerSettings, target: TargetDatabase): RunnerConfig {
  const schema = target.schema ?? DEFAULT_SCHEMA;
  return {
    ...settings,
    clusterArn: target.clusterArn,
    secretArn: target.secretArn,
    database: target.database,
    schema,
    ...(schema !== DEFAULT_SCHEMA ? { defaultSchema: schema } : {}),
  };
}

// One per container: warm invocations reuse the Data API client's connections.
const executors = new Map<string, SqlExecutor>();
const processLock = new InProcessLock();

function executorFor(config: RunnerConfig, env: Environment): SqlExecutor {
  // The endpoint variable is part of the key so tests pointing at different local stacks never share.
  const key = [config.clusterArn, config.secretArn, config.database, env["AWS_ENDPOINT_URL_RDS_DATA"] ?? ""].join("|");
  let executor = executors.get(key);
  if (!executor) {
    executor = new DataApiExecutor({ resourceArn: config.clusterArn, secretArn: config.secretArn, database: config.database });
    executors.set(key, executor);
  }
  return executor;
}

interface TableState {
  lock: DynamoLock;
  history: DynamoHistory;
}
const tables = new Map<string, TableState>();

/** One DynamoDB client per table and endpoint, shared by the lock and the history. */
function tableState(table: string, env: Environment): TableState {
  const key = `${table}|${env["AWS_ENDPOINT_URL_DYNAMODB"] ?? ""}`;
  let state = tables.get(key);
  if (!state) {
    const client = createDynamoClient();
    tables.set(key, (state = { lock: new DynamoLock({ table, client }), history: new DynamoHistory({ table, client }) }));
  }
  return state;
}

/**
 * The lock behind every handler: the DynamoDB table the construct configures. Without a table
 * (a handler run locally) the in-process lock, which serialises runners in this process only.
 */
export function lockFor(config: RunnerConfig, env: Environment = process.env): Lock {
  return config.table ? tableState(config.table, env).lock : processLock;
}

/** The run history: the same table as the lock; none without a table. */
export function historyFor(config: RunnerConfig, env: Environment = process.env): History | undefined {
  return config.table ? tableState(config.table, env).history : undefined;
}

export interface RunnerContextOptions {
  source: MigrationSource;
  holder?: Partial<LockHolder>;
  /** Called with each lease the runner takes (the handlers log its fencing token). */
  onLease?: (info: LockInfo) => void;
  /** Replaces `lockFor(config)`: the rollback steps run under a lease taken by an earlier step. */
  lock?: Lock;
}

/**
 * The runner's Context. The database half is assembled here rather than with database.ts's
 * databaseContext(): that module also opens `--db` URLs, which would bundle node-postgres into the
 * Lambda (and its import-time probing costs a cold start ~90 ms).
 */
export function runnerContext(config: RunnerConfig, options: RunnerContextOptions, env: Environment = process.env): Context {
  const base = options.lock ?? lockFor(config, env);
  const history = historyFor(config, env);
  const database: DatabaseContext = {
    executor: executorFor(config, env),
    dialect: postgres,
    versionTable: new VersionTable(config.schema, postgres),
    defaultSchema: config.defaultSchema ?? DEFAULT_SCHEMA,
    lock: options.onLease ? observed(base, options.onLease) : base,
    lockKey: lockKeyOf(config),
    ...(history ? { history } : {}),
    ...(options.holder ? { holder: options.holder } : {}),
    ...(config.transactionPerMigration ? { transactionPerMigration: true } : {}),
    ...(config.migrationTimeoutMs !== undefined ? { migrationTimeoutMs: config.migrationTimeoutMs } : {}),
    ...(config.lockTimeoutMs !== undefined ? { lockTimeoutMs: config.lockTimeoutMs } : {}),
  };
  return { source: options.source, database };
}

/** The lock, reporting each lease it hands out. */
function observed(lock: Lock, onLease: (info: LockInfo) => void): Lock {
  return {
    description: lock.description,
    current: (key) => lock.current(key),
    forceRelease: (key, options) => lock.forceRelease(key, options),
    async acquire(key: string, holder: LockHolder, options?: AcquireOptions): Promise<Lease> {
      const lease = await lock.acquire(key, holder, options);
      onLease(lease.info);
      return lease;
    },
  };
}
