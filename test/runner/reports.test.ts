// What a run reports must be true: a failure is blamed on the revision whose statement failed, the
// revisions after it are not-executed with no operations, and an operation is `applied` only when
// its statement committed. Run against every target database.
import { describe, expect, it } from "vitest";
import type { Operations } from "../../lib/ops/operations.ts";
import { safeUpgrade } from "../../lib/runner/upgrade.ts";
import { current } from "../../lib/runner/status.ts";
import { startDataApiEndpoint } from "../../lib/local/data-api-endpoint.ts";
import { databaseContext } from "../../lib/runner/database.ts";
import { DataApiExecutor } from "../../lib/sql/data-api-executor.ts";
import { PgExecutor } from "../../lib/sql/pg-executor.ts";
import { ARNS, sdkClient } from "../local/harness.ts";
import { postgresql, pglite, testDatabases } from "../support/databases.ts";
import { memorySource } from "../support/memory-source.ts";
import { createTestDatabase } from "../support/postgres.ts";
import type { InlineMigration } from "../support/memory-source.ts";
import { useScenarios } from "../support/scenarios.ts";
import { InMemoryHistory } from "../../lib/state/history.ts";

const rev = (n: number) => `c${String(n).padStart(11, "0")}`;

/** Ten migrations, each creating two tables; `failing` replaces the body of one of them. */
function chain(failing: Record<number, (op: Operations) => Promise<void>>): InlineMigration[] {
  return Array.from({ length: 10 }, (_, i) => {
    const n = i + 1;
    return {
      revision: rev(n),
      revises: n === 1 ? null : rev(n - 1),
      message: `step ${n}`,
      async upgrade(op: Operations) {
        await op.createTable(`t${n}a`, { columns: [{ name: "id", type: "bigint" }] });
        await failing[n]?.(op);
        await op.createTable(`t${n}b`, { columns: [{ name: "id", type: "bigint" }] });
      },
      async downgrade(op: Operations) {
        await op.dropTable(`t${n}b`);
        await op.dropTable(`t${n}a`);
      },
    };
  });
}

for (const target of await testDatabases({ dataApi: true })) {
  describe(`on ${target.name}`, () => {
    const db = useScenarios(target, "reports");

    it("the 5th of 10 failing: 1-4 applied, 5 failed with nothing applied, 6-10 not-executed with no operations", async () => {
      const ctx = await db.scenario(chain({ 5: (op) => op.execute("SELECT 1/0 AS boom").then(() => {}) }));
      const result = await safeUpgrade(ctx);
      expect(result.results.map((r) => r.status)).toEqual([
        ...Array(4).fill("applied"),
        "failed",
        ...Array(5).fill("not-executed"),
      ]);
      expect(result.error).toMatchObject({ revision: rev(5), sqlState: "22012" });
      for (const r of result.results.slice(0, 4)) expect(r.operations.map((o) => o.status)).toEqual(["applied", "applied"]);
      // Nothing of the failed revision committed.
      expect(result.results[4]!.operations.map((o) => o.status)).toEqual(["rolled-back", "rolled-back", "rolled-back"]);
      for (const r of result.results.slice(5)) expect(r.operations).toEqual([]);
      expect(await current(ctx)).toEqual({ heads: [rev(4)] });
    });

    // PGlite runs in this thread: nothing interrupts a statement there, so it has no statement_timeout.
    if (target.name !== "PGlite") it("a statement timeout is blamed on the revision whose statement timed out", async () => {
      const ctx = await db.scenario(
        chain({
          6: async (op) => {
            await op.execute("SET LOCAL statement_timeout = '300ms'");
            await op.execute("SELECT pg_sleep(3)");
          },
        }),
      );
      const result = await safeUpgrade(ctx);
      expect(result.error).toMatchObject({ revision: rev(6) });
      expect(result.results[5]!.status).toBe("failed");
      expect(result.results[5]!.operations.map((o) => o.status)).not.toContain("applied");
      expect(result.results.slice(6).map((r) => r.status)).toEqual(Array(4).fill("not-executed"));
      for (const r of result.results.slice(6)) expect(r.operations).toEqual([]);
    });
  });
}

describe("a migration that never finishes", () => {
  const hanging = (body: (op: Operations) => Promise<void>, transactional = true): InlineMigration[] => [
    ...chain({}).slice(0, 2),
    { revision: "e00000000003", revises: rev(2), message: "hangs", transactional, upgrade: body, async downgrade() {} },
    { revision: "e00000000004", revises: "e00000000003", message: "after", async upgrade(op) { await op.createTable("after", { columns: [{ name: "id", type: "bigint" }] }); }, async downgrade() {} },
  ];

  for (const target of [pglite, postgresql]) {
    it(`on ${target.name}: fails at its time limit naming it, rolls back, and the run is recorded as failed`, { timeout: 30_000 }, async () => {
      const db = await target.open();
      try {
        const history = new InMemoryHistory();
        const ctx = {
          source: memorySource(
            hanging(async (op) => {
              await op.createTable("half", { columns: [{ name: "id", type: "bigint" }] });
              // Settles never, and keeps nothing pending: only the time limit ends it.
              await new Promise(() => {});
            }),
          ),
          database: databaseContext(db, { history, migrationTimeoutMs: 1500 }),
        };
        const result = await safeUpgrade(ctx);
        expect(result.error, JSON.stringify(result.error)).toMatchObject({ revision: "e00000000003" });
        expect(result.error!.message).toContain("did not finish within its time limit of 1500 ms (--migration-timeout)");
        expect(result.results.map((r) => r.status)).toEqual(["applied", "applied", "failed", "not-executed"]);
        expect(result.results[2]!.operations.map((o) => o.status)).toEqual(["rolled-back"]);
        expect(await current(ctx)).toEqual({ heads: [rev(2)] });
        expect((await db.query("SELECT to_regclass('half') AS t")).rows).toEqual([{ t: null }]);
        const [run] = await history.runs(ctx.database.lockKey);
        expect(run).toMatchObject({ status: "failed", toHeads: [rev(2)] });
      } finally {
        await db.close();
      }
    });
  }

  it("a limit longer than a timer can hold is no limit, not one that fires at once", async () => {
    const db = await pglite.open();
    try {
      const slow = chain({ 2: () => new Promise((resolve) => setTimeout(resolve, 200)) }).slice(0, 3);
      const ctx = { source: memorySource(slow), database: databaseContext(db, { migrationTimeoutMs: 2 ** 31 }) };
      const result = await safeUpgrade(ctx);
      expect(result.error).toBeUndefined();
      expect(result.applied).toBe(3);
    } finally {
      await db.close();
    }
  });

  it("a statement that runs past the limit is cancelled; what the stopped code sends later never reaches the database", { timeout: 30_000 }, async () => {
    const db = await postgresql.open();
    try {
      let late: Promise<unknown> | undefined;
      const ctx = {
        source: memorySource(
          hanging(async (op) => {
            setTimeout(() => (late = op.execute("CREATE TABLE late (id int)").then(() => "sent", (e: Error) => e.name)), 2500);
            await op.execute("SELECT pg_sleep(30)");
          }),
        ),
        database: databaseContext(db, { migrationTimeoutMs: 1500 }),
      };
      const started = performance.now();
      const result = await safeUpgrade(ctx);
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(result.error).toMatchObject({ revision: "e00000000003" });
      expect(result.error!.message).toContain("its transaction was rolled back (a statement still running was cancelled)");
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await late).toBe("MigrationStoppedError");
      expect((await db.query("SELECT to_regclass('late') AS t")).rows).toEqual([{ t: null }]);
    } finally {
      await db.close();
    }
  });

  it("outside a transaction, a statement still running at the limit makes the outcome unknown; one not started stays failed", { timeout: 30_000 }, async () => {
    const db = await postgresql.open();
    try {
      const ctx = { source: memorySource(hanging((op) => op.execute("SELECT pg_sleep(5)").then(() => {}), false)), database: databaseContext(db, { migrationTimeoutMs: 1500 }) };
      const result = await safeUpgrade(ctx);
      expect(result.error).toMatchObject({ revision: "e00000000003", outcome: "unknown" });
    } finally {
      await db.close();
    }
  });
});

describe("through the Data API, a statement that outlives its call", () => {
  it("makes the outcome unknown for its transaction only: the revisions planned after it are not-executed", { timeout: 30_000 }, async () => {
    const database = await createTestDatabase();
    const backend = await PgExecutor.open(database.url);
    // The service answers StatementTimeoutException after 45 s and runs the statement on; here after 300 ms.
    const endpoint = await startDataApiEndpoint({ backend, ...ARNS, statementTimeoutMs: 300 });
    const client = sdkClient(endpoint.url);
    try {
      const executor = new DataApiExecutor({ ...ARNS, database: "retort", client });
      const ctx = {
        source: memorySource(chain({ 6: (op) => op.execute("SELECT pg_sleep(1.5)").then(() => {}) })),
        database: databaseContext(executor, {}),
      };
      const result = await safeUpgrade(ctx);
      expect(result.error).toMatchObject({ revision: rev(6), outcome: "unknown" });
      expect(result.results[5]!.status).toBe("unknown");
      expect(result.results[5]!.operations.map((o) => o.status)).toEqual(["unknown", "unknown", "unknown"]);
      expect(result.results.slice(6).map((r) => [r.status, r.operations])).toEqual(Array(4).fill(["not-executed", []]));
    } finally {
      client.destroy();
      await endpoint.close();
      await backend.close();
      await database.drop();
    }
  });
});

describe("a killed runner's transaction left open on the version table", () => {
  it("is named as idle in transaction, with pg_terminate_backend (a cancel does nothing to it) and the Data API's 3 minutes", { timeout: 30_000 }, async () => {
    const database = await createTestDatabase();
    const db = await PgExecutor.open(database.url);
    const killed = await PgExecutor.open(database.url);
    try {
      const ctx = { source: memorySource(chain({}).slice(0, 2)), database: databaseContext(db, {}) };
      expect((await safeUpgrade({ ...ctx, source: memorySource(chain({}).slice(0, 1)) })).error).toBeUndefined();
      // What a runner killed mid-transaction leaves: the writer lock held by a session nobody uses.
      const pid = (await killed.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
      const left = killed.transaction(async (tx) => {
        for (const sql of ctx.database.versionTable.serialise()) await tx.query(`DO $$ BEGIN ${sql}; END $$`);
        await new Promise((r) => setTimeout(r, 3_000));
      });
      await new Promise((r) => setTimeout(r, 300));
      const error = await safeUpgrade(ctx).then(
        (r) => new Error(`resolved: ${JSON.stringify(r.error ?? r.results.map((x) => x.status))}`),
        (e: Error) => e,
      );
      expect(error?.message).toContain(`pid ${pid}, idle in transaction`);
      expect(error?.message).toContain(`SELECT pg_terminate_backend(${pid})`);
      expect(error?.message).toContain("3 minutes");
      expect(error?.message).not.toContain("pg_cancel_backend");
      await left;
    } finally {
      await killed.close();
      await db.close();
      await database.drop();
    }
  });
});
