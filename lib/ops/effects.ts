// What an applied operation does to the schema snapshot, computed in memory so later operations
// of the same run see it without another introspection round trip. Pure: returns a new snapshot.
// Names and structure are exact; see Dialect.describeColumn for how close column details are.
import type { Dialect } from "../dialect/dialect.ts";
import { compareNames, sameName, type QualifiedName } from "../schema/names.ts";
import {
  coversSchema,
  findIndex,
  normalizeTable,
  type ConstraintSnapshot,
  type IndexSnapshot,
  type SchemaSnapshot,
  type TableSnapshot,
} from "../schema/snapshot.ts";
import { isSqlExpression, type ConstraintSpec, type Operation } from "../schema/operation.ts";

function constraintSnapshot(spec: ConstraintSpec): ConstraintSnapshot {
  switch (spec.kind) {
    case "primaryKey":
    case "unique":
      return { kind: spec.kind, name: spec.name, columns: [...spec.columns] };
    case "check":
      return { kind: "check", name: spec.name, expression: spec.expression, validated: spec.notValid !== true };
    case "foreignKey":
      return {
        kind: "foreignKey",
        name: spec.name,
        columns: [...spec.columns],
        references: {
          schema: spec.references.table.schema,
          table: spec.references.table.name,
          columns: [...spec.references.columns],
        },
        onDelete: spec.onDelete,
        onUpdate: spec.onUpdate,
        validated: !spec.notValid,
      };
  }
}

/** PostgreSQL backs primary keys and unique constraints with a btree index of the same name. */
function backingIndex(spec: ConstraintSpec): IndexSnapshot | null {
  if (spec.kind !== "primaryKey" && spec.kind !== "unique") return null;
  return {
    name: spec.name,
    columns: [...spec.columns],
    unique: true,
    method: "btree",
    where: null,
    constraint: true,
    valid: true,
  };
}

function withConstraints(table: TableSnapshot, specs: readonly ConstraintSpec[]): TableSnapshot {
  const names = new Set(specs.map((s) => s.name));
  return normalizeTable({
    ...table,
    constraints: [...table.constraints.filter((c) => !names.has(c.name)), ...specs.map(constraintSnapshot)],
    indexes: [
      ...table.indexes.filter((i) => !names.has(i.name)),
      ...specs.map(backingIndex).filter((i): i is IndexSnapshot => i !== null),
    ],
  });
}

function mapTables(
  snapshot: SchemaSnapshot,
  fn: (table: TableSnapshot) => TableSnapshot | null,
): SchemaSnapshot {
  // Snapshots are kept normalized (introspect, applyOperation, mergeSnapshots), so only the
  // tables that changed need it again: normalizing the whole schema on every operation made a
  // run quadratic in the size of the schema.
  const tables: TableSnapshot[] = [];
  for (const table of snapshot.tables) {
    const next = fn(table);
    if (next !== null) tables.push(next === table ? table : normalizeTable(next));
  }
  const sorted = tables.every((t, i) => i === 0 || compareNames(tables[i - 1]!, t) <= 0);
  return { schemas: snapshot.schemas, tables: sorted ? tables : tables.sort(compareNames) };
}

function updateTable(
  snapshot: SchemaSnapshot,
  name: QualifiedName,
  fn: (table: TableSnapshot) => TableSnapshot,
): SchemaSnapshot {
  return mapTables(snapshot, (table) => (sameName(table, name) ? fn(table) : table));
}

function referencesTable(c: ConstraintSnapshot, name: QualifiedName): boolean {
  return c.kind === "foreignKey" && c.references.schema === name.schema && c.references.table === name.name;
}

/** Drops constraints and indexes of `table` that involve `column`, as DROP COLUMN does. */
function withoutColumn(table: TableSnapshot, column: string): TableSnapshot {
  const dropped = new Set(
    table.constraints
      .filter((c) => (c.kind === "primaryKey" || c.kind === "unique" || c.kind === "foreignKey") && c.columns.includes(column))
      .map((c) => c.name),
  );
  return {
    ...table,
    columns: table.columns.filter((c) => c.name !== column),
    constraints: table.constraints.filter((c) => !dropped.has(c.name)),
    indexes: table.indexes.filter((i) => !dropped.has(i.name) && !i.columns.includes(column)),
  };
}

/** The snapshot after `op` ran. Tables in schemas the snapshot does not cover are not added. */
export function applyOperation(snapshot: SchemaSnapshot, op: Operation, dialect: Dialect): SchemaSnapshot {
  switch (op.kind) {
    case "createTable": {
      if (!coversSchema(snapshot, op.table.schema)) return snapshot;
      const table: TableSnapshot = withConstraints(
        {
          schema: op.table.schema,
          name: op.table.name,
          columns: op.columns.map((c) => dialect.describeColumn(op.table, c)),
          constraints: [],
          indexes: [],
        },
        op.constraints,
      );
      // The snapshot is kept normalized: only the new table needs it, put in its sorted place.
      const tables = snapshot.tables.filter((t) => !sameName(t, op.table));
      const created = normalizeTable(table);
      const at = tables.findIndex((t) => compareNames(t, created) > 0);
      tables.splice(at < 0 ? tables.length : at, 0, created);
      return { schemas: snapshot.schemas, tables };
    }
    case "dropTable":
      return mapTables(snapshot, (table) => {
        if (sameName(table, op.table)) return null;
        // CASCADE drops the foreign keys that point at the table, not the tables holding them.
        if (!op.cascade) return table;
        return { ...table, constraints: table.constraints.filter((c) => !referencesTable(c, op.table)) };
      });
    case "addColumn":
      return updateTable(snapshot, op.table, (table) =>
        withConstraints(
          {
            ...table,
            columns: [
              ...table.columns.filter((c) => c.name !== op.column.name),
              dialect.describeColumn(op.table, op.column),
            ],
          },
          op.constraints,
        ),
      );
    case "dropColumn":
      return mapTables(snapshot, (table) => {
        if (sameName(table, op.table)) return withoutColumn(table, op.column);
        if (!op.cascade) return table;
        return {
          ...table,
          constraints: table.constraints.filter(
            (c) => !(referencesTable(c, op.table) && c.kind === "foreignKey" && c.references.columns.includes(op.column)),
          ),
        };
      });
    case "alterColumn":
      return updateTable(snapshot, op.table, (table) => ({
        ...table,
        columns: table.columns.map((c) => {
          if (c.name !== op.column) return c;
          let next = c;
          if (op.type !== undefined) next = { ...next, type: dialect.normalizeType(op.type) };
          if (op.nullable !== undefined) next = { ...next, nullable: op.nullable };
          if (op.default === null) next = { ...next, default: null };
          else if (op.default !== undefined) {
            next = {
              ...next,
              default: isSqlExpression(op.default) ? op.default.sql : dialect.renderLiteral(op.default),
            };
          }
          return next;
        }),
      }));
    case "renameTable": {
      const to = { schema: op.table.schema, name: op.to };
      return mapTables(snapshot, (table) => {
        const renamed = sameName(table, op.table) ? { ...table, name: op.to } : table;
        return {
          ...renamed,
          constraints: renamed.constraints.map((c) =>
            referencesTable(c, op.table) && c.kind === "foreignKey"
              ? { ...c, references: { ...c.references, schema: to.schema, table: to.name } }
              : c,
          ),
        };
      });
    }
    case "renameColumn": {
      const rename = (column: string): string => (column === op.from ? op.to : column);
      return mapTables(snapshot, (table) => {
        const own = sameName(table, op.table);
        return {
          ...table,
          columns: own ? table.columns.map((c) => (c.name === op.from ? { ...c, name: op.to } : c)) : table.columns,
          constraints: table.constraints.map((c) => {
            let next = c;
            if (own && (next.kind === "primaryKey" || next.kind === "unique" || next.kind === "foreignKey")) {
              next = { ...next, columns: next.columns.map(rename) };
            }
            if (next.kind === "foreignKey" && referencesTable(next, op.table)) {
              next = { ...next, references: { ...next.references, columns: next.references.columns.map(rename) } };
            }
            return next;
          }),
          indexes: own
            ? table.indexes.map((i) => ({
                ...i,
                columns: i.columns.map((k) => (typeof k === "string" ? rename(k) : k)),
              }))
            : table.indexes,
        };
      });
    }
    case "createIndex": {
      const index: IndexSnapshot = {
        name: op.index.name,
        columns: [...op.columns],
        unique: op.unique,
        method: op.using ?? "btree",
        where: op.where,
        constraint: false,
        valid: true,
      };
      return updateTable(snapshot, op.table, (table) =>
        normalizeTable({ ...table, indexes: [...table.indexes.filter((i) => i.name !== index.name), index] }),
      );
    }
    case "dropIndex": {
      const found = findIndex(snapshot, op.index);
      if (!found) return snapshot;
      return updateTable(snapshot, found.table, (table) => ({
        ...table,
        indexes: table.indexes.filter((i) => i.name !== op.index.name),
      }));
    }
    case "createForeignKey":
      return updateTable(snapshot, op.table, (table) => withConstraints(table, [{ ...op, kind: "foreignKey" }]));
    case "addUniqueConstraint":
      return updateTable(snapshot, op.table, (table) =>
        withConstraints(table, [{ kind: "unique", name: op.name, columns: op.columns }]),
      );
    case "addCheckConstraint":
      return updateTable(snapshot, op.table, (table) =>
        withConstraints(table, [{ kind: "check", name: op.name, expression: op.expression, notValid: op.notValid }]),
      );
    case "validateConstraint":
      return updateTable(snapshot, op.table, (table) => ({
        ...table,
        constraints: table.constraints.map((c) =>
          c.name === op.name && (c.kind === "check" || c.kind === "foreignKey") ? { ...c, validated: true } : c,
        ),
      }));
    case "setNotNull":
      // The helper check is gone again; the column is NOT NULL.
      return updateTable(snapshot, op.table, (table) => ({
        ...table,
        columns: table.columns.map((c) => (c.name === op.column ? { ...c, nullable: false } : c)),
        constraints: table.constraints.filter((c) => c.name !== op.check.name),
      }));
    case "dropConstraint": {
      const table = snapshot.tables.find((t) => sameName(t, op.table));
      const dropped = table?.constraints.find((c) => c.name === op.name);
      return mapTables(snapshot, (t) => {
        if (sameName(t, op.table)) {
          return {
            ...t,
            constraints: t.constraints.filter((c) => c.name !== op.name),
            indexes: t.indexes.filter((i) => !(i.constraint && i.name === op.name)),
          };
        }
        // CASCADE on a key also drops the foreign keys that rely on it.
        if (!op.cascade || dropped === undefined || (dropped.kind !== "primaryKey" && dropped.kind !== "unique")) {
          return t;
        }
        return {
          ...t,
          constraints: t.constraints.filter(
            (c) =>
              !(
                c.kind === "foreignKey" &&
                referencesTable(c, op.table) &&
                c.references.columns.length === dropped.columns.length &&
                c.references.columns.every((col) => dropped.columns.includes(col))
              ),
          ),
        };
      });
    }
    case "execute":
    case "insertRows":
      return snapshot;
  }
}
