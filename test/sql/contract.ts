// The SqlExecutor contract: behaviour every adapter must share (the rules in lib/sql/executor.ts).
// A test file calls executorContract(name, factory) once per adapter; the factory opens a fresh
// executor on an empty database (PGlite in memory, a scratch PostgreSQL database, the Data API
// adapter through the local endpoint in front of either) and says how to dispose of it.

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlExecutor, SqlResultValue } from "../../lib/sql/executor.ts";
import { MultipleStatementsError, SqlError, TransactionUsageError } from "../../lib/sql/errors.ts";
import { MissingParameterError } from "../../lib/sql/lexer.ts";

export interface ExecutorFixture {
  executor: SqlExecutor;
  /** Closes the executor and releases whatever the factory started (endpoint, database). */
  close(): Promise<void>;
}

export type ExecutorFactory = () => Promise<ExecutorFixture>;

/** Rejects with `type`, and returns the error for further checks. */
async function failure<E extends Error>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  let outcome: { error: unknown } | undefined;
  try {
    await promise;
  } catch (error) {
    outcome = { error };
  }
  if (!outcome) throw new Error(`expected a ${type.name}, but the call succeeded`);
  expect(outcome.error).toBeInstanceOf(type);
  return outcome.error as E;
}

async function sqlState(promise: Promise<unknown>): Promise<string | undefined> {
  return (await failure(promise, SqlError)).sqlState;
}

export function executorContract(name: string, factory: ExecutorFactory): void {
  describe(`SqlExecutor contract: ${name}`, () => {
    let fixture: ExecutorFixture;
    let db: SqlExecutor;
    let tables = 0;
    /** A table name no other test of this file uses. */
    const table = () => `contract_t${++tables}`;

    beforeAll(async () => {
      fixture = await factory();
      db = fixture.executor;
    });
    afterAll(async () => {
      await fixture?.close();
    });

    it("describes itself without secrets", () => {
      expect(db.dialect).toBe("postgresql");
      expect(db.description).not.toMatch(/password|secret=/i);
    });

    describe("parameters", () => {
      async function roundTrip(cast: string, value: unknown): Promise<SqlResultValue> {
        const result = await db.query(`SELECT :v::${cast} AS v`, { v: value as never });
        return result.rows[0]!["v"] as SqlResultValue;
      }

      it("binds strings verbatim, whatever they contain", async () => {
        for (const s of ["", "héllo wörld ✓", "it's", 'say "hi"', "a;b -- c /* d */", ":name $1 $$ ?", "back\\slash", "line\nbreak"]) {
          expect(await roundTrip("text", s)).toBe(s);
        }
      });

      it("binds numbers as integers or floats, and bigints", async () => {
        expect(await roundTrip("int4", 42)).toBe(42);
        expect(await roundTrip("int4", -2147483648)).toBe(-2147483648);
        expect(await roundTrip("int8", Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
        expect(await roundTrip("int8", 5n)).toBe(5);
        expect(await roundTrip("int8", 9223372036854775807n)).toBe("9223372036854775807");
        expect(await roundTrip("int8", -9223372036854775808n)).toBe("-9223372036854775808");
        expect(await roundTrip("float8", 1.5)).toBe(1.5);
        expect(await roundTrip("float8", 0.1)).toBe(0.1);
        expect(await roundTrip("float8", -1e-7)).toBe(-1e-7);
        expect(await roundTrip("numeric", 12.25)).toBe("12.25");
        expect(await roundTrip("numeric", 12345678901234567890n)).toBe("12345678901234567890");
      });

      it("binds booleans, NULL, Dates, bytes and JSON", async () => {
        expect(await roundTrip("bool", true)).toBe(true);
        expect(await roundTrip("bool", false)).toBe(false);
        expect(await roundTrip("text", null)).toBeNull();
        expect(await roundTrip("int4", null)).toBeNull();
        expect(await roundTrip("timestamptz", new Date("2024-05-01T10:00:00.123Z"))).toBe("2024-05-01 10:00:00.123+00");
        expect(await roundTrip("timestamp", new Date("2024-05-01T10:00:00Z"))).toBe("2024-05-01 10:00:00");
        expect(await roundTrip("bytea", new Uint8Array([0, 1, 127, 128, 255]))).toEqual(new Uint8Array([0, 1, 127, 128, 255]));
        expect(await roundTrip("bytea", new Uint8Array([]))).toEqual(new Uint8Array([]));
        const doc = { a: 1, b: [true, null, "x"], c: { d: "é" } };
        expect(JSON.parse((await roundTrip("jsonb", doc)) as string)).toEqual(doc);
        expect(await roundTrip("json", [1, "two", { three: 3 }])).toBe('[1,"two",{"three":3}]');
      });

      it("reuses a parameter named twice, ignores unused ones, and leaves :names in literals alone", async () => {
        const result = await db.query("SELECT :a::int4 + :a::int4 AS twice, ':a' AS literal, :b::text AS b", {
          a: 21,
          b: "x",
          unused: "ignored",
        });
        expect(result.rows).toEqual([{ twice: 42, literal: ":a", b: "x" }]);
      });

      it("refuses a statement that names a parameter it was not given", async () => {
        const error = await failure(db.query("SELECT :present::int4 AS p, :missing::int4 AS m", { present: 1 }), MissingParameterError);
        expect(error.message).toContain(":missing");
        expect(error.parameter).toBe("missing");
      });
    });

    describe("rows and columns", () => {
      const columnTypes: Array<[string, string, string]> = [
        // column, declared type, typeName reported
        ["c_int2", "int2", "int2"],
        ["c_int4", "integer", "int4"],
        ["c_int8", "bigint", "int8"],
        ["c_float4", "real", "float4"],
        ["c_float8", "double precision", "float8"],
        ["c_numeric", "numeric(20,4)", "numeric"],
        ["c_bool", "boolean", "bool"],
        ["c_text", "text", "text"],
        ["c_varchar", "varchar(20)", "varchar"],
        ["c_char", "char(3)", "bpchar"],
        ["c_uuid", "uuid", "uuid"],
        ["c_json", "json", "json"],
        ["c_jsonb", "jsonb", "jsonb"],
        ["c_bytea", "bytea", "bytea"],
        ["c_date", "date", "date"],
        ["c_time", "time", "time"],
        ["c_timestamp", "timestamp", "timestamp"],
        ["c_timestamptz", "timestamptz", "timestamptz"],
        ["c_int4s", "integer[]", "_int4"],
        ["c_texts", "text[]", "_text"],
      ];
      let typed: string;

      beforeAll(async () => {
        typed = table();
        await db.query(`CREATE TABLE ${typed} (id int4 PRIMARY KEY, ${columnTypes.map(([c, t]) => `${c} ${t}`).join(", ")})`);
      });

      it("round-trips a value of every supported type through a table", async () => {
        await db.query(
          // Every parameter is cast: the Data API binds strings as varchar and integers as int8,
          // which PostgreSQL will not assign to every column type unaided.
          `INSERT INTO ${typed} VALUES (1, :int2::int2, :int4::int4, :int8::int8, :float4::float4, :float8::float8,
             :numeric::numeric, :bool::bool, :text::text, :varchar::varchar, :char::bpchar, :uuid::uuid, :json::json, :jsonb::jsonb, :bytea::bytea, :date::date, :time::time,
             :timestamp::timestamp, :timestamptz::timestamptz, :int4s::int4[], :texts::text[])`,
          {
            int2: -7,
            int4: 2147483647,
            int8: 9007199254740993n,
            float4: 0.5,
            float8: 3.25,
            numeric: "1234567890123456.1234",
            bool: true,
            text: "text ; 'quoted'",
            varchar: "varchar",
            char: "ab",
            uuid: "0b3c9a4e-5a5e-4f0e-9d3b-8f1c2d3e4f50",
            json: { k: [1, 2] },
            jsonb: { k: "v" },
            bytea: new Uint8Array([1, 2, 3]),
            date: "2024-02-29",
            time: "23:59:58.5",
            timestamp: "2024-05-01 10:00:00",
            timestamptz: new Date("2024-05-01T10:00:00Z"),
            int4s: "{1,2,NULL}",
            texts: '{"a,b","c\\"d",NULL,"NULL",""}',
          },
        );
        const result = await db.query(`SELECT * FROM ${typed} WHERE id = 1`);
        expect(result.rowCount).toBe(1);
        expect(result.rows[0]).toEqual({
          id: 1,
          c_int2: -7,
          c_int4: 2147483647,
          c_int8: "9007199254740993",
          c_float4: 0.5,
          c_float8: 3.25,
          c_numeric: "1234567890123456.1234",
          c_bool: true,
          c_text: "text ; 'quoted'",
          c_varchar: "varchar",
          c_char: "ab ",
          c_uuid: "0b3c9a4e-5a5e-4f0e-9d3b-8f1c2d3e4f50",
          c_json: '{"k":[1,2]}',
          c_jsonb: '{"k": "v"}',
          c_bytea: new Uint8Array([1, 2, 3]),
          c_date: "2024-02-29",
          c_time: "23:59:58.5",
          c_timestamp: "2024-05-01 10:00:00",
          c_timestamptz: "2024-05-01 10:00:00+00",
          c_int4s: [1, 2, null],
          c_texts: ["a,b", 'c"d', null, "NULL", ""],
        });
      });

      it("reports column names and type names, in order, even for no rows", async () => {
        const result = await db.query(`SELECT * FROM ${typed} WHERE false`);
        expect(result.rows).toEqual([]);
        expect(result.columns).toEqual([
          { name: "id", typeName: "int4" },
          ...columnTypes.map(([name, , typeName]) => ({ name, typeName })),
        ]);
      });

      it("returns NULL in every column as null", async () => {
        await db.query(`INSERT INTO ${typed} (id) VALUES (2)`);
        const result = await db.query(`SELECT * FROM ${typed} WHERE id = 2`);
        expect(Object.values(result.rows[0]!).slice(1).every((v) => v === null)).toBe(true);
      });

      it("decodes multi-dimensional arrays and user-defined types", async () => {
        const mood = `${table()}_mood`;
        await db.query(`CREATE TYPE ${mood} AS ENUM ('ok', 'sad')`);
        const result = await db.query(
          `SELECT '{{1,2},{3,4}}'::int8[] AS grid, ARRAY['ok','sad']::${mood}[] AS moods, 'ok'::${mood} AS mood,
                  ARRAY[true,false] AS flags, '{}'::text[] AS empty`,
        );
        expect(result.rows[0]).toEqual({ grid: [[1, 2], [3, 4]], moods: ["ok", "sad"], mood: "ok", flags: [true, false], empty: [] });
        expect(result.columns.map((c) => c.typeName)).toEqual(["_int8", `_${mood}`, mood, "_bool", "_text"]);
      });

      it("round-trips arbitrary text arrays", async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.option(fc.string({ unit: "grapheme" }).filter((s) => !s.includes("\u0000")), { nil: null }), { maxLength: 6 }),
            async (items) => {
              const result = await db.query(
                "SELECT ARRAY(SELECT e FROM jsonb_array_elements_text(:items::jsonb) AS e) AS a",
                { items },
              );
              expect(result.rows[0]!["a"]).toEqual(items);
            },
          ),
          {
            numRuns: 25,
            examples: [[["\u00a0x\u2003", " lead", "trail\t", "NULL", "null", "", "a,b", '"', "\\", "{}", "é✓"]]],
          },
        );
      });

      it("reports rows affected for INSERT, UPDATE and DELETE, rows returned for SELECT", async () => {
        const t = table();
        expect((await db.query(`CREATE TABLE ${t} (id int4 PRIMARY KEY, n int4)`)).rowCount).toBe(0);
        expect((await db.query(`INSERT INTO ${t} VALUES (1, 0), (2, 0), (3, 0)`)).rowCount).toBe(3);
        expect((await db.query(`UPDATE ${t} SET n = n + 1 WHERE id >= :from`, { from: 2 })).rowCount).toBe(2);
        expect((await db.query(`UPDATE ${t} SET n = 9 WHERE false`)).rowCount).toBe(0);
        const returning = await db.query(`DELETE FROM ${t} WHERE id = 1 RETURNING id`);
        expect(returning.rowCount).toBe(1);
        expect(returning.rows).toEqual([{ id: 1 }]);
        const select = await db.query(`SELECT id, n FROM ${t} ORDER BY id`);
        expect(select.rowCount).toBe(2);
        expect(select.rows).toEqual([{ id: 2, n: 1 }, { id: 3, n: 1 }]);
      });
    });

    describe("one statement per call", () => {
      it("rejects several statements with a clear error, running none of them", async () => {
        const t = table();
        const error = await failure(db.query(`CREATE TABLE ${t} (id int4); SELECT 1`), MultipleStatementsError);
        expect(error).toBeInstanceOf(SqlError);
        expect(error.sqlState).toBe("42601");
        expect(error.message).toMatch(/Multistatements aren't supported/);
        expect(await sqlState(db.query(`SELECT * FROM ${t}`))).toBe("42P01");
      });

      it("rejects an empty statement", async () => {
        await failure(db.query("  -- nothing\n /* here */ ;"), MultipleStatementsError);
      });

      it("accepts one statement with a trailing semicolon, comments, and ; inside quotes and bodies", async () => {
        expect((await db.query("SELECT 1 AS one; -- done")).rows).toEqual([{ one: 1 }]);
        const fn = `${table()}_fn`;
        await db.query(`
          CREATE FUNCTION ${fn}(x int4) RETURNS text LANGUAGE plpgsql AS $body$
          DECLARE s text := 'a;b';
          BEGIN
            RETURN s || ';' || x::text; -- a comment; with :colon
          END;
          $body$;
        `);
        expect((await db.query(`SELECT ${fn}(:x::int4) AS r, $$;$$ AS d, 'x;y' AS "semi;colon"`, { x: 7 })).rows).toEqual([
          { r: "a;b;7", d: ";", "semi;colon": "x;y" },
        ]);
      });
    });

    describe("errors", () => {
      it("carry the SQLState of what the server refused", async () => {
        const t = table();
        await db.query(`CREATE TABLE ${t} (id int4 PRIMARY KEY)`);
        const duplicate = await failure(db.query(`CREATE TABLE ${t} (id int4)`), SqlError);
        expect(duplicate.sqlState).toBe("42P07");
        expect(duplicate.message).toContain("already exists");
        expect(await sqlState(db.query("SELEKT 1"))).toBe("42601");
        await db.query(`INSERT INTO ${t} VALUES (1)`);
        const unique = await failure(db.query(`INSERT INTO ${t} VALUES (:id)`, { id: 1 }), SqlError);
        expect(unique.sqlState).toBe("23505");
        expect(unique.message).toMatch(/duplicate key/);
        expect(await sqlState(db.query("SELECT * FROM contract_no_such_table"))).toBe("42P01");
        expect(await sqlState(db.query("SELECT 1 / 0"))).toBe("22012");
        // The executor is still usable afterwards.
        expect((await db.query(`SELECT count(*)::int4 AS n FROM ${t}`)).rows).toEqual([{ n: 1 }]);
      });
    });

    describe("transactions", () => {
      let t: string;
      beforeAll(async () => {
        t = table();
        await db.query(`CREATE TABLE ${t} (id int4 PRIMARY KEY)`);
      });
      const ids = async () => (await db.query<{ id: number }>(`SELECT id FROM ${t} ORDER BY id`)).rows.map((r) => r.id);

      it("commits when the callback resolves, and returns its value", async () => {
        const value = await db.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${t} VALUES (:id)`, { id: 1 });
          const inside = await tx.query(`SELECT count(*)::int4 AS n FROM ${t}`);
          return inside.rows[0]!["n"];
        });
        expect(value).toBe(1);
        expect(await ids()).toEqual([1]);
      });

      it("rolls back when the callback throws, and rethrows the same error", async () => {
        const thrown = new Error("changed my mind");
        const error = await failure(
          db.transaction(async (tx) => {
            await tx.query(`INSERT INTO ${t} VALUES (2)`);
            await tx.query(`CREATE TABLE ${t}_ddl (id int4)`);
            throw thrown;
          }),
          Error,
        );
        expect(error).toBe(thrown);
        expect(await ids()).toEqual([1]);
        // DDL is transactional too.
        expect(await sqlState(db.query(`SELECT * FROM ${t}_ddl`))).toBe("42P01");
      });

      it("rolls back and rethrows when a statement fails", async () => {
        const error = await failure(
          db.transaction(async (tx) => {
            await tx.query(`INSERT INTO ${t} VALUES (3)`);
            await tx.query(`INSERT INTO ${t} VALUES (1)`);
          }),
          SqlError,
        );
        expect(error.sqlState).toBe("23505");
        expect(await ids()).toEqual([1]);
      });

      it("refuses to commit when a failed statement was swallowed (25P02)", async () => {
        const error = await failure(
          db.transaction(async (tx) => {
            await tx.query(`INSERT INTO ${t} VALUES (4)`);
            await tx.query(`INSERT INTO ${t} VALUES (1)`).catch(() => undefined);
          }),
          SqlError,
        );
        expect(error.sqlState).toBe("25P02");
        expect(await ids()).toEqual([1]);
      });

      it("refuses a nested transaction() and executor.query() inside the callback", async () => {
        await failure(
          db.transaction(async (tx) => {
            await tx.query(`INSERT INTO ${t} VALUES (5)`);
            await db.transaction(async () => undefined);
          }),
          TransactionUsageError,
        );
        await failure(
          db.transaction(async () => {
            await db.query("SELECT 1");
          }),
          TransactionUsageError,
        );
        expect(await ids()).toEqual([1]);
      });

      it("refuses a tx session used after its transaction finished", async () => {
        const leaked = await db.transaction(async (tx) => tx);
        await failure(leaked.query("SELECT 1"), TransactionUsageError);
      });

      it("runs the statements of concurrent callers' transactions without mixing them", async () => {
        await Promise.all(
          [10, 20].map((base) =>
            db.transaction(async (tx) => {
              await tx.query(`INSERT INTO ${t} VALUES (:id)`, { id: base });
              await tx.query(`INSERT INTO ${t} VALUES (:id)`, { id: base + 1 });
            }),
          ),
        );
        expect(await ids()).toEqual([1, 10, 11, 20, 21]);
      });
    });
  });
}
