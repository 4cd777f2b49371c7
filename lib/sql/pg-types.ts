// Type OID -> type name, for the adapters that see OIDs (PGlite, node-postgres). Built-in OIDs
// are fixed across PostgreSQL versions, so a static table answers almost every column without a
// round trip; anything else (enums, domains over arrays, extension types) is looked up in
// pg_type once per executor and cached.

/** Built-in types by OID, as `pg_type.typname` spells them. Arrays are `_` + element name. */
export const BUILTIN_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [16, "bool"],
  [17, "bytea"],
  [18, "char"],
  [19, "name"],
  [20, "int8"],
  [21, "int2"],
  [23, "int4"],
  [24, "regproc"],
  [25, "text"],
  [26, "oid"],
  [27, "tid"],
  [28, "xid"],
  [29, "cid"],
  [114, "json"],
  [142, "xml"],
  [194, "pg_node_tree"],
  [600, "point"],
  [650, "cidr"],
  [700, "float4"],
  [701, "float8"],
  [705, "unknown"],
  [774, "macaddr8"],
  [790, "money"],
  [829, "macaddr"],
  [869, "inet"],
  [1033, "aclitem"],
  [1042, "bpchar"],
  [1043, "varchar"],
  [1082, "date"],
  [1083, "time"],
  [1114, "timestamp"],
  [1184, "timestamptz"],
  [1186, "interval"],
  [1266, "timetz"],
  [1560, "bit"],
  [1562, "varbit"],
  [1700, "numeric"],
  [2205, "regclass"],
  [2206, "regtype"],
  [2249, "record"],
  [2278, "void"],
  [2950, "uuid"],
  [3220, "pg_lsn"],
  [3614, "tsvector"],
  [3615, "tsquery"],
  [3802, "jsonb"],
  [4089, "regnamespace"],
  [4096, "regrole"],
  // Arrays of the common ones.
  [143, "_xml"],
  [199, "_json"],
  [651, "_cidr"],
  [791, "_money"],
  [1000, "_bool"],
  [1001, "_bytea"],
  [1002, "_char"],
  [1003, "_name"],
  [1005, "_int2"],
  [1007, "_int4"],
  [1009, "_text"],
  [1014, "_bpchar"],
  [1015, "_varchar"],
  [1016, "_int8"],
  [1021, "_float4"],
  [1022, "_float8"],
  [1028, "_oid"],
  [1040, "_macaddr"],
  [1041, "_inet"],
  [1115, "_timestamp"],
  [1182, "_date"],
  [1183, "_time"],
  [1185, "_timestamptz"],
  [1187, "_interval"],
  [1231, "_numeric"],
  [1270, "_timetz"],
  [2951, "_uuid"],
  [3807, "_jsonb"],
]);

/** One pg_type row, as the lookup query returns it (all text: the adapters parse nothing). */
export interface PgTypeRow {
  oid: string;
  typname: string;
}

/** Runs the lookup query on the caller's current session (inside a transaction, the same one). */
export type TypeLookup = (sql: string, oidsArrayLiteral: string) => Promise<PgTypeRow[]>;

/** The query a TypeLookup runs; `$1` is an oid[] literal such as `{16384,16390}`. */
export const TYPE_LOOKUP_SQL =
  "SELECT oid::text AS oid, typname::text AS typname FROM pg_catalog.pg_type WHERE oid = ANY($1::oid[])";

/** Caches type names per database (user type OIDs differ between databases). */
export class TypeNames {
  readonly #cache = new Map<number, string>(BUILTIN_TYPE_NAMES);

  /** The cached name, or undefined when `resolve` has not seen the OID. */
  get(oid: number): string | undefined {
    return this.#cache.get(oid);
  }

  /**
   * Makes sure every OID has a name, asking `lookup` once for those not yet known. An OID that
   * pg_type does not know (dropped meanwhile) is named by its number.
   */
  async resolve(oids: Iterable<number>, lookup: TypeLookup): Promise<void> {
    const missing = [...new Set(oids)].filter((oid) => !this.#cache.has(oid));
    if (missing.length === 0) return;
    const rows = await lookup(TYPE_LOOKUP_SQL, `{${missing.join(",")}}`);
    for (const row of rows) this.#cache.set(Number(row.oid), row.typname);
    for (const oid of missing) if (!this.#cache.has(oid)) this.#cache.set(oid, String(oid));
  }

  /** The name for an OID; call `resolve` first for OIDs outside the built-in table. */
  name(oid: number): string {
    return this.#cache.get(oid) ?? String(oid);
  }
}
