// Compares two schema snapshots object by object: which schemas, tables, columns, constraints and
// indexes are only in one of them, and which changed and how. Pure; `validate` uses it to say
// exactly what a downgrade left behind ("column users.email still present after downgrade").
import { compareText, type QualifiedName } from "./names.ts";
import type { ColumnSnapshot, ConstraintSnapshot, IndexSnapshot, SchemaSnapshot, TableSnapshot } from "./snapshot.ts";

export const DifferenceKind = {
  /** In the actual snapshot only. */
  Added: "added",
  /** In the expected snapshot only. */
  Removed: "removed",
  /** In both, with different properties. */
  Changed: "changed",
} as const;
export type DifferenceKind = (typeof DifferenceKind)[keyof typeof DifferenceKind];

export const SchemaObject = {
  Schema: "schema",
  Table: "table",
  Column: "column",
  Constraint: "constraint",
  Index: "index",
  Enum: "enum type",
  Sequence: "sequence",
  View: "view",
} as const;
export type SchemaObject = (typeof SchemaObject)[keyof typeof SchemaObject];

/** One property that differs, with its value in each snapshot. */
export interface PropertyChange {
  readonly property: string;
  readonly expected: unknown;
  readonly actual: unknown;
}

export interface SchemaDifference {
  readonly kind: DifferenceKind;
  readonly object: SchemaObject;
  /** How messages name it: `users`, `users.email`, `ix_users_email`, `app.orders` outside the default schema. */
  readonly name: string;
  /** The table a column, constraint or index belongs to, named the same way. */
  readonly table?: string;
  /** For `changed`: what differs. */
  readonly changes?: readonly PropertyChange[];
}

/**
 * Every difference between `expected` and `actual`, in a stable order (schemas, then tables by
 * name, then per table its columns, constraints and indexes). A table present on one side only
 * is one difference, not one per column. Empty when the snapshots describe the same schema.
 */
export function diffSnapshots(
  expected: SchemaSnapshot,
  actual: SchemaSnapshot,
  options: { defaultSchema?: string } = {},
): SchemaDifference[] {
  const defaultSchema = options.defaultSchema ?? "public";
  const out: SchemaDifference[] = [];
  const schemas = matchBy(expected.schemas, actual.schemas, (s) => s);
  for (const [name, before, after] of schemas) {
    if (before === undefined) out.push({ kind: DifferenceKind.Added, object: SchemaObject.Schema, name: part(name) });
    else if (after === undefined) out.push({ kind: DifferenceKind.Removed, object: SchemaObject.Schema, name: part(name) });
  }
  // A table of a schema that is itself added or removed is covered by that difference.
  const bothSchemas = new Set(expected.schemas.filter((s) => actual.schemas.includes(s)));
  const tables = matchBy(
    expected.tables.filter((t) => bothSchemas.has(t.schema)),
    actual.tables.filter((t) => bothSchemas.has(t.schema)),
    (t) => `${t.schema}\u0000${t.name}`,
  );
  for (const [, before, after] of tables) {
    const table = before ?? after!;
    const name = displayRelation(table, defaultSchema);
    if (before === undefined) out.push({ kind: DifferenceKind.Added, object: SchemaObject.Table, name });
    else if (after === undefined) out.push({ kind: DifferenceKind.Removed, object: SchemaObject.Table, name });
    else out.push(...diffTable(before, after, name));
  }
  return out;
}

function diffTable(before: TableSnapshot, after: TableSnapshot, table: string): SchemaDifference[] {
  const out: SchemaDifference[] = [];
  for (const [name, a, b] of matchBy(before.columns, after.columns, (c) => c.name)) {
    const full = `${table}.${part(name)}`;
    if (a === undefined) out.push({ kind: DifferenceKind.Added, object: SchemaObject.Column, name: full, table });
    else if (b === undefined) out.push({ kind: DifferenceKind.Removed, object: SchemaObject.Column, name: full, table });
    else {
      const changes = changed(columnProperties(a), columnProperties(b));
      if (changes.length > 0) out.push({ kind: DifferenceKind.Changed, object: SchemaObject.Column, name: full, table, changes });
    }
  }
  // Same columns in another order: a downgrade that dropped and re-added a column, say.
  const common = (list: readonly ColumnSnapshot[], other: readonly ColumnSnapshot[]) =>
    list.map((c) => c.name).filter((n) => other.some((o) => o.name === n));
  const orderBefore = common(before.columns, after.columns);
  const orderAfter = common(after.columns, before.columns);
  if (orderBefore.join("\u0000") !== orderAfter.join("\u0000")) {
    out.push({
      kind: DifferenceKind.Changed,
      object: SchemaObject.Table,
      name: table,
      changes: [{ property: "column order", expected: orderBefore, actual: orderAfter }],
    });
  }
  for (const [name, a, b] of matchBy(before.constraints, after.constraints, (c) => c.name)) {
    const shown = part(name);
    if (a === undefined) out.push({ kind: DifferenceKind.Added, object: SchemaObject.Constraint, name: shown, table });
    else if (b === undefined) out.push({ kind: DifferenceKind.Removed, object: SchemaObject.Constraint, name: shown, table });
    else {
      const changes = changed(constraintProperties(a), constraintProperties(b));
      if (changes.length > 0) out.push({ kind: DifferenceKind.Changed, object: SchemaObject.Constraint, name: shown, table, changes });
    }
  }
  // An index backing a primary key or unique constraint comes and goes with its constraint,
  // which is already reported.
  const constraintNames = new Set([...before.constraints, ...after.constraints].map((c) => c.name));
  const own = (list: readonly IndexSnapshot[]) => list.filter((i) => !(i.constraint && constraintNames.has(i.name)));
  for (const [name, a, b] of matchBy(own(before.indexes), own(after.indexes), (i) => i.name)) {
    const shown = part(name);
    if (a === undefined) out.push({ kind: DifferenceKind.Added, object: SchemaObject.Index, name: shown, table });
    else if (b === undefined) out.push({ kind: DifferenceKind.Removed, object: SchemaObject.Index, name: shown, table });
    else {
      const changes = changed(indexProperties(a), indexProperties(b));
      if (changes.length > 0) out.push({ kind: DifferenceKind.Changed, object: SchemaObject.Index, name: shown, table, changes });
    }
  }
  return out;
}

function columnProperties(c: ColumnSnapshot): Record<string, unknown> {
  return { type: c.type, nullable: c.nullable, default: c.default, identity: c.identity, generated: c.generated };
}

function constraintProperties(c: ConstraintSnapshot): Record<string, unknown> {
  const { name: _name, ...rest } = c;
  return rest;
}

function indexProperties(i: IndexSnapshot): Record<string, unknown> {
  const { name: _name, ...rest } = i;
  return rest;
}

/** The properties whose values differ (compared as JSON: every value is plain data). */
function changed(expected: Record<string, unknown>, actual: Record<string, unknown>): PropertyChange[] {
  const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])];
  return keys
    .filter((k) => JSON.stringify(expected[k]) !== JSON.stringify(actual[k]))
    .map((property) => ({ property, expected: expected[property] ?? null, actual: actual[property] ?? null }));
}

/** Pairs the items of two lists by key, in key order: [key, in expected, in actual]. */
function matchBy<T>(
  expected: readonly T[],
  actual: readonly T[],
  key: (item: T) => string,
): Array<[string, T | undefined, T | undefined]> {
  const a = new Map(expected.map((item) => [key(item), item]));
  const b = new Map(actual.map((item) => [key(item), item]));
  return [...new Set([...a.keys(), ...b.keys()])]
    .sort(compareText)
    .map((k) => [k, a.get(k), b.get(k)]);
}

/** A plain lower-case identifier as is; anything else double-quoted, as PostgreSQL would need. */
function part(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/** `users` in the default schema, `app.orders` elsewhere; odd names quoted. */
export function displayRelation(name: QualifiedName, defaultSchema: string): string {
  return name.schema === defaultSchema ? part(name.name) : `${part(name.schema)}.${part(name.name)}`;
}

/** The words a message uses for each kind, e.g. "still present after downgrade". */
export interface DifferenceWording {
  readonly added: string;
  readonly removed: string;
  readonly changed: string;
}

/**
 * One line per difference: "column users.email still present after downgrade",
 * "index ix_users_email on users missing after downgrade",
 * "column users.email changed after downgrade: type character varying(50) (expected text)".
 */
export function describeDifference(d: SchemaDifference, wording: DifferenceWording): string {
  const on = d.table !== undefined && (d.object === SchemaObject.Constraint || d.object === SchemaObject.Index) ? ` on ${d.table}` : "";
  const subject = `${d.object} ${d.name}${on}`;
  switch (d.kind) {
    case DifferenceKind.Added:
      return `${subject} ${wording.added}`;
    case DifferenceKind.Removed:
      return `${subject} ${wording.removed}`;
    case DifferenceKind.Changed:
      return `${subject} ${wording.changed}: ${(d.changes ?? [])
        .map((c) => `${c.property} ${show(c.actual)} (expected ${show(c.expected)})`)
        .join(", ")}`;
  }
}

function show(value: unknown): string {
  if (value === null) return "none";
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value.join(", ");
  return typeof value === "string" ? value : JSON.stringify(value);
}
