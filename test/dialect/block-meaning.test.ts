// Combining statements into a DO block must not change what a statement means. Inside a DO block PostgreSQL reads each
// statement through PL/pgSQL, which has variables of its own (FOUND), its own statements (EXECUTE,
// PERFORM, ...) and wants a destination for rows: a statement retort wraps must do exactly what it
// does alone, or not be wrapped. Property-tested on PostgreSQL (PGlite and the embedded server):
// a generated statement, alone and in a DO block, ends with the same rows, columns and comments, or
// fails with the same SQLSTATE.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderBlock } from "../../lib/dialect/postgres/block.ts";
import { classifyStatement } from "../../lib/dialect/postgres/index.ts";
import { SqlError } from "../../lib/sql/errors.ts";
import type { SqlExecutor, SqlSession } from "../../lib/sql/executor.ts";
import { testDatabases } from "../support/databases.ts";

const SETUP = [
  `CREATE TABLE items (id int PRIMARY KEY, found boolean, "select" text, note text)`,
  `INSERT INTO items VALUES (1, NULL, 'a', NULL), (2, true, 'b', 'x'), (3, false, NULL, '--')`,
];

/** Pieces a migration author might write, chosen to meet PL/pgSQL's parser where it differs. */
const column = fc.constantFrom("found", '"found"', "Found", "items.found", "note", '"select"', "id");
const text = fc.constantFrom("'plain'", "'it''s'", "$$dollar; -- not a comment$$", "$retort_0$tag$retort_0$", "E'tab\\t'", "'$1'", "'; DROP TABLE items'");
const value = fc.oneof(
  text,
  fc.constantFrom("NULL", "true", "NOT found", "found", "(found IS NULL)", "id + 1", "length(note)", "now() IS NOT NULL", "(SELECT count(*) FROM items)::int"),
);
const condition = fc.constantFrom("found IS NULL", "NOT found", "found", "id > 1", "note IS NULL", "items.found IS NOT TRUE", "found = (id = 2)");
const comment = fc.constantFrom("", " -- trailing comment", " /* block */", " -- ends with ;");

const statement = fc.oneof(
  fc.tuple(column, value, fc.option(condition)).map(([c, v, w]) => `UPDATE items SET ${c.replace(/^items\./, "")} = ${v}${w ? ` WHERE ${w}` : ""}`),
  fc.tuple(value, value).map(([a, b]) => `INSERT INTO items (id, note, "select") VALUES (10, (${a})::text, (${b})::text)`),
  condition.map((w) => `DELETE FROM items WHERE ${w}`),
  fc.tuple(fc.constantFrom("found", "extra", '"found2"'), value).map(([c, v]) => `ALTER TABLE items ADD COLUMN ${c} text DEFAULT (${v})::text`),
  text.map((t) => `COMMENT ON TABLE items IS ${t}`),
  condition.map((w) => `CREATE TABLE copy AS SELECT id FROM items WHERE ${w}`),
  condition.map((w) => `CREATE INDEX ix_found ON items (id) WHERE ${w}`),
  fc.constantFrom(
    "(SELECT 1)",
    "SELECT found FROM items",
    "PERFORM 1",
    "NULL",
    "EXECUTE 'SELECT 1'",
    "INSERT INTO items (id) VALUES (11) RETURNING id",
    "SET LOCAL search_path = public",
    "CREATE VIEW v AS SELECT found FROM items",
    "CREATE FUNCTION f() RETURNS boolean LANGUAGE sql AS 'SELECT found FROM items LIMIT 1'",
    "DO $$ BEGIN PERFORM 1; END $$",
  ),
);

/** The table's rows, its columns, its comment: what a statement can have changed. */
async function state(session: SqlSession): Promise<unknown> {
  const rows = await session.query("SELECT to_jsonb(i)::text AS row FROM items i ORDER BY id");
  const columns = await session.query(
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'items' AND table_schema = current_schema() ORDER BY ordinal_position",
  );
  const tables = await session.query("SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace ORDER BY 1");
  const comment = await session.query("SELECT obj_description('items'::regclass, 'pg_class') AS c");
  return { rows: rows.rows, columns: columns.rows, tables: tables.rows, comment: comment.rows };
}

class Done extends Error {
  constructor(readonly outcome: unknown) {
    super("rolled back on purpose");
  }
}

/** Runs `sql` after the setup in a transaction that is always rolled back; the outcome is what it left, or its SQLSTATE. */
async function outcome(db: SqlExecutor, sql: string): Promise<unknown> {
  try {
    await db.transaction(async (tx) => {
      for (const s of SETUP) await tx.query(s);
      let result: unknown;
      try {
        await tx.query(sql);
        result = await state(tx);
      } catch (error) {
        if (!(error instanceof SqlError)) throw error;
        result = { failed: error.sqlState };
      }
      throw new Done(result);
    });
  } catch (error) {
    if (error instanceof Done) return error.outcome;
    throw error;
  }
  throw new Error("unreachable");
}

for (const target of await testDatabases()) {
  describe(`on ${target.name}`, () => {
    let db: SqlExecutor;
    beforeAll(async () => {
      db = await target.open();
    });
    afterAll(() => db?.close());

    it("UPDATE ... WHERE found IS NULL means the column, in a DO block as alone", async () => {
      const sql = "UPDATE items SET found = true WHERE found IS NULL";
      const block = renderBlock([{ sql }], ["NULL"]);
      const alone = await outcome(db, sql);
      expect(alone).not.toHaveProperty("failed");
      expect(block === null ? alone : await outcome(db, block)).toEqual(alone);
    });

    it("a generated statement gives the same result in a DO block and alone", { timeout: 120_000 }, async () => {
      await fc.assert(
        fc.asyncProperty(statement, comment, async (body, tail) => {
          const sql = `${body}${tail}`;
          // A statement the DO block refuses to wrap is sent alone: its meaning is kept by construction.
          const block = renderBlock([{ sql }], ["NULL"]);
          if (block === null) return;
          expect({ sql, outcome: await outcome(db, block) }).toEqual({ sql, outcome: await outcome(db, sql) });
        }),
        { numRuns: target.name === "PGlite" ? 300 : 150 },
      );
    });

    it("classification agrees: whatever is combinable is wrapped, nothing else", () => {
      fc.assert(
        fc.property(statement, (sql) => {
          expect(renderBlock([{ sql }], ["NULL"]) !== null).toBe(classifyStatement(sql).combinable);
        }),
      );
    });
  });
}
