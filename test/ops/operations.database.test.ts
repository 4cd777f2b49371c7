// Real operations through DirectSink on a real database: the schema they build, the snapshot the
// op object predicted for it, idempotent re-runs, the database's own errors under upgrade, and
// names and values that try to break out of their quotes.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { introspect } from "../../lib/dialect/postgres/introspect.ts";
import { findTable, type SchemaSnapshot } from "../../lib/schema/snapshot.ts";
import { createOperations, DirectSink, type Operations, type RunMode } from "../../lib/ops/operations.ts";
import { SqlError } from "../../lib/sql/errors.ts";
import type { SqlExecutor, SqlSession } from "../../lib/sql/executor.ts";
import { CountingSession, testDatabases } from "../support/databases.ts";
import { createTestDatabase } from "../support/postgres.ts";
import { postgres } from "../../lib/dialect/postgres/index.ts";
import { buildSetNotNull } from "../../lib/ops/build.ts";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";

async function upgrade(op: Operations): Promise<void> {
  await op.safeCreateTable("app.orgs", {
    columns: [
      { name: "id", type: "bigint", primaryKey: true, identity: true },
      { name: "Name", type: "varchar(100)", nullable: false, unique: true },
    ],
  });
  await op.safeCreateTable("users", {
    columns: [
      { name: "id", type: "serial", primaryKey: true },
      { name: "org_id", type: "bigint", references: { table: "app.orgs", column: "id", onDelete: "cascade" } },
      { name: "email", type: "varchar(320)", nullable: false },
      { name: "select", type: "text" },
      { name: "created_at", type: "timestamptz", nullable: false, default: { sql: "now()" } },
      { name: "status", type: "text", nullable: false, default: "new", check: "status IN ('new', 'active', 'gone')" },
    ],
  });
  await op.safeAddColumn("users", { name: "age", type: "int", default: 0 });
  await op.safeCreateIndex("ix_users_email", "users", [{ sql: "lower(email)" }], { unique: true, where: "status <> 'gone'" });
  await op.safeCreateIndex("ix_users_org", "users", ["org_id", "created_at"]);
  await op.safeAddUniqueConstraint("uq_users_email", "users", ["email"]);
  await op.safeAddCheckConstraint("ck_users_age", "users", "age >= 0");
  await op.safeCreateTable("projects", {
    columns: [
      { name: "id", type: "bigint", primaryKey: true },
      { name: "owner", type: "int" },
    ],
  });
  await op.safeCreateForeignKey("fk_projects_owner", "projects", ["owner"], "users", ["id"], { onDelete: "set null" });
  await op.alterColumn("users", "age", { type: "bigint", nullable: false });
  await op.safeInsertRows("app.orgs", [{ Name: "Acme" }, { Name: "O'Reilly'); DROP TABLE users; --" }]);
}

async function downgrade(op: Operations): Promise<void> {
  await op.safeDropConstraint("projects", "fk_projects_owner");
  await op.safeDropTable("projects");
  await op.safeDropIndex("ix_users_org");
  await op.safeDropIndex("ix_users_email");
  await op.safeDropTable("users");
  await op.safeDropTable("app.orgs");
}

/** What the in-memory snapshot can know exactly: everything but PostgreSQL's rewrite of SQL text. */
function shape(snapshot: SchemaSnapshot): unknown {
  return {
    schemas: snapshot.schemas,
    tables: snapshot.tables.map((t) => ({
      ...t,
      columns: t.columns.map((c) => ({ ...c, default: c.default === null ? null : "<expression>" })),
      constraints: t.constraints.map((c) => (c.kind === "check" ? { ...c, expression: "<expression>" } : c)),
      indexes: t.indexes.map((i) => ({
        ...i,
        where: i.where === null ? null : "<expression>",
        columns: i.columns.map((k) => (typeof k === "string" ? k : "<expression>")),
      })),
    })),
  };
}

describe.each(await testDatabases())("operations on $name", (database) => {
  let db: SqlExecutor;
  const schemas = ["app", "public"];

  async function run(session: SqlSession, mode: RunMode, migration: (op: Operations) => Promise<void>) {
    const snapshot = await introspect(session, schemas);
    const op = createOperations({ snapshot, mode, sink: new DirectSink(session), defaultSchema: "public", dialect: postgres });
    await migration(op);
    return op;
  }

  // One database per suite, emptied before each test: opening PGlite costs about a second.
  beforeAll(async () => {
    db = await database.open();
  });
  beforeEach(async () => {
    await db.query('DROP SCHEMA IF EXISTS app, "my.schema", public CASCADE');
    await db.query("CREATE SCHEMA public");
    await db.query("CREATE SCHEMA app");
  });
  afterAll(async () => {
    await db?.close();
  });

  it("builds the schema the in-memory snapshot predicted", async () => {
    const op = await run(db, "strict", upgrade);
    const actual = await introspect(db, schemas);
    expect(shape(op.snapshot)).toEqual(shape(actual));

    const users = findTable(actual, { schema: "public", name: "users" })!;
    expect(users.columns.map((c) => [c.name, c.type, c.nullable])).toEqual([
      ["id", "integer", false],
      ["org_id", "bigint", true],
      ["email", "character varying(320)", false],
      ["select", "text", true],
      ["created_at", "timestamp with time zone", false],
      ["status", "text", false],
      ["age", "bigint", false],
    ]);
    expect(users.constraints.map((c) => `${c.kind} ${c.name}`)).toEqual([
      "check ck_users_age",
      "unique uq_users_email",
      "foreignKey users_org_id_fkey",
      "primaryKey users_pkey",
      "check users_status_check",
    ]);
    expect(users.indexes.find((i) => i.name === "ix_users_email")).toEqual({
      name: "ix_users_email",
      columns: [{ expression: "lower(email::text)" }],
      unique: true,
      method: "btree",
      where: "status <> 'gone'::text",
      constraint: false,
      valid: true,
    });
    const orgs = await db.query<{ Name: string }>('SELECT "Name" FROM app.orgs ORDER BY id');
    expect(orgs.rows.map((r) => r.Name)).toEqual(["Acme", "O'Reilly'); DROP TABLE users; --"]);
  });

  it("converges when run again under safe-upgrade: every schema change is skipped and reported", async () => {
    await run(db, "strict", upgrade);
    const before = await introspect(db, schemas);
    const again = await run(db, "safe", upgrade);
    expect(again.results.map((r) => (r.kind === "skipped" ? r.reason : `${r.operation.kind} applied`))).toEqual([
      'table "app"."orgs" already exists',
      'table "users" already exists',
      'column "users"."age" already exists',
      'index "ix_users_email" already exists',
      'index "ix_users_org" already exists',
      'constraint "uq_users_email" on table "users" already exists',
      'constraint "ck_users_age" on table "users" already exists',
      'table "projects" already exists',
      'constraint "fk_projects_owner" on table "projects" already exists',
      'column "users"."age" already has the requested type bigint, NOT NULL',
      "insertRows applied",
    ]);
    expect(await introspect(db, schemas)).toEqual(before);
    expect((await db.query("SELECT count(*)::int AS n FROM app.orgs")).rows).toEqual([{ n: 2 }]);
  });

  it("under upgrade, a plain operation on an existing object fails with the database's message", async () => {
    await run(db, "strict", upgrade);
    const error = await run(db, "strict", async (op) => {
      await op.createTable("users", { columns: [{ name: "id", type: "int" }] });
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SqlError);
    expect((error as SqlError).message).toMatch(/relation "users" already exists/);
    expect((error as SqlError).sqlState).toBe("42P07");

    await expect(run(db, "strict", (op) => op.dropTable("nope").then(() => undefined))).rejects.toThrow(
      /table "nope" does not exist/,
    );
    await expect(
      run(db, "strict", (op) => op.addColumn("users", { name: "email", type: "text" }).then(() => undefined)),
    ).rejects.toThrow(/column "email" of relation "users" already exists/);
    await expect(
      run(db, "strict", (op) => op.addCheckConstraint("ck_users_age", "users", "age > 1").then(() => undefined)),
    ).rejects.toThrow(/constraint "ck_users_age" for relation "users" already exists/);
  });

  it("under safe-upgrade, the plain forms converge too", async () => {
    await run(db, "strict", upgrade);
    const op = await run(db, "safe", async (op) => {
      await op.createTable("users", { columns: [{ name: "id", type: "int" }] });
      await op.addColumn("users", { name: "email", type: "text" });
      await op.createIndex("ix_users_org", "users", ["org_id"]);
      await op.dropIndex("ix_gone");
    });
    expect(op.results.map((r) => r.kind)).toEqual(["skipped", "skipped", "skipped", "skipped"]);
  });

  it("downgrades to nothing, and a second downgrade skips everything", async () => {
    await run(db, "strict", upgrade);
    const down = await run(db, "strict", downgrade);
    expect(down.results.every((r) => r.kind === "applied")).toBe(true);
    expect(await introspect(db, schemas)).toEqual({ schemas, tables: [] });
    expect(down.snapshot).toEqual({ schemas, tables: [] });
    const again = await run(db, "strict", downgrade);
    expect(again.results.every((r) => r.kind === "skipped")).toBe(true);
  });

  it("runs in a transaction: a failing migration leaves nothing behind", async () => {
    await expect(
      db.transaction((tx) =>
        run(tx, "strict", async (op) => {
          await op.createTable("t1", { columns: [{ name: "id", type: "int" }] });
          await op.addColumn("t1", { name: "id", type: "int" });
        }),
      ),
    ).rejects.toThrow(/column "id" of relation "t1" already exists/);
    expect(await introspect(db, schemas)).toEqual({ schemas, tables: [] });
  });

  it("costs one round trip per statement and no reads once the snapshot covers the schemas", async () => {
    const snapshot = await introspect(db, schemas);
    const counting = new CountingSession(db);
    const op = createOperations({ snapshot, mode: "safe", sink: new DirectSink(counting), defaultSchema: "public", dialect: postgres });
    await upgrade(op);
    const statements = op.results.flatMap((r) => (r.kind === "applied" ? r.statements : []));
    expect(counting.count).toBe(statements.length);
    expect(counting.calls.every((c) => !c.sql.includes("json_build_object"))).toBe(true);
  });

  it("creates names that look like injections exactly as written, and drops nothing", async () => {
    await db.query("CREATE TABLE x (id int)");
    const evil = 'users"; DROP TABLE x; --';
    const op = await run(db, "strict", async (op) => {
      await op.createTable(evil, {
        columns: [
          { name: 'a"b', type: "text", default: "'); DROP TABLE x; --" },
          { name: "Mixed Case", type: "int", default: 1 },
          { name: "where", type: "text", default: "back\\slash 'quoted'" },
        ],
      });
      await op.createIndex('ix"; DROP TABLE x; --', evil, ['a"b']);
      await op.addCheckConstraint('ck"; DROP TABLE x; --', evil, '"Mixed Case" > 0');
      await op.insertRows(evil, [{ "Mixed Case": 2 }]);
    });
    const snapshot = await introspect(db, ["public"]);
    expect(snapshot.tables.map((t) => t.name)).toEqual([evil, "x"]);
    const table = findTable(snapshot, { schema: "public", name: evil })!;
    expect(table.columns.map((c) => c.name)).toEqual(['a"b', "Mixed Case", "where"]);
    expect(table.indexes.map((i) => i.name)).toEqual(['ix"; DROP TABLE x; --']);
    expect(table.constraints.map((c) => c.name)).toEqual(['ck"; DROP TABLE x; --']);
    expect(shape(op.snapshot)).toEqual(shape({ ...snapshot, schemas: ["app", "public"] }));

    const rows = await op.query<{ a: string; m: number; w: string }>(
      'SELECT "a""b" AS a, "Mixed Case" AS m, "where" AS w FROM "users""; DROP TABLE x; --"',
    );
    expect(rows.rows).toEqual([{ a: "'); DROP TABLE x; --", m: 2, w: "back\\slash 'quoted'" }]);
  });

  it("handles schema-qualified names, dots inside names, and raw DDL that makes the snapshot stale", async () => {
    const op = await run(db, "safe", async (op) => {
      await op.execute('CREATE SCHEMA "my.schema"');
      await op.safeCreateTable({ schema: "my.schema", name: "t.1" }, { columns: [{ name: "id", type: "int", primaryKey: true }] });
      await op.execute('CREATE TABLE app."Hand Made" (id int)');
      await op.safeCreateTable('app.Hand Made', { columns: [] });
      await op.safeAddColumn({ schema: "my.schema", name: "t.1" }, { name: "v", type: "text" });
    });
    expect(op.results.map((r) => r.kind)).toEqual(["applied", "applied", "applied", "skipped", "applied"]);
    expect(op.results[3]).toMatchObject({ reason: 'table "app"."Hand Made" already exists' });
    const snapshot = await introspect(db, ["app", "my.schema", "public"]);
    expect(findTable(snapshot, { schema: "my.schema", name: "t.1" })!.columns.map((c) => c.name)).toEqual(["id", "v"]);
    expect(shape(op.snapshot)).toEqual(shape(snapshot));
  });

  it("binds row values of every kind, cast to the column types", async () => {
    const op = await run(db, "strict", async (op) => {
      await op.createTable("kinds", {
        columns: [
          { name: "id", type: "uuid", primaryKey: true },
          { name: "doc", type: "jsonb" },
          { name: "at", type: "timestamptz" },
          { name: "bytes", type: "bytea" },
          { name: "amount", type: "numeric(12,2)" },
          { name: "flag", type: "boolean" },
          { name: "big", type: "bigint" },
          { name: "note", type: "text" },
        ],
      });
      await op.insertRows("kinds", [
        {
          id: "6f1c7c8e-3b7a-4d5e-9f00-0123456789ab",
          doc: { a: [1, "two"], "it's": null },
          at: new Date("2026-01-02T03:04:05.000Z"),
          bytes: new Uint8Array([0, 1, 254]),
          amount: "12.50",
          flag: true,
          big: 9007199254740993n,
          note: "'; DROP TABLE kinds; --",
        },
        { id: "00000000-0000-0000-0000-000000000000", note: null },
      ]);
      await op.createIndex("ix_kinds_doc", "kinds", ["doc"], { using: "gin" });
    });
    const kinds = findTable(await introspect(db, ["public"]), { schema: "public", name: "kinds" })!;
    expect(kinds.indexes.find((i) => i.name === "ix_kinds_doc")).toMatchObject({ method: "gin", columns: ["doc"] });
    expect(op.results[1]!.kind === "applied" && op.results[1]!.statements[0]!.sql).toContain("CAST(:p0 AS uuid)");
    const rows = await op.query(
      "SELECT id, doc::text AS doc, at, bytes, amount, flag, big::text AS big, note FROM kinds ORDER BY note NULLS LAST",
    );
    expect(rows.rows).toEqual([
      {
        id: "6f1c7c8e-3b7a-4d5e-9f00-0123456789ab",
        doc: '{"a": [1, "two"], "it\'s": null}',
        at: "2026-01-02 03:04:05+00",
        bytes: new Uint8Array([0, 1, 254]),
        amount: "12.50",
        flag: true,
        big: "9007199254740993",
        note: "'; DROP TABLE kinds; --",
      },
      { id: "00000000-0000-0000-0000-000000000000", doc: null, at: null, bytes: null, amount: null, flag: null, big: null, note: null },
    ]);
  });

  it("reads data for a data migration and writes it back with bound values", async () => {
    const op = await run(db, "strict", async (op) => {
      await op.createTable("src", { columns: [{ name: "n", type: "int" }] });
      await op.createTable("dst", { columns: [{ name: "n", type: "int" }] });
      await op.insertRows("src", [{ n: 1 }, { n: 2 }]);
      const { rows } = await op.query<{ n: number }>("SELECT n FROM src WHERE n > :min ORDER BY n", { min: 0 });
      await op.insertRows("dst", rows.map((r) => ({ n: r.n * 10 })));
      await op.execute("UPDATE dst SET n = n + :delta", { delta: 1 });
    });
    expect((await op.query("SELECT n FROM dst ORDER BY n")).rows).toEqual([{ n: 11 }, { n: 21 }]);
  });

  it("builds and drops an index CONCURRENTLY outside a transaction", async () => {
    const op = await run(db, "safe", async (op) => {
      await op.createTable("big", { columns: [{ name: "n", type: "int" }] });
      await op.createIndex("ix_big_n", "big", ["n"], { concurrently: true });
      await op.createIndex("ix_big_n", "big", ["n"], { concurrently: true });
      await op.dropIndex("ix_big_n", { concurrently: true });
    });
    expect(op.results.map((r) => r.kind)).toEqual(["applied", "applied", "skipped", "applied"]);
    expect(findTable(await introspect(db, ["public"]), { schema: "public", name: "big" })!.indexes).toEqual([]);
  });

  it("adds a check NOT VALID over rows that break it; validateConstraint fails naming the check and the table until they are fixed", async () => {
    await db.query("CREATE TABLE accounts (id int PRIMARY KEY, balance int)");
    await db.query("INSERT INTO accounts VALUES (1, 10), (2, -5)");
    const added = await run(db, "safe", async (op) => {
      await op.safeAddCheckConstraint("ck_balance", "accounts", "balance >= 0", { notValid: true });
    });
    const introspected = await introspect(db, schemas);
    expect(findTable(introspected, { schema: "public", name: "accounts" })!.constraints).toContainEqual(
      expect.objectContaining({ kind: "check", name: "ck_balance", validated: false }),
    );
    expect(shape(added.snapshot)).toEqual(shape(introspected));
    // New rows are checked from now on.
    await expect(db.query("INSERT INTO accounts VALUES (3, -1)")).rejects.toThrow(/violates check constraint "ck_balance"/);

    const failed = await run(db, "safe", async (op) => {
      await op.safeValidateConstraint("accounts", "ck_balance");
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(SqlError);
    expect((failed as SqlError).message).toMatch(/check constraint "ck_balance" of relation "accounts" is violated by some row/);
    expect(findTable(await introspect(db, schemas), { schema: "public", name: "accounts" })!.constraints).toContainEqual(
      expect.objectContaining({ name: "ck_balance", validated: false }),
    );

    await db.query("UPDATE accounts SET balance = 0 WHERE balance < 0");
    const validated = await run(db, "safe", async (op) => {
      await op.safeValidateConstraint("accounts", "ck_balance");
    });
    expect(validated.results.map((r) => r.kind)).toEqual(["applied"]);
    const after = await introspect(db, schemas);
    expect(findTable(after, { schema: "public", name: "accounts" })!.constraints).toContainEqual(
      expect.objectContaining({ name: "ck_balance", validated: true }),
    );
    expect(shape(validated.snapshot)).toEqual(shape(after));
    const again = await run(db, "safe", async (op) => {
      await op.validateConstraint("accounts", "ck_balance");
      await op.safeAddCheckConstraint("ck_balance", "accounts", "balance >= 0", { notValid: true });
    });
    expect(again.results.map((r) => (r.kind === "skipped" ? r.reason : "applied"))).toEqual([
      'constraint "ck_balance" on table "accounts" is already validated',
      'constraint "ck_balance" on table "accounts" already exists',
    ]);
  });

  it("adds a foreign key NOT VALID; validateConstraint fails naming it and the table while a row points nowhere", async () => {
    await db.query("CREATE TABLE owners (id int PRIMARY KEY)");
    await db.query("CREATE TABLE pets (id int PRIMARY KEY, owner int)");
    await db.query("INSERT INTO owners VALUES (1)");
    await db.query("INSERT INTO pets VALUES (1, 1), (2, 7)");
    await run(db, "strict", async (op) => {
      await op.createForeignKey("fk_pets_owner", "pets", ["owner"], "owners", ["id"], { notValid: true });
    });
    await expect(
      run(db, "strict", async (op) => {
        await op.validateConstraint("pets", "fk_pets_owner");
      }),
    ).rejects.toThrow(/on table "pets" violates foreign key constraint "fk_pets_owner"/);
    await db.query("DELETE FROM pets WHERE owner = 7");
    const done = await run(db, "strict", async (op) => {
      await op.validateConstraint("pets", "fk_pets_owner");
    });
    expect(findTable(await introspect(db, schemas), { schema: "public", name: "pets" })!.constraints).toContainEqual(
      expect.objectContaining({ kind: "foreignKey", name: "fk_pets_owner", validated: true }),
    );
    expect(shape(done.snapshot)).toEqual(shape(await introspect(db, schemas)));
  });

  it("setNotNull, its steps each committed on its own, converges from wherever a run stopped", async () => {
    const steps = postgres.render(buildSetNotNull({ defaultSchema: "public", dialect: postgres }, "people", "name", true)).map((s) => s.sql);
    expect(steps).toHaveLength(4);
    for (let done = 0; done <= steps.length; done += 1) {
      await db.query("DROP TABLE IF EXISTS people");
      await db.query("CREATE TABLE people (id int PRIMARY KEY, name text)");
      await db.query("INSERT INTO people VALUES (1, 'a'), (2, 'b')");
      // A run that stopped after `done` steps, each in autocommit as the steps ask.
      for (const sql of steps.slice(0, done)) await db.query(sql);

      const op = await run(db, "safe", async (op) => {
        await op.safeSetNotNull("people", "name");
      });
      const [result] = op.results;
      if (done === steps.length) expect(result).toMatchObject({ kind: "skipped", reason: 'column "people"."name" is already NOT NULL' });
      else {
        expect(result!.kind === "applied" && result!.statements.map((s) => s.sql), `after ${done} step(s)`).toEqual(steps.slice(done));
      }
      const actual = await introspect(db, schemas);
      const people = findTable(actual, { schema: "public", name: "people" })!;
      expect(people.columns.map((c) => [c.name, c.nullable])).toEqual([
        ["id", false],
        ["name", false],
      ]);
      expect(people.constraints.map((c) => c.name)).toEqual(["people_pkey"]);
      expect(shape(op.snapshot)).toEqual(shape(actual));
    }
  });

  it("setNotNull stopped by a NULL keeps its NOT VALID check; once the rows are fixed, the next run goes on from VALIDATE", async () => {
    await db.query("CREATE TABLE people (id int PRIMARY KEY, name text)");
    await db.query("INSERT INTO people VALUES (1, 'a'), (2, NULL)");
    await expect(
      run(db, "safe", async (op) => {
        await op.safeSetNotNull("people", "name");
      }),
    ).rejects.toThrow(/check constraint "people_name_not_null_check" of relation "people" is violated by some row/);
    const stopped = findTable(await introspect(db, schemas), { schema: "public", name: "people" })!;
    expect(stopped.columns.find((c) => c.name === "name")!.nullable).toBe(true);
    expect(stopped.constraints).toContainEqual(expect.objectContaining({ name: "people_name_not_null_check", validated: false }));

    await db.query("UPDATE people SET name = '' WHERE name IS NULL");
    const op = await run(db, "safe", async (op) => {
      await op.setNotNull("people", "name");
    });
    expect(op.results[0]!.kind === "applied" && op.results[0]!.statements.map((s) => s.sql.replace(/^ALTER TABLE "public"."people" /, ""))).toEqual([
      'VALIDATE CONSTRAINT "people_name_not_null_check"',
      'ALTER COLUMN "name" SET NOT NULL',
      'DROP CONSTRAINT IF EXISTS "people_name_not_null_check"',
    ]);
    const done = findTable(await introspect(db, schemas), { schema: "public", name: "people" })!;
    expect(done.columns.find((c) => c.name === "name")!.nullable).toBe(false);
    expect(done.constraints.map((c) => c.name)).toEqual(["people_pkey"]);
    await expect(db.query("INSERT INTO people VALUES (3, NULL)")).rejects.toThrow(/null value in column "name"/);
  });

  it("setNotNull inside a transaction is correct too (its locks are only held longer)", async () => {
    await db.query("CREATE TABLE people (id int PRIMARY KEY, name text)");
    await db.transaction((tx) =>
      run(tx, "strict", async (op) => {
        await op.setNotNull("people", "name");
      }),
    );
    const people = findTable(await introspect(db, schemas), { schema: "public", name: "people" })!;
    expect(people.columns.find((c) => c.name === "name")!.nullable).toBe(false);
    expect(people.constraints.map((c) => c.name)).toEqual(["people_pkey"]);
  });

  it("safeCreateIndex CONCURRENTLY drops and rebuilds an index a failed concurrent build left INVALID", async () => {
    await db.query("CREATE TABLE emails (id int PRIMARY KEY, address text)");
    await db.query("INSERT INTO emails VALUES (1, 'a@example.com'), (2, 'a@example.com')");
    const create = async (op: Operations) => {
      await op.safeCreateIndex("ux_emails_address", "emails", ["address"], { unique: true, concurrently: true });
    };
    // The duplicates make the build fail, and PostgreSQL leaves the index behind, INVALID.
    await expect(run(db, "safe", create)).rejects.toThrow(/could not create unique index "ux_emails_address"/);
    const broken = findTable(await introspect(db, schemas), { schema: "public", name: "emails" })!;
    expect(broken.indexes.find((i) => i.name === "ux_emails_address")).toMatchObject({ unique: true, valid: false });
    // Under upgrade the plain form is sent as written, and the database refuses the name.
    await expect(
      run(db, "strict", async (op) => {
        await op.createIndex("ux_emails_address", "emails", ["address"], { unique: true, concurrently: true });
      }),
    ).rejects.toThrow(/relation "ux_emails_address" already exists/);

    await db.query("DELETE FROM emails WHERE id = 2");
    const op = await run(db, "safe", create);
    expect(op.results[0]).toMatchObject({
      kind: "applied",
      statements: [
        { sql: 'DROP INDEX CONCURRENTLY IF EXISTS "public"."ux_emails_address"', transaction: "none" },
        { sql: 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "ux_emails_address" ON "public"."emails" ("address")', transaction: "none" },
      ],
    });
    const rebuilt = await introspect(db, schemas);
    expect(findTable(rebuilt, { schema: "public", name: "emails" })!.indexes.find((i) => i.name === "ux_emails_address")).toMatchObject({
      unique: true,
      valid: true,
    });
    expect(shape(op.snapshot)).toEqual(shape(rebuilt));
    await expect(db.query("INSERT INTO emails VALUES (3, 'a@example.com')")).rejects.toThrow(/duplicate key value/);
    const again = await run(db, "safe", create);
    expect(again.results[0]).toMatchObject({ kind: "skipped", reason: 'index "ux_emails_address" already exists' });
  });

  it("renames tables and columns, and skips a rename already done under safe-upgrade", async () => {
    await run(db, "strict", upgrade);
    const rename = async (op: Operations) => {
      await op.renameTable("users", "people");
      await op.renameColumn("people", "email", "e-mail");
    };
    const first = await run(db, "safe", rename);
    expect(first.results.map((r) => r.kind)).toEqual(["applied", "applied"]);
    const snapshot = await introspect(db, schemas);
    expect(shape(first.snapshot)).toEqual(shape(snapshot));
    const second = await run(db, "safe", rename);
    expect(second.results.map((r) => (r.kind === "skipped" ? r.reason : "applied"))).toEqual([
      'table "users" was already renamed to "people"',
      'column "people"."email" was already renamed to "e-mail"',
    ]);
  });
});

// What the claim behind setNotNull rests on: with a validated CHECK (column IS NOT NULL) in place,
// SET NOT NULL does not read the table (PostgreSQL says so at DEBUG1). On the embedded server
// (PostgreSQL 17) and on PGlite (PostgreSQL 18), with the statements setNotNull renders.
describe("setNotNull's SET NOT NULL does not scan the table", () => {
  const steps = postgres.render(buildSetNotNull({ defaultSchema: "public", dialect: postgres }, "people", "name", true)).map((s) => s.sql);
  const proof = 'existing constraints on column "people.name" are sufficient to prove that it does not contain nulls';

  it("on PostgreSQL", async () => {
    const database = await createTestDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const notices: string[] = [];
      client.on("notice", (n) => notices.push(n.message ?? ""));
      await client.query("CREATE TABLE people (id int PRIMARY KEY, name text); INSERT INTO people VALUES (1, 'a')");
      for (const [i, sql] of steps.entries()) {
        if (i === 2) await client.query("SET client_min_messages = debug1");
        await client.query(sql);
        if (i === 2) await client.query("RESET client_min_messages");
      }
      expect(notices).toContain(proof);
    } finally {
      await client.end();
      await database.drop();
    }
  });

  it("on PGlite", async () => {
    const db = new PGlite();
    try {
      const notices: string[] = [];
      await db.exec("CREATE TABLE people (id int PRIMARY KEY, name text); INSERT INTO people VALUES (1, 'a')");
      for (const [i, sql] of steps.entries()) {
        if (i === 2) await db.exec("SET client_min_messages = debug1");
        await db.query(sql, [], { onNotice: (n) => notices.push(n.message ?? "") });
        if (i === 2) await db.exec("RESET client_min_messages");
      }
      expect(notices).toContain(proof);
    } finally {
      await db.close();
    }
  });
});
