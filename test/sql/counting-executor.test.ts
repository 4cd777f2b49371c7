// CountingExecutor: every call an adapter would make (one Data API round trip each) is recorded,
// statements inside transaction(fn) included.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CountingExecutor } from "../../lib/sql/counting-executor.ts";
import { SqlError, TransactionUsageError } from "../../lib/sql/errors.ts";
import { PgliteExecutor } from "../../lib/sql/pglite-executor.ts";

describe("CountingExecutor", () => {
  let inner: PgliteExecutor;
  let db: CountingExecutor;

  beforeAll(async () => {
    inner = await PgliteExecutor.open();
    db = new CountingExecutor(inner);
  });
  afterAll(async () => {
    await db.close();
  });

  it("passes calls through and records them", async () => {
    db.reset();
    expect(db.kind).toBe("pglite");
    expect(db.description).toBe(inner.description);
    expect(db.inner).toBe(inner);
    await db.query("CREATE TABLE counted (id int4 PRIMARY KEY)");
    const result = await db.query("INSERT INTO counted VALUES (:id) RETURNING id", { id: 1 });
    expect(result.rows).toEqual([{ id: 1 }]);
    expect(db.count).toBe(2);
    expect(db.calls).toEqual([
      { kind: "query", sql: "CREATE TABLE counted (id int4 PRIMARY KEY)", inTransaction: false },
      { kind: "query", sql: "INSERT INTO counted VALUES (:id) RETURNING id", inTransaction: false },
    ]);
  });

  it("counts begin, each statement and commit of a transaction", async () => {
    db.reset();
    const value = await db.transaction(async (tx) => {
      await tx.query("INSERT INTO counted VALUES (2)");
      await tx.query("INSERT INTO counted VALUES (3)");
      return "done";
    });
    expect(value).toBe("done");
    expect(db.calls.map((c) => [c.kind, c.inTransaction])).toEqual([
      ["begin", true],
      ["query", true],
      ["query", true],
      ["commit", true],
    ]);
    expect(db.countOf("query")).toBe(2);
  });

  it("counts a rollback when the callback throws, and still rethrows", async () => {
    db.reset();
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO counted VALUES (1)");
      }),
    ).rejects.toBeInstanceOf(SqlError);
    expect(db.calls.map((c) => c.kind)).toEqual(["begin", "query", "rollback"]);
    expect((await inner.query("SELECT count(*)::int4 AS n FROM counted")).rows).toEqual([{ n: 3 }]);
  });

  it("counts failed statements (they cost a round trip) and nothing for a refused nested transaction", async () => {
    db.reset();
    await expect(db.query("SELEKT")).rejects.toBeInstanceOf(SqlError);
    await expect(db.transaction(async () => db.transaction(async () => 1))).rejects.toBeInstanceOf(TransactionUsageError);
    expect(db.calls.map((c) => c.kind)).toEqual(["query", "begin", "rollback"]);
  });

  it("returns a snapshot of the calls and forgets them on reset()", async () => {
    db.reset();
    await db.query("SELECT 1");
    const snapshot = db.calls;
    await db.query("SELECT 2");
    expect(snapshot).toHaveLength(1);
    db.reset();
    expect(db.count).toBe(0);
    expect(db.calls).toEqual([]);
  });
});
