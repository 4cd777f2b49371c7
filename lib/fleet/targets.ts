// A fleet's targets and the one JSON shape each has: `{ "name", "db", "schema"? }`, where `db` is
// a database URL as `--db` takes it (pglite://, postgres://, data-api://<cluster ARN>?secret=...)
// and `schema` a tenant's schema in it. A list is a JSON array of them or `{ "targets": [...] }`,
// from a file, an S3 object, a construct prop or the items of a DynamoDB table; every problem is
// refused before anything runs, naming where the list came from and which target is wrong.
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Dialect } from "../dialect/dialect.ts";
import { UsageError } from "../runner/revision.ts";
import { DatabaseUrlError, maskPassword, parseDatabaseUrl } from "../sql/connect.ts";

export interface FleetTarget {
  /** Unique in the list; names the target in progress, summaries and the history. */
  name: string;
  /** A database URL, as `--db` takes it. */
  db: string;
  /** A schema in that database (a tenant's); absent: "public". */
  schema?: string;
}

/** A list of targets that cannot be used; nothing was run. */
export class TargetsError extends UsageError {
  override readonly code: string = "invalid-targets";
  override name = "TargetsError";
}

const FIELDS = new Set(["name", "db", "schema"]);
/** Printable, and safe in a Step Functions state's input and a DynamoDB key. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$/;

const FORM = 'each target is { "name": "tenant-5", "db": "<a --db URL>", "schema"?: "tenant_5" }';

/**
 * Whose rules a target's schema must meet: the dialect of its database URL (database.ts
 * dialectOf), or one dialect for all (the Lambda's: every target is PostgreSQL).
 */
export type DialectOf = ((db: string) => Pick<Dialect, "checkIdentifier"> | undefined) | Pick<Dialect, "checkIdentifier">;

/**
 * The targets in `value` (parsed JSON): an array, or an object with a `targets` array. `where`
 * names the source in errors (a file's path, `s3://bucket/key`, `dynamodb table T`).
 */
export function parseTargets(value: unknown, where: string, names: DialectOf): FleetTarget[] {
  const list = Array.isArray(value)
    ? value
    : value !== null && typeof value === "object" && Array.isArray((value as { targets?: unknown }).targets)
      ? ((value as { targets: unknown[] }).targets)
      : undefined;
  if (list === undefined) throw new TargetsError(`${where}: expected a JSON array of targets or { "targets": [...] }; ${FORM}`);
  if (list.length === 0) throw new TargetsError(`${where}: the list of targets is empty; ${FORM}`);
  const seen = new Map<string, number>();
  return list.map((item, index) => {
    const target = parseTarget(item, `${where}: target ${index + 1}`, names);
    const first = seen.get(target.name);
    if (first !== undefined) throw new TargetsError(`${where}: targets ${first + 1} and ${index + 1} are both named "${target.name}"; names must be unique`);
    seen.set(target.name, index);
    return target;
  });
}

/** The targets in JSON text; `where` as for parseTargets. */
export function parseTargetsJson(text: string, where: string, names: DialectOf): FleetTarget[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TargetsError(`${where}: not JSON (${(error as Error).message}); ${FORM}`);
  }
  return parseTargets(value, where, names);
}

/** One target, checked; `where` names it in errors. */
export function parseTarget(item: unknown, where: string, names: DialectOf): FleetTarget {
  if (item === null || typeof item !== "object" || Array.isArray(item)) throw new TargetsError(`${where} is not an object; ${FORM}`);
  const fields = item as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) throw new TargetsError(`${where} has ${unknown.map((k) => `"${k}"`).join(", ")}, which a target does not take; ${FORM}`);
  const { name, db, schema } = fields;
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new TargetsError(
      `${where}: "name" must be 1 to 128 characters of letters, digits and _ . : @ / -, starting with a letter or digit (got ${JSON.stringify(name ?? null)})`,
    );
  }
  const at = `${where} ("${name}")`;
  if (typeof db !== "string" || db.trim() === "") throw new TargetsError(`${at}: "db" must be a database URL, as --db takes it; ${FORM}`);
  try {
    parseDatabaseUrl(db);
  } catch (error) {
    // Its message masks a password in the URL.
    if (error instanceof DatabaseUrlError) throw new TargetsError(`${at}: ${error.message}`);
    throw error;
  }
  if (schema !== undefined) {
    if (typeof schema !== "string") throw new TargetsError(`${at}: "schema" must be a string (got ${JSON.stringify(schema)})`);
    try {
      (typeof names === "function" ? names(db) : names)?.checkIdentifier(schema);
    } catch (error) {
      throw new TargetsError(`${at}: "schema": ${(error as Error).message}`);
    }
  }
  return { name, db: db.trim(), ...(schema !== undefined && schema !== "public" ? { schema } : {}) };
}

/** How a target is shown: its name, database (password masked) and schema. */
export function describeTarget(target: FleetTarget): string {
  return `${target.name} (${maskPassword(target.db)}${target.schema ? `, schema ${target.schema}` : ""})`;
}

/** Where `--targets dynamodb://<table>` reads: the table's items, each a target's three attributes. */
const DYNAMODB = "dynamodb://";

/**
 * The targets `spec` names: `dynamodb://<table>` (every item of the table: name, db, schema as
 * string attributes), else a JSON file (relative to `cwd`).
 */
export async function readTargets(spec: string, names: DialectOf, cwd = process.cwd()): Promise<FleetTarget[]> {
  if (spec.startsWith(DYNAMODB)) {
    const table = spec.slice(DYNAMODB.length);
    if (!/^[A-Za-z0-9_.-]{3,255}$/.test(table)) throw new TargetsError(`--targets ${spec}: "${table}" is not a DynamoDB table name`);
    return parseTargets(await scanTargetItems(table), `DynamoDB table ${table}`, names);
  }
  const file = path.resolve(cwd, spec);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new TargetsError(
      `--targets ${spec}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ` +
        `give a JSON file of targets or dynamodb://<table>; ${FORM}`,
    );
  }
  return parseTargetsJson(text, spec, names);
}

/**
 * Every item of a DynamoDB table as plain values (a type no target has stays tagged, for the
 * checks to refuse), in name order: a Scan returns the table's hash order, and runs should list
 * targets alike. Throttling and 5xx answers are retried as the lock's calls are.
 */
export async function scanTargetItems(table: string): Promise<Record<string, unknown>[]> {
  const [{ ScanCommand }, { createDynamoClient, withDynamoRetry }] = await Promise.all([
    import("@aws-sdk/client-dynamodb"),
    import("../state/dynamo-client.ts"),
  ]);
  const client = createDynamoClient();
  try {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, import("@aws-sdk/client-dynamodb").AttributeValue> | undefined;
    do {
      const page = await withDynamoRetry(() =>
        client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) })),
      );
      for (const item of page.Items ?? []) {
        items.push(Object.fromEntries(Object.entries(item).map(([k, v]) => [k, plain(v as unknown as Record<string, unknown>)])));
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return items.sort((a, b) => String(a["name"] ?? "").localeCompare(String(b["name"] ?? "")));
  } finally {
    client.destroy();
  }
}

/** A DynamoDB attribute value as JSON would have it; a type a target never has stays tagged. */
function plain(value: Record<string, unknown>): unknown {
  if ("S" in value) return value["S"];
  if ("N" in value) return Number(value["N"]);
  if ("BOOL" in value) return value["BOOL"];
  if ("NULL" in value) return null;
  if ("L" in value) return (value["L"] as Record<string, unknown>[]).map(plain);
  if ("M" in value) return Object.fromEntries(Object.entries(value["M"] as Record<string, Record<string, unknown>>).map(([k, v]) => [k, plain(v)]));
  return value;
}
