// Fencing, enforced by the database: the version table's companion `retort_fence` holds the
// highest token that has written per lock key; a transaction carrying an older token is refused
// with its own SQLSTATE and leaves nothing behind, also when it is the runner's own migration.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgres } from "../../lib/dialect/postgres/index.ts";
import { databaseContext } from "../../lib/runner/database.ts";
import { safeUpgrade } from "../../lib/runner/upgrade.ts";
import { SqlError } from "../../lib/sql/errors.ts";
import type { SqlExecutor } from "../../lib/sql/executor.ts";
import { PgExecutor } from "../../lib/sql/pg-executor.ts";
import { InMemoryHistory } from "../../lib/state/history.ts";
import { type Lease, type Lock, type LockHolder, type LockInfo } from "../../lib/state/lock.ts";
import { FENCED_OUT_SQLSTATE, VERSION_CONFLICT_SQLSTATE, VersionTable } from "../../lib/state/version-table.ts";
import { testDatabases } from "../support/databases.ts";
import { memorySource } from "../support/memory-source.ts";
import { createTestDatabase } from "../support/postgres.ts";

/** The lock table the tokens come from (a fence is kept per lock key and issuer). */
const ISSUER = "DynamoDB table test-locks";

/** Runs the fence claim for `token` followed by `then`, as one DO block (one transaction). */
const claim = (table: VersionTable, key: string, token: number, then: string[] = [], issuer = ISSUER) =>
  postgres.renderBlock(
    then.map((sql) => ({ sql })),
    [],
    table.fence(key, token, issuer),
  )!;

const refusal = (error: unknown) => (error instanceof SqlError ? error.sqlState : error);

for (const target of await testDatabases({ dataApi: true })) {
  describe(`fencing on ${target.name}`, () => {
    let executor: SqlExecutor;
    let n = 0;
    beforeAll(async () => {
      executor = await target.open();
    });
    afterAll(() => executor.close());
    const scenario = () => {
      const schema = `fence_${++n}`;
      return { schema, table: new VersionTable(schema, postgres), key: `postgres://db.example:5432/${schema}` };
    };

    it("records the highest token; an older one is refused with RT002 and its statements undone", async () => {
      const { schema, table, key } = scenario();
      expect(await table.fenceToken(executor, key, ISSUER)).toBeNull();
      await executor.query(claim(table, key, 3, [`CREATE TABLE ${schema}.by_three (x int)`]));
      expect(await table.fenceToken(executor, key, ISSUER)).toBe(3);
      // The same lease writes again; a newer one takes over.
      await executor.query(claim(table, key, 3));
      await executor.query(claim(table, key, 5));
      const error = await executor.query(claim(table, key, 4, [`CREATE TABLE ${schema}.by_four (x int)`])).catch((e: unknown) => e);
      expect(refusal(error)).toBe(FENCED_OUT_SQLSTATE);
      expect((error as Error).message).toContain(
        `fenced out: this run's fencing token 4 is older than token 5 of the same lock table (${ISSUER}), which has already written to retort_fence for lock ${key}`,
      );
      expect((await executor.query(`SELECT to_regclass('${schema}.by_four') AS t`)).rows).toEqual([{ t: null }]);
      expect(await table.fenceToken(executor, key, ISSUER)).toBe(5);
    });

    it("each lock key has its own fence", async () => {
      const { table, key } = scenario();
      await executor.query(claim(table, key, 7));
      await executor.query(claim(table, `${key}-other`, 1));
      expect(await table.fenceToken(executor, `${key}-other`, ISSUER)).toBe(1);
    });

    it("each lock table counts its own tokens: a younger table is not refused; a stale plan names the other table", async () => {
      const { schema, table, key } = scenario();
      const other = "DynamoDB table other-stack-locks";
      await executor.query(claim(table, key, 9));
      // The other table's token 2 is not "older than 9": it is another count.
      await executor.query(claim(table, key, 2, [`CREATE TABLE ${schema}.by_other (x int)`], other));
      expect(await table.fenceToken(executor, key, other)).toBe(2);
      expect(await table.fenceToken(executor, key, ISSUER)).toBe(9);
      // A plan from stale heads under the other table is refused, naming the first table.
      await executor.query(`CREATE TABLE ${schema}.retort_version (version_num varchar(32) PRIMARY KEY)`);
      await executor.query(`INSERT INTO ${schema}.retort_version VALUES ('a00000000001')`);
      const stale = postgres.renderBlock([], [], [...table.fence(key, 3, other), ...table.assertHeads([])])!;
      const error = await executor.query(stale).catch((e: unknown) => e);
      expect(refusal(error)).toBe(VERSION_CONFLICT_SQLSTATE);
      expect((error as Error).message).toMatch(
        new RegExp(`also migrated under another lock table: ${ISSUER} \\(fencing token 9, last wrote \\d{4}-`),
      );
      expect((error as Error).message).toContain("the same lock table (the MigrationRunner's `table` prop, or --lock-table)");
      // Alone, a stale plan says nothing about other tables.
      const alone = await executor.query(postgres.renderBlock([], [], table.assertHeads([]))!).catch((e: unknown) => e);
      expect((alone as Error).message).not.toContain("lock table");
    });

    it("a run whose lease is older than the database's fence changes nothing (the engine sends the claim first)", async () => {
      const { schema, table, key } = scenario();
      await executor.query(claim(table, key, 9));
      const ctx = {
        source: memorySource([
          {
            revision: "f00000000001",
            revises: null,
            async upgrade(op) {
              await op.createTable("widgets", { columns: [{ name: "id", type: "int" }] });
            },
            async downgrade(op) {
              await op.dropTable("widgets");
            },
          },
        ]),
        database: databaseContext(executor, {
          versionSchema: schema,
          defaultSchema: schema,
          lockKey: key,
          lock: staleLock(8),
          history: new InMemoryHistory(),
        }),
      };
      const result = await safeUpgrade(ctx);
      expect(result.error?.message).toMatch(/^upgrade of f00000000001 .* failed: fenced out: this run's fencing token 8 is older than token 9/);
      expect(result.results.map((r) => r.status)).toEqual(["failed"]);
      expect((await executor.query(`SELECT to_regclass('${schema}.widgets') AS t`)).rows).toEqual([{ t: null }]);
      expect((await table.read(executor)).heads).toEqual([]);
      const [recorded] = await ctx.database.history!.runs(key);
      expect(recorded).toMatchObject({ status: "failed", token: 8, error: expect.stringContaining("fenced out") });
    });
  });
}

describe("fencing a migration that runs outside a transaction (PostgreSQL)", () => {
  it("claims the fence before each statement: once another runner has written, its next statement is not sent", async () => {
    const database = await createTestDatabase();
    const executor = await PgExecutor.open(database.url);
    const other = await PgExecutor.open(database.url);
    try {
      const table = new VersionTable("public", postgres);
      const key = "k";
      await executor.query("CREATE TABLE t (a int, b int)");
      // Runner A holds token 5; right after its first statement, runner B (token 6) writes.
      let tookOver = false;
      const paused: SqlExecutor = {
        dialect: executor.dialect,
        kind: executor.kind,
        description: executor.description,
        transaction: (fn) => executor.transaction(fn),
        close: () => executor.close(),
        async query(sql, params, options) {
          const result = await executor.query(sql, params, options);
          if (!tookOver && sql.includes('"ix_a"')) {
            tookOver = true;
            await other.query(claim(table, key, 6));
          }
          return result as never;
        },
      };
      const ctx = {
        source: memorySource([
          {
            revision: "f00000000002",
            revises: null,
            transactional: false,
            async upgrade(op) {
              await op.createIndex("ix_a", "t", ["a"], { concurrently: true });
              await op.createIndex("ix_b", "t", ["b"], { concurrently: true });
            },
            async downgrade() {},
          },
        ]),
        database: databaseContext(paused, { lockKey: key, lock: staleLock(5), history: new InMemoryHistory() }),
      };
      const result = await safeUpgrade(ctx);
      expect(tookOver).toBe(true);
      expect(result.error?.message).toMatch(/fenced out: this run's fencing token 5 is older than token 6/);
      const indexes = await executor.query<{ name: string }>("SELECT indexname AS name FROM pg_indexes WHERE tablename = 't' ORDER BY 1");
      expect(indexes.rows.map((r) => r.name)).toEqual(["ix_a"]);
    } finally {
      await other.close();
      await executor.close();
      await database.drop();
    }
  });
});

describe("fencing under concurrency (PostgreSQL)", () => {
  it("a newer token's transaction waits for an older one in flight; the older one arriving after a newer commit is refused", async () => {
    const database = await createTestDatabase();
    const a = await PgExecutor.open(database.url);
    const b = await PgExecutor.open(database.url);
    try {
      const table = new VersionTable("public", postgres);
      const key = "k";
      await a.query(claim(table, key, 1));
      // Token 2 claims inside an open transaction and holds the row until it commits.
      let third: Promise<unknown> | undefined;
      await a.transaction(async (tx) => {
        await tx.query(claim(table, key, 2));
        // Token 3 arrives meanwhile (another connection): it must queue behind token 2's row lock.
        third = b.query(claim(table, key, 3));
        const queued = await waitUntil(async () => {
          const r = await b.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%retort_fence%'",
          );
          return r.rows[0]!.n === 1;
        });
        expect(queued).toBe(true);
      });
      await third;
      expect(await table.fenceToken(a, key, ISSUER)).toBe(3);
      expect(refusal(await a.query(claim(table, key, 2)).catch((e: unknown) => e))).toBe(FENCED_OUT_SQLSTATE);
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** A lock handing out a fenced lease with a fixed (stale) token. */
function staleLock(token: number): Lock {
  return {
    description: ISSUER,
    async acquire(key: string, holder: LockHolder): Promise<Lease> {
      const info: LockInfo = { key, holder, since: new Date().toISOString(), expiresAt: new Date(Date.now() + 60_000).toISOString(), token };
      return { info, fenced: true, assertHeld() {}, async release() {} };
    },
    async current() {
      return null;
    },
    async forceRelease(key: string) {
      return { key, broken: null, token };
    },
  };
}
