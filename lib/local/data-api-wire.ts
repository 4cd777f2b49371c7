// The RDS Data API's JSON wire shapes and the pure conversions the local endpoint needs: typed
// parameters -> (SQL cast, port value), port rows -> typed fields / formattedRecords / column
// metadata, and SQL or backend errors -> the service's errors. Kept apart from the HTTP server so
// each rule is unit-tested on its own (test/local/data-api-wire.test.ts).

import { SqlError } from "../sql/errors.ts";
import type { ColumnMeta, SqlValue } from "../sql/executor.ts";

// ---------------------------------------------------------------------------------------------
// Wire shapes (JSON as it travels; blobs are base64 strings here, Uint8Array only in the SDK)
// ---------------------------------------------------------------------------------------------

/** The service's operations, each served at `/<name>` (POST). */
export type DataApiOperation =
  | "Execute"
  | "BatchExecute"
  | "BeginTransaction"
  | "CommitTransaction"
  | "RollbackTransaction";

export interface WireArrayValue {
  booleanValues?: Array<boolean | null>;
  longValues?: Array<number | RawJsonNumber | null>;
  doubleValues?: Array<number | null>;
  stringValues?: Array<string | null>;
  arrayValues?: WireArrayValue[];
}

export interface WireField {
  isNull?: boolean;
  booleanValue?: boolean;
  longValue?: number | RawJsonNumber;
  doubleValue?: number;
  stringValue?: string;
  blobValue?: string;
  arrayValue?: WireArrayValue;
}

export interface WireSqlParameter {
  name?: string;
  value?: WireField;
  typeHint?: string;
}

export interface WireColumnMetadata {
  name: string;
  label: string;
  typeName: string;
  type: number;
  arrayBaseColumnType: number;
  schemaName: string;
  tableName: string;
  isAutoIncrement: boolean;
  isCaseSensitive: boolean;
  isCurrency: boolean;
  isSigned: boolean;
  nullable: number;
  precision: number;
  scale: number;
}

export interface ResultSetOptions {
  /** "STRING" (the service's default) or "DOUBLE_OR_LONG". */
  decimalReturnType?: string;
  /** "LONG" (default) or "STRING". */
  longReturnType?: string;
}

/**
 * An integer to write into the JSON body digit for digit. The service sends int8 values as JSON
 * numbers even past 2^53 (clients that parse into a double lose precision, as with the real one).
 */
export class RawJsonNumber {
  constructor(readonly digits: string) {}
}

const RAW_MARK = "\u0000raw-json-number:";

/** JSON.stringify that writes RawJsonNumber as a bare number. */
export function stringifyWire(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) =>
    v instanceof RawJsonNumber ? RAW_MARK + v.digits : v,
  );
  return text.replace(/"\\u0000raw-json-number:(-?\d+)"/g, "$1");
}

// ---------------------------------------------------------------------------------------------
// Errors the endpoint answers with
// ---------------------------------------------------------------------------------------------

/**
 * The HTTP status of each exception the service model (rds-data 2018-08-01) declares, plus the
 * ones every AWS front end answers with (ValidationException, SerializationException,
 * ThrottlingException, UnknownOperationException).
 */
export const EXCEPTION_STATUS = {
  AccessDeniedException: 403,
  BadRequestException: 400,
  DatabaseErrorException: 400,
  DatabaseNotFoundException: 404,
  DatabaseResumingException: 400,
  DatabaseUnavailableException: 504,
  ForbiddenException: 403,
  HttpEndpointNotEnabledException: 400,
  InternalServerErrorException: 500,
  InvalidResourceStateException: 400,
  InvalidSecretException: 400,
  NotFoundException: 404,
  SecretsErrorException: 400,
  ServiceUnavailableError: 503,
  StatementTimeoutException: 400,
  TransactionNotFoundException: 404,
  UnsupportedResultException: 400,
  ValidationException: 400,
  SerializationException: 400,
  ThrottlingException: 429,
  UnknownOperationException: 404,
} as const;

export type ServiceExceptionName = keyof typeof EXCEPTION_STATUS;

/** One service error: HTTP status, the `x-amzn-errortype` name and the body's message. */
export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = type;
  }
}

/** The service's exception `type`, with the HTTP status the service model gives it. */
export function serviceError(
  type: ServiceExceptionName,
  message: string,
  extra: Readonly<Record<string, unknown>> = {},
): ServiceError {
  return new ServiceError(EXCEPTION_STATUS[type], type, message, extra);
}

// The model documents BadRequestException as an Aurora Serverless v1 error only. This endpoint
// plays Serverless v2 and provisioned clusters, where the documented refusals of a request
// ("Multistatements aren't supported.", "The schema parameter isn't supported") are
// ValidationExceptions: so is every other malformed request here. The one exception is the JSON
// result set, whose errors the JSON format's own page documents as BadRequestException.
export const badRequest = (message: string): ServiceError => serviceError("BadRequestException", message);

export const invalidRequest = (message: string): ServiceError => serviceError("ValidationException", message);

/** A request member outside its documented set of values, worded as the AWS front end words it. */
export function notInEnum(value: unknown, where: string, allowed: readonly string[]): ServiceError {
  return invalidRequest(
    `1 validation error detected: Value '${String(value)}' at '${where}' failed to satisfy ` +
      `constraint: Member must satisfy enum value set: [${allowed.join(", ")}]`,
  );
}

export function statementTimeout(): ServiceError {
  return serviceError("StatementTimeoutException", "Request timed out", { dbConnectionId: 0 });
}

/** Turns a backend failure into the service's answer: SQL errors keep their text and SQLState. */
export function toServiceError(error: unknown): ServiceError {
  if (error instanceof ServiceError) return error;
  if (error instanceof SqlError) return serviceError("DatabaseErrorException", sqlErrorText(error.message, error.sqlState));
  const message = error instanceof Error ? error.message : String(error);
  return serviceError("InternalServerErrorException", `Local Data API backend failure: ${message}`);
}

export function rethrowAsService(error: unknown): never {
  throw toServiceError(error);
}

/**
 * The service's text for a PostgreSQL error: pgjdbc's rendering of the server message (detail and
 * hint on indented lines) followed by `; SQLState: XXXXX`, e.g.
 * `ERROR: relation "users" already exists; SQLState: 42P07`. `message` is the port's SqlError
 * message, whose DETAIL/HINT lines (adapter-kit's serverErrorMessage) are rendered pgjdbc-style.
 */
export function sqlErrorText(message: string, sqlState: string | undefined, severity = "ERROR"): string {
  const [primary = "", ...rest] = message.split("\n");
  let text = `${severity}: ${primary}`;
  for (const line of rest) {
    const m = /^(DETAIL|HINT|WHERE): ?(.*)$/.exec(line);
    if (m) text += `\n  ${m[1]![0]}${m[1]!.slice(1).toLowerCase()}: ${m[2]}`;
    else text += `\n  ${line}`;
  }
  return sqlState ? `${text}; SQLState: ${sqlState}` : text;
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/** A parameter as the endpoint binds it: the value for the port and the cast that types it. */
export interface BoundParameter {
  value: SqlValue;
  /** PostgreSQL type the service binds the value as, or undefined for an untyped NULL. */
  cast: string | undefined;
}

const HINT_CASTS: Readonly<Record<string, string>> = {
  DATE: "date",
  TIME: "time",
  TIMESTAMP: "timestamp",
  DECIMAL: "numeric",
  JSON: "json",
  UUID: "uuid",
};

// The formats the service documents for typeHint DATE/TIME/TIMESTAMP; anything else is refused
// before it reaches the database (ISO 8601's `T` and `Z` included).
const HINT_FORMATS: Readonly<Record<string, RegExp>> = {
  DATE: /^\d{4}-\d{2}-\d{2}$/,
  TIME: /^\d{2}:\d{2}:\d{2}(\.\d{1,9})?$/,
  TIMESTAMP: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$/,
};
const HINT_SHAPES: Readonly<Record<string, string>> = {
  DATE: "YYYY-MM-DD",
  TIME: "HH:MM:SS[.FFF]",
  TIMESTAMP: "YYYY-MM-DD HH:MM:SS[.FFF]",
};

/**
 * Decodes one wire parameter the way the service binds it through JDBC: longValue as int8,
 * doubleValue as float8, booleanValue as bool, blobValue as bytea, stringValue as varchar unless a
 * typeHint says otherwise, isNull as an untyped NULL. Strings are NOT left for the server to infer
 * (`column "id" is of type uuid but expression is of type character varying` is a real error).
 */
export function bindParameter(parameter: WireSqlParameter): BoundParameter {
  const name = parameter.name ?? "";
  const field = parameter.value;
  if (field === undefined || field === null || typeof field !== "object") {
    throw invalidRequest(`Parameter ${name} has no value: give it one member of Field (isNull, stringValue, longValue, ...)`);
  }
  const hint = parameter.typeHint;
  if (hint !== undefined && hint !== null && !(hint in HINT_CASTS)) {
    throw notInEnum(hint, `parameters.${name}.typeHint`, Object.keys(HINT_CASTS));
  }
  if (field.isNull === true) return { value: null, cast: undefined };
  if (typeof field.stringValue === "string") {
    if (hint !== undefined && hint !== null) {
      const format = HINT_FORMATS[hint];
      if (format && !format.test(field.stringValue)) {
        throw invalidRequest(
          `Cannot parse date or time "${field.stringValue}" (parameter ${name}, typeHint ${hint}); ` +
            `send it as ${HINT_SHAPES[hint]}`,
        );
      }
      return { value: field.stringValue, cast: HINT_CASTS[hint] };
    }
    return { value: field.stringValue, cast: "varchar" };
  }
  if (typeof field.longValue === "number") {
    if (!Number.isInteger(field.longValue)) {
      throw invalidRequest(`Parameter ${name}: longValue must be an integer; send a fraction as doubleValue`);
    }
    return { value: field.longValue, cast: "int8" };
  }
  if (typeof field.doubleValue === "number") return { value: field.doubleValue, cast: "float8" };
  if (typeof field.booleanValue === "boolean") return { value: field.booleanValue, cast: "bool" };
  if (typeof field.blobValue === "string") {
    return { value: new Uint8Array(Buffer.from(field.blobValue, "base64")), cast: "bytea" };
  }
  // Documented for `parameters` and `parameterSets` alike. Send an array as a string with a cast
  // (`CAST(:tags AS text[])`, stringValue '{"a","b"}'), as drizzle's aws-data-api driver does.
  if (field.arrayValue !== undefined) throw invalidRequest("Array parameters are not supported.");
  throw invalidRequest(
    `Parameter ${name} has no supported value member: give it one of isNull, booleanValue, ` +
      `longValue, doubleValue, stringValue or blobValue`,
  );
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

type Category = "int" | "float" | "decimal" | "bool" | "bytea" | "tz" | "text";

const CATEGORIES: Readonly<Record<string, Category>> = {
  int2: "int",
  int4: "int",
  int8: "int",
  oid: "int",
  float4: "float",
  float8: "float",
  numeric: "decimal",
  bool: "bool",
  bytea: "bytea",
  timestamptz: "tz",
  timetz: "tz",
};

function categoryOf(typeName: string): Category {
  return CATEGORIES[typeName] ?? "text";
}

/** The element type of an array type name (`_int4` or `int4[]`), or undefined for a scalar. */
export function arrayElementType(typeName: string): string | undefined {
  if (typeName.startsWith("_") && typeName.length > 1) return typeName.slice(1);
  if (typeName.endsWith("[]")) return typeName.slice(0, -2);
  return undefined;
}

/**
 * The service runs with the session time zone UTC and renders timestamptz/timetz through JDBC
 * without an offset (`2024-05-01 10:00:00`); the port's text form ends in `+00`.
 */
export function dropUtcOffset(text: string): string {
  const bc = text.endsWith(" BC");
  const body = bc ? text.slice(0, -3) : text;
  const stripped = body.replace(/\+00(?::?00)?$/, "");
  return bc ? `${stripped} BC` : stripped;
}

function toText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return "\\x" + Buffer.from(value).toString("hex");
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return String(value);
}

function integerOut(value: unknown, asString: boolean): { longValue: number | RawJsonNumber } | { stringValue: string } {
  const digits = typeof value === "number" ? BigInt(value).toString() : toText(value);
  if (asString) return { stringValue: digits };
  const n = Number(digits);
  if (Number.isSafeInteger(n)) return { longValue: n };
  // Only digits may travel as a bare JSON number; anything else (it cannot come from an integer
  // column) goes as text rather than as broken JSON.
  return /^-?\d+$/.test(digits) ? { longValue: new RawJsonNumber(digits) } : { stringValue: digits };
}

const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

/**
 * decimalReturnType DOUBLE_OR_LONG: "a Long value if its scale is 0, or a Double value otherwise".
 * The port gives no column scale, so the value's own scale decides (`12` -> 12, `12.50` -> 12.5).
 * An integer beyond int8 cannot be a Java Long; what the service does with one is undocumented,
 * and a Double (with the roundoff the documentation warns of) is the conservative answer.
 */
function decimalOut(text: string, longAsString: boolean): WireField {
  if (/^-?\d+$/.test(text)) {
    const big = BigInt(text);
    if (big >= INT8_MIN && big <= INT8_MAX) return integerOut(text, longAsString);
  }
  const n = Number(text);
  return Number.isFinite(n) ? { doubleValue: n } : { stringValue: text };
}

// The scalar types the service lists as supported for Aurora PostgreSQL are an allowlist, and it
// documents refusing "certain PostgreSQL data types, including geometric and monetary types" with
// UnsupportedResultException. Those named kinds are refused here. Which other unlisted types it
// refuses is undocumented (interval, timetz, oid, xml, ... ): they are returned as text rather
// than failing queries that may well work on the service.
const UNSUPPORTED_TYPES: ReadonlySet<string> = new Set(["money", "point", "line", "lseg", "box", "path", "polygon", "circle"]);

/** Refuses a result column the service cannot return, as it does: UnsupportedResultException. */
export function assertSupportedColumn(column: ColumnMeta): void {
  const base = arrayElementType(column.typeName) ?? column.typeName;
  if (UNSUPPORTED_TYPES.has(base)) {
    throw serviceError(
      "UnsupportedResultException",
      `The result contains the unsupported data type ${column.typeName}. Cast the column to text ` +
        `(${column.name}::text) to read it through the Data API.`,
    );
  }
}

export interface EncodeOptions {
  resultSetOptions?: ResultSetOptions;
}

/** One result cell as a typed field, chosen by the column's type name. */
export function encodeField(value: unknown, typeName: string, options: EncodeOptions = {}): WireField {
  if (value === null || value === undefined) return { isNull: true };
  const element = arrayElementType(typeName);
  if (element !== undefined && Array.isArray(value)) return { arrayValue: encodeArray(value, element) };
  const longAsString = options.resultSetOptions?.longReturnType === "STRING";
  switch (categoryOf(typeName)) {
    case "int":
      return integerOut(value, longAsString);
    case "float": {
      const n = typeof value === "number" ? value : Number(toText(value));
      // JSON has no NaN or Infinity; those travel as their PostgreSQL spelling.
      return Number.isFinite(n) ? { doubleValue: n } : { stringValue: pgFloatText(n) };
    }
    case "decimal": {
      const text = toText(value);
      if (options.resultSetOptions?.decimalReturnType === "DOUBLE_OR_LONG") return decimalOut(text, longAsString);
      return { stringValue: text };
    }
    case "bool":
      return { booleanValue: value === true || value === "t" || value === "true" };
    case "bytea":
      return { blobValue: Buffer.from(value instanceof Uint8Array ? value : Buffer.from(toText(value))).toString("base64") };
    case "tz":
      return { stringValue: dropUtcOffset(toText(value)) };
    case "text":
      return { stringValue: toText(value) };
  }
}

function pgFloatText(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  return n > 0 ? "Infinity" : "-Infinity";
}

/**
 * A (possibly nested) array cell as an ArrayValue; element NULLs stay null.
 *
 * Deviation, kept on purpose: Serverless v2 and provisioned clusters document refusing
 * multidimensional array columns (UnsupportedResultException), while Serverless v1 returned them
 * as nested arrayValues, as this does. The executor contract (test/sql/contract.ts) requires every
 * adapter, the Data API one through this endpoint included, to decode them.
 */
export function encodeArray(items: readonly unknown[], elementType: string): WireArrayValue {
  if (items.some((item) => Array.isArray(item))) {
    return { arrayValues: items.map((item) => encodeArray(Array.isArray(item) ? item : [item], elementType)) };
  }
  switch (categoryOf(elementType)) {
    case "int":
      return {
        longValues: items.map((item) => {
          if (item === null || item === undefined) return null;
          const out = integerOut(item, false);
          return "longValue" in out ? out.longValue : null;
        }),
      };
    case "float":
      return {
        doubleValues: items.map((item) => (item === null || item === undefined ? null : Number(item))),
      };
    case "bool":
      return { booleanValues: items.map((item) => (item === null || item === undefined ? null : item === true)) };
    case "tz":
      return { stringValues: items.map((item) => (item === null || item === undefined ? null : dropUtcOffset(toText(item)))) };
    default:
      return { stringValues: items.map((item) => (item === null || item === undefined ? null : toText(item))) };
  }
}

/**
 * One cell as plain JSON for `formatRecordsAs: "JSON"`: numbers stay numbers, json stays text,
 * and resultSetOptions apply as to records (the JSON format's type mapping: integers are strings
 * with longReturnType STRING, decimals numbers with decimalReturnType DOUBLE_OR_LONG).
 */
export function jsonCell(value: unknown, typeName: string, options: EncodeOptions = {}): unknown {
  const field = encodeField(value, typeName, options);
  return fieldToJson(field);
}

function fieldToJson(field: WireField | WireArrayValue): unknown {
  if ("isNull" in field && field.isNull) return null;
  if ("longValue" in field) return field.longValue;
  if ("doubleValue" in field) return field.doubleValue;
  if ("booleanValue" in field) return field.booleanValue;
  if ("stringValue" in field) return field.stringValue;
  if ("blobValue" in field) return field.blobValue;
  if ("arrayValue" in field && field.arrayValue) return fieldToJson(field.arrayValue);
  if ("arrayValues" in field && field.arrayValues) return field.arrayValues.map(fieldToJson);
  if ("longValues" in field) return field.longValues;
  if ("doubleValues" in field) return field.doubleValues;
  if ("booleanValues" in field) return field.booleanValues;
  if ("stringValues" in field) return field.stringValues;
  return null;
}

// java.sql.Types codes, which is what the service reports as `type` (it renders through JDBC).
const JDBC_TYPES: Readonly<Record<string, number>> = {
  bool: -7,
  int2: 5,
  int4: 4,
  int8: -5,
  oid: -5,
  float4: 7,
  float8: 8,
  numeric: 2,
  bpchar: 1,
  char: 1,
  varchar: 12,
  text: 12,
  name: 12,
  bytea: -2,
  date: 91,
  time: 92,
  timetz: 92,
  timestamp: 93,
  timestamptz: 93,
};
const JDBC_ARRAY = 2003;
const JDBC_OTHER = 1111;

/** Column metadata in the service's shape (JDBC ResultSetMetaData, as far as the port knows it). */
export function columnMetadata(column: ColumnMeta): WireColumnMetadata {
  const element = arrayElementType(column.typeName);
  const base = element ?? column.typeName;
  const category = categoryOf(base);
  const isText = category === "text" && ["text", "varchar", "bpchar", "char", "name"].includes(base);
  return {
    name: column.name,
    label: column.name,
    typeName: column.typeName,
    type: element !== undefined ? JDBC_ARRAY : (JDBC_TYPES[base] ?? JDBC_OTHER),
    arrayBaseColumnType: element !== undefined ? (JDBC_TYPES[base] ?? JDBC_OTHER) : 0,
    schemaName: "",
    tableName: "",
    isAutoIncrement: false,
    isCaseSensitive: isText,
    // money, the one currency type, is refused (assertSupportedColumn).
    isCurrency: false,
    isSigned: category === "int" || category === "float" || category === "decimal",
    // 2 = columnNullableUnknown: the port does not say whether a result column can be NULL.
    nullable: 2,
    precision: 0,
    scale: 0,
  };
}
