// Real runner processes (`node bin/retort.js safe-upgrade ... --lock-table`) against one
// PostgreSQL database and dynalite: many at once, one killed in the middle of a migration, one
// frozen past its lease whose commit then arrives late. Each migration of the fixture logs the
// runner that applied it (the connection's application_name), so applications are counted in the
// database itself. Runs synchronise on observable events (a file the migration writes, a message
// held at a TCP gate, a backend leaving pg_stat_activity), never on sleeps.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MigrateResult } from "../../lib/runner/migrate.ts";
import { PgExecutor } from "../../lib/sql/pg-executor.ts";
import { DynamoHistory } from "../../lib/state/dynamo-history.ts";
import { VersionTable } from "../../lib/state/version-table.ts";
import { startLocalLockTable, type LocalLockTable } from "../../lib/local/dynamodb-table.ts";
import { createTestDatabase, lockKeyOf, type TestDatabase } from "../support/postgres.ts";
import { startTcpGate } from "../support/tcp-gate.ts";
import { postgres } from "../../lib/dialect/postgres/index.ts";

const root = path.resolve(fileURLToPath(import.meta.url), "../../..");
const bin = path.join(root, "bin/retort.js");
const fixtures = path.join(root, "test/fixtures/lock");
const REVISIONS = ["10c0000000a1", "10c0000000a2", "10c0000000a3"];

let dynamo: LocalLockTable;
let scratch: string;
const cleanups: (() => Promise<void>)[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  dynamo = await startLocalLockTable();
  scratch = await mkdtemp(path.join(os.tmpdir(), "retort-lock-"));
});
afterAll(async () => {
  // A failed test may leave a runner behind (stopped, or waiting for a file): end exactly those.
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    }
  }
  for (const cleanup of cleanups.reverse()) await cleanup();
  await dynamo.close();
  await rm(scratch, { recursive: true, force: true });
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function retort(args: string[], env: Record<string, string> = {}): { child: ChildProcess; exited: Promise<Exit> } {
  const { RETORT_LOCK_TABLE: _t, RETORT_DB: _d, ...inherited } = process.env;
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...inherited, ...dynamo.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<Exit>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, exited };
}

const safeUpgrade = (url: string, ...extra: string[]) => [
  "safe-upgrade",
  "--dir",
  fixtures,
  "--db",
  url,
  "--lock-table",
  dynamo.table,
  "--json",
  ...extra,
];

const resultOf = (exit: Exit): MigrateResult => {
  try {
    return JSON.parse(exit.stdout) as MigrateResult;
  } catch {
    throw new Error(`no JSON result (exit ${exit.code ?? exit.signal}):\n${exit.stdout}\n${exit.stderr}`);
  }
};

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Target {
  database: TestDatabase;
  sql: PgExecutor;
  /** The database's URL as a runner named `runner` uses it (optionally through another port). */
  url(runner: string, port?: number): string;
  lockKey: string;
  history: DynamoHistory;
  appliedLog(): Promise<{ revision: string; runner: string }[]>;
  heads(): Promise<string[]>;
}

async function target(): Promise<Target> {
  const database = await createTestDatabase();
  const sql = await PgExecutor.open(database.url);
  cleanups.push(async () => {
    await sql.close();
    await database.drop();
  });
  await sql.query("CREATE TABLE applied_log (revision text NOT NULL, runner text NOT NULL)");
  const url = (runner: string, port?: number) => {
    const u = new URL(database.url);
    if (port) u.port = String(port);
    u.searchParams.set("application_name", runner);
    return u.toString();
  };
  return {
    database,
    sql,
    url,
    lockKey: await lockKeyOf(url("x")),
    history: new DynamoHistory({ table: dynamo.table, client: dynamo.client }),
    appliedLog: async () =>
      (await sql.query<{ revision: string; runner: string }>("SELECT revision, runner FROM applied_log ORDER BY revision, runner")).rows,
    heads: async () => (await new VersionTable("public", postgres).read(sql)).heads,
  };
}

describe("runner processes sharing one database and one DynamoDB lock", () => {
  it("16 at once: every revision applied exactly once, every run succeeded or had nothing to do, the history agrees", { timeout: 180_000 }, async () => {
    const db = await target();
    const runners = Array.from({ length: 16 }, (_, i) => retort(safeUpgrade(db.url(`runner_${i}`), "--wait", "120s", "--lease", "30s")));
    const exits = await Promise.all(runners.map((r) => r.exited));
    for (const exit of exits) expect(exit.code, exit.stderr).toBe(0);
    const results = exits.map(resultOf);

    for (const result of results) expect(result.error).toBeUndefined();
    const winners = results.filter((r) => r.applied > 0);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.results.map((r) => [r.revision, r.status])).toEqual(REVISIONS.map((r) => [r, "applied"]));
    for (const idle of results.filter((r) => r.applied === 0)) {
      expect(idle).toMatchObject({ results: [], fromHeads: [REVISIONS[2]], toHeads: [REVISIONS[2]] });
    }

    const log = await db.appliedLog();
    expect(log.map((l) => l.revision)).toEqual(REVISIONS);
    expect(new Set(log.map((l) => l.runner)).size).toBe(1);
    expect(await db.heads()).toEqual([REVISIONS[2]]);

    const runs = await db.history.runs(db.lockKey, { limit: 100 });
    expect(runs).toHaveLength(16);
    expect(runs.map((r) => r.status)).toEqual(Array(16).fill("succeeded"));
    expect(runs.map((r) => r.token)).toEqual([...results.map((r) => r.run!.token)].sort((a, b) => b - a));
    expect(runs.reduce((n, r) => n + (r.applied ?? 0), 0)).toBe(3);
    const revisions = (await Promise.all(runs.map((r) => db.history.revisions(r)))).flat();
    expect(revisions.map((r) => [r.revision, r.status, r.runId])).toEqual(REVISIONS.map((r) => [r, "applied", winners[0]!.run!.id]));
  });

  // By default the fixture's migrations share one transaction, so the kill takes the first one
  // with it; with --transaction-per-migration the first one was committed before the second began.
  it.each([
    { mode: "one transaction for the group", flags: [], committed: [] },
    { mode: "--transaction-per-migration", flags: ["--transaction-per-migration"], committed: [REVISIONS[0]!] },
  ])("$mode: a runner killed -9 in the middle of a migration leaves no trace of it; the next one takes over, marks it abandoned and finishes", { timeout: 180_000 }, async ({ flags, committed }) => {
    const db = await target();
    const pause = path.join(scratch, `paused-in-second-${committed.length}`);
    const a = retort(safeUpgrade(db.url("runner_a"), "--lease", "3s", ...flags), { RETORT_TEST_PAUSE_FILE: pause });
    // The second migration has run statements inside its open transaction, then waits.
    await until(() => existsSync(pause), "the runner is inside the second migration");
    a.child.kill("SIGKILL");
    expect((await a.exited).signal).toBe("SIGKILL");
    await until(async () => {
      const r = await db.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'runner_a'");
      return r.rows[0]!.n === 0;
    }, "the killed runner's session has ended");

    // Of the second migration nothing; the first only if it had its own transaction.
    expect(await db.heads()).toEqual(committed);
    expect(await db.appliedLog()).toEqual(committed.map((revision) => ({ revision, runner: "runner_a" })));
    expect((await db.sql.query("SELECT to_regclass('public.lock_second') AS t")).rows).toEqual([{ t: null }]);
    const [dead] = await db.history.runs(db.lockKey);
    expect(dead).toMatchObject({ status: "started", command: "safe-upgrade" });

    const c = await retort(safeUpgrade(db.url("runner_c"), "--wait", "60s", "--lease", "30s")).exited;
    expect(c.code, c.stderr).toBe(0);
    const result = resultOf(c);
    const rest = REVISIONS.filter((r) => !committed.includes(r));
    expect(result).toMatchObject({ fromHeads: committed, toHeads: [REVISIONS[2]], applied: rest.length });
    expect(await db.appliedLog()).toEqual([
      ...committed.map((revision) => ({ revision, runner: "runner_a" })),
      ...rest.map((revision) => ({ revision, runner: "runner_c" })),
    ]);
    const [taker, abandoned] = await db.history.runs(db.lockKey);
    expect(taker).toMatchObject({ runId: result.run!.id, status: "succeeded", applied: rest.length });
    expect(abandoned).toMatchObject({
      runId: dead!.runId,
      status: "abandoned",
      abandoned: { by: `safe-upgrade run ${result.run!.id}`, token: result.run!.token },
    });
    expect(taker!.token).toBeGreaterThan(abandoned!.token);
  });

  it("a runner frozen past its lease cannot commit once it wakes: fencing refuses it and the schema is untouched by it", { timeout: 180_000 }, async () => {
    const db = await target();
    const server = new URL(db.database.url);
    // Runner A's first migration block is held on its way to PostgreSQL: A has passed its last
    // lease check and is waiting for its commit, as a frozen Lambda would be.
    const gate = await startTcpGate({ host: server.hostname, port: Number(server.port) }, "DO $retort_");
    cleanups.push(() => gate.close());
    const a = retort(safeUpgrade(db.url("runner_a", gate.port), "--lease", "3s"));
    await gate.held;
    process.kill(a.child.pid!, "SIGSTOP");
    try {
      // B queues until A's lease runs out (A cannot renew while stopped), takes over, finishes.
      const b = await retort(safeUpgrade(db.url("runner_b", gate.port), "--wait", "60s", "--lease", "30s")).exited;
      expect(b.code, b.stderr).toBe(0);
      const bResult = resultOf(b);
      expect(bResult.applied).toBe(3);
    } finally {
      // A's commit reaches the database now, and A wakes up.
      gate.release();
      process.kill(a.child.pid!, "SIGCONT");
    }
    const aExit = await a.exited;
    expect(aExit.code).toBe(1);
    const aResult = resultOf(aExit);
    expect(aResult.applied).toBe(0);
    expect(aResult.error?.message).toMatch(/fenced out: this run's fencing token \d+ is older than token \d+/);

    expect(await db.appliedLog()).toEqual(REVISIONS.map((revision) => ({ revision, runner: "runner_b" })));
    expect(await db.heads()).toEqual([REVISIONS[2]]);
    // Both runners name the database through the gate; the lock key is the database's own name.
    const key = await lockKeyOf(db.url("runner", gate.port));
    const [bRun, aRun] = await db.history.runs(key);
    expect(await new VersionTable("public", postgres).fenceToken(db.sql, key, `DynamoDB table ${dynamo.table}`)).toBe(bRun!.token);
    expect(aRun).toMatchObject({
      token: aResult.run!.token,
      status: "failed",
      error: expect.stringContaining("fenced out"),
      abandoned: { token: bRun!.token },
    });
    expect(bRun).toMatchObject({ status: "succeeded", applied: 3 });
  });
});
