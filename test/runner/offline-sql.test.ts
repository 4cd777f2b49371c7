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
});
