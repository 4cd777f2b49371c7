// Fleet benchmark (issue #18): 100 tenant schemas x 20 migrations, brought up to date by
// `fleetUpgrade` through the RDS Data API with concurrency 1, 4 and 16, then the same fleet again
// once it is up to date. The Data API is the local endpoint (lib/local/data-api-endpoint.ts) in
// front of an embedded PostgreSQL server, reached with the real AWS SDK (AWS_ENDPOINT_URL_RDS_DATA);
// its backend is a node-postgres pool big enough that every concurrent Data API transaction has its
// own server session, so the concurrency is real. Each concurrency gets a fresh database with the
// tenant schemas created beforehand (outside the Data API, not counted). The migrations are the
// generated set (generate.ts), unqualified names, so they land in each tenant's schema. Calls are
// counted at the endpoint; every call is an HTTPS request to the service, so calls x latency /
// concurrency is what a real fleet run waits on: shown at 20 ms and 50 ms per call. Without a lock
// table (the CLI's default) each target records its run in its own history table, which costs
// Data API calls on the re-run too; so the last fleet is re-run once more with --lock-table
// (dynalite), locks and history in DynamoDB, as the Lambda runs it.
// BENCH_FLEET_TENANTS and BENCH_FLEET_MIGRATIONS override the 100 and 20.
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { fleetUpgrade } from "../lib/fleet/fleet.ts";
import type { FleetSummary } from "../lib/fleet/summary.ts";
import type { FleetTarget } from "../lib/fleet/targets.ts";
import { type DataApiCall, startDataApiEndpoint } from "../lib/local/data-api-endpoint.ts";
import { type LocalLockTable, startLocalLockTable } from "../lib/local/dynamodb-table.ts";
import type { MigrationSource } from "../lib/revision/loader.ts";
import { openExecutor } from "../lib/sql/connect.ts";
import { generateMigrations, migrationSpecs } from "./generate.ts";
import { startBenchServer } from "./postgres-server.ts";
import { printTable } from "./report.ts";

const ARNS = {
  resourceArn: "arn:aws:rds:us-east-1:000000000000:cluster:bench",
  secretArn: "arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-AbCdEf",
};
const SDK_ENV = ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_RDS_DATA", "AWS_ENDPOINT_URL_DYNAMODB"] as const;
/** Per-call latencies the estimate assumes: a Lambda in the cluster's region, and a slower day. */
const LATENCIES_MS = [20, 50] as const;

export interface FleetBenchOptions {
  /** @default BENCH_FLEET_TENANTS or 100 */
  tenants?: number;
  /** @default BENCH_FLEET_MIGRATIONS or 20 */
  migrations?: number;
  /** @default [1, 4, 16] */
  concurrencies?: number[];
}

interface Phase {
  ms: number;
  /** CPU time of this process (the SDK, the endpoint and the pg driver share its event loop), ms. */
  nodeCpuMs: number;
  /** CPU time of the PostgreSQL server (postmaster and backends), ms; undefined off Linux. */
  postgresCpuMs: number | undefined;
  /** CPU time of the whole machine (this process, PostgreSQL, anything else running), ms; undefined off Linux. */
  machineCpuMs: number | undefined;
  calls: number;
  /** Calls answered with an error (each costs a round trip too); 0 expected. */
  errors: number;
  byOperation: Map<string, number>;
}

interface Row {
  concurrency: number;
  first: Phase;
  rerun: Phase;
  /** One more re-run with a lock table (the Lambda's setting): locks and history in DynamoDB. */
  rerunLockTable?: Phase & { dynamoCalls: number };
}

function envCount(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, not ${JSON.stringify(raw)}`);
  return n;
}

export async function benchFleet(options: FleetBenchOptions = {}): Promise<void> {
  const tenants = options.tenants ?? envCount("BENCH_FLEET_TENANTS", 100);
  const count = options.migrations ?? envCount("BENCH_FLEET_MIGRATIONS", 20);
  const concurrencies = options.concurrencies ?? [1, 4, 16];
  const operations = migrationSpecs(count).reduce((n, s) => n + s.upgrade.length, 0);
  // The generated set in memory: fleetUpgrade loads it once for every target.
  const source: MigrationSource = {
    location: `generated (${count} migrations)`,
    load: async () => ({ migrations: generateMigrations(count), problems: [] }),
  };
  const schemas = Array.from({ length: tenants }, (_, i) => `tenant_${String(i + 1).padStart(3, "0")}`);

  // The SDK's own configuration, as in a Lambda; restored when done.
  const saved = Object.fromEntries(SDK_ENV.map((key) => [key, process.env[key]]));
  process.env.AWS_REGION ??= "us-east-1";
  process.env.AWS_ACCESS_KEY_ID ??= "bench";
  process.env.AWS_SECRET_ACCESS_KEY ??= "bench";

  const server = await startBenchServer();
  const rows: Row[] = [];
  let dynamo: LocalLockTable | undefined;
  try {
    /** A fresh database with the tenants' schemas, the endpoint in front of it, and one fleet run and re-run. */
    const fleetRun = async (concurrency: number, names: readonly string[], dynamoTable?: LocalLockTable): Promise<Row> => {
      const database = await server.createDatabase();
      // A Data API transaction holds a backend session for its life, and a run may hold one while
      // it reads on another: room for two per target running, and a few spare.
      const backend = await openExecutor(database.url, { maxConnections: 2 * concurrency + 4 });
      let endpoint: Awaited<ReturnType<typeof startDataApiEndpoint>> | undefined;
      try {
        const name = new URL(database.url).pathname.slice(1);
        const admin = new pg.Client({ connectionString: database.url });
        await admin.connect();
        let postmaster: number | undefined;
        try {
          await admin.query(names.map((s) => `CREATE SCHEMA "${s}";`).join("\n"));
          const { rows } = await admin.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
          postmaster = procStat(rows[0]!.pid)?.ppid;
        } finally {
          await admin.end();
        }
        endpoint = await startDataApiEndpoint({ backend, ...ARNS, database: name });
        process.env.AWS_ENDPOINT_URL_RDS_DATA = endpoint.url;
        const db = `data-api://${ARNS.resourceArn}?secret=${ARNS.secretArn}&database=${name}`;
        const targets: FleetTarget[] = names.map((schema) => ({ name: schema, db, schema }));
        const run = async (expect: "upgraded" | "up-to-date", lockTable?: string): Promise<Phase> => {
          const calls = endpoint!.calls;
          const before = calls.length;
          const cpu = process.cpuUsage();
          const machineCpu = machineCpuMs();
          const postgresCpu = postgresCpuMs(postmaster);
          const started = performance.now();
          const summary = await fleetUpgrade({ source }, targets, { concurrency, ...(lockTable ? { lockTable } : {}) });
          const ms = performance.now() - started;
          const used = process.cpuUsage(cpu);
          const machineAfter = machineCpuMs();
          const postgresAfter = postgresCpuMs(postmaster);
          const usage = {
            nodeCpuMs: (used.user + used.system) / 1000,
            postgresCpuMs: postgresCpu === undefined || postgresAfter === undefined ? undefined : postgresAfter - postgresCpu,
            machineCpuMs: machineCpu === undefined || machineAfter === undefined ? undefined : machineAfter - machineCpu,
          };
          check(summary, expect, names.length, count, concurrency);
          return { ...phase(ms, calls.slice(before)), ...usage };
        };
        const first = await run("upgraded");
        const rerun = await run("up-to-date");
        let rerunLockTable: Row["rerunLockTable"];
        if (dynamoTable) {
          const before = dynamoTable.local.calls.length;
          rerunLockTable = { ...(await run("up-to-date", dynamoTable.table)), dynamoCalls: dynamoTable.local.calls.length - before };
        }
        if (endpoint.openTransactionCount() !== 0) {
          throw new Error(`fleet: ${endpoint.openTransactionCount()} Data API transactions left open at concurrency ${concurrency}`);
        }
        return { concurrency, first, rerun, ...(rerunLockTable ? { rerunLockTable } : {}) };
      } finally {
        await endpoint?.close();
        await backend.close();
        await database.drop();
      }
    };

    // Warm-up (not counted): module loading, the SDK, the endpoint and JIT, on a handful of tenants.
    await fleetRun(Math.max(...concurrencies), schemas.slice(0, Math.min(tenants, 8)));
    dynamo = await startLocalLockTable("retort-bench-fleet");
    process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.local.url;
    for (const [i, concurrency] of concurrencies.entries()) {
      rows.push(await fleetRun(concurrency, schemas, i === concurrencies.length - 1 ? dynamo : undefined));
    }
  } finally {
    await dynamo?.close();
    await server.stop();
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }

  const base = rows.find((r) => r.concurrency === 1) ?? rows[0]!;
  const perTenant = (n: number) => (n / tenants).toFixed(2);
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const cores = (cpuMs: number, wallMs: number) => `${(cpuMs / wallMs).toFixed(2)} cores`;
  printTable(
    `Fleet upgrade (issue #18): ${tenants} tenant schemas x ${count} migrations (${operations} operations), ` +
      `fleetUpgrade -> real AWS SDK -> local Data API endpoint -> embedded PostgreSQL ${server.version} ` +
      `(one database, a schema per tenant); calls counted at the endpoint, one run each after a warm-up`,
    ["concurrency", "wall time", "per tenant", "Data API calls/tenant", "speed-up vs 1", "re-run wall", "re-run calls/tenant"],
    rows.map((r) => [
      String(r.concurrency),
      seconds(r.first.ms),
      `${(r.first.ms / tenants).toFixed(1)} ms`,
      perTenant(r.first.calls),
      `${(base.first.ms / r.first.ms).toFixed(2)}x`,
      seconds(r.rerun.ms),
      perTenant(r.rerun.calls),
    ]),
  );
  const optional = (cpuMs: number | undefined, wallMs: number) => (cpuMs === undefined ? "n/a" : cores(cpuMs, wallMs));
  printTable(
    `Where the upgrade's time goes: CPU used during it, in cores (CPU time / wall time), on ${os.cpus().length} cores`,
    ["concurrency", "wall time", "this process", "PostgreSQL", "other processes", "machine idle"],
    rows.map((r) => {
      const { ms, nodeCpuMs, postgresCpuMs, machineCpuMs } = r.first;
      const other = machineCpuMs === undefined || postgresCpuMs === undefined ? undefined : Math.max(0, machineCpuMs - nodeCpuMs - postgresCpuMs);
      const idle = machineCpuMs === undefined ? undefined : Math.max(0, os.cpus().length * ms - machineCpuMs);
      return [String(r.concurrency), seconds(ms), cores(nodeCpuMs, ms), optional(postgresCpuMs, ms), optional(other, ms), optional(idle, ms)];
    }),
  );
  printTable(
    `Fleet upgrade over the real service, estimated: the calls' latency alone, ${tenants} tenants, divided by the concurrency`,
    ["concurrency", "calls", ...LATENCIES_MS.map((ms) => `upgrade at ${ms} ms/call`), ...LATENCIES_MS.map((ms) => `re-run at ${ms} ms/call`)],
    rows.map((r) => [
      String(r.concurrency),
      `${r.first.calls} + ${r.rerun.calls}`,
      ...LATENCIES_MS.map((ms) => seconds((r.first.calls * ms) / r.concurrency)),
      ...LATENCIES_MS.map((ms) => seconds((r.rerun.calls * ms) / r.concurrency)),
    ]),
  );
  const describe = (p: Phase) => [...p.byOperation].map(([op, n]) => `${op} ${perTenant(n)}`).join(", ");
  console.log(`calls per tenant, upgrade: ${describe(base.first)}; re-run: ${describe(base.rerun)}`);
  const locked = rows.find((r) => r.rerunLockTable);
  if (locked?.rerunLockTable) {
    const r = locked.rerunLockTable;
    console.log(
      `re-run with --lock-table (locks and history in DynamoDB on dynalite), concurrency ${locked.concurrency}: ` +
        `${seconds(r.ms)}, ${perTenant(r.calls)} Data API calls per tenant (${describe(r)}), ${perTenant(r.dynamoCalls)} DynamoDB calls per tenant`,
    );
  }
  const same = rows.every((r) => r.first.calls === base.first.calls && r.rerun.calls === base.rerun.calls);
  const errors = rows.reduce((n, r) => n + r.first.errors + r.rerun.errors, 0);
  console.log(
    `every run: ${tenants} upgraded, then ${tenants} up to date, none failed; ` +
      (same ? "the same calls at every concurrency" : `calls differ by concurrency (${rows.map((r) => `${r.concurrency}: ${r.first.calls} + ${r.rerun.calls}`).join(", ")})`) +
      (errors
        ? `; ${errors} calls answered with an error (${rows.reduce((n, r) => n + r.first.errors, 0)} of them in the upgrades: ` +
          "on a fresh schema the first reads of the version and history tables fail until they are created)"
        : ", none answered with an error"),
  );
  console.log(
    "this process: fleetUpgrade, the AWS SDK, the local endpoint and its pg pool, on one event loop; PostgreSQL: its " +
      "postmaster and backends; other processes: the rest of the machine's busy time (/proc/stat), whatever else runs there",
  );
  console.log(
    "calls x N ms / concurrency: the time a fleet run waits on the Data API at N ms per call, targets " +
      "overlapping perfectly, before any work of the database's own",
  );
}

/** Throws unless every target ended as expected, at the head of the generated set. */
function check(summary: FleetSummary, expect: "upgraded" | "up-to-date", tenants: number, count: number, concurrency: number): void {
  const failed = summary.results.filter((r) => r.status === "failed");
  if (summary.failed !== 0 || failed.length !== 0) {
    const first = failed[0];
    throw new Error(
      `fleet at concurrency ${concurrency}: ${summary.failed} of ${summary.targets} targets failed` +
        (first ? `; first ${first.name}: ${first.error?.code}: ${first.error?.message}` : ""),
    );
  }
  const done = expect === "upgraded" ? summary.upgraded : summary.upToDate;
  if (summary.targets !== tenants || done !== tenants) {
    throw new Error(`fleet at concurrency ${concurrency}: expected ${tenants} ${expect}, got ${JSON.stringify({ ...summary, results: undefined })}`);
  }
  const head = migrationSpecs(count).at(-1)!.revision;
  const applied = expect === "upgraded" ? count : 0;
  const wrong = summary.results.find((r) => r.applied !== applied || r.toHeads.join() !== head);
  if (wrong) throw new Error(`fleet at concurrency ${concurrency}: ${wrong.name} applied ${wrong.applied} and ended at ${wrong.toHeads.join()}`);
}

/** Busy CPU time of the whole machine since boot (all cores), from /proc/stat; undefined where there is none. */
function machineCpuMs(): number | undefined {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    const busy = fields.slice(0, 8).reduce((n, v, i) => (i === 3 || i === 4 ? n : n + v), 0);
    return (busy * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** A process's parent and CPU time, its reaped children's included (/proc/<pid>/stat), ms. */
function procStat(pid: number): { ppid: number; cpuMs: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After "pid (comm) ": state ppid ... utime(14) stime(15) cutime(16) cstime(17), counted from 1.
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    return { ppid: Number(f[1]), cpuMs: (ticks * 1000) / 100 };
  } catch {
    return undefined;
  }
}

/** CPU time of a PostgreSQL server: the postmaster (with the backends it has reaped) and its live children. */
function postgresCpuMs(postmaster: number | undefined): number | undefined {
  if (postmaster === undefined) return undefined;
  const own = procStat(postmaster);
  if (!own) return undefined;
  let total = own.cpuMs;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const child = procStat(Number(entry));
    if (child?.ppid === postmaster) total += child.cpuMs;
  }
  return total;
}

function phase(ms: number, calls: readonly DataApiCall[]): Omit<Phase, "nodeCpuMs" | "postgresCpuMs" | "machineCpuMs"> {
  const byOperation = new Map<string, number>();
  let errors = 0;
  for (const c of calls) {
    const key = c.status === 200 ? c.operation : `${c.operation} answered ${c.errorType ?? c.status}`;
    if (c.status !== 200) errors += 1;
    byOperation.set(key, (byOperation.get(key) ?? 0) + 1);
  }
  return { ms, calls: calls.length, errors, byOperation };
}

if (import.meta.url === `file://${process.argv[1]}`) await benchFleet();
