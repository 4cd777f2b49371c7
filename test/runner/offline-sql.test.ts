// `upgrade --sql` prints the script a run sends, and that script, run as psql runs a file (each
// statement in turn, BEGIN and COMMIT included), leaves the database exactly where the run does:
// the same schema, the same rows, the same heads.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { postgres } from "../../lib/dialect/postgres/index.ts";
import { introspect } from "../../lib/dialect/postgres/introspect.ts";
import { databaseContext } from "../../lib/runner/database.ts";
import { offlineSql } from "../../lib/runner/offline-sql.ts";
import { Direction } from "../../lib/revision/migration.ts";
import { current } from "../../lib/runner/status.ts";
import { downgrade, upgrade } from "../../lib/runner/upgrade.ts";
import { splitStatements } from "../../lib/sql/lexer.ts";
import type { SqlExecutor } from "../../lib/sql/executor.ts";
import { PgliteExecutor } from "../../lib/sql/pglite-executor.ts";
import { type InlineMigration, memorySource } from "../support/memory-source.ts";

const migrations: InlineMigration[] = [
  {
    revision: "d00000000001",
    revises: null,
    message: "items",
    async upgrade(op) {
      await op.createTable("items", {
        columns: [
          { name: "id", type: "bigint", primaryKey: true },
          { name: "found", type: "boolean" },
          { name: "note", type: "text" },
        ],
      });
      // A trailing comment must not swallow the statement's end.
      await op.execute("INSERT INTO items (id, note) VALUES (1, 'a;b'), (2, NULL) -- two rows;");
      await op.execute("UPDATE items SET found = true WHERE found IS NULL");
      await op.execute("INSERT INTO items (id, note) VALUES (:id, :note)", { id: 3, note: "it's bound" });
    },
    async downgrade(op) {
      await op.dropTable("items");
    },
  },
  {
    revision: "d00000000002",
    revises: "d00000000001",
    message: "index outside a transaction",
    transactional: false,
    async upgrade(op) {
      await op.execute("CREATE INDEX CONCURRENTLY ix_items_note ON items (note) /* concurrently */");
      await op.execute("COMMENT ON TABLE items IS $$done -- really$$");
    },
    async downgrade(op) {
      await op.execute("DROP INDEX CONCURRENTLY ix_items_note");
    },
  },
];

/**
 * The zero-downtime operations (NOT VALID then validateConstraint, safeSetNotNull, safeCreateIndex
 * CONCURRENTLY), in a migration marked `transactional: false` (each statement on its own) and in a
 * transactional one.
 */
const zeroDowntime: InlineMigration[] = [
  {
    revision: "f00000000001",
    revises: null,
    message: "people",
    async upgrade(op) {
      await op.createTable("owners", { columns: [{ name: "id", type: "int", primaryKey: true }] });
      await op.createTable("people", {
        columns: [
          { name: "id", type: "int", primaryKey: true },
          { name: "name", type: "text" },
          { name: "owner", type: "int" },
        ],
      });
      await op.insertRows("owners", [{ id: 1 }]);
      await op.insertRows("people", [{ id: 1, name: "a", owner: 1 }]);
    },
    async downgrade(op) {
      await op.dropTable("people");
      await op.dropTable("owners");
    },
  },
  {
    revision: "f00000000002",
    revises: "f00000000001",
    message: "constraints added NOT VALID, in the migration's transaction",
    async upgrade(op) {
      await op.safeAddCheckConstraint("ck_people_name", "people", "name <> ''", { notValid: true });
      await op.safeCreateForeignKey("fk_people_owner", "people", ["owner"], "owners", ["id"], { notValid: true });
    },
    async downgrade(op) {
      await op.safeDropConstraint("people", "fk_people_owner");
      await op.safeDropConstraint("people", "ck_people_name");
    },
  },
  {
    revision: "f00000000003",
    revises: "f00000000002",
    message: "validated, NOT NULL and indexed, each statement on its own",
    transactional: false,
    async upgrade(op) {
      await op.safeValidateConstraint("people", "ck_people_name");
      await op.safeValidateConstraint("people", "fk_people_owner");
      await op.safeSetNotNull("people", "name");
      await op.safeCreateIndex("ix_people_owner", "people", ["owner"], { concurrently: true });
    },
    async downgrade(op) {
      await op.safeDropIndex("ix_people_owner", { concurrently: true });
      await op.alterColumn("people", "name", { nullable: true });
    },
  },
  {
    revision: "f00000000004",
    revises: "f00000000003",
    message: "setNotNull in a transactional migration",
    async upgrade(op) {
      await op.safeSetNotNull("people", "owner");
    },
    async downgrade(op) {
      await op.alterColumn("people", "owner", { nullable: true });
    },
  },
];

/** Runs a script as psql runs a file: statement after statement, in autocommit unless it says BEGIN. */
async function runScript(db: SqlExecutor, script: string): Promise<void> {
  for (const statement of splitStatements(script)) await db.query(statement);
}

async function everything(db: SqlExecutor) {
  const rows = await db.query("SELECT to_jsonb(i)::text AS row FROM items i ORDER BY id").catch(() => ({ rows: "no items table" }));
  const comment = await db.query("SELECT obj_description('items'::regclass, 'pg_class') AS c").catch(() => ({ rows: null }));
  return { schema: await introspect(db, ["public"]), rows: rows.rows, comment: comment.rows };
}

describe("upgrade --sql and downgrade --sql", () => {
  let run: SqlExecutor;
  let scripted: SqlExecutor;
  beforeEach(async () => {
    run = await PgliteExecutor.open();
    scripted = await PgliteExecutor.open();
  });
  afterEach(async () => {
    await run.close();
    await scripted.close();
  });

  it("print what a run sends, and the printed script does what the run does", async () => {
    const source = memorySource(migrations);
    const byRun = { source, database: databaseContext(run) };
    const byScript = { source, database: databaseContext(scripted) };

    const script = await offlineSql({ source, dialect: postgres }, { direction: Direction.Up, target: "heads", mode: "strict" });
    // The DO block a run sends, the bound values as literals, and no `;` inside a comment.
    expect(script).toContain("DO $retort_0$");
    expect(script).toContain("INSERT INTO items (id, note) VALUES (3, 'it''s bound');");
    expect(script).toContain("VALUES (1, 'a;b'), (2, NULL) -- two rows\n;");
    expect(script).toContain("CREATE INDEX CONCURRENTLY ix_items_note ON items (note) /* concurrently */;");

    expect((await upgrade(byRun)).error).toBeUndefined();
    await runScript(scripted, script);
    expect(await everything(scripted)).toEqual(await everything(run));
    expect(await current(byScript)).toEqual(await current(byRun));

    const down = await offlineSql({ source, dialect: postgres }, { direction: Direction.Down, target: "base", from: "heads", mode: "safe" });
    expect((await downgrade(byRun, { target: "base" })).error).toBeUndefined();
    await runScript(scripted, down);
    expect(await everything(scripted)).toEqual(await everything(run));
    expect(await current(byScript)).toEqual({ heads: [] });
  });

  it("print the zero-downtime operations' statements, and the script does what a run does", async () => {
    const source = memorySource(zeroDowntime);
    const script = await offlineSql({ source, dialect: postgres }, { direction: Direction.Up, target: "heads", mode: "safe" });
    for (const statement of [
      `ALTER TABLE "public"."people" ADD CONSTRAINT "ck_people_name" CHECK (name <> '') NOT VALID`,
      'ALTER TABLE "public"."people" ADD CONSTRAINT "fk_people_owner" FOREIGN KEY ("owner") REFERENCES "public"."owners" ("id") NOT VALID',
      'ALTER TABLE "public"."people" VALIDATE CONSTRAINT "ck_people_name";',
      'ALTER TABLE "public"."people" VALIDATE CONSTRAINT "fk_people_owner";',
      'ALTER TABLE "public"."people" ADD CONSTRAINT "people_name_not_null_check" CHECK ("name" IS NOT NULL) NOT VALID;',
      'ALTER TABLE "public"."people" VALIDATE CONSTRAINT "people_name_not_null_check";',
      'ALTER TABLE "public"."people" ALTER COLUMN "name" SET NOT NULL;',
      'ALTER TABLE "public"."people" DROP CONSTRAINT IF EXISTS "people_name_not_null_check";',
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_people_owner" ON "public"."people" ("owner");',
      'ALTER TABLE "public"."people" ADD CONSTRAINT "people_owner_not_null_check" CHECK ("owner" IS NOT NULL) NOT VALID',
      'ALTER TABLE "public"."people" ALTER COLUMN "owner" SET NOT NULL',
    ]) {
      expect(script).toContain(statement);
    }
    // In the migration marked transactional: false, each statement is sent on its own (after the
    // fence claim), never inside BEGIN ... COMMIT.
    const third = script.slice(script.indexOf("-- upgrade f00000000003"), script.indexOf("-- upgrade f00000000004"));
    expect(third).not.toMatch(/^BEGIN;$/m);
    expect(third).toMatch(/^ALTER TABLE "public"."people" VALIDATE CONSTRAINT "people_name_not_null_check";$/m);

    expect((await upgrade({ source, database: databaseContext(run) })).error).toBeUndefined();
    await runScript(scripted, script);
    const people = async (db: SqlExecutor) => (await introspect(db, ["public"])).tables.find((t) => t.name === "people")!;
    expect(await introspect(scripted, ["public"])).toEqual(await introspect(run, ["public"]));
    expect((await people(scripted)).constraints.map((c) => [c.name, c.kind === "check" || c.kind === "foreignKey" ? c.validated : true])).toEqual([
      ["ck_people_name", true],
      ["fk_people_owner", true],
      ["people_pkey", true],
    ]);
    expect((await people(scripted)).columns.map((c) => [c.name, c.nullable])).toEqual([
      ["id", false],
      ["name", false],
      ["owner", false],
    ]);
    expect(await current({ source, database: databaseContext(scripted) })).toEqual(await current({ source, database: databaseContext(run) }));
  });
});
