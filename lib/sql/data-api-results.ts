// ExecuteStatement responses (columnMetadata, typed record fields) as the port's QueryResult,
// following the row rules in executor.ts, for the Data API executor. Pure: no call is made here.

import type { ArrayValue, ColumnMetadata, ExecuteStatementCommandOutput, Field } from "@aws-sdk/client-rds-data";
import type { ColumnMeta, QueryResult, SqlResultValue } from "./executor.ts";
import { decodeInt8, decodeText } from "./values.ts";

// pgjdbc reports serial columns by their pseudo-type; the port names the real type.
const TYPE_ALIASES: Readonly<Record<string, string>> = {
  serial: "int4",
  bigserial: "int8",
  smallserial: "int2",
  serial4: "int4",
  serial8: "int8",
  serial2: "int2",
};

/** The column's type name as the port reports it (`_int4` for arrays, real types for serials). */
export function normalizeTypeName(typeName: string | undefined): string {
  const name = (typeName ?? "").toLowerCase();
  if (name.endsWith("[]")) return "_" + normalizeTypeName(name.slice(0, -2));
  return TYPE_ALIASES[name] ?? name;
}

/** Column list from columnMetadata. */
export function toColumns(metadata: readonly ColumnMetadata[] | undefined): ColumnMeta[] {
  return (metadata ?? []).map((c, i) => ({
    name: c.label ?? c.name ?? `?column?${i}`,
    typeName: normalizeTypeName(c.typeName),
  }));
}

const TZ_TYPES = new Set(["timestamptz", "timetz"]);

/**
 * The service renders timestamptz and timetz in UTC without an offset; the port's text form (the
 * other adapters, session time zone UTC) ends in `+00`.
 */
function withUtcOffset(text: string, typeName: string): string {
  if (!TZ_TYPES.has(typeName) || /^-?infinity$/i.test(text)) return text;
  const bc = text.endsWith(" BC");
  const body = bc ? text.slice(0, -3) : text;
  // Look for an offset in the time part only (a date's dashes are not one).
  const time = typeName === "timestamptz" ? body.slice(body.indexOf(" ") + 1) : body;
  if (/(?:[+-]\d{2}(?::?\d{2}){0,2}|Z)$/i.test(time)) return text;
  return `${body}+00${bc ? " BC" : ""}`;
}

/** A text value as the port returns it for `typeName`. */
function fromText(text: string, typeName: string): SqlResultValue {
  return decodeText(withUtcOffset(text, typeName), typeName);
}

function fromLong(value: number, typeName: string): SqlResultValue {
  if (typeName === "int8") return decodeInt8(String(value));
  if (typeName === "numeric" || typeName === "money") return String(value);
  return value;
}

function fromDouble(value: number, typeName: string): SqlResultValue {
  // decimalReturnType DOUBLE_OR_LONG would send numerics as doubles; the port wants their text.
  if (typeName === "numeric" || typeName === "money") return String(value);
  return value;
}

/** One field as the port's value, given the column's (normalised) type name. */
export function fromField(field: Field | undefined, typeName: string): SqlResultValue {
  if (field === undefined || field.isNull) return null;
  if (field.stringValue !== undefined) return fromText(field.stringValue, typeName);
  if (field.longValue !== undefined) return fromLong(field.longValue, typeName);
  if (field.doubleValue !== undefined) return fromDouble(field.doubleValue, typeName);
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.blobValue !== undefined) return new Uint8Array(field.blobValue);
  if (field.arrayValue !== undefined) {
    const element = typeName.startsWith("_") ? typeName.slice(1) : typeName;
    return fromArray(field.arrayValue, element);
  }
  return null;
}

function fromArray(array: ArrayValue, elementType: string): SqlResultValue[] {
  if (array.arrayValues !== undefined) {
    return array.arrayValues.map((inner) => (inner === null ? null : fromArray(inner, elementType)));
  }
  if (array.longValues !== undefined) {
    return array.longValues.map((v) => (v === null ? null : fromLong(v, elementType)));
  }
  if (array.doubleValues !== undefined) {
    return array.doubleValues.map((v) => (v === null ? null : fromDouble(v, elementType)));
  }
  if (array.booleanValues !== undefined) return array.booleanValues.map((v) => v);
  if (array.stringValues !== undefined) {
    return array.stringValues.map((v) => (v === null ? null : fromText(v, elementType)));
  }
  return [];
}

/** An ExecuteStatement response as the port's QueryResult. */
export function toQueryResult<Row>(output: Pick<ExecuteStatementCommandOutput, "columnMetadata" | "records" | "numberOfRecordsUpdated">): QueryResult<Row> {
  const columns = toColumns(output.columnMetadata);
  const rows = (output.records ?? []).map((record) => {
    const row: Record<string, SqlResultValue> = {};
    columns.forEach((column, i) => {
      row[column.name] = fromField(record[i], column.typeName);
    });
    return row as Row;
  });
  // The service says 0 records updated for a query; the port counts the rows it returned.
  const rowCount = columns.length > 0 ? rows.length : (output.numberOfRecordsUpdated ?? 0);
  return { rows, columns, rowCount };
}
