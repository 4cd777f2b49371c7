// Batching DDL into one DO block (one Data API call), and telling which statements cannot be.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderBatch } from "../../lib/dialect/postgres/batch.ts";
import { classifyStatement, maskLiterals } from "../../lib/dialect/postgres/statements.ts";
import { introspect } from "../../lib/dialect/postgres/introspect.ts";
import { SqlError } from "../../lib/sql/errors.ts";
import type { SqlExecutor } from "../../lib/sql/executor.ts";
import { testDatabases } from "../support/databases.ts";

describe("classifyStatement", () => {
  it.each([
    ["CREATE TABLE t (a int)", { batchable: true, transactional: true, changesSchema: true }],
    ["  -- comment\n alter table t add column b int;", { batchable: true, transactional: true, changesSchema: true }],
    ["INSERT INTO t (a) VALUES (1)", { batchable: true, transactional: true, changesSchema: false }],
    ["UPDATE t SET a = 1", { batchable: true, transactional: true, changesSchema: false }],
    ["CREATE INDEX CONCURRENTLY ix ON t (a)", { batchable: false, transactional: false, changesSchema: true }],
    ["create unique index concurrently if not exists ix on t (a)", { batchable: false, transactional: false, changesSchema: true }],
    ["DROP INDEX CONCURRENTLY ix", { batchable: false, transactional: false, changesSchema: true }],
    ["VACUUM ANALYZE t", { batchable: false, transactional: false, changesSchema: false }],
    ["REINDEX TABLE CONCURRENTLY t", { batchable: false, transactional: false, changesSchema: false }],
    ["ALTER TYPE mood ADD VALUE 'x'", { batchable: true, transactional: true, changesSchema: true }],
    ["SELECT 1", { batchable: false, transactional: true, changesSchema: false }],
    ["WITH x AS (SELECT 1) SELECT * FROM x", { batchable: false, transactional: true, changesSchema: false }],
    ["INSERT INTO t (a) VALUES (1) RETURNING a", { batchable: false, transactional: true, changesSchema: false }],
    ["UPDATE t SET a = :a", { batchable: false, transactional: true, changesSchema: false }],
    ["CREATE TABLE a (x int); CREATE TABLE b (x int)", { batchable: false, transactional: true, changesSchema: true }],
    ["COMMIT", { batchable: false, transactional: false, changesSchema: false }],
    ["CREATE TABLE t AS SELECT 1 INTO x", { batchable: false, transactional: true, changesSchema: true }],
  ])("%s", (sql, expected) => {
    expect(classifyStatement(sql)).toEqual(expected);
  });

  it("is not fooled by keywords inside literals, quoted names and function bodies", () => {
    expect(classifyStatement(`COMMENT ON TABLE t IS 'CONCURRENTLY; RETURNING :x'`).batchable).toBe(true);
    expect(classifyStatement(`CREATE TABLE "concurrently; select" (a int)`).batchable).toBe(true);
    expect(
      classifyStatement(
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $fn$ BEGIN SELECT 1 INTO x; RETURN 1; END $fn$",
      ).batchable,
    ).toBe(true);
    expect(classifyStatement("SELECT a::text FROM t").batchable).toBe(false);
    expect(classifyStatement("ALTER TABLE t ALTER COLUMN a TYPE text USING a::text").batchable).toBe(true);
  });

  it("masks literals but keeps their delimiters", () => {
    expect(maskLiterals(`a 'x''y' "q""r" $t$ body $t$ -- c\n/* /* nested */ */ E'\\'' b`)).toBe(
      `a '' "" $$  \n  E'' b`,
    );
  });
});

describe("renderBatch", () => {
  it("wraps several statements in one DO block", () => {
    expect(renderBatch([{ sql: "CREATE TABLE a (x int);" }, { sql: "CREATE TABLE b (x int)" }])).toBe(
      "DO $retort_0$\nBEGIN\nCREATE TABLE a (x int);\nCREATE TABLE b (x int);\nEND\n$retort_0$",
    );
  });

  it("picks a dollar tag that does not occur in the body", () => {
    const batch = renderBatch([
      { sql: "COMMENT ON TABLE a IS $retort_0$ x $retort_0$" },
      { sql: "COMMENT ON TABLE b IS $retort_1$ y $retort_1$" },
    ]);
    expect(batch).toMatch(/^DO \$retort_2\$\n/);
  });

  it("puts the semicolon on its own line after a trailing line comment", () => {
    expect(renderBatch([{ sql: "CREATE TABLE a (x int) -- note" }, { sql: "CREATE TABLE b (x int)" }])).toContain(
      "CREATE TABLE a (x int) -- note\n;\nCREATE TABLE b (x int);",
    );
  });

  it("returns a single statement as it is, and null for nothing", () => {
    expect(renderBatch([{ sql: "CREATE TABLE a (x int);" }])).toBe("CREATE TABLE a (x int)");
    expect(renderBatch([])).toBeNull();
  });

  it("returns null when a statement has parameters or cannot run in a transaction", () => {
    expect(renderBatch([{ sql: "CREATE TABLE a (x int)" }, { sql: "INSERT INTO a VALUES (:x)", params: { x: 1 } }])).toBeNull();
    expect(renderBatch([{ sql: "CREATE TABLE a (x int)" }, { sql: "CREATE INDEX CONCURRENTLY ix ON a (x)" }])).toBeNull();
    expect(renderBatch([{ sql: "VACUUM" }])).toBeNull();
    expect(renderBatch([{ sql: "CREATE TABLE a (x int)" }, { sql: "SELECT 1" }])).toBeNull();
  });

  it("an empty params object does not prevent batching", () => {
    expect(renderBatch([{ sql: "CREATE TABLE a (x int)", params: {} }, { sql: "CREATE TABLE b (x int)" }])).not.toBeNull();
  });
});

describe.each(await testDatabases())("a DO batch on $name", (database) => {
  let db: SqlExecutor;
  beforeAll(async () => {
    db = await database.open();
  });
  afterAll(async () => {
    await db.close();
  });

  it("runs every statement in one call", async () => {
    const batch = renderBatch([
      { sql: 'CREATE TABLE "Batch A" (x int)' },
      { sql: 'INSERT INTO "Batch A" (x) VALUES (1)' },
      { sql: `COMMENT ON TABLE "Batch A" IS 'it''s $$ here'` },
      { sql: 'CREATE INDEX "ix_batch" ON "Batch A" (x)' },
    ]);
    await db.query(batch!);
    expect((await db.query('SELECT x FROM "Batch A"')).rows).toEqual([{ x: 1 }]);
    const snapshot = await introspect(db, ["public"]);
    expect(snapshot.tables.find((t) => t.name === "Batch A")?.indexes.map((i) => i.name)).toEqual(["ix_batch"]);
  });

  it("leaves nothing behind when it fails part way, and the error names the object", async () => {
    await db.query("CREATE TABLE existing (x int)");
    const batch = renderBatch([
      { sql: "CREATE TABLE first_new (x int)" },
      { sql: "ALTER TABLE existing ADD COLUMN y int" },
      { sql: "CREATE TABLE existing (x int)" },
      { sql: "CREATE TABLE never (x int)" },
    ]);
    const error = await db.query(batch!).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SqlError);
    expect((error as SqlError).message).toMatch(/relation "existing" already exists/);
    expect((error as SqlError).sqlState).toBe("42P07");

    const snapshot = await introspect(db, ["public"]);
    const names = snapshot.tables.map((t) => t.name);
    expect(names).not.toContain("first_new");
    expect(names).not.toContain("never");
    expect(snapshot.tables.find((t) => t.name === "existing")?.columns.map((c) => c.name)).toEqual(["x"]);
  });

  it("can hold a DO block of its own", async () => {
    const batch = renderBatch([
      { sql: "CREATE TABLE nested_a (x int)" },
      { sql: "DO $$ BEGIN CREATE TABLE nested_b (x int); END $$" },
    ]);
    await db.query(batch!);
    const names = (await introspect(db, ["public"])).tables.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["nested_a", "nested_b"]));
  });
});
