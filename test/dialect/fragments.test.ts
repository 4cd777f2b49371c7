// The SQL text an op pastes into DDL (a type, an expression) is exactly one item of its kind. The
// defect: `safeAddColumn("t", { name: "c", type: "int, DROP COLUMN precious" })` dropped the
// column. Cases by hand, then a fuzz on PostgreSQL: whatever text is generated, either it is
// refused before anything is sent, or the statement changes no more than the op says.
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkExpression, checkType, postgres } from "../../lib/dialect/postgres/index.ts";
import { buildAddCheckConstraint, buildAddColumn, buildAlterColumn, buildCreateIndex } from "../../lib/ops/build.ts";
import type { Operation } from "../../lib/schema/operation.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";

const ctx = { defaultSchema: "public", dialect: postgres };

describe("checkType", () => {
  it("accepts PostgreSQL's type grammar", () => {
    for (const type of [
      "integer",
      "varchar(100)",
      "numeric(10, 2)",
      "numeric(3, -1)",
      "double precision",
      "character varying(255)",
      "national character varying(10)",
      "bit varying(8)",
      "timestamp(3) with time zone",
      "timestamp without time zone",
      "time(6) with time zone",
      "interval",
      "interval(2)",
      "interval year to month",
      "interval day to second(3)",
      "interval minute",
      "text[]",
      "integer[][]",
      "int4[3]",
      "integer ARRAY",
      "integer array[4]",
      '"Mood"',
      '"Mood"[]',
      'app."My Type; odd"',
      "pg_catalog.int4",
      "geometry(Point, 4326)",
      "public.geometry(Point, 4326)",
    ]) {
      expect(() => checkType(type), type).not.toThrow();
    }
  });

  it("refuses a second action, a constraint, a comment or a statement after the type, naming the text", () => {
    expect(() => checkType("int, DROP COLUMN precious")).toThrow('type "int, DROP COLUMN precious" is not one type: expected the end of the type at ","');
    for (const type of [
      "int DEFAULT 1",
      "int NOT NULL",
      "int PRIMARY KEY",
      "varchar(10), ADD COLUMN x int",
      "int) , DROP COLUMN precious, ADD COLUMN d (int",
      "text COLLATE \"C\"",
      "interval hour to year",
      "timestamp with zone",
      "numeric(10,",
      "a.b.c.d",
      "text -- comment",
      "text /* c */",
    ]) {
      expect(() => checkType(type), type).toThrow(/is not one type|contains/);
    }
    expect(() => checkType("text; DROP TABLE x")).toThrow(/contains ";"/);
    expect(() => checkType("text DEFAULT 'x'")).toThrow(/contains "'"/);
    expect(() => checkType('"unclosed')).toThrow(/unclosed quote/);
    expect(() => checkType(" ")).toThrow(/empty/);
  });
});

describe("checkExpression", () => {
  it("accepts one expression, with commas, semicolons and dashes inside brackets, strings and quotes", () => {
    for (const text of [
      "price > 0",
      "lower(email)",
      "status IN ('a', 'b')",
      "coalesce(a, b) > 0",
      "'a,b;c--d/*e' = x",
      "E'it\\'s, fine' <> x",
      "$$a; b, c$$ = x",
      "$tag$ ) , ( $tag$ = x",
      '"odd, name" > 0',
      "arr[1] = 2 AND arr[2:3] IS NOT NULL",
      "(a)",
      "now()",
      "date'2026-01-01' < d",
      "x - 1 > 0",
    ]) {
      expect(() => checkExpression(text, "the check"), text).not.toThrow();
    }
  });

  it("refuses what could close the parentheses around it, or be more than one expression", () => {
    const cases: [string, RegExp][] = [
      ["0) , DROP COLUMN precious, ADD COLUMN x int DEFAULT (1", /closes "\)" that it did not open/],
      ["a, b", /comma outside parentheses/],
      ["1; DROP TABLE t", /contains ";"/],
      ["x -- hidden", /comment/],
      ["x /* hidden */", /comment/],
      ["(a", /leaves "\)" unclosed/],
      ["a]", /closes "\]"/],
      ["(a]", /closes "\]"/],
      ["'unclosed", /unclosed string/],
      ["E'\\'", /unclosed string/],
      ['"unclosed', /unclosed quoted name/],
      ["$$x", /unclosed dollar quote/],
      ["$1 > 0", /does not open a dollar quote/],
    ];
    for (const [text, problem] of cases) expect(() => checkExpression(text, "the check"), text).toThrow(problem);
    expect(() => checkExpression("a, b", "the check of column \"c\"")).toThrow('the check of column "c" "a, b" has a comma outside parentheses');
  });

  it("is applied by the ops that take expressions, before anything is built", () => {
    const precious = "0) , DROP COLUMN precious, ADD COLUMN x int DEFAULT (1";
    expect(() => buildAddColumn(ctx, "t", { name: "c", type: "int", default: { sql: precious } }, true)).toThrow(/default of column "c"/);
    expect(() => buildAddColumn(ctx, "t", { name: "c", type: "int", check: precious }, true)).toThrow(/check of column "c"/);
    expect(() => buildAddColumn(ctx, "t", { name: "c", type: "int, DROP COLUMN precious" }, true)).toThrow(/column "c": type/);
    expect(() => buildAlterColumn(ctx, "t", "c", { type: "bigint", using: precious })).toThrow(/using of column/);
    expect(() => buildAlterColumn(ctx, "t", "c", { default: { sql: precious } })).toThrow(/default of column/);
    expect(() => buildAlterColumn(ctx, "t", "c", { type: "int, DROP COLUMN precious" })).toThrow(/not one type/);
    expect(() => buildCreateIndex(ctx, "ix", "t", ["c"], { where: precious }, false)).toThrow(/where of index "ix"/);
    expect(() => buildAddCheckConstraint(ctx, "ck", "t", precious, undefined, false)).toThrow(/expression of check "ck"/);
  });
});

describe("fuzzed type and expression text against PostgreSQL", () => {
  let database: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query("CREATE TABLE t (id int PRIMARY KEY, precious int, c int)");
    await client.query("INSERT INTO t SELECT g, g * 10, g FROM generate_series(1, 5) g");
    await client.query("CREATE TABLE other (x int)");
  }, 120_000);

  afterAll(async () => {
    await client?.end();
    await database?.drop();
  });

  /**
   * The tables, their columns and t's rows, outside what the ops may change: the column d they add
   * and the type of c (ALTER ... TYPE bigint USING).
   */
  const shape = async () =>
    (
      await client.query<{ s: string }>(
        `SELECT string_agg(format('%s.%s:%s', c.relname, a.attname,
                  CASE WHEN c.relname = 't' AND a.attname = 'c' THEN '' ELSE format_type(a.atttypid, a.atttypmod) END), ',' ORDER BY c.relname, a.attname) AS s
         FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND NOT (c.relname = 't' AND a.attname = 'd')`,
      )
    ).rows[0]!.s + JSON.stringify((await client.query("SELECT id, precious FROM t ORDER BY id")).rows);

  // Pieces of types and expressions, valid ones and the ones an attacker would try.
  const piece = fc.constantFrom(
    "int", "text", "numeric(10, 2)", "varchar(5)", "double precision", "timestamp with time zone", "[]", "ARRAY",
    ",", ";", ")", "(", "]", "[", "'", "''", '"', "$$", "--", "/*", "*/", " ", "DROP COLUMN precious", "DROP TABLE other",
    "ADD COLUMN x int", "NOT NULL", "DEFAULT 1", "CHECK (false)", "1", "0", "c", "precious", "E'\\''", "$q$", "AND", "OR", "=",
  );
  const random = fc.array(piece, { minLength: 1, maxLength: 8 }).map((parts) => parts.join(""));
  // The shape of an injection: something valid, parentheses closed, a separator, a second action,
  // and something to absorb the renderer's closing text.
  const injection = fc
    .tuple(
      fc.constantFrom("int", "c", "0", "now()", "c > 0", "text"),
      fc.constantFrom("", ")", "))"),
      fc.constantFrom(",", " ,", ";", " "),
      fc.constantFrom(" DROP COLUMN precious", " DROP COLUMN IF EXISTS precious", " ALTER COLUMN precious TYPE text USING 'gone'", " DROP TABLE other"),
      fc.constantFrom("", ", ADD COLUMN z int DEFAULT (1", ", ADD CONSTRAINT z CHECK (true", " --", "(", ", ADD COLUMN z int"),
    )
    .map((parts) => parts.join(""));
  const text = fc.oneof(injection, random);

  /** Runs an op's statements in a transaction that is always rolled back; the shape must not change. */
  const property = (build: (text: string) => Operation) =>
    fc.asyncProperty(text, async (input) => {
      let op: Operation;
      try {
        op = build(input);
      } catch {
        return; // refused before anything was sent
      }
      const before = await shape();
      await client.query("BEGIN");
      try {
        for (const statement of postgres.render(op)) {
          await client.query("SAVEPOINT s");
          try {
            await client.query(statement.sql);
          } catch {
            await client.query("ROLLBACK TO SAVEPOINT s"); // PostgreSQL refused it: fine
          }
        }
        expect(await shape(), `${input} changed more than its op`).toBe(before);
      } finally {
        await client.query("ROLLBACK");
      }
    });

  it("a column type changes at most the column it adds", async () => {
    await fc.assert(property((type) => buildAddColumn(ctx, "t", { name: "d", type }, true)), { numRuns: 300 });
  }, 120_000);

  it("a default, a check, a USING and an index predicate change at most their own object", async () => {
    await fc.assert(property((sql) => buildAddColumn(ctx, "t", { name: "d", type: "int", default: { sql } }, true)), { numRuns: 150 });
    await fc.assert(property((sql) => buildAddCheckConstraint(ctx, "ck", "t", sql, undefined, false)), { numRuns: 150 });
    await fc.assert(property((using) => buildAlterColumn(ctx, "t", "c", { type: "bigint", using })), { numRuns: 150 });
    await fc.assert(property((where) => buildCreateIndex(ctx, "ix", "t", ["c"], { where }, false)), { numRuns: 150 });
  }, 180_000);
});
