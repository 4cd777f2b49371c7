// Reads a schema snapshot in as few statements as the response limit allows: tables, columns,
// constraints and indexes of the given schemas come back as JSON documents (json_agg), because
// through the Data API every statement is an HTTPS round trip. The Data API also refuses any
// response over 1 MiB, so the tables come in pages (in name order, each page after the last table
// of the one before), cut at PAGE_TABLES tables or PAGE_BYTES of JSON: one statement for a
// schema of up to some hundreds of tables, one more for every further page. The schema list, the
// excluded names and the page bounds are bound parameters.
import { RetortError } from "../../errors.ts";
import { RETORT_TABLES } from "../../constants.ts";
import type { QueryResult } from "../../sql/executor.ts";
import type { RenderedStatement, SnapshotReader } from "../dialect.ts";
import {
  normalizeSnapshot,
  type ColumnSnapshot,
  type ConstraintSnapshot,
  type IndexKey,
  type IndexSnapshot,
  type ReferentialAction,
  type SchemaSnapshot,
  type TableSnapshot,
} from "../../schema/snapshot.ts";

/**
 * Catalog queries rather than information_schema: it hides objects the role does not own, has no
 * index catalog, and is much slower. Lists are sorted again in TypeScript (code-unit order), so
 * the database's collation cannot change the snapshot.
 */
const INTROSPECTION_SQL = `
WITH target AS (
  SELECT n.oid, n.nspname
  FROM pg_catalog.pg_namespace n
  WHERE n.nspname IN (SELECT jsonb_array_elements_text(CAST(:schemas AS jsonb)))
    AND n.nspname <> 'information_schema'
    AND left(n.nspname, 3) <> 'pg_'
),
rel AS (
  SELECT c.oid, c.relname, t.nspname
  FROM pg_catalog.pg_class c
  JOIN target t ON t.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p')
    AND c.relname NOT IN (SELECT jsonb_array_elements_text(CAST(:excluded AS jsonb)))
    AND (t.nspname, c.relname) > (CAST(:afterSchema AS name), CAST(:afterName AS name))
  ORDER BY t.nspname, c.relname
  LIMIT CAST(:pageTables AS int) + 1
),
doc AS (
  SELECT rel.nspname, rel.relname, json_build_object(
    'schema', rel.nspname,
    'name', rel.relname,
    'columns', (
      SELECT coalesce(json_agg(json_build_object(
        'name', a.attname,
        'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
        'nullable', NOT a.attnotnull,
        'default', CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END,
        'identity', a.attidentity,
        'generated', CASE WHEN a.attgenerated <> '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END
      ) ORDER BY a.attnum), '[]'::json)
      FROM pg_catalog.pg_attribute a
      LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
    ),
    'constraints', (
      SELECT coalesce(json_agg(json_build_object(
        'name', con.conname,
        'type', con.contype,
        'columns', (
          SELECT coalesce(json_agg(att.attname ORDER BY k.ord), '[]'::json)
          FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_catalog.pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.attnum
        ),
        'refSchema', fn.nspname,
        'refTable', fc.relname,
        'refColumns', (
          SELECT coalesce(json_agg(att.attname ORDER BY k.ord), '[]'::json)
          FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_catalog.pg_attribute att ON att.attrelid = con.confrelid AND att.attnum = k.attnum
        ),
        'onDelete', con.confdeltype,
        'onUpdate', con.confupdtype,
        'check', CASE WHEN con.contype = 'c' THEN pg_catalog.pg_get_expr(con.conbin, con.conrelid) END,
        'definition', pg_catalog.pg_get_constraintdef(con.oid),
        'validated', con.convalidated,
        'deferrable', CASE WHEN con.condeferred THEN 'initially deferred' WHEN con.condeferrable THEN 'deferrable' END
      )), '[]'::json)
      FROM pg_catalog.pg_constraint con
      LEFT JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid
      LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
      WHERE con.conrelid = rel.oid AND con.contype IN ('p', 'u', 'c', 'f', 'x')
    ),
    'indexes', (
      SELECT coalesce(json_agg(json_build_object(
        'name', ic.relname,
        'columns', (
          SELECT json_agg(CASE
            WHEN i.indkey[k.n - 1] = 0
              THEN json_build_object('expression', pg_catalog.pg_get_indexdef(i.indexrelid, k.n, true))
            ELSE to_json(ka.attname)
          END ORDER BY k.n)
          FROM generate_series(1, i.indnkeyatts) AS k(n)
          LEFT JOIN pg_catalog.pg_attribute ka
            ON ka.attrelid = i.indrelid AND ka.attnum = i.indkey[k.n - 1]
        ),
        'include', (
          SELECT json_agg(ia.attname ORDER BY k.n)
          FROM generate_series(i.indnkeyatts + 1, i.indnatts) AS k(n)
          JOIN pg_catalog.pg_attribute ia ON ia.attrelid = i.indrelid AND ia.attnum = i.indkey[k.n - 1]
        ),
        'unique', i.indisunique,
        'method', am.amname,
        'where', pg_catalog.pg_get_expr(i.indpred, i.indrelid, true),
        'valid', i.indisvalid,
        'constraint', EXISTS (
          SELECT 1 FROM pg_catalog.pg_constraint ic_con
          WHERE ic_con.conindid = i.indexrelid AND ic_con.conrelid = i.indrelid
            AND ic_con.contype IN ('p', 'u', 'x')
        )
      )), '[]'::json)
      FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_catalog.pg_am am ON am.oid = ic.relam
      WHERE i.indrelid = rel.oid
    )
  )::text AS t FROM rel
),
sized AS (
  SELECT t, row_number() OVER w AS n, sum(octet_length(t)) OVER w AS total
  FROM doc WINDOW w AS (ORDER BY nspname, relname)
),
page AS (
  SELECT t, n FROM sized
  WHERE n <= CAST(:pageTables AS int) AND (n = 1 OR total <= CAST(:pageBytes AS bigint))
)
SELECT json_build_object(
  'tables', (SELECT coalesce(json_agg(t::json ORDER BY n), '[]'::json) FROM page),
  'more', (SELECT count(*) FROM page) < (SELECT count(*) FROM sized)
)::text AS snapshot`;

/** Tables per page at most. */
const PAGE_TABLES = 1000;
/**
 * JSON text per page at most (a page holds at least one table, whatever its size). The Data API
 * answers at most 1 MiB, measured on its own JSON, in which this text is one escaped string.
 */
const PAGE_BYTES = 512 * 1024;

/** Where a page starts: after this table (in name order), or at the first. */
export type PageStart = { schema: string; name: string } | null;

/** The statement that reads one page of the snapshot of `schemas`. */
export function introspectionQuery(schemas: readonly string[], after: PageStart = null, bounds = { tables: PAGE_TABLES, bytes: PAGE_BYTES }): RenderedStatement {
  return {
    sql: INTROSPECTION_SQL,
    params: {
      schemas: JSON.stringify([...schemas]),
      excluded: JSON.stringify(Object.values(RETORT_TABLES)),
      afterSchema: after?.schema ?? "",
      afterName: after?.name ?? "",
      pageTables: bounds.tables,
      pageBytes: bounds.bytes,
    },
  };
}

/** Loads a snapshot of `schemas`: one statement per page, pages until the last. */
export async function introspect(
  session: SnapshotReader,
  schemas: readonly string[],
  bounds?: { tables: number; bytes: number },
): Promise<SchemaSnapshot> {
  const tables: TableSnapshot[] = [];
  let after: PageStart = null;
  for (;;) {
    const query = introspectionQuery(schemas, after, bounds);
    const page = readPage(await session.query(query.sql, query.params));
    tables.push(...page.tables);
    const last = page.tables.at(-1);
    if (!page.more || !last) break;
    after = { schema: last.schema, name: last.name };
  }
  const wanted = schemas.filter((s) => s !== "information_schema" && !s.startsWith("pg_"));
  return normalizeSnapshot({ schemas: wanted, tables });
}

// ---------------------------------------------------------------------------------------------
// The JSON document as the query builds it, checked field by field on the way in.

interface RawColumn {
  name: string;
  type: string;
  nullable: boolean;
  default: string | null;
  identity: string;
  generated: string | null;
}
interface RawConstraint {
  name: string;
  type: string;
  columns: string[];
  refSchema: string | null;
  refTable: string | null;
  refColumns: string[];
  onDelete: string;
  onUpdate: string;
  check: string | null;
  definition: string;
  validated: boolean;
  deferrable: "deferrable" | "initially deferred" | null;
}
interface RawIndex {
  name: string;
  columns: Array<string | { expression: string }> | null;
  include: string[] | null;
  unique: boolean;
  method: string;
  where: string | null;
  constraint: boolean;
  valid: boolean;
}
interface RawTable {
  schema: string;
  name: string;
  columns: RawColumn[];
  constraints: RawConstraint[];
  indexes: RawIndex[];
}

/** Thrown when the introspection result is not the document the query builds. */
export class IntrospectionError extends RetortError {
  override readonly code: string = "introspection-failed";
  constructor(message: string) {
    super(message);
    this.name = "IntrospectionError";
  }
}

const ACTIONS: Readonly<Record<string, ReferentialAction>> = {
  a: "no action",
  r: "restrict",
  c: "cascade",
  n: "set null",
  d: "set default",
};

function action(code: string, constraint: string): ReferentialAction {
  const value = ACTIONS[code];
  if (!value) throw new IntrospectionError(`constraint "${constraint}" has an unknown action "${code}"`);
  return value;
}

function readColumn(raw: RawColumn): ColumnSnapshot {
  return {
    name: raw.name,
    type: raw.type,
    nullable: raw.nullable,
    default: raw.default,
    identity: raw.identity === "a" ? "always" : raw.identity === "d" ? "byDefault" : null,
    generated: raw.generated,
  };
}

function readConstraint(raw: RawConstraint): ConstraintSnapshot {
  switch (raw.type) {
    case "p":
      return { kind: "primaryKey", name: raw.name, columns: raw.columns };
    case "u":
      return { kind: "unique", name: raw.name, columns: raw.columns };
    case "c":
      return {
        kind: "check",
        name: raw.name,
        expression: raw.check ?? raw.definition,
        validated: raw.validated,
      };
    case "f":
      return {
        kind: "foreignKey",
        name: raw.name,
        columns: raw.columns,
        references: { schema: raw.refSchema ?? "", table: raw.refTable ?? "", columns: raw.refColumns },
        onDelete: action(raw.onDelete, raw.name),
        onUpdate: action(raw.onUpdate, raw.name),
        validated: raw.validated,
        ...(raw.deferrable ? { deferrable: raw.deferrable } : {}),
      };
    case "x":
      return { kind: "exclusion", name: raw.name, definition: raw.definition };
    default:
      throw new IntrospectionError(`constraint "${raw.name}" has an unknown type "${raw.type}"`);
  }
}

function readIndex(raw: RawIndex): IndexSnapshot {
  const columns: IndexKey[] = (raw.columns ?? []).map((key) =>
    typeof key === "string" ? key : { expression: key.expression },
  );
  return {
    name: raw.name,
    columns,
    unique: raw.unique,
    method: raw.method,
    where: raw.where,
    constraint: raw.constraint,
    valid: raw.valid,
    ...(raw.include?.length ? { include: raw.include } : {}),
  };
}

function readTable(raw: RawTable): TableSnapshot {
  return {
    schema: raw.schema,
    name: raw.name,
    columns: raw.columns.map(readColumn),
    constraints: raw.constraints.map(readConstraint),
    indexes: raw.indexes.map(readIndex),
  };
}

/** One page of the introspection query's result: its tables, and whether more follow. */
export function readPage(result: QueryResult): { tables: TableSnapshot[]; more: boolean } {
  const cell = result.rows[0]?.["snapshot"];
  // Adapters differ on json columns; the query returns text so all of them hand back a string.
  const document: unknown = typeof cell === "string" ? JSON.parse(cell) : cell;
  if (
    typeof document !== "object" ||
    document === null ||
    !Array.isArray((document as { tables?: unknown }).tables) ||
    typeof (document as { more?: unknown }).more !== "boolean"
  ) {
    throw new IntrospectionError("the introspection query returned no snapshot document");
  }
  const { tables, more } = document as { tables: RawTable[]; more: boolean };
  return { tables: tables.map(readTable), more };
}
