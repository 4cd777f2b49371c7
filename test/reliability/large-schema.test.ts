// A schema of 10,000 tables (partitions included) read and migrated through the RDS Data API: the
// snapshot used to come back as one response and the service refuses any over 1 MiB ("Database
// returned more than the allowed response size limit"), from about 600 tables on. Through the
// local endpoint (which enforces the limit) with the real SDK client, over PostgreSQL.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgres } from "../../lib/dialect/postgres/index.ts";
import { startDataApiEndpoint, type DataApiEndpoint } from "../../lib/local/data-api-endpoint.ts";
import { databaseContext } from "../../lib/runner/database.ts";
import { safeUpgrade } from "../../lib/runner/upgrade.ts";
import { CountingExecutor } from "../../lib/sql/counting-executor.ts";
import { DataApiExecutor } from "../../lib/sql/data-api-executor.ts";
import { PgExecutor } from "../../lib/sql/pg-executor.ts";
import { ARNS, sdkClient } from "../local/harness.ts";
import { createManyTables } from "../support/many-tables.ts";
import { memorySource } from "../support/memory-source.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";

const PLAIN = 9_000;
const PARTITIONS = 999;

let database: TestDatabase;
let backend: PgExecutor;
let endpoint: DataApiEndpoint;
let client: ReturnType<typeof sdkClient>;

beforeAll(async () => {
  database = await createTestDatabase();
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  try {
    await createManyTables(admin, PLAIN, PARTITIONS);
  } finally {
    await admin.end();
  }
  backend = new PgExecutor(database.url);
  endpoint = await startDataApiEndpoint({ backend, ...ARNS });
  client = sdkClient(endpoint.url, 60_000);
}, 300_000);

afterAll(async () => {
  client?.destroy();
  await endpoint?.close();
  await backend?.close();
  await database?.drop();
});

describe("10,000 tables through the Data API", () => {
  it("the snapshot is read in pages that each fit the 1 MiB response limit", async () => {
    const executor = new CountingExecutor(new DataApiExecutor({ ...ARNS, database: "retort", client }));
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
    const executor = new DataApiExecutor({ ...ARNS, database: "retort", client });
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
