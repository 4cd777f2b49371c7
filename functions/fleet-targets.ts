// Where the fleet state machine's targets come from, and the checks on them: the construct's list
// (checked at synth and again when read), the items of a DynamoDB table (one Scan, read at run
// time) or a JSON object in S3 (an array of targets or { "targets": [...] }). Each is the shape
// lib/fleet/targets.ts defines, `{ "name", "db", "schema"? }`, and here also a database the Lambda
// can reach: `db` a `data-api://` URL. A bad list fails the ReadTargets step with a message naming
// the source and the target. The construct (infra/migration-fleet.ts) uses the same checks, and
// the ARNs, at synth.
import { type FleetTarget, parseTargets, parseTargetsJson, scanTargetItems, TargetsError } from "../lib/fleet/targets.ts";
import { parseDatabaseUrl } from "../lib/sql/connect.ts";
import { type TargetDatabase, targetNameRules } from "./context.ts";
import { s3Objects } from "./s3-objects.ts";

export type { FleetTarget } from "../lib/fleet/targets.ts";
export { TargetsError } from "../lib/fleet/targets.ts";

/** Where the ReadTargets step reads the targets: what the construct puts in the state machine. */
export type TargetSource =
  /** The construct's `targets` prop, as written. */
  | { targets: unknown }
  /** A DynamoDB table: every item is a target (attributes name, db and optionally schema). */
  | { table: string }
  /** A JSON object in S3. */
  | { bucket: string; key: string };

/** How a source is named in messages. */
export function describeSource(source: TargetSource): string {
  if ("table" in source) return `dynamodb table ${source.table}`;
  if ("bucket" in source) return `s3://${source.bucket}/${source.key}`;
  return "the MigrationFleet's targets prop";
}

/**
 * The targets in `value`, checked as lib/fleet/targets.ts checks a list (shape, unique names,
 * schema names), and each one's `db` a `data-api://` URL: the Lambda reaches databases only
 * through the Data API.
 */
export function checkFleetTargets(value: unknown, where: string): FleetTarget[] {
  const targets = parseTargets(value, where, targetNameRules);
  targets.forEach((target, index) => targetDatabase(target, `${where}: target ${index + 1} ("${target.name}")`));
  return targets;
}

/** A target's cluster, secret, database and schema; `where` names it should its `db` not be a data-api:// URL. */
export function targetDatabase(target: FleetTarget, where = `target "${target.name}"`): TargetDatabase {
  const parsed = parseDatabaseUrl(target.db);
  if (parsed.kind !== "data-api") {
    throw new TargetsError(
      `${where}: "db" must be a data-api://<cluster ARN>?secret=<secret ARN>&database=<name> URL; the fleet state machine ` +
        `reaches its databases through the RDS Data API, not ${parsed.kind === "postgres" ? "postgres://" : "pglite://"}`,
    );
  }
  return {
    clusterArn: parsed.resourceArn,
    secretArn: parsed.secretArn,
    database: parsed.database,
    ...(target.schema ? { schema: target.schema } : {}),
  };
}

/** How the sources are read; the defaults call DynamoDB and S3 (endpoints from the SDK's environment). */
export interface TargetReaders {
  /** Every item of the table, as plain values (strings, numbers, ...), in name order. */
  scan(table: string): Promise<Record<string, unknown>[]>;
  /** The object's text. */
  getObject(bucket: string, key: string): Promise<string>;
}

/** The targets the source names, checked; any problem is a TargetsError naming the source and the target. */
export async function readTargets(source: TargetSource, readers: TargetReaders = defaultReaders): Promise<FleetTarget[]> {
  const where = describeSource(source);
  if ("table" in source) {
    return checkFleetTargets(await readOrSay(where, () => readers.scan(source.table)), where);
  }
  if ("bucket" in source) {
    const text = await readOrSay(where, () => readers.getObject(source.bucket, source.key));
    return checkFleetTargets(parseTargetsJson(text, where, targetNameRules), where);
  }
  return checkFleetTargets(source.targets, where);
}

/** A read that failed says which source it was reading. */
async function readOrSay<T>(where: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    const e = error as { name?: string; message?: string };
    throw new TargetsError(`${where}: could not be read (${e.name ?? "Error"}: ${e.message ?? String(error)})`);
  }
}

const defaultReaders: TargetReaders = {
  scan: scanTargetItems,
  getObject: s3Objects.get,
};
