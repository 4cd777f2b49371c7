// The objects of a schema outside its tables that `retort diff` compares: enum types (their values
// in order), sequences a column does not own (serial and identity sequences belong to their
// column), and views (materialized or not, by their normalised definition). One read. retort's
// own objects (the history's run-number sequence) are left out, as introspection leaves out its tables.
import { RETORT_TABLES } from "../../constants.ts";
import type { CatalogObject } from "../../schema/snapshot.ts";
import type { SnapshotReader } from "../dialect.ts";

const CATALOG_OBJECTS_SQL = `SELECT coalesce(json_agg(o ORDER BY o.kind, o.schema, o.name), '[]')::text AS objects FROM (
  SELECT 'enum' AS kind, n.nspname AS schema, t.typname AS name,
         json_build_object('values', (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid)) AS definition
    FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
   WHERE t.typtype = 'e' AND n.nspname IN (SELECT jsonb_array_elements_text(CAST(:schemas AS jsonb)))
  UNION ALL
  SELECT 'sequence', n.nspname, c.relname,
         json_build_object('type', pg_catalog.format_type(s.seqtypid, NULL), 'start', s.seqstart::text, 'increment', s.seqincrement::text,
                           'min', s.seqmin::text, 'max', s.seqmax::text, 'cycle', s.seqcycle)
    FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname IN (SELECT jsonb_array_elements_text(CAST(:schemas AS jsonb)))
     AND c.relname <> :ownSequence
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i'))
  UNION ALL
  SELECT 'view', n.nspname, c.relname,
         json_build_object('materialized', c.relkind = 'm', 'definition', pg_catalog.pg_get_viewdef(c.oid, true))
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('v', 'm') AND n.nspname IN (SELECT jsonb_array_elements_text(CAST(:schemas AS jsonb)))
) o`;

export async function catalogObjects(session: SnapshotReader, schemas: readonly string[]): Promise<CatalogObject[]> {
  const { rows } = await session.query(CATALOG_OBJECTS_SQL, { schemas: JSON.stringify([...schemas]), ownSequence: `${RETORT_TABLES.history}_number` });
  return JSON.parse(String(rows[0]?.["objects"] ?? "[]")) as CatalogObject[];
}
