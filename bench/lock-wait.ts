// Bounded lock waits, as the application sees them (issue #17): a session holds ACCESS SHARE on
// `accounts` (it read the table in a transaction it keeps open, a long report) for HOLD ms while an
// application reads one row every 20 ms on its own connection. 200 ms into the hold, retort's
// safe-upgrade adds a column to `accounts`. Without a lock_timeout (--lock-timeout 0, what a tool
// that sets none does), the ALTER TABLE queues behind the holder and every application query queues
// behind the ALTER until the hold ends. With retort's bounded waits (a 500 ms lock_timeout, rising
// on each try, lock-retry.ts), the ALTER gives up, the queries queued behind it go on, and the run
// tries again until the holder is gone. Measured on one embedded PostgreSQL server, with the
// migration sent straight to it (PgExecutor) and through the RDS Data API in front (the local
// endpoint, lib/local/data-api-endpoint.ts, driven by the real @aws-sdk/client-rds-data client);
// the holder and the application are plain pg sessions either way. A fresh database per case.
// BENCH_LOCK_HOLD_MS sets the hold (default 6000).
import { performance } from "node:perf_hooks";
import { RDSDataClient } from "@aws-sdk/client-rds-data";
import pg from "pg";
import { startDataApiEndpoint } from "../lib/local/data-api-endpoint.ts";
import { checksum, type MigrationSource } from "../lib/revision/loader.ts";
import type { Migration } from "../lib/revision/migration.ts";
import { databaseContext } from "../lib/runner/database.ts";
import { attemptLockTimeout } from "../lib/runner/lock-retry.ts";
import type { MigrateResult } from "../lib/runner/migrate.ts";
import { safeUpgrade } from "../lib/runner/upgrade.ts";
import { DataApiExecutor } from "../lib/sql/data-api-executor.ts";
import type { SqlExecutor } from "../lib/sql/executor.ts";
import { PgExecutor } from "../lib/sql/pg-executor.ts";
import { type BenchServer, startBenchServer } from "./postgres-server.ts";
import { percentile, printTable } from "./report.ts";

const ARNS = {
  resourceArn: "arn:aws:rds:us-east-1:000000000000:cluster:bench",
  secretArn: "arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-AbCdEf",
};
/** How long after the hold begins the migration starts. */
const MIGRATION_DELAY_MS = 200;
/** The application's pause between two queries. */
const APP_INTERVAL_MS = 20;
/** The bounded case's first lock_timeout. */
const BOUNDED_MS = 500;
const ROWS = 1_000;

type Path = "direct" | "Data API";

interface Case {
  path: Path;
  /** The run's lockTimeoutMs: 0 for no limit. */
  lockTimeoutMs: number;
}

interface Outcome extends Case {
  holdMs: number;
  worstMs: number;
  p99Ms: number;
  queries: number;
  migrationMs: number;
  /** Each failed try's lock_timeout, in order. */
  retries: number[];
  outcome: string;
}

export interface LockWaitBenchOptions {
  /** How long the holder keeps its lock. @default BENCH_LOCK_HOLD_MS, else 6000 */
  holdMs?: number;
}

export async function benchLockWait({ holdMs = holdFromEnv() }: LockWaitBenchOptions = {}): Promise<void> {
  const cases: Case[] = [
    { path: "direct", lockTimeoutMs: 0 },
    { path: "direct", lockTimeoutMs: BOUNDED_MS },
    { path: "Data API", lockTimeoutMs: 0 },
    { path: "Data API", lockTimeoutMs: BOUNDED_MS },
  ];
  const server = await startBenchServer();
  const outcomes: Outcome[] = [];
  try {
    for (const c of cases) outcomes.push(await runCase(server, c, holdMs));
  } finally {
    await server.stop();
  }

  const label = (ms: number) => (ms === 0 ? "none (0)" : `${ms} ms, rising`);
  printTable(
    `Lock waits: worst application query while safe-upgrade adds a column to a table another session holds ` +
      `(ACCESS SHARE, ${holdMs} ms; migration starts ${MIGRATION_DELAY_MS} ms in; app reads a row every ${APP_INTERVAL_MS} ms), ` +
      `embedded PostgreSQL ${server.version}, direct and through the Data API (local endpoint, real AWS SDK)`,
    ["path", "lock_timeout", "hold", "app worst query", "app p99", "app queries", "migration time", "lock retries", "outcome"],
    outcomes.map((o) => [
      `${o.path}, ${o.lockTimeoutMs === 0 ? "unbounded" : `bounded ${o.lockTimeoutMs} ms`}`,
      label(o.lockTimeoutMs),
      `${o.holdMs} ms`,
      `${o.worstMs.toFixed(0)} ms`,
      `${o.p99Ms.toFixed(0)} ms`,
      String(o.queries),
      `${o.migrationMs.toFixed(0)} ms`,
      o.retries.length === 0 ? "0" : `${o.retries.length} (${o.retries.join(", ")} ms)`,
      o.outcome,
    ]),
  );
  const ratios = (["direct", "Data API"] as const).map((path) => {
    const unbounded = outcomes.find((o) => o.path === path && o.lockTimeoutMs === 0)!;
    const bounded = outcomes.find((o) => o.path === path && o.lockTimeoutMs !== 0)!;
    return `${path} ${(bounded.worstMs / unbounded.worstMs).toFixed(2)}x (${bounded.worstMs.toFixed(0)} / ${unbounded.worstMs.toFixed(0)} ms)`;
  });
  console.log(`worst query, bounded / unbounded: ${ratios.join("; ")}`);
  console.log(
    `app queries: those running at any time during the migration; lock retries: the tries whose lock_timeout ran out, ` +
      `each with its lock_timeout (${BOUNDED_MS} ms rising: ${Array.from({ length: 8 }, (_, i) => attemptLockTimeout(BOUNDED_MS, i)).join(", ")} ms), ` +
      `so the bounded worst is about the longest try that ran out, never the hold`,
  );
}

function holdFromEnv(): number {
  const raw = process.env.BENCH_LOCK_HOLD_MS;
  if (raw === undefined || raw === "") return 6_000;
  const ms = Number(raw);
  // The Data API answers a call after 45 s at most; the unbounded ALTER waits the hold in one call.
  if (!Number.isInteger(ms) || ms <= MIGRATION_DELAY_MS || ms >= 40_000) {
    throw new Error(`BENCH_LOCK_HOLD_MS must be a whole number of ms above ${MIGRATION_DELAY_MS} and below 40000, not ${raw}`);
  }
  return ms;
}

/** A fresh database with `accounts`, a holder, the application, and one safe-upgrade run. */
async function runCase(server: BenchServer, c: Case, holdMs: number): Promise<Outcome> {
  const database = await server.createDatabase();
  const cleanups: Array<() => Promise<void>> = [database.drop];
  let finished = false;
  try {
    const setup = await connect(database.url, "bench setup");
    try {
      await setup.query("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)");
      await setup.query(`INSERT INTO accounts SELECT g, 100 FROM generate_series(1, ${ROWS}) AS g`);
    } finally {
      await setup.end();
    }

    const executor = await migrationExecutor(database.url, c.path, cleanups);
    const app = new Application(await connect(database.url, "app"));
    cleanups.push(() => app.close());
    const holder = await connect(database.url, "long report");
    let released: Promise<void> | undefined;
    cleanups.push(async () => {
      // Released on schedule, or here when the case failed before that.
      await (released ?? holder.end());
    });

    app.start();
    await sleep(200); // the application at its pace before anything happens
    await holder.query("BEGIN");
    await holder.query("SELECT * FROM accounts");
    const held = performance.now();
    released = (async () => {
      await sleep(holdMs - (performance.now() - held));
      await holder.query("COMMIT");
      await holder.end();
    })();
    await sleep(MIGRATION_DELAY_MS);

    const ctx = {
      source: memorySource([addNote()]),
      database: databaseContext(executor, { lockKey: `${database.url} ${c.path} ${c.lockTimeoutMs}` }),
    };
    const from = performance.now();
    let result: MigrateResult | undefined;
    let failure: unknown;
    try {
      result = await safeUpgrade(ctx, { lockTimeoutMs: c.lockTimeoutMs });
    } catch (error) {
      failure = error;
    }
    const to = performance.now();
    await released;
    await sleep(200); // the application after, to see it back at its pace
    await app.stop();

    finished = true;
    const during = app.during(from, to);
    const retries = (result?.results ?? []).flatMap((r) => r.lockRetries ?? []).map((r) => r.lockTimeoutMs);
    const outcome =
      failure !== undefined
        ? `threw: ${failure instanceof Error ? failure.message : String(failure)}`.slice(0, 80)
        : result!.error
          ? `failed: ${result!.error.code}`
          : `${result!.applied === 1 ? "applied" : `${result!.applied} applied`}`;
    return {
      ...c,
      holdMs,
      worstMs: Math.max(0, ...during),
      p99Ms: percentile(during, 0.99),
      queries: during.length,
      migrationMs: to - from,
      retries,
      outcome,
    };
  } finally {
    // Last opened, first closed; every one tried even when one fails. A failure of the case itself
    // is the one reported.
    const errors: unknown[] = [];
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => errors.push(error));
    if (finished && errors.length > 0) throw errors[0];
  }
}

/**
 * The executor retort migrates with: a PgExecutor on the database, or the Data API adapter with the
 * real SDK client, through a local endpoint in front of such a PgExecutor. Its closing goes to `cleanups`.
 */
async function migrationExecutor(url: string, path: Path, cleanups: Array<() => Promise<void>>): Promise<SqlExecutor> {
  const backend = await PgExecutor.open(url);
  cleanups.push(() => backend.close());
  if (path === "direct") return backend;
  const endpoint = await startDataApiEndpoint({ backend, ...ARNS });
  cleanups.push(() => endpoint.close());
  const client = new RDSDataClient({
    endpoint: endpoint.url,
    region: "us-east-1",
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
    maxAttempts: 1,
    // Above the service's 45 s answer limit, which the endpoint keeps: the endpoint answers first.
    requestHandler: { requestTimeout: 50_000, throwOnRequestTimeout: true },
  });
  cleanups.push(async () => client.destroy());
  const executor = new DataApiExecutor({ ...ARNS, database: new URL(url).pathname.slice(1), client });
  cleanups.push(() => executor.close());
  return executor;
}

async function connect(url: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  // An error on an idle connection (the server stopping) would otherwise end the process.
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** An application reading one row every 20 ms on its own connection, recording each query's latency. */
class Application {
  private readonly latencies: Array<{ start: number; end: number }> = [];
  private running = false;
  private loop: Promise<void> | undefined;
  constructor(private readonly client: pg.Client) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      for (let i = 0; this.running; i += 1) {
        const start = performance.now();
        await this.client.query("SELECT id, balance FROM accounts WHERE id = $1", [(i % ROWS) + 1]);
        this.latencies.push({ start, end: performance.now() });
        await sleep(APP_INTERVAL_MS);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** The latencies (ms) of the queries running at any time between `from` and `to`. */
  during(from: number, to: number): number[] {
    return this.latencies.filter((l) => l.end >= from && l.start <= to).map((l) => l.end - l.start);
  }

  async close(): Promise<void> {
    await this.stop().catch(() => {});
    await this.client.end();
  }
}

/** The migration: `ALTER TABLE accounts ADD COLUMN note text`, through the ops API. */
function addNote(): Migration {
  const upgrade: Migration["upgrade"] = async (op) => {
    await op.addColumn("accounts", { name: "note", type: "text" });
  };
  const downgrade: Migration["downgrade"] = async (op) => {
    await op.dropColumn("accounts", "note");
  };
  return {
    revision: "b10c00000001",
    revises: [],
    dependsOn: [],
    branchLabels: [],
    message: "add note to accounts",
    createdAt: undefined,
    transactional: true,
    irreversible: false,
    file: "migrations/20260101_b10c00000001.ts",
    checksum: checksum(`${upgrade.toString()}\n${downgrade.toString()}`),
    upgrade,
    downgrade,
  };
}

/** Migrations without files, as the runner loads them. */
function memorySource(migrations: Migration[]): MigrationSource {
  return { location: "inline", load: async () => ({ migrations, problems: [] }) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

if (import.meta.url === `file://${process.argv[1]}`) await benchLockWait();
