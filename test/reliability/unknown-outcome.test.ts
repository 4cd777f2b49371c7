// A Data API statement that outlives its call (StatementTimeoutException; retort sends migrations
// with continueAfterTimeout, so it keeps running) has an outcome nobody knows yet. It was reported
// as failed ("0 applied", history "failed") although it committed seconds later. It must be
// reported as unknown, and the next run must find the statement still executing and name it
// rather than race it. Through the local endpoint (a short statement timeout) in front of
// PostgreSQL, with the real SDK client.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseContext } from "../../lib/runner/database.ts";
import { safeUpgrade } from "../../lib/runner/upgrade.ts";
import { InMemoryHistory } from "../../lib/state/history.ts";
import { dataApiOverPostgres, type DataApiOverPostgres } from "../local/harness.ts";
import { memorySource } from "../support/memory-source.ts";

let stack: DataApiOverPostgres;

beforeAll(async () => {
  stack = await dataApiOverPostgres({ statementTimeoutMs: 500, requestTimeoutMs: 10_000 });
}, 120_000);

afterAll(() => stack?.close());

const source = memorySource([
  {
    revision: "c00000000001",
    revises: null,
    async upgrade(op) {
      await op.createTable("first", { columns: [{ name: "id", type: "int" }] });
    },
    async downgrade(op) {
      await op.dropTable("first");
    },
  },
  {
    revision: "c00000000002",
    revises: "c00000000001",
    async upgrade(op) {
      // Takes 3 s: far longer than the endpoint's statement timeout.
      await op.execute("CREATE TABLE second AS SELECT 1 AS x FROM pg_sleep(3)");
    },
    async downgrade(op) {
      await op.dropTable("second");
    },
  },
]);

describe("a statement that outlives its Data API call", () => {
  it("is reported as unknown, not failed; the next run names it while it runs; once it ends, all is applied", async () => {
    const history = new InMemoryHistory();
    const context = () => ({ source, database: databaseContext(stack.executor(), { history }) });

    const first = await safeUpgrade(context());
    expect(first.results.map((r) => r.status)).toEqual(["unknown", "unknown"]);
    expect(first.applied).toBe(0);
    expect(first.error).toMatchObject({ outcome: "unknown" });
    expect(first.error?.message).toMatch(/outcome is unknown/);
    const [recorded] = await history.runs(context().database.lockKey);
    expect(recorded?.status).toBe("unknown");

    // The statement is still running: the next run refuses, naming it, and changes nothing.
    const second = await safeUpgrade(context()).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(Error);
    expect((second as Error).message).toMatch(/another session is still writing the version table \(pid \d+/);
    expect((second as Error).message).toContain("pg_cancel_backend");

    // When it has committed, the database is where the first run was going.
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    const third = await safeUpgrade(context());
    expect(third.error).toBeUndefined();
    expect(third.results).toEqual([]);
    expect(third.toHeads).toEqual(["c00000000002"]);
  }, 60_000);
});
