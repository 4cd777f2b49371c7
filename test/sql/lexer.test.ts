// The PostgreSQL lexer: statement splitting and :name -> $n rewriting must never be fooled by
// literals, quoted identifiers, comments or dollar-quoted bodies.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MissingParameterError, mapNamedParameters, splitStatements, toPositional } from "../../lib/sql/lexer.ts";

describe("splitStatements", () => {
  it("splits on top-level semicolons, trims, and drops the trailing one", () => {
    expect(splitStatements("SELECT 1;  SELECT 2 ;\nSELECT 3")).toEqual(["SELECT 1", "SELECT 2", "SELECT 3"]);
    expect(splitStatements("SELECT 1;")).toEqual(["SELECT 1"]);
  });

  it("drops blank pieces: empty, whitespace, comments only (nested ones too)", () => {
    expect(splitStatements("")).toEqual([]);
    expect(splitStatements(" ; ;\n\t;")).toEqual([]);
    expect(splitStatements("-- only a comment; really\n")).toEqual([]);
    expect(splitStatements("SELECT 1; /* a /* nested; */ still comment; */ ; -- end;")).toEqual(["SELECT 1"]);
    expect(splitStatements("/* lead */ SELECT 1")).toEqual(["/* lead */ SELECT 1"]);
  });

  it("keeps dollar-quoted function bodies whole ($$ and $tag$)", () => {
    const fn = `CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1; RETURN 2;
END;
$$`;
    const tagged = `CREATE FUNCTION g() RETURNS text LANGUAGE plpgsql AS $body$
BEGIN RETURN $$;$$ || 'x;'; END;
$body$`;
    expect(splitStatements(`${fn};\n${tagged};\nSELECT 3`)).toEqual([fn, tagged, "SELECT 3"]);
  });

  it("only closes a dollar quote with the same tag (case-sensitive)", () => {
    const sql = "SELECT $a$ $b$ ; $A$ ; $a$ AS v";
    expect(splitStatements(`${sql}; SELECT 2`)).toEqual([sql, "SELECT 2"]);
  });

  it("does not take $1 or identifiers with $ for dollar quotes", () => {
    expect(splitStatements("SELECT $1; SELECT $2")).toEqual(["SELECT $1", "SELECT $2"]);
    expect(splitStatements("SELECT a$b$c FROM t; SELECT 2")).toEqual(["SELECT a$b$c FROM t", "SELECT 2"]);
  });

  it("ignores semicolons in comments, string literals and quoted identifiers", () => {
    const statements = [
      "SELECT 'a;b', 'it''s; fine' -- trailing; comment\nFROM t",
      "SELECT E'esc\\'aped; quote', E'back\\\\' AS x",
      'SELECT 1 AS "semi;colon", 2 AS "quote""d;"',
      "SELECT 'standard\\' AS y",
      "/* block; comment */ SELECT 4",
    ];
    expect(splitStatements(statements.join(";\n"))).toEqual(statements);
  });

  it("does not split inside parentheses (CREATE RULE ... DO (a; b))", () => {
    const rule = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))";
    expect(splitStatements(`${rule}; SELECT 1`)).toEqual([rule, "SELECT 1"]);
  });

  it("keeps SQL-standard function bodies (BEGIN ATOMIC ... END) whole, as psql does", () => {
    const fn = `CREATE OR REPLACE FUNCTION h(x int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;
  SELECT x;
END`;
    const proc = "create procedure p() begin atomic insert into t values (1); end";
    expect(splitStatements(`${fn};\n${proc};\nBEGIN; COMMIT`)).toEqual([fn, proc, "BEGIN", "COMMIT"]);
  });

  it("treats ::casts and :names as code", () => {
    expect(splitStatements("SELECT '1'::int; SELECT :a::text")).toEqual(["SELECT '1'::int", "SELECT :a::text"]);
  });
});

describe("toPositional", () => {
  it("numbers parameters in order of first use and reuses numbers", () => {
    expect(toPositional("SELECT :a, :b, :a", { a: 1, b: 2 })).toEqual({
      text: "SELECT $1, $2, $1",
      values: [1, 2],
      names: ["a", "b"],
    });
  });

  it("ignores supplied parameters that are not used", () => {
    expect(toPositional("SELECT :a", { a: 1, extra: 2 }).values).toEqual([1]);
  });

  it("leaves ::casts, literals, identifiers, comments and dollar bodies alone", () => {
    const sql = [
      "SELECT :v::int4, ':no', E'\\':no', \"col:no\"",
      "-- :no in a line comment",
      "/* :no /* nested :no */ still :no */",
      "$$ :no $$, $t$ :no $t$, x::text",
      "WHERE id = :id",
    ].join("\n");
    const { text, names } = toPositional(sql, { v: 1, id: 2 });
    expect(names).toEqual(["v", "id"]);
    expect(text).toBe(sql.replace(":v::", "$1::").replace(":id", "$2"));
  });

  it("supports names with digits and underscores, and :name right after a parenthesis", () => {
    expect(toPositional("VALUES (:p_1,:P2)", { p_1: "a", P2: "b" }).text).toBe("VALUES ($1,$2)");
  });

  it("takes numbered names (:1, :0), as kysely-data-api and drizzle's aws-data-api send them", () => {
    expect(toPositional("SELECT * FROM t WHERE a = :1 AND b IN (:2,:1) LIMIT :3", { 1: "x", 2: "y", 3: 5 })).toEqual({
      text: "SELECT * FROM t WHERE a = $1 AND b IN ($2,$1) LIMIT $3",
      values: ["x", "y", 5],
      names: ["1", "2", "3"],
    });
    expect(mapNamedParameters("VALUES (:0, cast(:1 as int4[]), ARRAY[:2], :3::text, :1a)", (name) => `<${name}>`)).toBe(
      "VALUES (<0>, cast(<1> as int4[]), ARRAY[<2>], <3>::text, <1a>)",
    );
  });

  it("leaves array slices with a number after the colon alone (arr[1:2], arr[n:3])", () => {
    const sql = "SELECT (ARRAY[1,2,3])[1:2], tags[n:3], '10:30'::time, x::int4 FROM t";
    expect(toPositional(sql, {})).toEqual({ text: sql, values: [], names: [] });
  });

  it("throws MissingParameterError naming the parameter", () => {
    expect(() => toPositional("SELECT :present, :absent", { present: 1 })).toThrow(MissingParameterError);
    expect(() => toPositional("SELECT :absent")).toThrow(/:absent/);
  });

  it("treats a parameter whose value is null as supplied", () => {
    expect(toPositional("SELECT :a", { a: null }).values).toEqual([null]);
  });

  it("does not look up names on the prototype", () => {
    expect(() => toPositional("SELECT :toString", {})).toThrow(MissingParameterError);
  });

  it("keeps text outside parameters verbatim (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme-ascii" }), (s) => {
        // Without any ':' followed by a letter, or by a digit where the ':' does not follow a
        // word (arr[1:2] is a slice), nothing changes.
        fc.pre(!/:[A-Za-z_]/.test(s) && !/(^|[^A-Za-z0-9_$]):[0-9]/.test(s));
        expect(toPositional(s, {}).text).toBe(s);
        expect(mapNamedParameters(s, () => "X")).toBe(s);
      }),
      { numRuns: 300 },
    );
  });
});

describe("splitStatements (property)", () => {
  it("joining simple statements with ; and splitting gives them back", () => {
    const statement = fc
      .array(
        fc.oneof(
          fc.constantFrom("SELECT 1", "x", "'a;b'", '"q;q"', "$$;$$", "$t$ ; $t$", "-- c;\n", "/* ; */", "(a; b)"),
          fc.stringMatching(/^[a-z ]{1,8}$/),
        ),
        { minLength: 1, maxLength: 5 },
      )
      .map((parts) => `SELECT ${parts.join(" ")} END`.trim());
    fc.assert(
      fc.property(fc.array(statement, { minLength: 1, maxLength: 4 }), (statements) => {
        expect(splitStatements(statements.join(";\n"))).toEqual(statements);
      }),
      { numRuns: 200 },
    );
  });
});
