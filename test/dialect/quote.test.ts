// Quoting and literal rendering: every name and every DDL value becomes SQL text here.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidLiteralError, InvalidNameError, resolveName, displayName } from "../../lib/schema/names.ts";
import {
  quoteIdentifier,
  quoteName,
  quoteString,
  renderLiteral,
  utf8Length,
} from "../../lib/dialect/postgres/quote.ts";

describe("quoteIdentifier", () => {
  it("always quotes, so case and reserved words are kept exactly", () => {
    expect(quoteIdentifier("users")).toBe('"users"');
    expect(quoteIdentifier("Users")).toBe('"Users"');
    expect(quoteIdentifier("select")).toBe('"select"');
    expect(quoteIdentifier("user name")).toBe('"user name"');
  });

  it("doubles embedded quotes, so a name cannot end the identifier early", () => {
    expect(quoteIdentifier('users"; DROP TABLE x; --')).toBe('"users""; DROP TABLE x; --"');
    expect(quoteIdentifier('"')).toBe('""""');
  });

  it("refuses names PostgreSQL cannot hold or would truncate", () => {
    expect(() => quoteIdentifier("")).toThrow(InvalidNameError);
    expect(() => quoteIdentifier("a\0b")).toThrow(/NUL/);
    expect(quoteIdentifier("x".repeat(63))).toHaveLength(65);
    expect(() => quoteIdentifier("x".repeat(64))).toThrow(/64 bytes long; PostgreSQL would truncate it to 63/);
    // Bytes, not characters: 32 two-byte characters are 64 bytes.
    expect(() => quoteIdentifier("é".repeat(32))).toThrow(/64 bytes/);
  });

  it("quotes both parts of a qualified name", () => {
    expect(quoteName({ schema: "app", name: "Users" })).toBe('"app"."Users"');
    expect(quoteName({ schema: "my.schema", name: "a.b" })).toBe('"my.schema"."a.b"');
  });
});

describe("utf8Length", () => {
  const encoder = new TextEncoder();
  it("counts what TextEncoder would write, lone surrogates included", () => {
    expect(utf8Length("users")).toBe(5);
    expect(utf8Length("ünïcødé_🐘")).toBe(encoder.encode("ünïcødé_🐘").length);
    expect(utf8Length("\ud800x")).toBe(4);
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), (text) => utf8Length(text) === encoder.encode(text).length),
      { numRuns: 5000 },
    );
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (text) => utf8Length(text) === encoder.encode(text).length));
  });
});

describe("resolveName", () => {
  it("puts unqualified names in the default schema", () => {
    expect(resolveName("users", "public")).toEqual({ schema: "public", name: "users" });
    expect(resolveName("users", "tenant")).toEqual({ schema: "tenant", name: "users" });
  });

  it("reads a dot as schema qualification", () => {
    expect(resolveName("app.users", "public")).toEqual({ schema: "app", name: "users" });
  });

  it("takes { schema, name } for names that contain a dot", () => {
    expect(resolveName({ schema: "app", name: "v1.users" }, "public")).toEqual({ schema: "app", name: "v1.users" });
    expect(resolveName({ name: "a.b" }, "public")).toEqual({ schema: "public", name: "a.b" });
  });

  it("refuses more than one dot and empty parts", () => {
    expect(() => resolveName("db.app.users", "public")).toThrow(/more than one dot; write \{ schema, name \}/);
    expect(() => resolveName(".users", "public")).toThrow(/empty part/);
    expect(() => resolveName("app.", "public")).toThrow(/empty part/);
  });

  it("shows names unqualified only in the default schema", () => {
    expect(displayName({ schema: "public", name: "users" }, "public")).toBe('"users"');
    expect(displayName({ schema: "app", name: 'we"ird' }, "public")).toBe('"app"."we""ird"');
  });
});

describe("renderLiteral", () => {
  it("writes scalars", () => {
    expect(renderLiteral(null)).toBe("NULL");
    expect(renderLiteral(true)).toBe("true");
    expect(renderLiteral(false)).toBe("false");
    expect(renderLiteral(42)).toBe("42");
    expect(renderLiteral(-1.5)).toBe("-1.5");
    expect(renderLiteral(12345678901234567890n)).toBe("12345678901234567890");
    expect(renderLiteral(Number.NaN)).toBe("'NaN'");
    expect(renderLiteral(-Infinity)).toBe("'-Infinity'");
  });

  it("doubles quotes in strings, so a value cannot end the literal early", () => {
    expect(renderLiteral("it's")).toBe("'it''s'");
    expect(renderLiteral("'); DROP TABLE x; --")).toBe("'''); DROP TABLE x; --'");
  });

  it("uses the E'' form for backslashes, whatever standard_conforming_strings says", () => {
    expect(renderLiteral("C:\\temp\\")).toBe("E'C:\\\\temp\\\\'");
    expect(renderLiteral("\\'; DROP TABLE x; --")).toBe("E'\\\\''; DROP TABLE x; --'");
  });

  it("writes dates, bytes and JSON", () => {
    expect(renderLiteral(new Date("2026-01-02T03:04:05.000Z"))).toBe("'2026-01-02T03:04:05.000Z'");
    expect(renderLiteral(new Uint8Array([0, 255]))).toBe("E'\\\\x00ff'::bytea");
    expect(renderLiteral({ json: { a: "it's" } })).toBe(`'{"a":"it''s"}'`);
    expect(renderLiteral({ json: [1, 2] })).toBe("'[1,2]'");
  });

  it("refuses what it cannot write", () => {
    expect(() => renderLiteral("a\0b")).toThrow(InvalidLiteralError);
    expect(() => renderLiteral(new Date("nope"))).toThrow(/invalid Date/);
    expect(() => renderLiteral({ json: undefined })).toThrow(/no JSON representation/);
    expect(() => renderLiteral({ other: 1 } as never)).toThrow(/must be \{ json: value \}/);
  });

  it("quoteString is the string path", () => {
    expect(quoteString("")).toBe("''");
  });
});

