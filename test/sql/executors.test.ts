// Runs the SqlExecutor contract against the adapters that talk to PostgreSQL directly: PGlite in
// memory and node-postgres on a scratch database of the embedded server. (The Data API adapter,
// through the local endpoint, runs the same contract from its own test file.)

import { describe, expect, it } from "vitest";
import { PgExecutor } from "../../lib/sql/pg-executor.ts";
import { PgliteExecutor } from "../../lib/sql/pglite-executor.ts";
import { createTestDatabase } from "../support/postgres.ts";
import { executorContract } from "./contract.ts";

executorContract("PGlite (in memory)", async () => {
  const executor = await PgliteExecutor.open();
  return { executor, close: () => executor.close() };
});

executorContract("node-postgres (embedded PostgreSQL)", async () => {
  const database = await createTestDatabase();
  const executor = await PgExecutor.open(database.url);
  return {
    executor,
    async close() {
      await executor.close();
      await database.drop();
    },
  };
});

describe("PgExecutor specifics", () => {
  it("names host, port and database but never the password", async () => {
    const database = await createTestDatabase();
    try {
      const executor = new PgExecutor(database.url);
      const password = decodeURIComponent(new URL(database.url).password);
      expect(executor.description).toContain(`database "${database.name}"`);
      expect(executor.description).toMatch(/127\.0\.0\.1:\d+/);
      expect(executor.description).not.toContain(password);
      await executor.close();
    } finally {
      await database.drop();
    }
  });
});
