// Type names in format_type's spelling, and PostgreSQL's names for unnamed constraints.
import { describe, expect, it } from "vitest";
import { constraintName, makeObjectName } from "../../lib/dialect/postgres/naming.ts";
import { isSerialType, normalizeType } from "../../lib/dialect/postgres/types.ts";

describe("normalizeType", () => {
  it.each([
    ["int", "integer"],
    ["INT4", "integer"],
    ["serial", "integer"],
    ["bigserial", "bigint"],
    ["int8", "bigint"],
    ["smallint", "smallint"],
    ["varchar(100)", "character varying(100)"],
    ["VARCHAR", "character varying"],
    ["character varying(5)", "character varying(5)"],
    ["char", "character(1)"],
    ["char(3)", "character(3)"],
    ["bool", "boolean"],
    ["float8", "double precision"],
    ["float", "double precision"],
    ["float(10)", "real"],
    ["decimal(10, 2)", "numeric(10,2)"],
    ["numeric(7)", "numeric(7,0)"],
    ["numeric", "numeric"],
    ["timestamptz", "timestamp with time zone"],
    ["timestamp", "timestamp without time zone"],
    ["timestamptz(3)", "timestamp(3) with time zone"],
    ["timestamp(6)  WITH TIME ZONE", "timestamp(6) with time zone"],
    ["time", "time without time zone"],
    ["timetz", "time with time zone"],
    ["int[]", "integer[]"],
    ["int[3][3]", "integer[]"],
    ["varchar(20)[]", "character varying(20)[]"],
    ["text", "text"],
    ["jsonb", "jsonb"],
    ['"Mood"', '"Mood"'],
    ["varbit(4)", "bit varying(4)"],
  ])("%s -> %s", (input, expected) => {
    expect(normalizeType(input)).toBe(expected);
  });

  it("knows the serial shorthands", () => {
    expect(isSerialType("BIGSERIAL")).toBe(true);
    expect(isSerialType("integer")).toBe(false);
  });
});

describe("constraint names", () => {
  it("follows PostgreSQL's convention", () => {
    expect(constraintName("users", ["id"], "pkey")).toBe("users_pkey");
    expect(constraintName("users", ["email"], "key")).toBe("users_email_key");
    expect(constraintName("users", ["org_id", "email"], "key")).toBe("users_org_id_email_key");
    expect(constraintName("orders", ["user_id"], "fkey")).toBe("orders_user_id_fkey");
    expect(constraintName("orders", [], "check")).toBe("orders_check");
    expect(constraintName("users", ["email"], "key1")).toBe("users_email_key1");
  });

  it("shortens the longer part to fit 63 bytes, as makeObjectName does", () => {
    const name = makeObjectName("t".repeat(40), "c".repeat(40), "fkey");
    expect(name).toBe(`${"t".repeat(29)}_${"c".repeat(28)}_fkey`);
    expect(Buffer.byteLength(name)).toBe(63);
  });

  it("never cuts a multi-byte character in half", () => {
    expect(makeObjectName("é".repeat(40), null, "pkey")).toBe(`${"é".repeat(29)}_pkey`);
    // 57 bytes are left for "é..." after "_x_fkey": 28 characters (56 bytes), not 28.5.
    const odd = makeObjectName("é".repeat(40), "x", "fkey");
    expect(odd).toBe(`${"é".repeat(28)}_x_fkey`);
    expect(Buffer.byteLength(odd)).toBe(63);
  });
});
