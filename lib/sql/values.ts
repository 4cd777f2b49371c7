// Pure value conversions shared by every adapter, so a row or a parameter means the same thing
// whether it travelled through PGlite, node-postgres or the Data API. The rules are listed in
// executor.ts; this module is their single implementation (see test/sql/values.test.ts).

import { RetortError } from "../errors.ts";
import type { SqlResultValue, SqlValue } from "./executor.ts";

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/**
 * A parameter after classification: what it is (the Data API adapter needs the kind to pick
 * longValue / doubleValue / stringValue + typeHint / blobValue) and its PostgreSQL text input
 * form (what the text-protocol adapters send).
 */
export type EncodedParam =
  | { readonly kind: "null"; readonly text: null }
  | { readonly kind: "string"; readonly text: string }
  /** From an integral number or a bigint; `text` is plain decimal digits, never an exponent. */
  | { readonly kind: "integer"; readonly text: string; readonly value: bigint }
  | { readonly kind: "float"; readonly text: string; readonly value: number }
  | { readonly kind: "boolean"; readonly text: "true" | "false"; readonly value: boolean }
  /** From a Date; `text` is ISO 8601 in UTC (`2024-05-01T10:00:00.000Z`). */
  | { readonly kind: "timestamp"; readonly text: string; readonly value: Date }
  /** From a Uint8Array; `text` is bytea hex input form (`\x0aff`). */
  | { readonly kind: "bytes"; readonly text: string; readonly value: Uint8Array }
  /** From a plain object or an array; `text` is its JSON. */
  | { readonly kind: "json"; readonly text: string };

/** Thrown for a parameter value the port cannot bind (a Map, a class instance, an invalid Date). */
export class UnsupportedParameterError extends RetortError {
  override readonly code: string = "unsupported-parameter";
  protected override details(): Record<string, unknown> {
    return { parameter: this.parameter };
  }
  constructor(
    readonly parameter: string,
    detail: string,
  ) {
    super(`Cannot bind parameter :${parameter}: ${detail}`);
    this.name = "UnsupportedParameterError";
  }
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Classifies one parameter value. `name` is only used in error messages. */
export function encodeParam(value: SqlValue | undefined, name = "?"): EncodedParam {
  if (value === null) return { kind: "null", text: null };
  switch (typeof value) {
    case "string":
      return { kind: "string", text: value };
    case "boolean":
      return { kind: "boolean", text: value ? "true" : "false", value };
    case "bigint":
      return { kind: "integer", text: value.toString(), value };
    case "number":
      if (Number.isInteger(value)) {
        // BigInt() avoids String()'s exponent form ("1e+21") for large integers.
        const big = BigInt(value);
        return { kind: "integer", text: big.toString(), value: big };
      }
      // NaN and +-Infinity are valid float8 input in PostgreSQL ("NaN", "Infinity", "-Infinity").
      return { kind: "float", text: String(value), value };
    case "undefined":
      throw new UnsupportedParameterError(name, "the value is undefined (use null for SQL NULL)");
    case "object":
      break;
    default:
      throw new UnsupportedParameterError(name, `values of type ${typeof value} are not supported`);
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new UnsupportedParameterError(name, "the Date is invalid");
    return { kind: "timestamp", text: value.toISOString(), value };
  }
  if (value instanceof Uint8Array) return { kind: "bytes", text: bytesToHexText(value), value };
  if (Array.isArray(value) || isPlainObject(value)) {
    let json: string;
    try {
      json = JSON.stringify(value);
    } catch (error) {
      throw new UnsupportedParameterError(name, `it cannot be written as JSON (${String(error)})`);
    }
    return { kind: "json", text: json };
  }
  const ctor = (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
  throw new UnsupportedParameterError(
    name,
    `a ${ctor} is neither a plain object nor an array, so it has no JSON form to bind`,
  );
}

/** bytea hex input/output form: `\x` followed by two lowercase hex digits per byte. */
export function bytesToHexText(bytes: Uint8Array): string {
  return "\\x" + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

const NUMBER_TYPES = new Set(["int2", "int4", "oid", "float4", "float8"]);

/**
 * Decodes one value in PostgreSQL text output form, given the column's type name as the server
 * reports it (`int4`, `_text` for text[]). `null` is SQL NULL. Unknown types stay strings.
 */
export function decodeText(text: string | null, typeName: string): SqlResultValue {
  if (text === null) return null;
  if (typeName.startsWith("_") && typeName.length > 1) {
    const element = typeName.slice(1);
    return parseArrayLiteral(text, element === "box" ? ";" : ",").map(function decode(item): SqlResultValue {
      return Array.isArray(item) ? item.map(decode) : decodeText(item, element);
    });
  }
  return decodeScalar(text, typeName);
}

function decodeScalar(text: string, typeName: string): SqlResultValue {
  if (NUMBER_TYPES.has(typeName)) return Number(text);
  switch (typeName) {
    case "int8":
      return decodeInt8(text);
    case "bool":
      return text === "t" || text === "true";
    case "bytea":
      return parseByteaText(text);
    default:
      return text;
  }
}

/** int8 as a number when it is exactly representable, else its decimal string. */
export function decodeInt8(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

/** Parses bytea text output, in hex form (`\x0aff`, the default) or the old escape form. */
export function parseByteaText(text: string): Uint8Array {
  if (text.startsWith("\\x")) {
    const hex = text.slice(2);
    if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
      throw new SyntaxError(`Malformed bytea hex text: ${JSON.stringify(text.slice(0, 40))}`);
    }
    return new Uint8Array(Buffer.from(hex, "hex"));
  }
  // Escape form (bytea_output = 'escape'): `\\` is a backslash, `\ooo` an octal byte, other
  // characters are themselves (the server only emits printable ASCII).
  const out: number[] = [];
  for (let i = 0; i < text.length; ) {
    if (text[i] === "\\") {
      if (text[i + 1] === "\\") {
        out.push(0x5c);
        i += 2;
        continue;
      }
      const octal = text.slice(i + 1, i + 4);
      if (!/^[0-3][0-7]{2}$/.test(octal)) {
        throw new SyntaxError(`Malformed bytea escape text at offset ${i}`);
      }
      out.push(parseInt(octal, 8));
      i += 4;
      continue;
    }
    out.push(text.charCodeAt(i) & 0xff);
    i += 1;
  }
  return new Uint8Array(out);
}

/** An array literal's items before element decoding: strings, NULLs and nested arrays. */
export type ArrayItems = Array<string | null | ArrayItems>;

/**
 * Parses a PostgreSQL array literal in text output form (`{1,2,NULL}`, `{"a b","c\"d"}`,
 * `{{1,2},{3,4}}`, `[0:1]={7,8}`) into nested arrays of raw element texts. An unquoted NULL is
 * SQL NULL; a quoted "NULL" is the string.
 */
export function parseArrayLiteral(text: string, delimiter = ","): ArrayItems {
  let i = 0;
  // Arrays with non-default lower bounds carry a dimension decoration: `[0:2]={...}`.
  if (text[0] === "[") {
    const eq = text.indexOf("=");
    if (eq < 0) throw malformedArray(text, 0);
    i = eq + 1;
  }
  const fail = (): never => {
    throw malformedArray(text, i);
  };

  function parseArray(): ArrayItems {
    if (text[i] !== "{") fail();
    i += 1;
    const items: ArrayItems = [];
    skipSpace();
    if (text[i] === "}") {
      i += 1;
      return items;
    }
    for (;;) {
      skipSpace();
      const c = text[i];
      if (c === "{") items.push(parseArray());
      else if (c === '"') items.push(parseQuoted());
      else items.push(parseUnquoted());
      skipSpace();
      if (text[i] === delimiter) {
        i += 1;
        continue;
      }
      if (text[i] === "}") {
        i += 1;
        return items;
      }
      fail();
    }
  }

  function parseQuoted(): string {
    i += 1; // opening quote
    let out = "";
    while (i < text.length) {
      const c = text[i]!;
      if (c === "\\") {
        if (i + 1 >= text.length) fail();
        out += text[i + 1];
        i += 2;
        continue;
      }
      if (c === '"') {
        i += 1;
        return out;
      }
      out += c;
      i += 1;
    }
    return fail();
  }

  function parseUnquoted(): string | null {
    let out = "";
    while (i < text.length) {
      const c = text[i]!;
      if (c === delimiter || c === "}") break;
      if (c === "{" || c === '"') fail();
      if (c === "\\") {
        if (i + 1 >= text.length) fail();
        out += text[i + 1];
        i += 2;
        continue;
      }
      out += c;
      i += 1;
    }
    const trimmed = out.replace(ASCII_SPACE_EDGES, "");
    if (trimmed === "") fail();
    return trimmed.toUpperCase() === "NULL" ? null : trimmed;
  }

  function skipSpace(): void {
    while (i < text.length && ASCII_SPACE.test(text[i]!)) i += 1;
  }

  const result = parseArray();
  skipSpace();
  if (i !== text.length) fail();
  return result;
}

// array_in skips only what C's isspace() calls space; other Unicode spaces are element text.
const ASCII_SPACE = /[ \t\n\r\v\f]/;
const ASCII_SPACE_EDGES = /^[ \t\n\r\v\f]+|[ \t\n\r\v\f]+$/g;

function malformedArray(text: string, at: number): SyntaxError {
  return new SyntaxError(
    `Malformed array literal at offset ${at}: ${JSON.stringify(text.length > 80 ? text.slice(0, 80) + "..." : text)}`,
  );
}
