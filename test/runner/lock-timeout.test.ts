// A migration never takes the application down (issue #17): on real PostgreSQL, a session holds a
// lock the migration's ALTER TABLE needs while an application reads the table every 20 ms. With
// retort's lock_timeout the ALTER gives up after its lock_timeout, the application's queries queued
// behind it go on, and the migration is tried again on a rising schedule until the holder is gone;
// the application's worst query waits about one lock_timeout, not the whole hold. A holder that
// never lets go fails the run with code lock-timeout, naming its pid and pg_terminate_backend, and
// the history keeps every try. The same through the Data API in front (`retort local`'s endpoint),
// where the common case costs no extra call.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgres } from "../../lib/dialect/postgres/index.ts";
import { type Context } from "../../lib/runner/context.ts";
import { databaseContext } from "../../lib/runner/database.ts";
import { attemptLockTimeout, DEFAULT_LOCK_ATTEMPTS, DEFAULT_LOCK_TIMEOUT_MS, describeLockRetry, relationsOf, retrySleep } from "../../lib/runner/lock-retry.ts";
import type { MigrateResult } from "../../lib/runner/migrate.ts";
import { current } from "../../lib/runner/status.ts";
import { safeUpgrade, upgrade } from "../../lib/runner/upgrade.ts";
import { CountingExecutor } from "../../lib/sql/counting-executor.ts";
import type { SqlExecutor } from "../../lib/sql/executor.ts";
import { PgExecutor } from "../../lib/sql/pg-executor.ts";
import { DatabaseHistory } from "../../lib/state/database-history.ts";
import { throughDataApi } from "../support/databases.ts";
import { type InlineMigration, memorySource } from "../support/memory-source.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";

const rev = (n: number) => `d${String(n).padStart(11, "0")}`;

describe("the retry schedule", () => {
  it("rises from the base lock_timeout to at most 30 s over 8 tries, and all of it fits well inside a 15-minute Lambda", () => {
    expect(DEFAULT_LOCK_TIMEOUT_MS).toBe(5_000);
    expect(DEFAULT_LOCK_ATTEMPTS).toBe(8);
    const waits = Array.from({ length: 8 }, (_, i) => attemptLockTimeout(5_000, i));
    expect(waits).toEqual([5_000, 5_000, 7_500, 10_000, 15_000, 20_000, 30_000, 30_000]);
    // The longest sleeps the jitter can draw (random() = 1), between the eight tries.
    const sleeps = Array.from({ length: 7 }, (_, i) => retrySleep(5_000, i + 1, () => 1));
    expect(sleeps).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
    const total = waits.reduce((a, b) => a + b) + sleeps.reduce((a, b) => a + b);
    expect(total).toBeLessThan(3 * 60_000);
    // Jitter: half of each sleep is fixed, half random.
    expect(retrySleep(5_000, 1, () => 0)).toBe(500);
  });

  it("keeps a longer base as it is, and 0 (no limit) at 0", () => {
    expect(Array.from({ length: 8 }, (_, i) => attemptLockTimeout(60_000, i))).toEqual(Array(8).fill(60_000));
    expect(attemptLockTimeout(200, 7)).toBe(1_200);
    expect(attemptLockTimeout(0, 3)).toBe(0);
  });

  it("names the relations a try's operations touch, a foreign key's other table and what a raw statement names", () => {
    const relations = relationsOf(
      [
        { kind: "addColumn", table: { schema: "app", name: "users" }, column: { name: "x", type: "int" }, constraints: [], ifNotExists: false } as never,
        {
          kind: "createForeignKey",
          table: { schema: "app", name: "orders" },
          name: "fk",
          columns: ["user_id"],
          references: { table: { schema: "app", name: "users" }, columns: ["id"] },
          ifNotExists: false,
        } as never,
        { kind: "execute", sql: "ALTER TABLE accounts ADD COLUMN y int", guard: null },
      ],
      postgres,
      "public",
    );
    expect(relations.sort()).toEqual(['"app"."orders"', '"app"."users"', '"public"."accounts"']);
  });
});

/** An application reading `table` every 20 ms on its own connection, recording each query's latency. */
class Application {
  readonly latencies: Array<{ at: number; ms: number }> = [];
  private running = true;
  private loop: Promise<void> | undefined;
  constructor(private readonly client: pg.Client, private readonly table: string) {}

  start(): void {
    this.loop = (async () => {
      while (this.running) {
        const started = performance.now();
        await this.client.query(`SELECT count(*) FROM ${this.table}`);
        this.latencies.push({ at: started, ms: performance.now() - started });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** The slowest query that started between `from` and `to` (performance.now()). */
  worst(from: number, to: number): number {
    return Math.max(0, ...this.latencies.filter((l) => l.at >= from && l.at <= to).map((l) => l.ms));
  }
}

/** A session holding ACCESS SHARE on `table` (it read it in an open transaction): it blocks ALTER TABLE, not reads. */
async function holdReadLock(url: string, table: string): Promise<{ pid: number; release: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: url, application_name: "long report" });
  await client.connect();
  const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
  await client.query("BEGIN");
  await client.query(`SELECT count(*) FROM ${table}`);
  return {
    pid,
    release: async () => {
      await client.query("COMMIT");
      await client.end();
    },
  };
}

const addColumn = (n: number, column: string, extra: Partial<InlineMigration> = {}): InlineMigration => ({
  revision: rev(n),
  revises: n === 1 ? null : rev(n - 1),
  message: `add ${column} to accounts`,
  async upgrade(op) {
    await op.addColumn("accounts", { name: column, type: "text" });
  },
  async downgrade(op) {
    await op.dropColumn("accounts", column);
  },
  ...extra,
});

describe("on PostgreSQL, a session holding a lock the migration needs", () => {
  let database: TestDatabase;
  let executor: SqlExecutor;
  let app: pg.Client;
  let n = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    executor = await PgExecutor.open(database.url);
    app = new pg.Client({ connectionString: database.url, application_name: "app" });
    await app.connect();
  });
  afterAll(async () => {
    await app?.end();
    await executor?.close();
    await database?.drop();
  });

  /** A schema of its own with `accounts` and a few rows, and a context migrating it with an in-database history. */
  async function scenario(defs: InlineMigration[], options: Parameters<typeof databaseContext>[1] = {}): Promise<Context & { schema: string }> {
    const schema = `locks_${++n}`;
    await executor.query(`CREATE SCHEMA ${schema}`);
    await executor.query(`CREATE TABLE ${schema}.accounts (id bigint PRIMARY KEY, name text)`);
    await executor.query(`INSERT INTO ${schema}.accounts SELECT g, 'n' || g FROM generate_series(1, 100) AS g`);
    return {
      schema,
      source: memorySource(defs),
      database: databaseContext(executor, {
        versionSchema: schema,
        defaultSchema: schema,
        lockKey: schema,
        history: new DatabaseHistory(executor, schema, postgres),
        ...options,
      }),
    };
  }

  it("a 200 ms lock_timeout keeps the application's reads moving while the migration retries, and it applies once the holder commits", { timeout: 60_000 }, async () => {
    // Without retort's bound first (--lock-timeout 0, a maintenance window, which also overrides
    // the migration's own lockTimeout): the application waits the whole hold.
    const unbounded = await scenario([addColumn(1, "nickname", { lockTimeout: "200ms" })], { lockTimeoutMs: 0 });
    const withoutApp = new Application(app, `${unbounded.schema}.accounts`);
    const holdMs = 3_000;
    let holder = await holdReadLock(database.url, `${unbounded.schema}.accounts`);
    withoutApp.start();
    let from = performance.now();
    setTimeout(() => void holder.release(), holdMs);
    const plain = await safeUpgrade(unbounded);
    let to = performance.now();
    await withoutApp.stop();
    expect(plain.error).toBeUndefined();
    expect(plain.results[0]!.lockRetries).toBeUndefined();
    const worstWithout = withoutApp.worst(from, to);

    // With a 200 ms lock_timeout (the migration's own), retried on the rising schedule.
    const ctx = await scenario([addColumn(1, "nickname", { lockTimeout: "200ms" })]);
    const bounded = new Application(app, `${ctx.schema}.accounts`);
    holder = await holdReadLock(database.url, `${ctx.schema}.accounts`);
    const retried: string[] = [];
    bounded.start();
    from = performance.now();
    setTimeout(() => void holder.release(), holdMs);
    const result = await safeUpgrade(ctx, { onLockRetry: (m, r, attempts) => retried.push(`${m.revision} ${describeLockRetry(r, attempts)}`) });
    to = performance.now();
    await bounded.stop();
    const worstWith = bounded.worst(from, to);

    expect(result.error).toBeUndefined();
    expect(result.results[0]).toMatchObject({ status: "applied" });
    const retries = result.results[0]!.lockRetries!;
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries[0]).toMatchObject({ attempt: 1, lockTimeoutMs: 200 });
    expect(retries[0]!.blockers.map((b) => b.pid)).toContain(holder.pid);
    expect(retries[0]!.blockers[0]).toMatchObject({ applicationName: "long report", state: "idle in transaction" });
    // Every try is reported as it happens, and each waits longer than or as long as the one before.
    expect(retried.length).toBe(retries.length);
    expect(retried[0]).toMatch(new RegExp(`^${rev(1)} try 1 of 8: lock_timeout 200 ms ran out; in the way: pid ${holder.pid} \\(idle in transaction`));
    for (let i = 1; i < retries.length; i += 1) expect(retries[i]!.lockTimeoutMs).toBeGreaterThanOrEqual(retries[i - 1]!.lockTimeoutMs);
    expect(await current(ctx)).toEqual({ heads: [rev(1)] });

    const longest = Math.max(...retries.map((r) => r.lockTimeoutMs), attemptLockTimeout(200, retries.length));
    console.log(
      `worst application query while the migration waited for a lock held ${holdMs} ms: ` +
        `${Math.round(worstWithout)} ms without a lock_timeout, ${Math.round(worstWith)} ms with 200 ms rising to ${longest} ms ` +
        `(${retries.length} retries, ${bounded.latencies.length} queries)`,
    );
    // A bound, not a benchmark: about the longest lock_timeout a try used, never the hold.
    expect(worstWith).toBeLessThan(longest + 1_000);
    // The history has the tries, beside the revision.
    const [run] = await ctx.database!.history!.runs(ctx.schema);
    expect(run).toMatchObject({ status: "succeeded", lockRetries: retries.length });
    const [record] = await ctx.database!.history!.revisions(run!);
    expect(record!.lockRetries).toEqual(retries);
  });

  it("a holder that never lets go: the run fails with lock-timeout naming its pid and pg_terminate_backend, and the history has every try", { timeout: 30_000 }, async () => {
    const ctx = await scenario([addColumn(1, "nickname"), addColumn(2, "email")], { lockTimeoutMs: 200, lockAttempts: 3 });
    const holder = await holdReadLock(database.url, `${ctx.schema}.accounts`);
    let result: MigrateResult;
    try {
      result = await safeUpgrade(ctx);
    } finally {
      await holder.release();
    }
    expect(result.error).toMatchObject({ code: "lock-timeout", sqlState: "55P03", revision: rev(1) });
    expect(result.error!.message).toContain(`pid ${holder.pid} (idle in transaction`);
    expect(result.error!.message).toContain(`application_name "long report"`);
    expect(result.error!.message).toContain(`Run again when it finishes, or end it with SELECT pg_terminate_backend(${holder.pid})`);
    expect(result.error!.message).toContain("nothing of this revision was applied".replace(/^n/, "N"));
    expect(result.error!.blockers).toMatchObject([{ pid: holder.pid, applicationName: "long report" }]);
    // The two migrations were one group: its try blamed the first, which then ran alone.
    expect(result.results.map((r) => r.status)).toEqual(["failed", "not-executed"]);
    const retries = result.results[0]!.lockRetries!;
    expect(retries.map((r) => [r.attempt, r.lockTimeoutMs])).toEqual([
      [1, 200],
      [2, 200],
      [3, 300],
    ]);
    expect(retries[0]!.grouped).toBe(2);
    expect(retries[1]!.retryInMs).toBeGreaterThan(0);
    expect(retries[2]!.retryInMs).toBeUndefined();
    expect(await current(ctx)).toEqual({ heads: [] });

    const [run] = await ctx.database!.history!.runs(ctx.schema);
    expect(run).toMatchObject({ status: "failed", lockRetries: 3 });
    expect(run!.error).toContain(`pg_terminate_backend(${holder.pid})`);
    const [record] = await ctx.database!.history!.revisions(run!);
    expect(record).toMatchObject({ revision: rev(1), status: "failed" });
    expect(record!.lockRetries!.map((r) => r.blockers[0]?.pid)).toEqual([holder.pid, holder.pid, holder.pid]);
  });

  it("a group in a held transaction (bound values sent ahead) is rolled back and retried the same way", { timeout: 30_000 }, async () => {
    const ctx = await scenario([]);
    const rename: InlineMigration = {
      revision: rev(1),
      revises: null,
      async upgrade(op) {
        await op.execute(`UPDATE ${ctx.schema}.accounts SET name = :name WHERE id = 1`, { name: "renamed" });
        await op.addColumn("accounts", { name: "nickname", type: "text" });
      },
      async downgrade() {},
    };
    ctx.source = memorySource([rename]);
    ctx.database = { ...ctx.database!, lockTimeoutMs: 200 };
    const holder = await holdReadLock(database.url, `${ctx.schema}.accounts`);
    setTimeout(() => void holder.release(), 1_000);
    const result = await safeUpgrade(ctx);
    expect(result.error).toBeUndefined();
    expect(result.results[0]!.lockRetries![0]).toMatchObject({ attempt: 1, lockTimeoutMs: 200 });
    expect(result.results[0]!.lockRetries![0]!.blockers.map((b) => b.pid)).toContain(holder.pid);
    // The UPDATE of the rolled-back tries left nothing behind but the one that committed.
    expect((await executor.query(`SELECT name FROM ${ctx.schema}.accounts WHERE id = 1`)).rows).toEqual([{ name: "renamed" }]);
  });

  it("a strict upgrade and --lock-timeout 0 stay as they were when nothing is in the way", async () => {
    const ctx = await scenario([addColumn(1, "nickname")], { lockTimeoutMs: 0 });
    const result = await upgrade(ctx);
    expect(result.error).toBeUndefined();
    expect(result.results[0]!.lockRetries).toBeUndefined();
  });

  it("outside a transaction (CREATE INDEX CONCURRENTLY), the statement is bounded in its own session and retried too", { timeout: 30_000 }, async () => {
    const concurrently: InlineMigration = {
      revision: rev(1),
      revises: null,
      transactional: false,
      lockTimeout: "200ms",
      async upgrade(op) {
        await op.safeCreateIndex("ix_accounts_name", "accounts", ["name"], { concurrently: true });
      },
      async downgrade() {},
    };
    const ctx = await scenario([concurrently]);
    // SHARE UPDATE EXCLUSIVE, taken by the holder, conflicts with CREATE INDEX CONCURRENTLY's own.
    const client = new pg.Client({ connectionString: database.url, application_name: "vacuum-ish" });
    await client.connect();
    const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    await client.query("BEGIN");
    await client.query(`LOCK TABLE ${ctx.schema}.accounts IN SHARE UPDATE EXCLUSIVE MODE`);
    setTimeout(() => void client.query("COMMIT").then(() => client.end()), 1_500);
    const result = await safeUpgrade(ctx);
    expect(result.error).toBeUndefined();
    expect(result.results[0]!.lockRetries![0]).toMatchObject({ attempt: 1, lockTimeoutMs: 200 });
    expect(result.results[0]!.lockRetries![0]!.blockers.map((b) => b.pid)).toContain(pid);
    // The session's settings were reset: the pool's next statement has the server's defaults.
    expect((await executor.query<{ t: string }>("SELECT current_setting('lock_timeout') AS t")).rows[0]!.t).toBe("0");
  });
});

describe("through the Data API (retort local's endpoint) in front of PostgreSQL", () => {
  let database: TestDatabase;
  let executor: SqlExecutor;
  let counting: CountingExecutor;

  beforeAll(async () => {
    database = await createTestDatabase();
    executor = await throughDataApi(await PgExecutor.open(database.url));
    counting = new CountingExecutor(executor);
  });
  afterAll(async () => {
    await executor?.close();
    await database?.drop();
  });

  const context = async (schema: string, defs: InlineMigration[]): Promise<Context> => {
    await executor.query(`CREATE SCHEMA ${schema}`);
    await executor.query(`CREATE TABLE ${schema}.accounts (id bigint PRIMARY KEY, name text)`);
    return { source: memorySource(defs), database: databaseContext(counting, { versionSchema: schema, defaultSchema: schema, lockKey: schema }) };
  };

  it("the common case costs the calls it always did: the settings travel in the DO block it sends anyway", async () => {
    const ctx = await context("api_plain", [addColumn(1, "nickname")]);
    counting.reset();
    const result = await safeUpgrade(ctx);
    expect(result.error).toBeUndefined();
    // Read the version table (new), the writers at work, introspect, then the group: one DO block.
    expect(counting.calls.map((c) => c.kind)).toEqual(["query", "query", "query", "query"]);
    expect(counting.calls[3]!.sql).toMatch(
      /^DO \$retort_0\$\nBEGIN\nPERFORM pg_advisory_xact_lock\(\d+\);\nPERFORM pg_catalog\.set_config\('lock_timeout', '5000', true\), pg_catalog\.set_config\('statement_timeout', '900000', true\);\n/,
    );
  });

  it("a lock held by another session: the migration retries through the Data API and applies once it is released", { timeout: 30_000 }, async () => {
    const ctx = await context("api_locked", [addColumn(1, "nickname", { lockTimeout: "200ms" })]);
    const holder = await holdReadLock(database.url, "api_locked.accounts");
    setTimeout(() => void holder.release(), 1_500);
    counting.reset();
    const result = await safeUpgrade(ctx);
    const calls = counting.count;
    expect(result.error).toBeUndefined();
    const retries = result.results[0]!.lockRetries!;
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]!.blockers.map((b) => b.pid)).toContain(holder.pid);
    expect(await current(ctx)).toEqual({ heads: [rev(1)] });
    // The three reads of any first run; each failed try cost its DO block and one read of who
    // held the lock; then the try that applied it.
    expect(calls).toBe(3 + retries.length * 2 + 1);
  });
});
