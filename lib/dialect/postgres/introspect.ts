// Reads a schema snapshot in ONE statement: tables, columns, constraints and indexes of the given
// schemas come back as a single JSON document (json_agg), because through the Data API every
// statement is an HTTPS round trip. The schema list and the excluded names are bound parameters.
import { RETORT_TABLES } from "../../constants.ts";
import type { QueryResult, SqlSession } from "../../sql/executor.ts";
import type { RenderedStatement } from "../dialect.ts";
import {
  normalizeSnapshot,
  type ColumnSnapshot,
  type ConstraintSnapshot,
  type IndexKey,
  type IndexSnapshot,
  type ReferentialAction,
  type SchemaSnapshot,
  type TableSnapshot,
} from "../snapshot.ts";

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
)
SELECT json_build_object(
  'tables', (SELECT coalesce(json_agg(json_build_object(
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
        'validated', con.convalidated
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
  )), '[]'::json) FROM rel)
)::text AS snapshot`;

export function introspectionQuery(schemas: readonly string[]): RenderedStatement {
  return {
    sql: INTROSPECTION_SQL,
    params: {
      schemas: JSON.stringify([...schemas]),
      excluded: JSON.stringify(Object.values(RETORT_TABLES)),
    },
  };
}

/** Loads a snapshot of `schemas` with one statement. */
export async function introspect(
  session: SqlSession,
  schemas: readonly string[],
): Promise<SchemaSnapshot> {
  const query = introspectionQuery(schemas);
  return readSnapshot(await session.query(query.sql, query.params), schemas);
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
}
interface RawIndex {
  name: string;
  columns: Array<string | { expression: string }> | null;
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
export class IntrospectionError extends Error {
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

export function readSnapshot(result: QueryResult, schemas: readonly string[]): SchemaSnapshot {
  const cell = result.rows[0]?.["snapshot"];
  // Adapters differ on json columns; the query returns text so all of them hand back a string.
  const document: unknown = typeof cell === "string" ? JSON.parse(cell) : cell;
  if (
    typeof document !== "object" ||
    document === null ||
    !Array.isArray((document as { tables?: unknown }).tables)
  ) {
    throw new IntrospectionError("the introspection query returned no snapshot document");
  }
  const tables = (document as { tables: RawTable[] }).tables.map(readTable);
  const wanted = schemas.filter((s) => s !== "information_schema" && !s.startsWith("pg_"));
  return normalizeSnapshot({ schemas: wanted, tables });
}
