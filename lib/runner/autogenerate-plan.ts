// What `retort revision --autogenerate` writes: the operations that turn one schema (the code's
// heads) into another (the reference), as the TypeScript lines of a migration's upgrade, and the
// same planner the other way round for its downgrade. Pure: two schemas in, lines out.
//
// The order keeps every statement's dependencies in place:
//   renames (given by --rename) → drop views → drop foreign keys → drop other constraints and
//   indexes → create schemas, enum types, sequences; change enum types → create tables, add and
//   change columns → add constraints and indexes → add foreign keys → drop columns, tables →
//   drop sequences, enum types → create views → drop schemas
// Each step uses the safe operation where one exists (so the revision converges when run again);
// what no operation expresses is raw SQL that is idempotent by itself (IF [NOT] EXISTS) or runs
// behind a guard query, with a comment saying why it is SQL. Destructive steps carry the lint
// rule's code and description, so `retort lint` stops on them until the migration allows them.
import type { Dialect } from "../dialect/dialect.ts";
import { RULES } from "../lint/rules/index.ts";
import { compareText, type QualifiedName } from "../schema/names.ts";
import type {
  CatalogObject,
  ColumnSnapshot,
  ConstraintSnapshot,
  IndexKey,
  IndexSnapshot,
  SchemaSnapshot,
  TableSnapshot,
} from "../schema/snapshot.ts";

/** A schema as autogenerate compares it: its tables, and its enum types, free sequences and views. */
export interface SchemaState {
  readonly snapshot: SchemaSnapshot;
  readonly objects: readonly CatalogObject[];
}

/** A rename the user confirmed (`--rename`): a table, or a column of a table (named as in the reference). */
export type Rename =
  | { readonly kind: "table"; readonly schema: string; readonly from: string; readonly to: string }
  | { readonly kind: "column"; readonly schema: string; readonly table: string; readonly from: string; readonly to: string };

export interface PlannedMigration {
  /** The upgrade's body, one line each (unindented). */
  readonly upgrade: string[];
  /** The downgrade's body: the same planner from the reference back to the heads. */
  readonly downgrade: string[];
  /** What the user should know: possible renames, differences no migration can make. */
  readonly notes: string[];
  /** Lint rules the upgrade's destructive steps will trip. */
  readonly destructive: string[];
  /** True when there is nothing to do. */
  readonly empty: boolean;
  /**
   * False when a step must commit before the next can use it (an enum value added: PostgreSQL
   * refuses a new value in the transaction that added it). Every step is safe to run again, so a
   * run cut short converges when run again.
   */
  readonly transactional: boolean;
}

interface Writer {
  readonly dialect: Dialect;
  readonly defaultSchema: string;
  /** The free sequences of the side being read (a serial column's default names its own, not one of these). */
  readonly freeSequences: ReadonlySet<string>;
}

/** A migration's upgrade and downgrade between two schemas, with the confirmed renames. */
export function planMigration(
  heads: SchemaState,
  reference: SchemaState,
  options: { dialect: Dialect; defaultSchema: string; renames?: readonly Rename[] },
): PlannedMigration {
  const renames = options.renames ?? [];
  const renamed = applyRenames(heads, renames);
  const w = (side: SchemaState): Writer => ({
    dialect: options.dialect,
    defaultSchema: options.defaultSchema,
    freeSequences: new Set(side.objects.filter((o) => o.kind === "sequence").map((o) => `${o.schema}.${o.name}`)),
  });
  const destructive = new Set<string>();
  const up = [...renameLines(renames, false, options.defaultSchema), ...changeLines(renamed, reference, w(reference), destructive)];
  const down = [...changeLines(reference, renamed, w(renamed), null), ...renameLines([...renames].reverse(), true, options.defaultSchema)];
  const addsEnumValue = [...up, ...down].some((line) => line.includes(ADD_VALUE));
  return {
    upgrade: up,
    downgrade: down,
    notes: [
      ...renameHints(renamed, reference, options.defaultSchema),
      ...orderNotes(renamed, reference, options.defaultSchema),
      ...(addsEnumValue ? ["an enum value is added, which must commit before it is used: the migration runs outside a transaction (each step is safe to run again)"] : []),
    ],
    destructive: [...destructive],
    empty: up.length === 0,
    transactional: !addsEnumValue,
  };
}

// ---------------------------------------------------------------------------------------------
// Renames

function renameLines(renames: readonly Rename[], inverse: boolean, defaultSchema: string): string[] {
  // Upgrade: tables first, then their columns (named by the new table); downgrade the other way.
  const ordered = inverse ? [...renames].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "column" ? -1 : 1)) : [...renames].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "table" ? -1 : 1));
  return ordered.map((r) => {
    const [from, to] = inverse ? [r.to, r.from] : [r.from, r.to];
    if (r.kind === "table") return `await op.renameTable(${rel({ schema: r.schema, name: from }, defaultSchema)}, ${str(to)});`;
    return `await op.renameColumn(${rel({ schema: r.schema, name: r.table }, defaultSchema)}, ${str(from)}, ${str(to)});`;
  });
}

/** The heads' schema as it is after the renames: the rest of the plan starts from there. */
function applyRenames(state: SchemaState, renames: readonly Rename[]): SchemaState {
  let tables = state.snapshot.tables;
  for (const r of renames.filter((x) => x.kind === "table")) {
    tables = tables.map((t) => ({
      ...(t.schema === r.schema && t.name === r.from ? { ...t, name: r.to } : t),
      constraints: t.constraints.map((c) =>
        c.kind === "foreignKey" && c.references.schema === r.schema && c.references.table === r.from ? { ...c, references: { ...c.references, table: r.to } } : c,
      ),
    }));
  }
  for (const r of renames) {
    if (r.kind !== "column") continue;
    const col = (name: string) => (name === r.from ? r.to : name);
    tables = tables.map((t) => {
      const own = t.schema === r.schema && t.name === r.table;
      return {
        ...t,
        columns: own ? t.columns.map((c) => ({ ...c, name: col(c.name) })) : t.columns,
        constraints: t.constraints.map((c) => {
          let out: ConstraintSnapshot = c;
          if (own && (c.kind === "primaryKey" || c.kind === "unique" || c.kind === "foreignKey")) out = { ...c, columns: c.columns.map(col) } as ConstraintSnapshot;
          if (out.kind === "foreignKey" && out.references.schema === r.schema && out.references.table === r.table) {
            out = { ...out, references: { ...out.references, columns: out.references.columns.map(col) } };
          }
          return out;
        }),
        indexes: own ? t.indexes.map((i) => ({ ...i, columns: i.columns.map((k) => (typeof k === "string" ? col(k) : k)) })) : t.indexes,
      };
    });
  }
  return { snapshot: { ...state.snapshot, tables }, objects: state.objects };
}

/** A column that disappears while another of the same type appears in the same table, a table likewise. */
function renameHints(from: SchemaState, to: SchemaState, defaultSchema: string): string[] {
  const hints: string[] = [];
  const gone = from.snapshot.tables.filter((t) => !findTable(to.snapshot, t));
  const come = to.snapshot.tables.filter((t) => !findTable(from.snapshot, t));
  for (const old of gone) {
    const shape = columnShape(old);
    for (const fresh of come.filter((t) => t.schema === old.schema && columnShape(t) === shape)) {
      hints.push(
        `table ${show(old, defaultSchema)} disappears and ${show(fresh, defaultSchema)} appears with the same columns: if it is a rename, ` +
          `run again with --rename ${renameTarget(old, defaultSchema)}=${fresh.name}`,
      );
    }
  }
  for (const before of from.snapshot.tables) {
    const after = findTable(to.snapshot, before);
    if (!after) continue;
    const dropped = before.columns.filter((c) => !after.columns.some((a) => a.name === c.name));
    const added = after.columns.filter((c) => !before.columns.some((b) => b.name === c.name));
    for (const d of dropped) {
      for (const a of added.filter((x) => x.type === d.type)) {
        hints.push(
          `column ${show(before, defaultSchema)}.${d.name} disappears and ${show(before, defaultSchema)}.${a.name} (${a.type}) appears: ` +
            `written as a drop and an add, which loses the column's data; if it is a rename, run again with --rename ${renameTarget(before, defaultSchema)}.${d.name}=${a.name}`,
        );
      }
    }
  }
  return hints;
}

function renameTarget(t: QualifiedName, defaultSchema: string): string {
  return t.schema === defaultSchema ? t.name : `${t.schema}.${t.name}`;
}

function columnShape(t: TableSnapshot): string {
  return t.columns.map((c) => `${c.name}:${c.type}`).join(",");
}

/** PostgreSQL adds a column at the end: a reference with another order cannot be reached without rebuilding the table. */
function orderNotes(from: SchemaState, to: SchemaState, defaultSchema: string): string[] {
  const notes: string[] = [];
  for (const after of to.snapshot.tables) {
    const before = findTable(from.snapshot, after);
    if (!before) continue;
    const names = new Set(before.columns.map((c) => c.name));
    const kept = after.columns.filter((c) => names.has(c.name)).map((c) => c.name);
    const added = after.columns.filter((c) => !names.has(c.name)).map((c) => c.name);
    const reachable = [...before.columns.map((c) => c.name).filter((n) => kept.includes(n)), ...added];
    if (reachable.join("\0") !== after.columns.map((c) => c.name).join("\0")) {
      notes.push(
        `table ${show(after, defaultSchema)} has its columns in another order in the reference (${after.columns.map((c) => c.name).join(", ")}); ` +
          "PostgreSQL adds a column at the end, so the migration leaves the order as it is",
      );
    }
  }
  return notes;
}

// ---------------------------------------------------------------------------------------------
// The changes from one schema to another

/**
 * The lines from one schema to the other. `destructive` collects the lint rules the upgrade trips,
 * each step carrying its rule's reason; null for a downgrade, which only undoes what its upgrade made.
 */
function changeLines(from: SchemaState, to: SchemaState, w: Writer, destructive: Set<string> | null): string[] {
  const out: string[] = [];
  const fromTables = from.snapshot.tables;
  const toTables = to.snapshot.tables;
  const kept = toTables.flatMap((t) => {
    const before = findTable(from.snapshot, t);
    return before ? [{ before, after: t }] : [];
  });
  const created = toTables.filter((t) => !findTable(from.snapshot, t));
  const dropped = fromTables.filter((t) => !findTable(to.snapshot, t));
  const objects = pairObjects(from.objects, to.objects);

  // Views go first (a view holds on to the columns and types under it), those reading another before it.
  const goingViews = readersFirst(objects.filter(([b, a]) => b?.kind === "view" && !sameObject(b, a)).map(([b]) => b!));
  for (const before of goingViews) {
    const after = objects.find(([b]) => b === before)![1];
    out.push(`// ${after ? "a changed" : "a removed"} view: no operation writes views`, `await op.execute(${str(`DROP ${isMaterialized(before) ? "MATERIALIZED VIEW" : "VIEW"} IF EXISTS ${w.dialect.quoteName(before)}`)});`);
  }

  // Foreign keys before the keys they reference; then the other constraints and indexes to drop or rebuild.
  const dropConstraint = (t: TableSnapshot, c: ConstraintSnapshot) => out.push(`await op.safeDropConstraint(${rel(t, w.defaultSchema)}, ${str(c.name)});`);
  for (const t of dropped) for (const c of t.constraints.filter((c) => c.kind === "foreignKey")) dropConstraint(t, c);
  const constraintChanges = kept.map(({ before, after }) => ({ before, after, ...pairBy(before.constraints, after.constraints, (c) => c.name) }));
  for (const { before, removed, changed } of constraintChanges) {
    for (const c of [...removed, ...changed.map(([b]) => b)].filter((c) => c.kind === "foreignKey")) dropConstraint(before, c);
  }
  for (const { before, removed, changed } of constraintChanges) {
    for (const c of [...removed, ...changed.map(([b]) => b)].filter((c) => c.kind !== "foreignKey")) dropConstraint(before, c);
  }
  const indexChanges = kept.map(({ before, after }) => ({ before, after, ...pairBy(ownIndexes(before), ownIndexes(after), (i) => i.name) }));
  for (const { before, removed, changed } of indexChanges) {
    for (const i of [...removed, ...changed.map(([b]) => b)]) out.push(`await op.safeDropIndex(${rel({ schema: before.schema, name: i.name }, w.defaultSchema)});`);
  }

  // Schemas, enum types and sequences: what the tables' columns may name.
  for (const s of to.snapshot.schemas.filter((s) => !from.snapshot.schemas.includes(s))) {
    out.push(`await op.execute(${str(`CREATE SCHEMA IF NOT EXISTS ${w.dialect.quoteIdentifier(s)}`)});`);
  }
  for (const [before, after] of objects) {
    if (after?.kind === "enum") out.push(...enumLines(before, after, fromTables, toTables, w));
    if (after?.kind === "sequence" && !sameObject(before, after)) out.push(...sequenceLines(before, after, w));
  }

  // Tables and columns.
  for (const t of created) out.push(...createTableLines(t, w));
  for (const { before, after } of kept) out.push(...columnLines(before, after, w));

  // Constraints and indexes of kept tables (new tables have theirs already), then every new foreign key.
  for (const { after, added, changed } of constraintChanges) {
    for (const c of [...added, ...changed.map(([, a]) => a)].filter((c) => c.kind !== "foreignKey")) out.push(...addConstraintLines(after, c, w));
  }
  for (const { after, added, changed } of indexChanges) {
    for (const i of [...added, ...changed.map(([, a]) => a)]) out.push(...createIndexLines(after, i, w));
  }
  for (const t of created) for (const c of t.constraints.filter((c) => c.kind === "foreignKey")) out.push(...addConstraintLines(t, c, w));
  for (const { after, added, changed } of constraintChanges) {
    for (const c of [...added, ...changed.map(([, a]) => a)].filter((c) => c.kind === "foreignKey")) out.push(...addConstraintLines(after, c, w));
  }

  // What goes: columns, then tables, then the types and sequences they used.
  for (const { before, after } of kept) {
    for (const c of before.columns.filter((c) => !after.columns.some((a) => a.name === c.name))) {
      out.push(...lintComment("drop-column", destructive), `await op.safeDropColumn(${rel(before, w.defaultSchema)}, ${str(c.name)});`);
    }
  }
  for (const t of dropped) {
    out.push(...lintComment("drop-table", destructive), `await op.safeDropTable(${rel(t, w.defaultSchema)});`);
  }
  for (const [before, after] of objects) {
    if (after || before?.kind === "view") continue;
    const what = before!.kind === "enum" ? "TYPE" : "SEQUENCE";
    out.push(`// a removed ${before!.kind === "enum" ? "enum type" : "sequence"}: no operation drops one`, `await op.execute(${str(`DROP ${what} IF EXISTS ${w.dialect.quoteName(before!)}`)});`);
  }

  // Views last among the creations (they read the tables as they now are), a view after those it reads.
  const comingViews = readersFirst(objects.filter(([b, a]) => a?.kind === "view" && !sameObject(b, a)).map(([, a]) => a!)).reverse();
  for (const after of comingViews) {
    const before = objects.find(([, a]) => a === after)![0];
    const kind = isMaterialized(after) ? "MATERIALIZED VIEW" : "VIEW";
    const query = String(after.definition["definition"]).trim().replace(/;$/, "");
    out.push(
      `// ${before ? "a changed" : "a new"} view: no operation writes views`,
      `await op.safeExecute(${str(`CREATE ${kind} ${w.dialect.quoteName(after)} AS\n${query}`)}, { guard: { query: ${str("SELECT 1 WHERE to_regclass(:name) IS NULL")}, params: { name: ${str(w.dialect.quoteName(after))} } } });`,
    );
  }

  for (const s of from.snapshot.schemas.filter((s) => !to.snapshot.schemas.includes(s))) {
    out.push(`await op.execute(${str(`DROP SCHEMA IF EXISTS ${w.dialect.quoteIdentifier(s)}`)});`);
  }
  return out;
}

function createTableLines(t: TableSnapshot, w: Writer): string[] {
  const plain = t.columns.filter((c) => c.generated === null);
  const pk = t.constraints.find((c) => c.kind === "primaryKey");
  const uniques = t.constraints.filter((c) => c.kind === "unique");
  const checks = t.constraints.filter((c) => c.kind === "check" && c.validated);
  const body = [
    "  columns: [",
    ...plain.map((c) => `    ${columnLiteral(c, t, w)},`),
    "  ],",
    ...(pk && pk.kind === "primaryKey" ? [`  primaryKey: { name: ${str(pk.name)}, columns: ${list(pk.columns)} },`] : []),
    ...(uniques.length > 0 ? [`  unique: [${uniques.map((u) => `{ name: ${str(u.name)}, columns: ${list(u.kind === "unique" ? u.columns : [])} }`).join(", ")}],`] : []),
    ...(checks.length > 0 ? [`  checks: [${checks.map((c) => `{ name: ${str(c.name)}, expression: ${str(c.kind === "check" ? c.expression : "")} }`).join(", ")}],`] : []),
  ];
  const out = [`await op.safeCreateTable(${rel(t, w.defaultSchema)}, {`, ...body, "});"];
  for (const c of t.columns.filter((c) => c.generated !== null)) out.push(...addGeneratedColumn(t, c, w));
  for (const c of t.constraints) {
    if (c.kind === "exclusion" || (c.kind === "check" && !c.validated)) out.push(...addConstraintLines(t, c, w));
  }
  for (const i of ownIndexes(t)) out.push(...createIndexLines(t, i, w));
  return out;
}

function columnLines(before: TableSnapshot, after: TableSnapshot, w: Writer): string[] {
  const out: string[] = [];
  const table = rel(after, w.defaultSchema);
  for (const c of after.columns) {
    const b = before.columns.find((x) => x.name === c.name);
    if (!b) {
      out.push(...(c.generated !== null ? addGeneratedColumn(after, c, w) : [`await op.safeAddColumn(${table}, ${columnLiteral(c, after, w)});`]));
      continue;
    }
    if (b.generated !== c.generated) {
      // A generation expression cannot be altered: the column is dropped and added again (its values are derived).
      out.push(
        "// a changed generated column: PostgreSQL cannot alter its expression, so it is dropped and added again (its values are computed)",
        `await op.safeDropColumn(${table}, ${str(c.name)});`,
        ...(c.generated !== null ? addGeneratedColumn(after, c, w) : [`await op.safeAddColumn(${table}, ${columnLiteral(c, after, w)});`]),
      );
      continue;
    }
    const changes: string[] = [];
    if (b.type !== c.type) {
      changes.push(`type: ${str(c.type)}`, `using: ${str(`${ident(c.name, w)}::${c.type}`)}`);
    }
    if (b.default !== c.default && b.identity === c.identity) changes.push(`default: ${c.default === null ? "null" : `{ sql: ${str(c.default)} }`}`);
    if (b.nullable && !c.nullable && c.identity === null) {
      if (changes.length > 0) out.push(`await op.alterColumn(${table}, ${str(c.name)}, { ${changes.join(", ")} });`);
      out.push(`await op.safeSetNotNull(${table}, ${str(c.name)});`);
    } else {
      if (!b.nullable && c.nullable && b.identity === null) changes.push("nullable: true");
      if (changes.length > 0) out.push(`await op.alterColumn(${table}, ${str(c.name)}, { ${changes.join(", ")} });`);
    }
    if (b.identity !== c.identity) out.push(...identityLines(after, b, c, w));
  }
  return out;
}

/** Identity: no operation changes it on an existing column. */
function identityLines(t: TableSnapshot, before: ColumnSnapshot, after: ColumnSnapshot, w: Writer): string[] {
  const alter = `ALTER TABLE ${w.dialect.quoteName(t)} ALTER COLUMN ${w.dialect.quoteIdentifier(after.name)}`;
  const generated = (i: "always" | "byDefault") => (i === "always" ? "ALWAYS" : "BY DEFAULT");
  const why = "// an identity change: no operation makes or unmakes an identity column";
  if (after.identity === null) {
    return [why, `await op.execute(${str(`${alter} DROP IDENTITY IF EXISTS`)});`, ...(after.nullable && !before.nullable ? [`await op.alterColumn(${rel(t, w.defaultSchema)}, ${str(after.name)}, { nullable: true });`] : [])];
  }
  const guard = { query: "SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass(:table) AND attname = :column AND attidentity = :identity", params: { table: w.dialect.quoteName(t), column: after.name, identity: before.identity === null ? "" : before.identity === "always" ? "a" : "d" } };
  const sql = before.identity === null ? `${alter} ADD GENERATED ${generated(after.identity)} AS IDENTITY` : `${alter} SET GENERATED ${generated(after.identity)}`;
  return [why, `await op.safeExecute(${str(sql)}, { guard: ${guardLiteral(guard)} });`];
}

function addGeneratedColumn(t: TableSnapshot, c: ColumnSnapshot, w: Writer): string[] {
  return [
    "// a generated column: no operation writes one",
    `await op.execute(${str(`ALTER TABLE ${w.dialect.quoteName(t)} ADD COLUMN IF NOT EXISTS ${w.dialect.quoteIdentifier(c.name)} ${c.type}${c.nullable ? "" : " NOT NULL"} GENERATED ALWAYS AS (${c.generated}) STORED`)});`,
  ];
}

function columnLiteral(c: ColumnSnapshot, t: QualifiedName, w: Writer): string {
  const parts = [`name: ${str(c.name)}`];
  const serial = serialType(c, t, w);
  parts.push(`type: ${str(serial ?? c.type)}`);
  if (!c.nullable && c.identity === null && !serial) parts.push("nullable: false");
  if (c.default !== null && !serial) parts.push(`default: { sql: ${str(c.default)} }`);
  if (c.identity !== null) parts.push(`identity: ${str(c.identity)}`);
  return `{ ${parts.join(", ")} }`;
}

/** A column whose default is the next value of its own sequence is a serial one: the type creates the sequence. */
function serialType(c: ColumnSnapshot, t: QualifiedName, w: Writer): string | undefined {
  const m = /^nextval\('(.+)'::regclass\)$/.exec(c.default ?? "");
  if (!m || c.nullable) return undefined;
  const sequence = m[1]!.replaceAll('"', "");
  const qualified = sequence.includes(".") ? sequence : `${t.schema}.${sequence}`;
  if (w.freeSequences.has(qualified)) return undefined;
  return { integer: "serial", bigint: "bigserial", smallint: "smallserial" }[c.type];
}

function addConstraintLines(t: TableSnapshot, c: ConstraintSnapshot, w: Writer): string[] {
  const table = rel(t, w.defaultSchema);
  const guard = { query: "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = to_regclass(:table) AND conname = :name)", params: { table: w.dialect.quoteName(t), name: c.name } };
  const raw = (why: string, definition: string) => [
    `// ${why}`,
    `await op.safeExecute(${str(`ALTER TABLE ${w.dialect.quoteName(t)} ADD CONSTRAINT ${w.dialect.quoteIdentifier(c.name)} ${definition}`)}, { guard: ${guardLiteral(guard)} });`,
  ];
  const cols = (names: readonly string[]) => names.map((n) => w.dialect.quoteIdentifier(n)).join(", ");
  switch (c.kind) {
    case "primaryKey":
      return raw("a primary key on an existing table: no operation adds one", `PRIMARY KEY (${cols(c.columns)})`);
    case "unique":
      return [`await op.safeAddUniqueConstraint(${str(c.name)}, ${table}, ${list(c.columns)});`];
    case "check":
      return [`await op.safeAddCheckConstraint(${str(c.name)}, ${table}, ${str(c.expression)}${c.validated ? "" : ", { notValid: true }"});`];
    case "exclusion":
      return raw("an exclusion constraint: no operation writes one", c.definition);
    case "foreignKey": {
      const ref: QualifiedName = { schema: c.references.schema, name: c.references.table };
      if (c.deferrable) {
        const actions = `${c.onDelete === "no action" ? "" : ` ON DELETE ${c.onDelete.toUpperCase()}`}${c.onUpdate === "no action" ? "" : ` ON UPDATE ${c.onUpdate.toUpperCase()}`}`;
        return raw(
          "a deferrable foreign key: the foreign key operation has no DEFERRABLE",
          `FOREIGN KEY (${cols(c.columns)}) REFERENCES ${w.dialect.quoteName(ref)} (${cols(c.references.columns)})${actions} ${c.deferrable === "deferrable" ? "DEFERRABLE" : "DEFERRABLE INITIALLY DEFERRED"}${c.validated ? "" : " NOT VALID"}`,
        );
      }
      const options = [
        ...(c.onDelete === "no action" ? [] : [`onDelete: ${str(c.onDelete)}`]),
        ...(c.onUpdate === "no action" ? [] : [`onUpdate: ${str(c.onUpdate)}`]),
        ...(c.validated ? [] : ["notValid: true"]),
      ];
      return [
        `await op.safeCreateForeignKey(${str(c.name)}, ${table}, ${list(c.columns)}, ${rel(ref, w.defaultSchema)}, ${list(c.references.columns)}${options.length ? `, { ${options.join(", ")} }` : ""});`,
      ];
    }
  }
}

function createIndexLines(t: TableSnapshot, i: IndexSnapshot, w: Writer): string[] {
  if (i.include && i.include.length > 0) {
    const keys = i.columns.map((k) => (typeof k === "string" ? w.dialect.quoteIdentifier(k) : k.expression)).join(", ");
    return [
      "// an index with INCLUDE columns: the index operation has no INCLUDE",
      `await op.execute(${str(
        `CREATE ${i.unique ? "UNIQUE " : ""}INDEX IF NOT EXISTS ${w.dialect.quoteIdentifier(i.name)} ON ${w.dialect.quoteName(t)} USING ${i.method} (${keys}) INCLUDE (${i.include.map((c) => w.dialect.quoteIdentifier(c)).join(", ")})${i.where ? ` WHERE ${i.where}` : ""}`,
      )});`,
    ];
  }
  const options = [...(i.unique ? ["unique: true"] : []), ...(i.where ? [`where: ${str(i.where)}`] : []), ...(i.method !== "btree" ? [`using: ${str(i.method)}`] : [])];
  return [`await op.safeCreateIndex(${str(i.name)}, ${rel(t, w.defaultSchema)}, [${i.columns.map(indexKey).join(", ")}]${options.length ? `, { ${options.join(", ")} }` : ""});`];
}

function indexKey(k: IndexKey): string {
  return typeof k === "string" ? str(k) : `{ sql: ${str(k.expression)} }`;
}

/** Indexes of their own: those backing a primary key or unique constraint come with it. */
function ownIndexes(t: TableSnapshot): IndexSnapshot[] {
  return t.indexes.filter((i) => !(i.constraint && t.constraints.some((c) => c.name === i.name)));
}

// ---------------------------------------------------------------------------------------------
// Enum types and sequences

function enumLines(
  before: CatalogObject | undefined,
  after: CatalogObject,
  tables: readonly TableSnapshot[],
  targetTables: readonly TableSnapshot[],
  w: Writer,
): string[] {
  const values = after.definition["values"] as string[];
  const name = w.dialect.quoteName(after);
  const create = `CREATE TYPE ${name} AS ENUM (${values.map((v) => w.dialect.renderLiteral(v)).join(", ")})`;
  if (!before) {
    return ["// a new enum type: no operation writes types", `await op.safeExecute(${str(create)}, { guard: ${guardLiteral({ query: "SELECT 1 WHERE to_regtype(:name) IS NULL", params: { name } })} });`];
  }
  const old = before.definition["values"] as string[];
  if (JSON.stringify(old) === JSON.stringify(values)) return [];
  // Values only added, the old ones in their order: ADD VALUE, which is idempotent with IF NOT EXISTS.
  if (old.every((v) => values.includes(v)) && JSON.stringify(values.filter((v) => old.includes(v))) === JSON.stringify(old)) {
    // In the reference's order: each new value goes after the one before it, which exists by then.
    return values.flatMap((v, i) => {
      if (old.includes(v)) return [];
      const where = i > 0 ? ` AFTER ${w.dialect.renderLiteral(values[i - 1]!)}` : old.length > 0 ? ` BEFORE ${w.dialect.renderLiteral(old[0]!)}` : "";
      return [`await op.execute(${str(`ALTER TYPE ${name} ${ADD_VALUE} ${w.dialect.renderLiteral(v)}${where}`)});`];
    });
  }
  // Values removed or reordered: PostgreSQL cannot, so the type is made again and its columns converted.
  const users = tables.flatMap((t) => t.columns.filter((c) => c.type === after.name || c.type === `${after.schema}.${after.name}`).map((c) => ({ t, c })));
  const renamedOld = `${after.name}__retort_old`;
  const sql = [
    `ALTER TYPE ${name} RENAME TO ${w.dialect.quoteIdentifier(renamedOld)}`,
    create,
    ...users.flatMap(({ t, c }) => {
      const col = `ALTER TABLE ${w.dialect.quoteName(t)} ALTER COLUMN ${w.dialect.quoteIdentifier(c.name)}`;
      // A default naming the type is dropped for the conversion, and comes back as the target has it.
      const target = findTable({ schemas: [], tables: targetTables }, t)?.columns.find((x) => x.name === c.name);
      const restored = target?.type === c.type ? target.default : null;
      return [
        ...(c.default !== null ? [`${col} DROP DEFAULT`] : []),
        `${col} TYPE ${name} USING ${ident(c.name, w)}::text::${name}`,
        ...(restored !== null ? [`${col} SET DEFAULT ${restored}`] : []),
      ];
    }),
    `DROP TYPE ${w.dialect.quoteName({ schema: after.schema, name: renamedOld })}`,
  ];
  const guard = {
    query:
      "SELECT 1 WHERE (SELECT jsonb_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = to_regtype(:name)) IS DISTINCT FROM CAST(:values AS jsonb)",
    params: { name, values: JSON.stringify(values) },
  };
  return [
    `// enum type ${after.name}: values removed or reordered, which PostgreSQL cannot do in place; the type is made again and its columns converted (a row holding a removed value fails it)`,
    `await op.safeExecute(${str(sql.join(";\n"))}, { guard: ${guardLiteral(guard)} });`,
  ];
}

const ADD_VALUE = "ADD VALUE IF NOT EXISTS";

function sequenceLines(before: CatalogObject | undefined, after: CatalogObject, w: Writer): string[] {
  const d = after.definition as { type: string; start: string; increment: string; min: string; max: string; cycle: boolean };
  const options = `AS ${d.type} INCREMENT BY ${d.increment} MINVALUE ${d.min} MAXVALUE ${d.max} START WITH ${d.start} ${d.cycle ? "CYCLE" : "NO CYCLE"}`;
  if (!before) return [`await op.execute(${str(`CREATE SEQUENCE IF NOT EXISTS ${w.dialect.quoteName(after)} ${options}`)});`];
  return ["// a changed sequence: no operation alters one (ALTER SEQUENCE says the whole definition, so it is repeatable)", `await op.execute(${str(`ALTER SEQUENCE IF EXISTS ${w.dialect.quoteName(after)} ${options}`)});`];
}

// ---------------------------------------------------------------------------------------------
// Small pieces

/** An upgrade's destructive step: the rule's code and reason above it, the rule noted in `destructive`. */
function lintComment(code: string, destructive: Set<string> | null): string[] {
  if (!destructive) return [];
  destructive.add(code);
  const rule = RULES.find((r) => r.code === code)!;
  return [`// ${code} (retort lint): ${rule.description}. Review it; if it is meant, allow it with lint: { allow: ["${code}: <why>"] }`];
}

function findTable(snapshot: SchemaSnapshot, name: QualifiedName): TableSnapshot | undefined {
  return snapshot.tables.find((t) => t.schema === name.schema && t.name === name.name);
}

function pairBy<T>(before: readonly T[], after: readonly T[], key: (item: T) => string): { added: T[]; removed: T[]; changed: Array<[T, T]> } {
  const a = new Map(before.map((x) => [key(x), x]));
  const b = new Map(after.map((x) => [key(x), x]));
  return {
    added: after.filter((x) => !a.has(key(x))),
    removed: before.filter((x) => !b.has(key(x))),
    changed: after.flatMap((x) => {
      const old = a.get(key(x));
      return old && JSON.stringify(old) !== JSON.stringify(x) ? [[old, x] as [T, T]] : [];
    }),
  };
}

function pairObjects(before: readonly CatalogObject[], after: readonly CatalogObject[]): Array<[CatalogObject | undefined, CatalogObject | undefined]> {
  const key = (o: CatalogObject) => `${o.kind}\u0000${o.schema}\u0000${o.name}`;
  const a = new Map(before.map((o) => [key(o), o]));
  const b = new Map(after.map((o) => [key(o), o]));
  return [...new Set([...a.keys(), ...b.keys()])].sort(compareText).map((k) => [a.get(k), b.get(k)]);
}

function sameObject(a: CatalogObject | undefined, b: CatalogObject | undefined): boolean {
  return a !== undefined && b !== undefined && JSON.stringify(a.definition) === JSON.stringify(b.definition);
}

/**
 * Views ordered so that one whose definition names another of the list comes before it (the order
 * to drop them; reversed, the order to create them). Names are matched as words of the definition,
 * as PostgreSQL prints it; a cycle, which PostgreSQL cannot have, keeps the remaining order.
 */
function readersFirst(views: readonly CatalogObject[]): CatalogObject[] {
  const reads = (reader: CatalogObject, read: CatalogObject) =>
    reader !== read && new RegExp(`(^|[^A-Za-z0-9_$"])"?${read.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"?([^A-Za-z0-9_$"]|$)`).test(String(reader.definition["definition"]));
  const left = [...views];
  const out: CatalogObject[] = [];
  while (left.length > 0) {
    // Take a view no remaining view reads: nothing left depends on it.
    const i = left.findIndex((v) => !left.some((other) => reads(other, v)));
    out.push(...left.splice(i === -1 ? 0 : i, 1));
  }
  return out;
}

function isMaterialized(o: CatalogObject): boolean {
  return o.definition["materialized"] === true;
}

const PLAIN = /^[a-z_][a-z0-9_]*$/;

/** A relation as a migration names it: "users", "app.users", or { schema, name } when a part needs quoting. */
function rel(name: QualifiedName, defaultSchema: string): string {
  if (PLAIN.test(name.name) && name.schema === defaultSchema) return str(name.name);
  if (PLAIN.test(name.name) && PLAIN.test(name.schema)) return str(`${name.schema}.${name.name}`);
  return `{ schema: ${str(name.schema)}, name: ${str(name.name)} }`;
}

/** An identifier in the SQL a migration carries: always quoted by the dialect, as the operations quote theirs. */
function ident(name: string, w: Writer): string {
  return w.dialect.quoteIdentifier(name);
}

function show(name: QualifiedName, defaultSchema: string): string {
  return name.schema === defaultSchema ? name.name : `${name.schema}.${name.name}`;
}

function list(items: readonly string[]): string {
  return `[${items.map(str).join(", ")}]`;
}

function guardLiteral(guard: { query: string; params: Record<string, string> }): string {
  return `{ query: ${str(guard.query)}, params: { ${Object.entries(guard.params).map(([k, v]) => `${k}: ${str(v)}`).join(", ")} } }`;
}

/** A TypeScript string literal; a template literal for text over several lines. */
function str(text: string): string {
  if (!text.includes("\n")) return JSON.stringify(text);
  return `\`${text.replaceAll("\\", "\\\\").replaceAll("`", "\\`").replaceAll("${", "\\${")}\``;
}
