// Combining DDL into one DO block (one Data API call), and telling which statements cannot be.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderBlock } from "../../lib/dialect/postgres/block.ts";
import { classifyStatement, maskLiterals } from "../../lib/dialect/postgres/index.ts";
import { introspect } from "../../lib/dialect/postgres/introspect.ts";
import { SqlError } from "../../lib/sql/errors.ts";
import type { SqlExecutor } from "../../lib/sql/executor.ts";
import { testDatabases } from "../support/databases.ts";

describe("classifyStatement", () => {
  it.each([
    ["CREATE TABLE t (a int)", { combinable: true, transactional: true, changesSchema: true, continueAfterTimeout: true }],
    ["  -- comment\n alter table t add column b int;", { combinable: true, transactional: true, changesSchema: true, continueAfterTimeout: true }],
    ["INSERT INTO t (a) VALUES (1)", { combinable: true, transactional: true, changesSchema: false, continueAfterTimeout: false }],
    ["UPDATE t SET a = 1", { combinable: true, transactional: true, changesSchema: false, continueAfterTimeout: false }],
    ["CREATE INDEX CONCURRENTLY ix ON t (a)", { combinable: false, transactional: false, changesSchema: true, continueAfterTimeout: true }],
    ["create unique index concurrently if not exists ix on t (a)", { combinable: false, transactional: false, changesSchema: true, continueAfterTimeout: true }],
    ["DROP INDEX CONCURRENTLY ix", { combinable: false, transactional: false, changesSchema: true, continueAfterTimeout: true }],
    ["VACUUM ANALYZE t", { combinable: false, transactional: false, changesSchema: false, continueAfterTimeout: true }],
    ["REINDEX TABLE CONCURRENTLY t", { combinable: false, transactional: false, changesSchema: false, continueAfterTimeout: true }],
    ["ALTER TYPE mood ADD VALUE 'x'", { combinable: true, transactional: true, changesSchema: true, continueAfterTimeout: true }],
    ["SELECT 1", { combinable: false, transactional: true, changesSchema: false, continueAfterTimeout: false }],
    ["WITH x AS (SELECT 1) SELECT * FROM x", { combinable: false, transactional: true, changesSchema: false, continueAfterTimeout: false }],
    ["INSERT INTO t (a) VALUES (1) RETURNING a", { combinable: false, transactional: true, changesSchema: false, continueAfterTimeout: false }],
    ["UPDATE t SET a = :a", { combinable: false, transactional: true, changesSchema: false, continueAfterTimeout: false }],
    ["CREATE TABLE a (x int); CREATE TABLE b (x int)", { combinable: false, transactional: true, changesSchema: true, continueAfterTimeout: true }],
    ["COMMIT", { combinable: false, transactional: false, changesSchema: false, continueAfterTimeout: false }],
    ["CREATE TABLE t AS SELECT 1 INTO x", { combinable: false, transactional: true, changesSchema: true, continueAfterTimeout: true }],
    // What the Data API executor sends with continueAfterTimeout: DDL (the service warns that DDL cut
    // short can leave errors and corrupted structures; DO and CALL may run some) and whole-table
    // maintenance, which changes no schema. A nested comment hides the DROP.
    ["IMPORT FOREIGN SCHEMA remote FROM SERVER s INTO app", { combinable: true, transactional: true, changesSchema: true, continueAfterTimeout: true }],
    ["DO $$ BEGIN CREATE INDEX ix ON t (a); END $$", { combinable: true, transactional: true, changesSchema: true, continueAfterTimeout: true }],
    ["CALL make_partitions()", { combinable: false, transactional: true, changesSchema: true, continueAfterTimeout: true }],
    ["TRUNCATE t", { combinable: true, transactional: true, changesSchema: false, continueAfterTimeout: true }],
    ["REFRESH MATERIALIZED VIEW mv", { combinable: true, transactional: true, changesSchema: false, continueAfterTimeout: true }],
    ["CLUSTER t USING ix", { combinable: true, transactional: true, changesSchema: false, continueAfterTimeout: true }],
    ["analyse t", { combinable: true, transactional: true, changesSchema: false, continueAfterTimeout: true }],
    ["/* /* nested */ DROP */ SELECT 1", { combinable: false, transactional: true, changesSchema: false, continueAfterTimeout: false }],
    ["(SELECT 1)", { combinable: false, transactional: true, changesSchema: false, continueAfterTimeout: false }],
  ])("%s", (sql, expected) => {
    expect(classifyStatement(sql)).toEqual(expected);
  });

  it("is not fooled by keywords inside literals, quoted names and function bodies", () => {
    expect(classifyStatement(`COMMENT ON TABLE t IS 'CONCURRENTLY; RETURNING :x'`).combinable).toBe(true);
    expect(classifyStatement(`CREATE TABLE "concurrently; select" (a int)`).combinable).toBe(true);
    expect(
      classifyStatement(
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $fn$ BEGIN SELECT 1 INTO x; RETURN 1; END $fn$",
      ).combinable,
    ).toBe(true);
    expect(classifyStatement("SELECT a::text FROM t").combinable).toBe(false);
    expect(classifyStatement("ALTER TABLE t ALTER COLUMN a TYPE text USING a::text").combinable).toBe(true);
  });

  it("masks literals but keeps their delimiters", () => {
    expect(maskLiterals(`a 'x''y' "q""r" $t$ body $t$ -- c\n/* /* nested */ */ E'\\'' b`)).toBe(
      `a '' "" $$  \n  E'' b`,
    );
  });
});

describe("renderBlock", () => {
  it("wraps several statements in one DO block", () => {
    expect(renderBlock([{ sql: "CREATE TABLE a (x int);" }, { sql: "CREATE TABLE b (x int)" }])).toBe(
      "DO $retort_0$\nBEGIN\nCREATE TABLE a (x int);\nCREATE TABLE b (x int);\nEND\n$retort_0$",
    );
  });

  it("picks a dollar tag that does not occur in the body", () => {
    const block = renderBlock([
      { sql: "COMMENT ON TABLE a IS $retort_0$ x $retort_0$" },
      { sql: "COMMENT ON TABLE b IS $retort_1$ y $retort_1$" },
    ]);
    expect(block).toMatch(/^DO \$retort_2\$\n/);
  });

  it("puts the semicolon on its own line after a trailing line comment", () => {
    expect(renderBlock([{ sql: "CREATE TABLE a (x int) -- note" }, { sql: "CREATE TABLE b (x int)" }])).toContain(
      "CREATE TABLE a (x int) -- note\n;\nCREATE TABLE b (x int);",
    );
  });

  it("returns a single statement as it is, and null for nothing", () => {
    expect(renderBlock([{ sql: "CREATE TABLE a (x int);" }])).toBe("CREATE TABLE a (x int)");
    expect(renderBlock([])).toBeNull();
  });

  it("returns null when a statement has parameters or cannot run in a transaction", () => {
    expect(renderBlock([{ sql: "CREATE TABLE a (x int)" }, { sql: "INSERT INTO a VALUES (:x)", params: { x: 1 } }])).toBeNull();
    expect(renderBlock([{ sql: "CREATE TABLE a (x int)" }, { sql: "CREATE INDEX CONCURRENTLY ix ON a (x)" }])).toBeNull();
    expect(renderBlock([{ sql: "VACUUM" }])).toBeNull();
    expect(renderBlock([{ sql: "CREATE TABLE a (x int)" }, { sql: "SELECT 1" }])).toBeNull();
  });

  it("an empty params object does not prevent combining", () => {
    expect(renderBlock([{ sql: "CREATE TABLE a (x int)", params: {} }, { sql: "CREATE TABLE b (x int)" }])).not.toBeNull();
  });
});

describe.each(await testDatabases())("a DO block on $name", (database) => {
  let db: SqlExecutor;
  beforeAll(async () => {
    db = await database.open();
  });
  afterAll(async () => {
    await db.close();
  });

  it("runs every statement in one call", async () => {
    const block = renderBlock([
      { sql: 'CREATE TABLE "Batch A" (x int)' },
      { sql: 'INSERT INTO "Batch A" (x) VALUES (1)' },
      { sql: `COMMENT ON TABLE "Batch A" IS 'it''s $$ here'` },
      { sql: 'CREATE INDEX "ix_batch" ON "Batch A" (x)' },
    ]);
    await db.query(block!);
    expect((await db.query('SELECT x FROM "Batch A"')).rows).toEqual([{ x: 1 }]);
    const snapshot = await introspect(db, ["public"]);
    expect(snapshot.tables.find((t) => t.name === "Batch A")?.indexes.map((i) => i.name)).toEqual(["ix_batch"]);
  });

  it("leaves nothing behind when it fails part way, and the error names the object", async () => {
    await db.query("CREATE TABLE existing (x int)");
    const block = renderBlock([
      { sql: "CREATE TABLE first_new (x int)" },
      { sql: "ALTER TABLE existing ADD COLUMN y int" },
      { sql: "CREATE TABLE existing (x int)" },
      { sql: "CREATE TABLE never (x int)" },
    ]);
    const error = await db.query(block!).then(
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
    const block = renderBlock([
      { sql: "CREATE TABLE nested_a (x int)" },
      { sql: "DO $$ BEGIN CREATE TABLE nested_b (x int); END $$" },
    ]);
    await db.query(block!);
    const names = (await introspect(db, ["public"])).tables.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["nested_a", "nested_b"]));
  });
});
