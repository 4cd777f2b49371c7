// The PostgreSQL lexer: statement splitting, :name -> $n rewriting and tokens must never be fooled
// by literals, quoted identifiers, comments or dollar-quoted bodies, and read identifiers as
// PostgreSQL does.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MissingParameterError,
  isPunct,
  isWord,
  mapNamedParameters,
  maskLiterals,
  splitStatements,
  toPositional,
  tokenize,
} from "../../lib/sql/lexer.ts";

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

// PostgreSQL's scanner (scan.l): an unquoted identifier starts with a letter, `_` or any character
// from U+0080 up, and goes on with those, digits and `$`; dollar-quote tags take the same letters.
// Each case below was checked against PostgreSQL (PGlite) for what it makes of the text.
describe("PostgreSQL's identifier rules: characters from U+0080 up are letters", () => {
  it("reads a dollar-quote tag with such letters as a tag ($défini$)", () => {
    const fn = "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $défini$ BEGIN RETURN 1; END $défini$";
    expect(splitStatements(`${fn}; SELECT 2`)).toEqual([fn, "SELECT 2"]);
    expect(maskLiterals(fn)).toBe("CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$");
  });

  it("keeps a `$` after such a letter in the identifier, where it opens no dollar quote (né$$)", () => {
    expect(splitStatements("SELECT 1 AS né$$; SELECT 2")).toEqual(["SELECT 1 AS né$$", "SELECT 2"]);
  });

  it("takes a word ending in such a letter as a word: :3 after it is an array slice (prix[quantité:3])", () => {
    const sql = "SELECT prix[quantité:3] FROM t";
    expect(toPositional(sql, {})).toEqual({ text: sql, values: [], names: [] });
  });

  it("does not read the END inside a word as the END of a BEGIN ATOMIC body (éend)", () => {
    const fn = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS éend; END";
    expect(splitStatements(`${fn}; SELECT 2`)).toEqual([fn, "SELECT 2"]);
  });

  it("reads E'...' after such a letter as an identifier and a standard string (caféE'\\')", () => {
    expect(splitStatements("SELECT 1 AS caféE'\\'; SELECT 2")).toEqual(["SELECT 1 AS caféE'\\'", "SELECT 2"]);
  });
});

describe("tokenize", () => {
  const words = (sql: string) => tokenize(sql).map((t) => `${t.type}:${t.value}`);

  it("reads identifiers as PostgreSQL does, folding only A-Z to lower case", () => {
    expect(words("CREATE TABLE café (x int)")).toEqual([
      "word:create", "word:table", "word:café", "punct:(", "word:x", "word:int", "punct:)",
    ]);
    expect(words('ALTER TABLE TÀBLE ADD "Ç""q" int')).toEqual([
      "word:alter", "word:table", "word:tÀble", "word:add", 'quoted:Ç"q', "word:int",
    ]);
    expect(words("SELECT a$b, né$$, _x1")).toEqual(["word:select", "word:a$b", "punct:,", "word:né$$", "punct:,", "word:_x1"]);
  });

  it("drops comments and keeps each literal whole", () => {
    expect(
      words("DO $défini$ BEGIN DELETE FROM t; END $défini$ -- c\n/* a /* nested */ b */ E'it\\'s' 'x''y' $$;$$ 1.5e-3 .5 42"),
    ).toEqual([
      "word:do",
      "literal:$défini$ BEGIN DELETE FROM t; END $défini$",
      "literal:E'it\\'s'",
      "literal:'x''y'",
      "literal:$$;$$",
      "literal:1.5e-3",
      "literal:.5",
      "literal:42",
    ]);
    expect(words("FOR i IN 1..10 LOOP")).toEqual(["word:for", "word:i", "word:in", "literal:1", "punct:..", "literal:10", "word:loop"]);
  });

  it("reads parameters as the lexer's other scans do: :name and :1, but not a cast or a slice", () => {
    expect(words("WHERE a = :id AND b = :1 AND c::text = x[n:2]")).toEqual([
      "word:where", "word:a", "punct:=", "param:id", "word:and", "word:b", "punct:=", "param:1",
      "word:and", "word:c", "punct:::", "word:text", "punct:=", "word:x", "punct:[", "word:n", "punct::", "literal:2", "punct:]",
    ]);
  });

  it("has helpers for keywords and punctuation", () => {
    const [select, star] = tokenize("SELECT *");
    expect(isWord(select, "insert", "select")).toBe(true);
    expect(isWord(star, "select")).toBe(false);
    expect(isPunct(star, "*")).toBe(true);
    expect(isPunct(undefined, "*")).toBe(false);
  });
});

describe("tokenize and the other scans (property)", () => {
  const piece = fc.constantFrom(
    "SELECT", "café", "TÀBLE", "né$$", "a$b", "x", "'a;b'", "E'x\\';y'", "caféE'\\'", '"Q"";q"', "$$ ; $$", "$défini$ ;$$; $défini$",
    "-- c;\n", "/* a /* ; */ ; */", ":p", ":é1", ":1", "x[n:2]", "1.5e3", "$1", "(", ")", ";", "::int", "\u00a0",
  );
  const script = fc.array(piece, { maxLength: 14 }).map((parts) => parts.join(" "));

  it("finds the parameters mapNamedParameters finds", () => {
    fc.assert(
      fc.property(script, (sql) => {
        const named: string[] = [];
        mapNamedParameters(sql, (name) => (named.push(name), ""));
        expect(tokenize(sql).filter((t) => t.type === "param").map((t) => t.value)).toEqual(named);
      }),
      { numRuns: 300 },
    );
  });

  it("ends statements where splitStatements does", () => {
    fc.assert(
      fc.property(script, (sql) => {
        let depth = 0;
        let statements = 0;
        let content = false;
        for (const t of tokenize(sql)) {
          if (isPunct(t, ";") && depth === 0) {
            if (content) statements += 1;
            content = false;
            continue;
          }
          if (isPunct(t, "(")) depth += 1;
          else if (isPunct(t, ")") && depth > 0) depth -= 1;
          content = true;
        }
        expect(splitStatements(sql)).toHaveLength(statements + (content ? 1 : 0));
      }),
      { numRuns: 300 },
    );
  });

  it("takes parameter names with letters from U+0080 up, as psql takes variable names", () => {
    expect(toPositional("SELECT :café, :café", { café: 1 })).toEqual({ text: "SELECT $1, $1", values: [1], names: ["café"] });
  });
});
