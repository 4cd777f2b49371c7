// Named parameters as the Data API's typed SqlParameters (field kind and typeHint per value), for
// the Data API executor. Pure: no call is made here.

import type { SqlParameter } from "@aws-sdk/client-rds-data";
import type { SqlParams } from "./executor.ts";
import { assertSingleStatement } from "./adapter-kit.ts";
import { toPositional } from "./lexer.ts";
import { encodeParam, type EncodedParam } from "./values.ts";

/**
 * The Data API's `YYYY-MM-DD HH:MM:SS.FFF` (typeHint TIMESTAMP) for a Date, in UTC: the service's
 * session time zone, so a timestamptz column stores the same instant other adapters store.
 */
export function toDataApiTimestamp(date: Date): string {
  return date.toISOString().replace("T", " ").replace(/Z$/, "");
}

/**
 * One named parameter as a typed Data API parameter, in the style of drizzle's toValueParam.
 * Strings go as stringValue (the service binds them as varchar, so write `:id::uuid` where the
 * context needs another type); integers beyond 2^53 and non-finite floats travel as text with
 * typeHint DECIMAL so no digit is lost.
 */
export function toSqlParameter(name: string, param: EncodedParam): SqlParameter {
  switch (param.kind) {
    case "null":
      return { name, value: { isNull: true } };
    case "string":
      return { name, value: { stringValue: param.text } };
    case "integer": {
      const n = Number(param.value);
      return Number.isSafeInteger(n)
        ? { name, value: { longValue: n } }
        : { name, value: { stringValue: param.text }, typeHint: "DECIMAL" };
    }
    case "float":
      return Number.isFinite(param.value)
        ? { name, value: { doubleValue: param.value } }
        : { name, value: { stringValue: param.text }, typeHint: "DECIMAL" };
    case "boolean":
      return { name, value: { booleanValue: param.value } };
    case "timestamp":
      return { name, value: { stringValue: toDataApiTimestamp(param.value) }, typeHint: "TIMESTAMP" };
    case "bytes":
      return { name, value: { blobValue: param.value } };
    case "json":
      return { name, value: { stringValue: param.text }, typeHint: "JSON" };
  }
}

/**
 * Checks the statement and builds the typed parameters for the `:name`s it uses (unused ones are
 * not sent). Throws MultipleStatementsError, MissingParameterError or UnsupportedParameterError,
 * exactly as the other adapters do, before any call is made.
 */
export function toSqlParameters(sql: string, params: SqlParams = {}): SqlParameter[] {
  assertSingleStatement(sql);
  const { names, values } = toPositional(sql, params);
  return names.map((name, i) => toSqlParameter(name, encodeParam(values[i], name)));
}
