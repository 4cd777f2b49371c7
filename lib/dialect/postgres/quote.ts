// Identifier quoting and literal rendering for PostgreSQL: the only two ways a name or a value
// becomes SQL text in retort. Identifiers are always double-quoted (so case, embedded quotes and
// reserved words survive exactly); values that DDL cannot bind go through renderLiteral alone.
import { InvalidLiteralError, InvalidNameError, type QualifiedName } from "../../schema/names.ts";
import type { LiteralValue } from "../../schema/operation.ts";

/** PostgreSQL's NAMEDATALEN - 1: longer identifiers are silently truncated by the server. */
export const MAX_IDENTIFIER_BYTES = 63;

/**
 * How many bytes `text` takes in UTF-8, without encoding it (every identifier is measured; a lone
 * surrogate counts as the 3 bytes of the U+FFFD that replaces it, as TextEncoder does).
 */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}

export function quoteIdentifier(part: string): string {
  checkIdentifier(part);
  return `"${part.replaceAll('"', '""')}"`;
}

export function quoteName(name: QualifiedName): string {
  return `${quoteIdentifier(name.schema)}.${quoteIdentifier(name.name)}`;
}

/**
 * Refuses identifiers PostgreSQL cannot hold (empty, a NUL byte) or would truncate without an
 * error (over 63 bytes), which would leave the snapshot naming an object that does not exist.
 */
export function checkIdentifier(part: string): void {
  if (typeof part !== "string" || part === "") {
    throw new InvalidNameError(`an identifier cannot be empty`, part);
  }
  if (part.includes("\0")) {
    throw new InvalidNameError(`identifier ${JSON.stringify(part)} contains a NUL character`, part);
  }
  const bytes = utf8Length(part);
  if (bytes > MAX_IDENTIFIER_BYTES) {
    throw new InvalidNameError(
      `identifier ${JSON.stringify(part)} is ${bytes} bytes long; PostgreSQL would truncate it to ${MAX_IDENTIFIER_BYTES}`,
      part,
    );
  }
}

/**
 * A standard string literal. Backslashes switch to the E'' form with backslashes doubled, so the
 * result means the same whatever standard_conforming_strings is set to.
 */
export function quoteString(text: string): string {
  if (text.includes("\0")) {
    throw new InvalidLiteralError("PostgreSQL text cannot contain a NUL character", text);
  }
  const body = text.replaceAll("'", "''");
  return text.includes("\\") ? `E'${body.replaceAll("\\", "\\\\")}'` : `'${body}'`;
}

export function renderLiteral(value: LiteralValue): string {
  if (value === null) return "NULL";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return value.toString();
    case "number":
      // 'NaN' and 'Infinity' are accepted by float and numeric input, not as bare words.
      return Number.isFinite(value) ? String(value) : quoteString(String(value));
    case "string":
      return quoteString(value);
    case "object":
      break;
    default:
      throw new InvalidLiteralError(`cannot write a ${typeof value} as an SQL literal`, value);
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) {
      throw new InvalidLiteralError("cannot write an invalid Date as an SQL literal", value);
    }
    return quoteString(value.toISOString());
  }
  if (value instanceof Uint8Array) {
    return `${quoteString(`\\x${Buffer.from(value).toString("hex")}`)}::bytea`;
  }
  if ("json" in value) {
    const text = JSON.stringify(value.json);
    if (text === undefined) {
      throw new InvalidLiteralError("the json value has no JSON representation", value);
    }
    return quoteString(text);
  }
  throw new InvalidLiteralError(
    "an object literal must be { json: value }; write { sql: ... } for an SQL expression",
    value,
  );
}
