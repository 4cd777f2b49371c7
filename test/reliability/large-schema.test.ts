// A schema of 10,000 tables (partitions included) read and migrated through the RDS Data API: the
// snapshot used to come back as one response and the service refuses any over 1 MiB ("Database
// returned more than the allowed response size limit"), from about 600 tables on. Through the
// local endpoint (which enforces the limit) with the real SDK client, over PostgreSQL.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgres } from "../../lib/dialect/postgres/index.ts";
import { databaseContext } from "../../lib/runner/database.ts";
import { safeUpgrade } from "../../lib/runner/upgrade.ts";
import { CountingExecutor } from "../../lib/sql/counting-executor.ts";
import { dataApiOverPostgres, type DataApiOverPostgres } from "../local/harness.ts";
import { createManyTables } from "../../lib/local/many-tables.ts";
import { memorySource } from "../support/memory-source.ts";

const PLAIN = 9_000;
const PARTITIONS = 999;

let stack: DataApiOverPostgres;

beforeAll(async () => {
  stack = await dataApiOverPostgres({
    async setUp(url) {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await createManyTables(admin, PLAIN, PARTITIONS);
      } finally {
        await admin.end();
      }
    },
  });
}, 300_000);

afterAll(() => stack?.close());

describe("10,000 tables through the Data API", () => {
  it("the snapshot is read in pages that each fit the 1 MiB response limit", async () => {
    const executor = new CountingExecutor(stack.executor());
    const snapshot = await postgres.introspect(executor, ["public"]);
    expect(snapshot.tables).toHaveLength(PLAIN + 1 + PARTITIONS);
    expect(snapshot.tables.find((t) => t.name === "events_17")?.columns.map((c) => c.name)).toEqual(["id", "at", "payload"]);
    expect(snapshot.tables.find((t) => t.name === "table_4242")?.constraints).toEqual([
      { kind: "primaryKey", name: "table_4242_pkey", columns: ["id"] },
    ]);
    // Every call answered; how many it took is a figure for the round-trip benchmark.
    expect(executor.calls.length).toBeGreaterThan(1);
    expect(executor.calls.length).toBeLessThan(100);
  }, 180_000);

  it("safe-upgrade migrates such a database", async () => {
    const executor = stack.executor();
    const ctx = {
      source: memorySource([
        {
          revision: "a00000000001",
          revises: null,
          message: "one more table",
          async upgrade(op) {
            await op.safeCreateTable("table_4242", { columns: [{ name: "id", type: "bigint", primaryKey: true }] });
            await op.safeAddColumn("table_4242", { name: "email", type: "text" });
          },
          async downgrade() {},
        },
      ]),
      database: databaseContext(executor),
    };
    const result = await safeUpgrade(ctx);
    expect(result.error).toBeUndefined();
    expect(result.results[0]?.operations.map((o) => o.status)).toEqual(["skipped", "applied"]);
  }, 180_000);
});
