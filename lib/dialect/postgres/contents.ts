// Queries that look at a whole scratch database, for `validate`: which user schemas exist (so a
// snapshot covers every schema a migration touched, not only the default one), and a fingerprint
// of each table's rows (so "running the upgrade again changed nothing" covers data too), and how
// to empty it again without opening a new one.
import type { QualifiedName } from "../../schema/names.ts";
import type { RenderedStatement, SnapshotReader } from "../dialect.ts";
import { quoteIdentifier, quoteName } from "./quote.ts";

/** The schemas users own: everything but pg_* and information_schema. */
export async function userSchemas(session: SnapshotReader): Promise<string[]> {
  const { rows } = await session.query(
    "SELECT nspname AS name FROM pg_catalog.pg_namespace WHERE left(nspname, 3) <> 'pg_' AND nspname <> 'information_schema' ORDER BY nspname",
  );
  return rows.map((r) => String(r["name"]));
}

/**
 * One row, one column `fingerprints`: a JSON array with, per table in order, the md5 of its rows
 * as text, sorted. Equal fingerprints mean equal contents; meant for scratch databases, where
 * tables are small (it reads every row).
 */
export function tableFingerprints(tables: readonly QualifiedName[]): RenderedStatement {
  const each = tables.map(
    (t) => `(SELECT md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) FROM ${quoteName(t)} x)`,
  );
  return { sql: `SELECT array_to_json(ARRAY[${each.join(", ")}]::text[])::text AS fingerprints` };
}

/** Drops every user schema with all it holds, then creates the default schema again, empty. */
export function resetSchemas(schemas: readonly string[], defaultSchema: string): string[] {
  return [...schemas.map((s) => `DROP SCHEMA ${quoteIdentifier(s)} CASCADE`), `CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(defaultSchema)}`];
}
