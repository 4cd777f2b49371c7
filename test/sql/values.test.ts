// The value conversions every adapter shares: parameter encoding and text-form decoding.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  UnsupportedParameterError,
  bytesToHexText,
  decodeInt8,
  decodeText,
  encodeParam,
  parseArrayLiteral,
  parseByteaText,
} from "../../lib/sql/values.ts";

describe("encodeParam", () => {
  it("classifies every supported value and gives its PostgreSQL text form", () => {
    expect(encodeParam(null)).toEqual({ kind: "null", text: null });
    expect(encodeParam("x")).toEqual({ kind: "string", text: "x" });
    expect(encodeParam(true)).toEqual({ kind: "boolean", text: "true", value: true });
    expect(encodeParam(false)).toEqual({ kind: "boolean", text: "false", value: false });
    expect(encodeParam(42)).toEqual({ kind: "integer", text: "42", value: 42n });
    expect(encodeParam(-0)).toEqual({ kind: "integer", text: "0", value: 0n });
    expect(encodeParam(1e21)).toEqual({ kind: "integer", text: "1000000000000000000000", value: 10n ** 21n });
    expect(encodeParam(2n ** 64n)).toEqual({ kind: "integer", text: "18446744073709551616", value: 2n ** 64n });
    expect(encodeParam(1.5)).toEqual({ kind: "float", text: "1.5", value: 1.5 });
    expect(encodeParam(1e-7).text).toBe("1e-7");
    expect(encodeParam(Number.NaN).text).toBe("NaN");
    expect(encodeParam(Number.POSITIVE_INFINITY).text).toBe("Infinity");
    expect(encodeParam(Number.NEGATIVE_INFINITY).text).toBe("-Infinity");
    const date = new Date("2024-05-01T10:00:00.123Z");
    expect(encodeParam(date)).toEqual({ kind: "timestamp", text: "2024-05-01T10:00:00.123Z", value: date });
    const bytes = new Uint8Array([0, 15, 255]);
    expect(encodeParam(bytes)).toEqual({ kind: "bytes", text: "\\x000fff", value: bytes });
    expect(encodeParam(Buffer.from("hi")).kind).toBe("bytes");
    expect(encodeParam({ a: [1, "x"], b: null })).toEqual({ kind: "json", text: '{"a":[1,"x"],"b":null}' });
    expect(encodeParam([1, 2])).toEqual({ kind: "json", text: "[1,2]" });
    expect(encodeParam(Object.create(null) as object as Record<string, unknown>)).toEqual({ kind: "json", text: "{}" });
  });

  it("refuses values it cannot bind, naming the parameter", () => {
    expect(() => encodeParam(undefined, "p")).toThrow(UnsupportedParameterError);
    expect(() => encodeParam(undefined, "p")).toThrow(/:p.*undefined/);
    expect(() => encodeParam(new Date("nope"), "d")).toThrow(/invalid/);
    expect(() => encodeParam(new Map() as never, "m")).toThrow(/Map/);
    expect(() => encodeParam((() => 1) as never, "f")).toThrow(/function/);
    expect(() => encodeParam({ big: 1n }, "j")).toThrow(/JSON/);
  });
});

describe("decodeText", () => {
  it("applies the normalisation rules by type name", () => {
    expect(decodeText(null, "int4")).toBeNull();
    expect(decodeText("-5", "int2")).toBe(-5);
    expect(decodeText("2147483647", "int4")).toBe(2147483647);
    expect(decodeText("4294967295", "oid")).toBe(4294967295);
    expect(decodeText("1.5", "float4")).toBe(1.5);
    expect(decodeText("NaN", "float8")).toBeNaN();
    expect(decodeText("-Infinity", "float8")).toBe(Number.NEGATIVE_INFINITY);
    expect(decodeText("9007199254740991", "int8")).toBe(9007199254740991);
    expect(decodeText("9007199254740992", "int8")).toBe("9007199254740992");
    expect(decodeText("-9223372036854775808", "int8")).toBe("-9223372036854775808");
    expect(decodeText("12.50", "numeric")).toBe("12.50");
    expect(decodeText("t", "bool")).toBe(true);
    expect(decodeText("f", "bool")).toBe(false);
    expect(decodeText('{"a": 1}', "jsonb")).toBe('{"a": 1}');
    expect(decodeText("2024-05-01 10:00:00+00", "timestamptz")).toBe("2024-05-01 10:00:00+00");
    expect(decodeText("\\x01ff", "bytea")).toEqual(new Uint8Array([1, 255]));
    expect(decodeText("ok", "my_enum")).toBe("ok");
  });

  it("decodes arrays element by element, nested and with NULLs", () => {
    expect(decodeText("{1,2,NULL}", "_int4")).toEqual([1, 2, null]);
    expect(decodeText("{{1,2},{3,4}}", "_int8")).toEqual([[1, 2], [3, 4]]);
    expect(decodeText("{t,f}", "_bool")).toEqual([true, false]);
    expect(decodeText('{"\\\\x01",NULL}', "_bytea")).toEqual([new Uint8Array([1]), null]);
    expect(decodeText('{"2024-01-01 00:00:00+00"}', "_timestamptz")).toEqual(["2024-01-01 00:00:00+00"]);
    expect(decodeText("{(0,0),(1,1);(2,2),(3,3)}", "_box")).toEqual(["(0,0),(1,1)", "(2,2),(3,3)"]);
  });
});

describe("parseArrayLiteral", () => {
  it("handles quoting, escapes, NULL vs \"NULL\", empties and dimension decorations", () => {
    expect(parseArrayLiteral("{}")).toEqual([]);
    expect(parseArrayLiteral('{"a,b","c\\"d","e\\\\f",NULL,"NULL",null,""," x "}')).toEqual([
      "a,b",
      'c"d',
      "e\\f",
      null,
      "NULL",
      null,
      "",
      " x ",
    ]);
    expect(parseArrayLiteral("[0:1]={7,8}")).toEqual(["7", "8"]);
    expect(parseArrayLiteral("{ 1 , 2 }")).toEqual(["1", "2"]);
    expect(parseArrayLiteral("{{},{}}")).toEqual([[], []]);
    expect(parseArrayLiteral("{\u00a0x\u2003}")).toEqual(["\u00a0x\u2003"]);
  });

  it("rejects malformed literals", () => {
    for (const bad of ["", "1,2", "{1,2", "{1,,2}", '{"a}', "{1}x", "[0:1]{1}", "{a{b}"]) {
      expect(() => parseArrayLiteral(bad), bad).toThrow(SyntaxError);
    }
  });

  it("reads back what PostgreSQL's quoting rules write (property)", () => {
    // array_out quotes an element when it is empty, "NULL", or contains specials or whitespace.
    const quote = (s: string) =>
      s === "" || /^null$/i.test(s) || /[{}",\\ \t\n\r\v\f]/.test(s) ? `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"` : s;
    fc.assert(
      fc.property(fc.array(fc.option(fc.string(), { nil: null }), { maxLength: 8 }), (items) => {
        const literal = `{${items.map((s) => (s === null ? "NULL" : quote(s))).join(",")}}`;
        expect(parseArrayLiteral(literal)).toEqual(items);
      }),
      { numRuns: 300 },
    );
  });
});

describe("bytea and int8 helpers", () => {
  it("round-trips bytes through hex text", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(parseByteaText(bytesToHexText(bytes))).toEqual(bytes);
      }),
    );
  });

  it("reads the escape output form too", () => {
    expect(parseByteaText("a\\000\\\\\\377z")).toEqual(new Uint8Array([97, 0, 92, 255, 122]));
    expect(() => parseByteaText("\\x0")).toThrow(SyntaxError);
    expect(() => parseByteaText("\\9")).toThrow(SyntaxError);
  });

  it("keeps int8 exact", () => {
    expect(decodeInt8("-9007199254740991")).toBe(-9007199254740991);
    expect(decodeInt8("-9007199254740992")).toBe("-9007199254740992");
  });
});
