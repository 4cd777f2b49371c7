// Data API peers: the migrators that reach Aurora over the RDS Data API today, as they would from a
// Lambda: Kysely's Migrator with kysely-data-api (what SST uses) and drizzle-orm's aws-data-api
// driver with its migrator, against retort's own Data API adapter (a data-api:// URL). The same
// generated migrations (generate.ts, written per tool by migration-files.ts) go to a fresh
// database on one embedded PostgreSQL server, each through its own `retort local` stack (the
// local Data API endpoint in front of that database) with the real AWS SDK; the endpoint's call
// log counts the calls. Then the same migrator again on the up-to-date database. Every call is an
// HTTPS request to the service, so calls x latency is what a run costs in time: shown at 20 ms
// and 50 ms per call. Wall times are in one process, after a warm-up run of every tool. The
// benchmark fails unless every tool leaves the same columns, indexes and constraints.
import fs from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { RDSData, RDSDataClient } from "@aws-sdk/client-rds-data";
import { drizzle } from "drizzle-orm/aws-data-api/pg";
import { migrate } from "drizzle-orm/aws-data-api/pg/migrator";
import { FileMigrationProvider, Kysely, Migrator } from "kysely";
import { DataApiDialect } from "kysely-data-api";
import pg from "pg";
import { safeUpgrade } from "../lib/api.ts";
import type { DataApiCall } from "../lib/local/data-api-endpoint.ts";
import { startLocalStack } from "../lib/local/local-stack.ts";
import { migrationSpecs } from "./generate.ts";
import { writeDrizzleFiles, writeKyselyFiles, writeRetortFiles } from "./migration-files.ts";
import { startBenchServer } from "./postgres-server.ts";
import { median, printTable } from "./report.ts";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Inside the repository (git-ignored), so the files resolve "retort-migrate" and "kysely" as users' do. */
const WORK_DIR = path.join(REPO, ".retort", "bench", "data-api-peers");
const ARNS = {
  resourceArn: "arn:aws:rds:us-east-1:000000000000:cluster:bench",
  secretArn: "arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-AbCdEf",
};
const SDK_ENV = ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_RDS_DATA"] as const;
/** Per-call latencies the cost columns assume: a Lambda in the cluster's region, and a slower day. */
const LATENCIES_MS = [20, 50] as const;

export interface DataApiPeersBenchOptions {
  /** @default 200 */
  migrations?: number;
  /** Measured runs per tool, after one warm-up run. @default 3 */
  runs?: number;
}

interface Tool {
  name: string;
  version: string;
  /** Brings the database `database` up to date through the Data API the SDK's environment names. */
  migrate(database: string): Promise<void>;
}

interface Run {
  ms: number;
  calls: number;
  /** Calls per Data API operation, e.g. "Execute 600, BeginTransaction 1". */
  operations: string;
}

export async function benchDataApiPeers({ migrations: count = 200, runs = 3 }: DataApiPeersBenchOptions = {}): Promise<void> {
  const specs = migrationSpecs(count);
  const operations = specs.reduce((n, s) => n + s.upgrade.length, 0);
  const dirs = { retort: path.join(WORK_DIR, "retort"), kysely: path.join(WORK_DIR, "kysely"), drizzle: path.join(WORK_DIR, "drizzle") };
  await writeRetortFiles(dirs.retort, specs);
  await writeKyselyFiles(dirs.kysely, specs);
  await writeDrizzleFiles(dirs.drizzle, specs);

  // The SDK's own configuration, as in a Lambda: region and credentials from the environment, the
  // endpoint from AWS_ENDPOINT_URL_RDS_DATA (set per stack below). Restored when done.
  const saved = Object.fromEntries(SDK_ENV.map((key) => [key, process.env[key]]));
  process.env.AWS_REGION ??= "us-east-1";
  process.env.AWS_ACCESS_KEY_ID ??= "bench";
  process.env.AWS_SECRET_ACCESS_KEY ??= "bench";
  const tools: Tool[] = [
    {
      name: "retort safe-upgrade",
      version: await packageVersion(),
      async migrate(database) {
        const url = `data-api://${ARNS.resourceArn}?secret=${ARNS.secretArn}&database=${database}`;
        const result = await safeUpgrade({ dir: dirs.retort, db: url });
        if (result.error) throw new Error(`retort: ${result.error.message}`);
      },
    },
    {
      name: "Kysely Migrator + kysely-data-api",
      version: `${await packageVersion("kysely")} + ${await packageVersion("kysely-data-api")}`,
      async migrate(database) {
        // kysely-data-api calls the aggregated client's methods (executeStatement, ...).
        const client = new RDSData({});
        const db = new Kysely<unknown>({ dialect: new DataApiDialect({ mode: "postgres", driver: { client, database, ...ARNS } }) });
        try {
          const provider = new FileMigrationProvider({ fs, path, migrationFolder: dirs.kysely });
          const { error } = await new Migrator({ db, provider }).migrateToLatest();
          if (error) throw error;
        } finally {
          await db.destroy();
          client.destroy();
        }
      },
    },
    {
      name: "drizzle-orm aws-data-api migrate",
      version: await packageVersion("drizzle-orm"),
      async migrate(database) {
        const client = new RDSDataClient({});
        try {
          await migrate(drizzle(client, { database, ...ARNS }), { migrationsFolder: dirs.drizzle });
        } finally {
          client.destroy();
        }
      },
    },
  ];

  const server = await startBenchServer();
  const samples = new Map<Tool, Array<{ first: Run; rerun: Run }>>(tools.map((t) => [t, []]));
  const schemas = new Map<Tool, string[]>();
  try {
    for (let run = 0; run <= runs; run += 1) {
      // Run 0 warms module and compilation caches and is not counted; tools take turns going first.
      for (let k = 0; k < tools.length; k += 1) {
        const tool = tools[(run + k) % tools.length]!;
        const database = await server.createDatabase();
        const stack = await startLocalStack({ db: database.url });
        process.env.AWS_ENDPOINT_URL_RDS_DATA = stack.url;
        try {
          const name = new URL(database.url).pathname.slice(1);
          const first = await measure(tool, name, stack.endpoint.calls);
          const rerun = await measure(tool, name, stack.endpoint.calls);
          schemas.set(tool, await schemaDump(database.url));
          if (run > 0) samples.get(tool)!.push({ first, rerun });
        } finally {
          await stack.close();
          await database.drop();
        }
      }
      assertSameSchema(tools, schemas);
    }
  } finally {
    await server.stop();
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }

  const rows = tools.map((tool) => {
    const s = samples.get(tool)!;
    const last = s[s.length - 1]!;
    // A migrator sends the same calls every run; a difference would be a fault worth seeing.
    for (const { first, rerun } of s) {
      if (first.calls !== last.first.calls || rerun.calls !== last.rerun.calls) {
        throw new Error(`${tool.name} made a different number of calls from run to run`);
      }
    }
    return { tool, first: last.first, rerun: last.rerun, firstMs: median(s.map((x) => x.first.ms)), rerunMs: median(s.map((x) => x.rerun.ms)) };
  });
  const ours = rows[0]!;
  const title = (what: string) =>
    `Data API peers, ${what}: ${count} migrations (${operations} operations), real AWS SDK -> retort local ` +
    `(local Data API endpoint) -> embedded PostgreSQL ${server.version}; calls counted at the endpoint, ` +
    `ms in one process (median of ${runs} after a warm-up run)`;
  const header = ["tool", "version", "calls", "calls/migration", "x retort", ...LATENCIES_MS.map((ms) => `calls x ${ms} ms`), "ms"];
  const table = (phase: "first" | "rerun") =>
    rows.map((r) => [
      r.tool.name,
      r.tool.version,
      String(r[phase].calls),
      (r[phase].calls / count).toFixed(2),
      `${(r[phase].calls / ours[phase].calls).toFixed(2)}x`,
      ...LATENCIES_MS.map((ms) => `${((r[phase].calls * ms) / 1000).toFixed(2)} s`),
      (phase === "first" ? r.firstMs : r.rerunMs).toFixed(0),
    ]);
  printTable(title("upgrade on a fresh database"), header, table("first"));
  printTable(title("re-run on the up-to-date database"), header, table("rerun"));
  for (const r of rows) console.log(`${r.tool.name} calls: ${r.first.operations}; re-run: ${r.rerun.operations}`);
  console.log(
    "x retort: the tool's calls over retort's; calls x N ms: the time a run waits on the Data API at N ms per call " +
      "(a Lambda in the cluster's region, and a slower day), before any work of the database's own",
  );
  const lines = schemas.get(ours.tool)!;
  const kinds = [["column", "columns"], ["index", "indexes"], ["constraint", "constraints"]].map(
    ([kind, plural]) => `${lines.filter((l) => l.startsWith(`${kind} `)).length} ${plural}`,
  );
  console.log(`schema after each tool: ${kinds.join(", ")} on the generated tables, identical (pg_catalog, line by line)`);
}

/** The repository's version (no name), or an installed package's (read from its folder: not all export package.json). */
async function packageVersion(name?: string): Promise<string> {
  const file = name === undefined ? path.join(REPO, "package.json") : path.join(REPO, "node_modules", name, "package.json");
  return (JSON.parse(await fs.readFile(file, "utf8")) as { version: string }).version;
}

/** One migrator run: wall time, and the calls it made (from the endpoint's call log), by operation. */
async function measure(tool: Tool, database: string, calls: readonly DataApiCall[]): Promise<Run> {
  const before = calls.length;
  const started = performance.now();
  await tool.migrate(database);
  const ms = performance.now() - started;
  const mine = calls.slice(before);
  const byOperation = new Map<string, number>();
  for (const c of mine) {
    // A call answered with an error (a probe for a table not created yet, say) costs a round trip too.
    const key = c.status === 200 ? c.operation : `${c.operation} answered ${c.errorType ?? c.status}`;
    byOperation.set(key, (byOperation.get(key) ?? 0) + 1);
  }
  return { ms, calls: mine.length, operations: [...byOperation].map(([op, n]) => `${op} ${n}`).join(", ") };
}

/**
 * The migrations' schema as pg_dump would tell it, one line per column, index and constraint of
 * the generated tables (t1, t2, ...), leaving out each tool's own bookkeeping tables.
 */
async function schemaDump(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ line: string }>(`
      SELECT format('column %s.%s %s%s%s%s', c.table_name, c.column_name, c.data_type,
          coalesce('(' || c.character_maximum_length || ')', ''),
          CASE WHEN c.is_nullable = 'NO' THEN ' not null' ELSE '' END,
          coalesce(' default ' || c.column_default, '') ||
          CASE WHEN c.is_identity = 'YES' THEN ' identity ' || c.identity_generation ELSE '' END) AS line
        FROM information_schema.columns c
        WHERE c.table_schema = 'public' AND c.table_name ~ '^t[0-9]+$'
      UNION ALL
      SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = 'public' AND tablename ~ '^t[0-9]+$'
      UNION ALL
      SELECT format('constraint %s.%s %s', r.relname, k.conname, pg_get_constraintdef(k.oid))
        FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = 'public' AND r.relname ~ '^t[0-9]+$'
      ORDER BY line`);
    return rows.map((r) => r.line);
  } finally {
    await client.end();
  }
}

/** The same work or no comparison: throws, showing the first differences, unless every schema is the first's. */
function assertSameSchema(tools: readonly Tool[], schemas: ReadonlyMap<Tool, string[]>): void {
  const expected = schemas.get(tools[0]!)!;
  if (expected.length === 0) throw new Error(`${tools[0]!.name} left no schema to compare`);
  for (const tool of tools.slice(1)) {
    const actual = schemas.get(tool)!;
    const missing = expected.filter((line) => !actual.includes(line));
    const extra = actual.filter((line) => !expected.includes(line));
    if (missing.length || extra.length) {
      throw new Error(
        `${tool.name} left a different schema than ${tools[0]!.name} (${missing.length} lines missing, ${extra.length} extra):\n` +
          [...missing.slice(0, 10).map((l) => `- ${l}`), ...extra.slice(0, 10).map((l) => `+ ${l}`)].join("\n"),
      );
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchDataApiPeers();
