// The schema snapshot: what exists in the schemas retort looked at, as plain JSON-serialisable
// data. Introspection fills it in one round trip; the planner updates it in memory as operations
// run; `validate` compares two of them object by object. Every list has one canonical order
// (see normalizeSnapshot), so two snapshots of the same schema are deep-equal.
import { compareNames, compareText, type QualifiedName } from "./names.ts";

/** ON DELETE / ON UPDATE of a foreign key, in lower case as users write them. */
export type ReferentialAction = "no action" | "restrict" | "cascade" | "set null" | "set default";

export interface ColumnSnapshot {
  readonly name: string;
  /** As PostgreSQL's format_type prints it ("character varying(100)", "integer[]"). */
  readonly type: string;
  readonly nullable: boolean;
  /** The default expression as SQL text, null when there is none. */
  readonly default: string | null;
  readonly identity: "always" | "byDefault" | null;
  /** The expression of a generated column, null for an ordinary one. */
  readonly generated: string | null;
}

/** An index key: a column name, or an expression for an expression index. */
export type IndexKey = string | { readonly expression: string };

export interface IndexSnapshot {
  readonly name: string;
  readonly columns: readonly IndexKey[];
  readonly unique: boolean;
  /** The access method: "btree", "gin", ... */
  readonly method: string;
  /** The predicate of a partial index, null for a full one. */
  readonly where: string | null;
  /** True when the index backs the primary key or unique constraint of the same name. */
  readonly constraint: boolean;
  /**
   * False for an index a failed CREATE INDEX CONCURRENTLY left behind: it exists but is not
   * used, and IF NOT EXISTS would wrongly keep it.
   */
  readonly valid: boolean;
  /** Non-key columns carried in the index (INCLUDE); absent when none. */
  readonly include?: readonly string[];
}

export interface ForeignKeyTarget {
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly string[];
}

export type ConstraintSnapshot =
  | { readonly kind: "primaryKey"; readonly name: string; readonly columns: readonly string[] }
  | { readonly kind: "unique"; readonly name: string; readonly columns: readonly string[] }
  | {
      readonly kind: "check";
      readonly name: string;
      readonly expression: string;
      readonly validated: boolean;
    }
  | {
      readonly kind: "foreignKey";
      readonly name: string;
      readonly columns: readonly string[];
      readonly references: ForeignKeyTarget;
      readonly onDelete: ReferentialAction;
      readonly onUpdate: ReferentialAction;
      readonly validated: boolean;
      /** Absent: checked at once (NOT DEFERRABLE, the default). */
      readonly deferrable?: "deferrable" | "initially deferred";
    }
  | { readonly kind: "exclusion"; readonly name: string; readonly definition: string };

export interface TableSnapshot {
  readonly schema: string;
  readonly name: string;
  /** In table order (PostgreSQL's attnum), which is what a later ADD COLUMN appends to. */
  readonly columns: readonly ColumnSnapshot[];
  /** Sorted by name. */
  readonly constraints: readonly ConstraintSnapshot[];
  /** Sorted by name; includes the indexes backing primary keys and unique constraints. */
  readonly indexes: readonly IndexSnapshot[];
}

export interface SchemaSnapshot {
  /** The schemas this snapshot describes (sorted); a relation elsewhere is simply not known. */
  readonly schemas: readonly string[];
  /** Sorted by schema, then name. */
  readonly tables: readonly TableSnapshot[];
}

/**
 * An object of a schema outside its tables, as `retort diff` compares it: an enum type, a sequence
 * no column owns, a view. Two are the same object when kind, schema and name match, and equal
 * when their definitions are.
 */
export interface CatalogObject {
  readonly kind: "enum" | "sequence" | "view";
  readonly schema: string;
  readonly name: string;
  readonly definition: Readonly<Record<string, unknown>>;
}

export function emptySnapshot(schemas: readonly string[] = []): SchemaSnapshot {
  return { schemas: [...new Set(schemas)].sort(compareText), tables: [] };
}

/** Puts every list in canonical order; the result is deep-equal for equal schemas. */
export function normalizeSnapshot(snapshot: SchemaSnapshot): SchemaSnapshot {
  return {
    schemas: [...new Set(snapshot.schemas)].sort(compareText),
    tables: [...snapshot.tables].map(normalizeTable).sort(compareNames),
  };
}

export function normalizeTable(table: TableSnapshot): TableSnapshot {
  return {
    schema: table.schema,
    name: table.name,
    columns: table.columns,
    constraints: [...table.constraints].sort((a, b) => compareText(a.name, b.name)),
    indexes: [...table.indexes].sort((a, b) => compareText(a.name, b.name)),
  };
}

/** True when the snapshot describes `schema`, so absence from it means absence in the database. */
export function coversSchema(snapshot: SchemaSnapshot, schema: string): boolean {
  return snapshot.schemas.includes(schema);
}

export function findTable(snapshot: SchemaSnapshot, name: QualifiedName): TableSnapshot | undefined {
  return snapshot.tables.find((t) => t.schema === name.schema && t.name === name.name);
}

export function findColumn(table: TableSnapshot, column: string): ColumnSnapshot | undefined {
  return table.columns.find((c) => c.name === column);
}

export function findConstraint(
  table: TableSnapshot,
  name: string,
): ConstraintSnapshot | undefined {
  return table.constraints.find((c) => c.name === name);
}

/** Index names are unique per schema in PostgreSQL, so an index is found by schema and name. */
export function findIndex(
  snapshot: SchemaSnapshot,
  name: QualifiedName,
): { table: TableSnapshot; index: IndexSnapshot } | undefined {
  for (const table of snapshot.tables) {
    if (table.schema !== name.schema) continue;
    const index = table.indexes.find((i) => i.name === name.name);
    if (index) return { table, index };
  }
  return undefined;
}

/**
 * Combines a snapshot with a fresher one of some schemas: what `fresh` covers is taken from it,
 * the rest is kept. Used when an operation reaches a schema the run had not introspected yet.
 */
export function mergeSnapshots(base: SchemaSnapshot, fresh: SchemaSnapshot): SchemaSnapshot {
  const replaced = new Set(fresh.schemas);
  return normalizeSnapshot({
    schemas: [...base.schemas, ...fresh.schemas],
    tables: [...base.tables.filter((t) => !replaced.has(t.schema)), ...fresh.tables],
  });
}
