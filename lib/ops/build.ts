// Turns what a migration wrote (names as strings, constraints on columns, optional names) into
// operation data: names resolved to their schema, every constraint named, arguments checked.
// Pure; a refusal throws before anything reaches the database.
import { RetortError } from "../errors.ts";
import type { ConstraintLabel, Dialect } from "../dialect/dialect.ts";
import { displayName, resolveName, type QualifiedName, type RelationName } from "../schema/names.ts";
import type { IndexKey, ReferentialAction } from "../schema/snapshot.ts";
import type { SqlParams } from "../sql/executor.ts";
import { isSqlExpression } from "../schema/operation.ts";
import type {
  AddCheckConstraintOp,
  AddColumnOp,
  AddUniqueConstraintOp,
  AlterColumnOp,
  ColumnDefinition,
  ColumnSpec,
  ConstraintSpec,
  CreateForeignKeyOp,
  CreateIndexOp,
  CreateTableOp,
  DefaultValue,
  DropColumnOp,
  DropConstraintOp,
  DropIndexOp,
  DropTableOp,
  ExecuteGuard,
  ExecuteOp,
  ForeignKeySpec,
  IndexColumn,
  InsertRowsOp,
  KeyDefinition,
  RenameColumnOp,
  RenameTableOp,
  Row,
  SetNotNullOp,
  TableDefinition,
  ValidateConstraintOp,
} from "../schema/operation.ts";

export interface BuildContext {
  readonly defaultSchema: string;
  readonly dialect: Dialect;
}

/** Thrown by builders; the op object adds the method name (InvalidOperationError). */
export class BuildError extends RetortError {
  override readonly code: string = "invalid-definition";
  constructor(message: string) {
    super(message);
    this.name = "BuildError";
  }
}

const ACTIONS: ReadonlySet<string> = new Set<ReferentialAction>([
  "no action",
  "restrict",
  "cascade",
  "set null",
  "set default",
]);

function relation(ctx: BuildContext, name: RelationName): QualifiedName {
  const resolved = resolveName(name, ctx.defaultSchema);
  ctx.dialect.checkIdentifier(resolved.schema);
  ctx.dialect.checkIdentifier(resolved.name);
  return resolved;
}

function identifier(ctx: BuildContext, name: string, what: string): string {
  if (typeof name !== "string") throw new BuildError(`${what} must be a string`);
  ctx.dialect.checkIdentifier(name);
  return name;
}

function columnNames(ctx: BuildContext, columns: readonly string[], what: string): string[] {
  if (!Array.isArray(columns) || columns.length === 0) {
    throw new BuildError(`${what} needs at least one column`);
  }
  const names = columns.map((c) => identifier(ctx, c, `a column of ${what}`));
  const duplicate = names.find((c, i) => names.indexOf(c) !== i);
  if (duplicate !== undefined) throw new BuildError(`${what} names column "${duplicate}" twice`);
  return names;
}

function referentialAction(value: ReferentialAction | undefined, what: string): ReferentialAction {
  if (value === undefined) return "no action";
  const lower = String(value).toLowerCase();
  if (!ACTIONS.has(lower)) {
    throw new BuildError(
      `${what} is ${JSON.stringify(value)}; expected one of ${[...ACTIONS].map((a) => `"${a}"`).join(", ")}`,
    );
  }
  return lower as ReferentialAction;
}

/** SQL expression text pasted into DDL: it must be one expression (Dialect.checkExpression). */
function expression(ctx: BuildContext, text: string, what: string): string {
  if (typeof text !== "string" || text.trim() === "") throw new BuildError(`${what} cannot be empty`);
  try {
    ctx.dialect.checkExpression(text, what);
  } catch (error) {
    throw new BuildError((error as Error).message);
  }
  return text;
}

/** A default: a literal that can be written, or a `{ sql }` expression that is one expression. */
function checkDefault(ctx: BuildContext, value: DefaultValue, what: string): void {
  if (isSqlExpression(value)) expression(ctx, value.sql, what);
  else ctx.dialect.renderLiteral(value);
}

/** Names constraints: explicit names are reserved first, unnamed ones get PostgreSQL's name. */
class ConstraintNamer {
  readonly #used = new Set<string>();
  constructor(
    private readonly ctx: BuildContext,
    private readonly table: string,
  ) {}

  reserve(explicit: string): string {
    const name = identifier(this.ctx, explicit, "a constraint name");
    if (this.#used.has(name)) throw new BuildError(`constraint name "${name}" is used twice`);
    this.#used.add(name);
    return name;
  }

  /** Numbered on a clash (users_email_key1) like PostgreSQL's ChooseConstraintName. */
  generate(columns: readonly string[], label: ConstraintLabel): string {
    let name = this.ctx.dialect.constraintName(this.table, columns, label);
    for (let pass = 1; this.#used.has(name); pass += 1) {
      name = this.ctx.dialect.constraintName(this.table, columns, `${label}${pass}`);
    }
    this.#used.add(name);
    return name;
  }
}

function column(ctx: BuildContext, definition: ColumnDefinition, primaryKey: boolean): ColumnSpec {
  if (definition === null || typeof definition !== "object") throw new BuildError("a column must be an object");
  const name = identifier(ctx, definition.name, "a column name");
  if (typeof definition.type !== "string") throw new BuildError(`column "${name}" needs a type`);
  try {
    ctx.dialect.checkType(definition.type);
  } catch (error) {
    throw new BuildError(`column "${name}": ${(error as Error).message}`);
  }
  const identity =
    definition.identity === true ? "byDefault" : definition.identity === false ? null : (definition.identity ?? null);
  if (identity !== null && identity !== "always" && identity !== "byDefault") {
    throw new BuildError(`column "${name}": identity must be true, "always" or "byDefault"`);
  }
  if (identity !== null && definition.default !== undefined) {
    throw new BuildError(`column "${name}" cannot have both an identity and a default`);
  }
  // PostgreSQL makes primary key and identity columns NOT NULL whatever was asked.
  const nullable = (definition.nullable ?? true) && !primaryKey && identity === null;
  const spec: ColumnSpec = { name, type: definition.type, nullable, identity };
  // A literal that cannot be written (an invalid Date, a NUL) is refused now, not at render time.
  if (definition.default !== undefined) checkDefault(ctx, definition.default, `the default of column "${name}"`);
  return definition.default === undefined ? spec : { ...spec, default: definition.default };
}

function keyDefinition(value: readonly string[] | KeyDefinition): KeyDefinition {
  return Array.isArray(value) ? { columns: value } : (value as KeyDefinition);
}

/** The constraints a column declares on itself (primaryKey, unique, check, references). */
function columnConstraints(
  ctx: BuildContext,
  definition: ColumnDefinition,
  namer: ConstraintNamer,
): ConstraintSpec[] {
  const specs: ConstraintSpec[] = [];
  const col = [definition.name];
  if (definition.primaryKey) specs.push({ kind: "primaryKey", name: namer.generate(col, "pkey"), columns: col });
  if (definition.unique) specs.push({ kind: "unique", name: namer.generate(col, "key"), columns: col });
  if (definition.check !== undefined) {
    specs.push({
      kind: "check",
      name: namer.generate(col, "check"),
      expression: expression(ctx, definition.check, `the check of column "${definition.name}"`),
    });
  }
  if (definition.references !== undefined) {
    const ref = definition.references;
    specs.push({
      kind: "foreignKey",
      name: namer.generate(col, "fkey"),
      columns: col,
      references: {
        table: relation(ctx, ref.table),
        columns: [identifier(ctx, ref.column, `the referenced column of "${definition.name}"`)],
      },
      onDelete: referentialAction(ref.onDelete, `onDelete of column "${definition.name}"`),
      onUpdate: referentialAction(ref.onUpdate, `onUpdate of column "${definition.name}"`),
      notValid: false,
    });
  }
  return specs;
}

export function buildCreateTable(
  ctx: BuildContext,
  name: RelationName,
  definition: TableDefinition,
  ifNotExists: boolean,
): CreateTableOp {
  const table = relation(ctx, name);
  const shown = displayName(table, ctx.defaultSchema);
  if (definition === null || typeof definition !== "object" || !Array.isArray(definition.columns)) {
    throw new BuildError(`table ${shown} needs a definition with a columns array`);
  }
  const tablePk = definition.primaryKey === undefined ? undefined : keyDefinition(definition.primaryKey);
  const pkColumns = new Set([
    ...(tablePk?.columns ?? []),
    ...definition.columns.filter((c) => c.primaryKey).map((c) => c.name),
  ]);
  const columns = definition.columns.map((c) => column(ctx, c, pkColumns.has(c.name)));
  const names = columns.map((c) => c.name);
  const duplicate = names.find((c, i) => names.indexOf(c) !== i);
  if (duplicate !== undefined) throw new BuildError(`table ${shown} defines column "${duplicate}" twice`);

  const known = (cols: readonly string[], what: string): string[] => {
    const checked = columnNames(ctx, cols, what);
    const missing = checked.find((c) => !names.includes(c));
    if (missing !== undefined) throw new BuildError(`${what} names column "${missing}", which table ${shown} does not define`);
    return checked;
  };

  // Explicit names first, so a generated name never takes a name the migration chose.
  const namer = new ConstraintNamer(ctx, table.name);
  for (const explicit of [
    tablePk?.name,
    ...(definition.unique ?? []).map((u) => keyDefinition(u).name),
    ...(definition.checks ?? []).map((c) => (typeof c === "string" ? undefined : c.name)),
    ...(definition.foreignKeys ?? []).map((f) => f.name),
  ]) {
    if (explicit !== undefined) namer.reserve(explicit);
  }
  const pick = (explicit: string | undefined, cols: readonly string[], label: ConstraintLabel): string =>
    explicit ?? namer.generate(cols, label);
  const constraints: ConstraintSpec[] = [];

  const columnPks = definition.columns.filter((c) => c.primaryKey);
  if (tablePk !== undefined && columnPks.length > 0) {
    throw new BuildError(`table ${shown} declares a primary key both on a column and in primaryKey`);
  }
  if (columnPks.length > 1) {
    throw new BuildError(
      `table ${shown} marks ${columnPks.length} columns primaryKey; list them in primaryKey: [...] for a composite key`,
    );
  }
  if (tablePk !== undefined) {
    const cols = known(tablePk.columns, `the primary key of ${shown}`);
    constraints.push({ kind: "primaryKey", name: pick(tablePk.name, cols, "pkey"), columns: cols });
  }
  for (const def of definition.columns) {
    for (const spec of columnConstraints(ctx, def, namer)) constraints.push(spec);
  }
  for (const u of definition.unique ?? []) {
    const key = keyDefinition(u);
    const cols = known(key.columns, `a unique constraint of ${shown}`);
    constraints.push({ kind: "unique", name: pick(key.name, cols, "key"), columns: cols });
  }
  for (const c of definition.checks ?? []) {
    const check = typeof c === "string" ? { expression: c } : c;
    constraints.push({
      kind: "check",
      name: pick(check.name, [], "check"),
      expression: expression(ctx, check.expression, `a check of ${shown}`),
    });
  }
  for (const f of definition.foreignKeys ?? []) {
    const cols = known(f.columns, `a foreign key of ${shown}`);
    const refColumns = columnNames(ctx, f.references?.columns ?? [], `the referenced columns of a foreign key of ${shown}`);
    if (refColumns.length !== cols.length) {
      throw new BuildError(`a foreign key of ${shown} has ${cols.length} columns but references ${refColumns.length}`);
    }
    constraints.push({
      kind: "foreignKey",
      name: pick(f.name, cols, "fkey"),
      columns: cols,
      references: { table: relation(ctx, f.references.table), columns: refColumns },
      onDelete: referentialAction(f.onDelete, `onDelete of a foreign key of ${shown}`),
      onUpdate: referentialAction(f.onUpdate, `onUpdate of a foreign key of ${shown}`),
      notValid: false,
    });
  }
  return { kind: "createTable", table, columns, constraints, ifNotExists };
}

export function buildDropTable(
  ctx: BuildContext,
  name: RelationName,
  options: { cascade?: boolean } | undefined,
  ifExists: boolean,
): DropTableOp {
  return { kind: "dropTable", table: relation(ctx, name), cascade: options?.cascade === true, ifExists };
}

export function buildAddColumn(
  ctx: BuildContext,
  tableName: RelationName,
  definition: ColumnDefinition,
  ifNotExists: boolean,
): AddColumnOp {
  const table = relation(ctx, tableName);
  const spec = column(ctx, definition, definition?.primaryKey === true);
  const constraints = columnConstraints(ctx, definition, new ConstraintNamer(ctx, table.name));
  return { kind: "addColumn", table, column: spec, constraints, ifNotExists };
}

export function buildDropColumn(
  ctx: BuildContext,
  tableName: RelationName,
  columnName: string,
  options: { cascade?: boolean } | undefined,
  ifExists: boolean,
): DropColumnOp {
  return {
    kind: "dropColumn",
    table: relation(ctx, tableName),
    column: identifier(ctx, columnName, "the column name"),
    cascade: options?.cascade === true,
    ifExists,
  };
}

export interface AlterColumnChanges {
  readonly type?: string;
  /** USING expression converting existing values; only with `type`. */
  readonly using?: string;
  readonly nullable?: boolean;
  /** A new default; null drops the default. */
  readonly default?: DefaultValue;
}

export function buildAlterColumn(
  ctx: BuildContext,
  tableName: RelationName,
  columnName: string,
  changes: AlterColumnChanges,
): AlterColumnOp {
  const table = relation(ctx, tableName);
  const name = identifier(ctx, columnName, "the column name");
  const shown = `"${name}" of ${displayName(table, ctx.defaultSchema)}`;
  if (changes === null || typeof changes !== "object") throw new BuildError(`changes for column ${shown} must be an object`);
  if (changes.using !== undefined && changes.type === undefined) {
    throw new BuildError(`using on column ${shown} needs a type to convert to`);
  }
  if (changes.type === undefined && changes.nullable === undefined && changes.default === undefined) {
    throw new BuildError(`nothing to change on column ${shown}: pass type, nullable or default`);
  }
  if (changes.type !== undefined) {
    try {
      ctx.dialect.checkType(changes.type);
    } catch (error) {
      throw new BuildError(`column ${shown}: ${(error as Error).message}`);
    }
  }
  if (changes.default !== undefined && changes.default !== null) checkDefault(ctx, changes.default, `the default of column ${shown}`);
  return {
    kind: "alterColumn",
    table,
    column: name,
    ...(changes.type === undefined ? {} : { type: changes.type }),
    ...(changes.using === undefined ? {} : { using: expression(ctx, changes.using, `using of column ${shown}`) }),
    ...(changes.nullable === undefined ? {} : { nullable: changes.nullable }),
    ...(changes.default === undefined ? {} : { default: changes.default }),
  };
}

export function buildRenameTable(ctx: BuildContext, from: RelationName, to: RelationName): RenameTableOp {
  const table = relation(ctx, from);
  const target = resolveName(to, table.schema);
  if (target.schema !== table.schema) {
    throw new BuildError(
      `cannot rename ${displayName(table, ctx.defaultSchema)} into schema "${target.schema}"; renaming keeps the schema`,
    );
  }
  return { kind: "renameTable", table, to: identifier(ctx, target.name, "the new table name") };
}

export function buildRenameColumn(
  ctx: BuildContext,
  tableName: RelationName,
  from: string,
  to: string,
): RenameColumnOp {
  return {
    kind: "renameColumn",
    table: relation(ctx, tableName),
    from: identifier(ctx, from, "the column name"),
    to: identifier(ctx, to, "the new column name"),
  };
}

export interface CreateIndexOptions {
  /** @default false */
  readonly unique?: boolean;
  /** A predicate: the index becomes partial. */
  readonly where?: string;
  /**
   * Build without blocking writes. PostgreSQL refuses it inside a transaction: its statements are
   * planned with `transaction: "none"` (lib/ops/sink.ts), so the runner sends them outside
   * the migration's transaction, in any migration. The safe form drops and rebuilds an index of that name a failed
   * concurrent build left INVALID. @default false
   */
  readonly concurrently?: boolean;
  /** Access method: "gin", "gist", ... @default "btree" */
  readonly using?: string;
}

export function buildCreateIndex(
  ctx: BuildContext,
  indexName: RelationName,
  tableName: RelationName,
  columns: readonly IndexColumn[],
  options: CreateIndexOptions | undefined,
  ifNotExists: boolean,
): CreateIndexOp {
  const table = relation(ctx, tableName);
  // An index always lives in its table's schema; a different explicit schema is a mistake.
  const index = resolveName(indexName, table.schema);
  if (index.schema !== table.schema) {
    throw new BuildError(
      `index "${index.name}" cannot be in schema "${index.schema}": PostgreSQL creates it in the schema of its table ("${table.schema}")`,
    );
  }
  identifier(ctx, index.name, "the index name");
  if (!Array.isArray(columns) || columns.length === 0) {
    throw new BuildError(`index "${index.name}" needs at least one column or expression`);
  }
  const keys: IndexKey[] = columns.map((key) =>
    typeof key === "string"
      ? identifier(ctx, key, `a column of index "${index.name}"`)
      : { expression: expression(ctx, key?.sql, `an expression of index "${index.name}"`) },
  );
  return {
    kind: "createIndex",
    index,
    table,
    columns: keys,
    unique: options?.unique === true,
    where: options?.where === undefined ? null : expression(ctx, options.where, `where of index "${index.name}"`),
    concurrently: options?.concurrently === true,
    using: options?.using === undefined ? null : identifier(ctx, options.using, `using of index "${index.name}"`),
    ifNotExists,
  };
}

export function buildDropIndex(
  ctx: BuildContext,
  name: RelationName,
  options: { concurrently?: boolean } | undefined,
  ifExists: boolean,
): DropIndexOp {
  return {
    kind: "dropIndex",
    index: relation(ctx, name),
    concurrently: options?.concurrently === true,
    ifExists,
  };
}

export interface ForeignKeyOptions {
  readonly onDelete?: ReferentialAction;
  readonly onUpdate?: ReferentialAction;
  /** Skip checking existing rows now (VALIDATE CONSTRAINT later, without a long lock). */
  readonly notValid?: boolean;
}

export function buildCreateForeignKey(
  ctx: BuildContext,
  name: string,
  tableName: RelationName,
  columns: readonly string[],
  refTable: RelationName,
  refColumns: readonly string[],
  options: ForeignKeyOptions | undefined,
  ifNotExists: boolean,
): CreateForeignKeyOp {
  const constraint = identifier(ctx, name, "the constraint name");
  const cols = columnNames(ctx, columns, `foreign key "${constraint}"`);
  const refs = columnNames(ctx, refColumns, `the referenced columns of foreign key "${constraint}"`);
  if (cols.length !== refs.length) {
    throw new BuildError(`foreign key "${constraint}" has ${cols.length} columns but references ${refs.length}`);
  }
  const spec: Omit<ForeignKeySpec, "kind"> = {
    name: constraint,
    columns: cols,
    references: { table: relation(ctx, refTable), columns: refs },
    onDelete: referentialAction(options?.onDelete, `onDelete of "${constraint}"`),
    onUpdate: referentialAction(options?.onUpdate, `onUpdate of "${constraint}"`),
    notValid: options?.notValid === true,
  };
  return { kind: "createForeignKey", table: relation(ctx, tableName), ...spec, ifNotExists };
}

export function buildAddUniqueConstraint(
  ctx: BuildContext,
  name: string,
  tableName: RelationName,
  columns: readonly string[],
  ifNotExists: boolean,
): AddUniqueConstraintOp {
  const constraint = identifier(ctx, name, "the constraint name");
  return {
    kind: "addUniqueConstraint",
    table: relation(ctx, tableName),
    name: constraint,
    columns: columnNames(ctx, columns, `unique constraint "${constraint}"`),
    ifNotExists,
  };
}

export interface CheckConstraintOptions {
  /**
   * Skip checking existing rows now: the ACCESS EXCLUSIVE lock lasts only as long as the catalog
   * change, and new rows are checked from then on. Validate later with op.validateConstraint.
   * @default false
   */
  readonly notValid?: boolean;
}

export function buildAddCheckConstraint(
  ctx: BuildContext,
  name: string,
  tableName: RelationName,
  check: string,
  options: CheckConstraintOptions | undefined,
  ifNotExists: boolean,
): AddCheckConstraintOp {
  const constraint = identifier(ctx, name, "the constraint name");
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw new BuildError(`the options of check "${constraint}" must be an object`);
  }
  return {
    kind: "addCheckConstraint",
    table: relation(ctx, tableName),
    name: constraint,
    expression: expression(ctx, check, `the expression of check "${constraint}"`),
    notValid: options?.notValid === true,
    ifNotExists,
  };
}

export function buildValidateConstraint(
  ctx: BuildContext,
  tableName: RelationName,
  name: string,
  ifNotValidated: boolean,
): ValidateConstraintOp {
  return {
    kind: "validateConstraint",
    table: relation(ctx, tableName),
    name: identifier(ctx, name, "the constraint name"),
    ifNotValidated,
  };
}

export function buildSetNotNull(
  ctx: BuildContext,
  tableName: RelationName,
  columnName: string,
  ifNullable: boolean,
): SetNotNullOp {
  const table = relation(ctx, tableName);
  const column = identifier(ctx, columnName, "the column name");
  return {
    kind: "setNotNull",
    table,
    column,
    check: {
      // <table>_<column>_not_null_check, shortened to the identifier limit as PostgreSQL shortens names.
      name: ctx.dialect.constraintName(table.name, [column], "not_null_check"),
      expression: `${ctx.dialect.quoteIdentifier(column)} IS NOT NULL`,
    },
    ifNullable,
  };
}

export function buildDropConstraint(
  ctx: BuildContext,
  tableName: RelationName,
  name: string,
  options: { cascade?: boolean } | undefined,
  ifExists: boolean,
): DropConstraintOp {
  return {
    kind: "dropConstraint",
    table: relation(ctx, tableName),
    name: identifier(ctx, name, "the constraint name"),
    cascade: options?.cascade === true,
    ifExists,
  };
}

export function buildExecute(sql: string, params: SqlParams | undefined, guard: ExecuteGuard | null): ExecuteOp {
  if (typeof sql !== "string" || sql.trim() === "") throw new BuildError("the SQL cannot be empty");
  return { kind: "execute", sql, ...(params === undefined ? {} : { params }), guard };
}

export function buildInsertRows(
  ctx: BuildContext,
  tableName: RelationName,
  rows: readonly Row[],
  onConflictDoNothing: boolean,
): InsertRowsOp {
  const table = relation(ctx, tableName);
  if (!Array.isArray(rows)) throw new BuildError("rows must be an array of objects");
  for (const [i, row] of rows.entries()) {
    if (row === null || typeof row !== "object" || Array.isArray(row)) {
      throw new BuildError(`row ${i} is not an object of column values`);
    }
    for (const key of Object.keys(row)) identifier(ctx, key, `a column of row ${i}`);
  }
  return { kind: "insertRows", table, rows, onConflictDoNothing };
}
