// The op object over a recording sink: results in call order, reads only when needed (a schema
// not yet introspected, a snapshot made stale by raw SQL, a guard), and failures that stop what
// was queued behind them.
import { describe, expect, it } from "vitest";
import { emptySnapshot, type SchemaSnapshot, type TableSnapshot } from "../../lib/schema/snapshot.ts";
import { InvalidOperationError, OperationsAbortedError } from "../../lib/ops/errors.ts";
import { createOperations, type OperationsWithResults, type RunMode } from "../../lib/ops/operations.ts";
import type { SinkStatement, StatementSink } from "../../lib/ops/sink.ts";
import type { QueryResult, SqlParams } from "../../lib/sql/executor.ts";
import { postgres } from "../../lib/dialect/postgres/index.ts";

/** Records statements; answers introspection from `tables`, other reads from `answer`. */
class RecordingSink implements StatementSink {
  readonly statements: SinkStatement[] = [];
  readonly reads: Array<{ sql: string; params?: SqlParams }> = [];
  tables: TableSnapshot[] = [];
  answer: (sql: string, params?: SqlParams) => Record<string, unknown>[] = () => [];
  failOn: RegExp | null = null;

  statement(statement: SinkStatement): void {
    if (this.failOn?.test(statement.sql)) throw new Error(`refused: ${statement.sql}`);
    this.statements.push(statement);
  }

  async query(sql: string, params?: SqlParams): Promise<QueryResult> {
    this.reads.push(params === undefined ? { sql } : { sql, params });
    if (sql.includes("json_build_object")) {
      const schemas = JSON.parse(String(params?.["schemas"])) as string[];
      const tables = this.tables.filter((t) => schemas.includes(t.schema));
      return { rows: [{ snapshot: JSON.stringify({ tables: tables.map(toRaw), more: false }) }], columns: [], rowCount: 1 };
    }
    const rows = this.answer(sql, params);
    return { rows, columns: [], rowCount: rows.length };
  }

  get introspections(): number {
    return this.reads.filter((r) => r.sql.includes("json_build_object")).length;
  }
}

/** A table as the introspection query's JSON document carries it. */
function toRaw(t: TableSnapshot): unknown {
  return {
    schema: t.schema,
    name: t.name,
    columns: t.columns.map((c) => ({ ...c, identity: "" })),
    constraints: [],
    indexes: [],
  };
}

const users: TableSnapshot = {
  schema: "public",
  name: "users",
  columns: [{ name: "id", type: "integer", nullable: false, default: null, identity: null, generated: null }],
  constraints: [],
  indexes: [],
};

function setup(mode: RunMode = "safe", snapshot: SchemaSnapshot = { schemas: ["public"], tables: [users] }) {
  const sink = new RecordingSink();
  sink.tables = [...snapshot.tables];
  const op: OperationsWithResults = createOperations({ snapshot, mode, sink, defaultSchema: "public", dialect: postgres });
  return { sink, op };
}

describe("the op object", () => {
  it("records one result per operation, in call order, and hands statements to the sink", async () => {
    const { sink, op } = setup();
    const created = await op.safeCreateTable("users", { columns: [{ name: "id", type: "int" }] });
    const added = await op.addColumn("users", { name: "email", type: "text" });
    expect(created).toEqual({
      kind: "skipped",
      operation: expect.objectContaining({ kind: "createTable", ifNotExists: true }),
      reason: 'table "users" already exists',
    });
    expect(added).toMatchObject({ kind: "applied", statements: [{ sql: 'ALTER TABLE "public"."users" ADD COLUMN IF NOT EXISTS "email" text' }] });
    expect(op.results).toEqual([created, added]);
    expect(sink.statements).toEqual([
      { sql: 'ALTER TABLE "public"."users" ADD COLUMN IF NOT EXISTS "email" text', operation: added.operation },
    ]);
    expect(sink.reads).toEqual([]);
    expect(op.snapshot.tables[0]!.columns.map((c) => c.name)).toEqual(["id", "email"]);
  });

  it("hands the sink how each statement must commit: setNotNull's steps alone, CONCURRENTLY outside a transaction", async () => {
    const { sink, op } = setup("safe", {
      schemas: ["public"],
      tables: [{ ...users, columns: [...users.columns, { name: "email", type: "text", nullable: true, default: null, identity: null, generated: null }] }],
    });
    const setNotNull = await op.safeSetNotNull("users", "email");
    await op.safeCreateIndex("ix_users_email", "users", ["email"], { concurrently: true });
    await op.safeAddCheckConstraint("ck_id", "users", "id > 0", { notValid: true });
    await op.safeValidateConstraint("users", "ck_id");
    expect(sink.statements.map((s) => [s.sql.replace(/^ALTER TABLE "public"."users" /, ""), s.transaction])).toEqual([
      ['ADD CONSTRAINT "users_email_not_null_check" CHECK ("email" IS NOT NULL) NOT VALID', "own"],
      ['VALIDATE CONSTRAINT "users_email_not_null_check"', "own"],
      ['ALTER COLUMN "email" SET NOT NULL', "own"],
      ['DROP CONSTRAINT IF EXISTS "users_email_not_null_check"', "own"],
      ['CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_users_email" ON "public"."users" ("email")', "none"],
      ['ADD CONSTRAINT "ck_id" CHECK (id > 0) NOT VALID', undefined],
      ['VALIDATE CONSTRAINT "ck_id"', "own"],
    ]);
    // An unmarked statement carries no `transaction` key at all.
    expect(Object.keys(sink.statements[5]!)).toEqual(["sql", "operation"]);
    expect(setNotNull).toMatchObject({ kind: "applied", operation: { kind: "setNotNull", ifNullable: true } });
    expect(setNotNull.kind === "applied" && setNotNull.statements.map((s) => s.transaction)).toEqual(["own", "own", "own", "own"]);
    // The snapshot follows: the column is NOT NULL, the check is validated, so both skip now.
    expect((await op.safeSetNotNull("users", "email")).kind).toBe("skipped");
    expect(await op.safeValidateConstraint("users", "ck_id")).toMatchObject({
      kind: "skipped",
      reason: 'constraint "ck_id" on table "users" is already validated',
    });
  });

  it("runs operations in call order even when they are not awaited", async () => {
    const { sink, op } = setup("strict");
    const pending = [
      op.createTable("a", { columns: [] }),
      op.query("SELECT 1"),
      op.createTable("b", { columns: [] }),
      op.dropTable("a"),
    ];
    await Promise.all(pending);
    expect(sink.statements.map((s) => s.sql)).toEqual([
      'CREATE TABLE "public"."a" ()',
      'CREATE TABLE "public"."b" ()',
      'DROP TABLE "public"."a"',
    ]);
    expect(op.results.map((r) => r.operation.kind)).toEqual(["createTable", "createTable", "dropTable"]);
  });

  it("introspects a schema the run has not seen, once", async () => {
    const { sink, op } = setup();
    sink.tables.push({ ...users, schema: "app" });
    expect(await op.safeCreateTable("app.users", { columns: [] })).toMatchObject({
      kind: "skipped",
      reason: 'table "app"."users" already exists',
    });
    await op.safeAddColumn("app.users", { name: "x", type: "int" });
    await op.safeAddColumn("app.users", { name: "x", type: "int" });
    expect(sink.introspections).toBe(1);
    expect(sink.reads[0]!.params).toMatchObject({ schemas: '["app"]' });
    expect(op.snapshot.schemas).toEqual(["app", "public"]);
  });

  it("re-reads the schema after raw DDL, not after raw DML", async () => {
    const { sink, op } = setup();
    await op.execute("UPDATE users SET id = id + :n", { n: 1 });
    await op.safeAddColumn("users", { name: "a", type: "int" });
    expect(sink.introspections).toBe(0);

    await op.execute("CREATE TABLE made_by_hand (id int)");
    sink.tables.push({ ...users, name: "made_by_hand" });
    expect(await op.safeCreateTable("made_by_hand", { columns: [] })).toMatchObject({ kind: "skipped" });
    expect(sink.introspections).toBe(1);
    await op.safeCreateTable("made_by_hand", { columns: [] });
    expect(sink.introspections).toBe(1);
  });

  it("plain execute runs whatever the mode, one statement at a time", async () => {
    const { sink, op } = setup("safe");
    const result = await op.execute("INSERT INTO users (id) VALUES (:id); DELETE FROM users WHERE id < 0", { id: 7 });
    expect(result.kind).toBe("applied");
    expect(sink.statements.map((s) => [s.sql, s.params])).toEqual([
      ["INSERT INTO users (id) VALUES (:id)", { id: 7 }],
      ["DELETE FROM users WHERE id < 0", undefined],
    ]);
  });
});

describe("safeExecute", () => {
  it("runs when the guard query returns a row", async () => {
    const { sink, op } = setup();
    sink.answer = () => [{ one: 1 }];
    const result = await op.safeExecute("UPDATE users SET id = 1", {
      guard: { query: "SELECT 1 FROM users WHERE id = :id", params: { id: 0 } },
    });
    expect(result).toMatchObject({
      kind: "applied",
      operation: { kind: "execute", guard: { kind: "query", query: "SELECT 1 FROM users WHERE id = :id", params: { id: 0 } } },
    });
    expect(sink.reads).toEqual([{ sql: "SELECT 1 FROM users WHERE id = :id", params: { id: 0 } }]);
  });

  it("skips when the guard query returns no row, saying which guard", async () => {
    const { sink, op } = setup("strict");
    const result = await op.safeExecute("UPDATE users SET id = 1", { guard: { query: "SELECT 1 WHERE false" } });
    expect(result).toMatchObject({ kind: "skipped", reason: "the guard query returned no rows: SELECT 1 WHERE false" });
    expect(sink.statements).toEqual([]);
  });

  it("takes a predicate over the snapshot", async () => {
    const { sink, op } = setup();
    const hasUsers = (s: SchemaSnapshot) => s.tables.some((t) => t.name === "users");
    expect(await op.safeExecute("UPDATE users SET id = 1", { guard: { when: hasUsers } })).toMatchObject({
      kind: "applied",
      operation: { guard: { kind: "predicate" } },
    });
    expect(await op.safeExecute("UPDATE users SET id = 1", { guard: { when: (s) => !hasUsers(s) } })).toMatchObject({
      kind: "skipped",
      reason: "the guard predicate returned false",
    });
    expect(sink.reads).toEqual([]);
  });

  it("without a guard, runs like execute", async () => {
    const { op } = setup();
    expect(await op.safeExecute("UPDATE users SET id = :v", { params: { v: 1 } })).toMatchObject({
      kind: "applied",
      statements: [{ sql: "UPDATE users SET id = :v", params: { v: 1 } }],
    });
  });
});

describe("failures", () => {
  it("refuses bad arguments with the method's name", async () => {
    const { op } = setup();
    await expect(op.safeCreateIndex("ix", "users", [])).rejects.toThrow(InvalidOperationError);
    await expect(op.createTable("a.b.c", { columns: [] })).rejects.toThrow(/^createTable: name "a.b.c" has more than one dot/);
    await expect(op.addColumn("users", { name: "x", type: "int); DROP TABLE users; --" })).rejects.toThrow(
      /^addColumn: column "x": type .* contains ";"/,
    );
  });

  it("does not run operations queued behind a failed one", async () => {
    const { sink, op } = setup("strict");
    sink.failOn = /"bad"/;
    const first = op.createTable("bad", { columns: [] });
    const second = op.createTable("good", { columns: [] });
    await expect(first).rejects.toThrow(/refused/);
    await expect(second).rejects.toThrow(OperationsAbortedError);
    await expect(second).rejects.toThrow(/createTable was not run: an earlier operation of this migration failed \(refused/);
    expect(sink.statements).toEqual([]);
    // A migration that catches the failure and carries on can still use the op object.
    expect(await op.createTable("later", { columns: [] })).toMatchObject({ kind: "applied" });
  });

  it("leaves the snapshot as it was when a statement fails", async () => {
    const { sink, op } = setup("strict");
    sink.failOn = /ADD COLUMN/;
    await expect(op.addColumn("users", { name: "x", type: "int" })).rejects.toThrow();
    expect(op.snapshot.tables[0]!.columns.map((c) => c.name)).toEqual(["id"]);
    expect(op.results).toEqual([]);
  });
});

describe("the default schema", () => {
  it("is where unqualified names live, and is left out of reasons", async () => {
    const sink = new RecordingSink();
    sink.tables = [{ ...users, schema: "tenant" }];
    const op = createOperations({ snapshot: emptySnapshot(), mode: "safe", sink, defaultSchema: "tenant", dialect: postgres });
    expect(await op.createTable("users", { columns: [] })).toMatchObject({
      kind: "skipped",
      reason: 'table "users" already exists',
    });
    await op.createTable("public.users", { columns: [] });
    expect(sink.statements.map((s) => s.sql)).toEqual(['CREATE TABLE IF NOT EXISTS "public"."users" ()']);
  });
});

describe("an empty start", () => {
  it("works from a snapshot that covers nothing yet", async () => {
    const { sink, op } = setup("safe", emptySnapshot());
    await op.safeCreateTable("t", { columns: [{ name: "id", type: "int" }] });
    await op.safeCreateTable("t", { columns: [{ name: "id", type: "int" }] });
    expect(sink.introspections).toBe(1);
    expect(op.results.map((r) => r.kind)).toEqual(["applied", "skipped"]);
  });
});
