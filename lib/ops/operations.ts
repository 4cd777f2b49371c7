// The `op` object handed to a migration's upgrade/downgrade. Each call builds an operation (plain
// data), plans it against the run's schema snapshot, hands the statements to the runner's sink
// and records what happened. Operations run strictly in call order, awaited or not.
import type { Dialect } from "../dialect/dialect.ts";
import type { RelationName } from "../schema/names.ts";
import { InvalidLiteralError, InvalidNameError } from "../schema/names.ts";
import { coversSchema, mergeSnapshots, type SchemaSnapshot } from "../schema/snapshot.ts";
import type { QueryResult, SqlParams } from "../sql/executor.ts";
import {
  buildAddCheckConstraint,
  buildAddColumn,
  buildAddUniqueConstraint,
  buildAlterColumn,
  buildCreateForeignKey,
  buildCreateIndex,
  buildCreateTable,
  buildDropColumn,
  buildDropConstraint,
  buildDropIndex,
  buildDropTable,
  buildExecute,
  buildInsertRows,
  buildRenameColumn,
  buildRenameTable,
  buildSetNotNull,
  buildValidateConstraint,
  BuildError,
  type AlterColumnChanges,
  type BuildContext,
  type CheckConstraintOptions,
  type CreateIndexOptions,
  type ForeignKeyOptions,
} from "./build.ts";
import { InvalidOperationError, OperationsAbortedError } from "./errors.ts";
import type { ColumnDefinition, ExecuteGuard, IndexColumn, Operation, Row, TableDefinition } from "../schema/operation.ts";
import { planOperation, type Plan, type PlannedStatement, type RunMode } from "./plan.ts";
import type { StatementSink } from "./sink.ts";

export type { AlterColumnChanges, CheckConstraintOptions, CreateIndexOptions, ForeignKeyOptions } from "./build.ts";
export type { PlannedStatement, RunMode } from "./plan.ts";
export type { StatementSink, SinkStatement, StatementTransaction } from "./sink.ts";
export { DirectSink } from "./sink.ts";

/** What happened to one operation; the runner reports and records every one (skips too). */
export type OpResult =
  | {
      readonly kind: "applied";
      readonly operation: Operation;
      /**
       * Handed to the sink; with the runner's group transaction as the sink they run when it sends.
       * A statement marked `transaction` must commit on its own or outside a transaction (StatementTransaction).
       */
      readonly statements: readonly PlannedStatement[];
    }
  | { readonly kind: "skipped"; readonly operation: Operation; readonly reason: string };

export interface OperationsContext {
  /** The schema as introspected at the start of the migration. */
  snapshot: SchemaSnapshot;
  /**
   * Raw SQL of an earlier migration in the run may have changed the schema since `snapshot` was
   * read: the first operation that needs it reads it again. @default false
   */
  stale?: boolean;
  /** "safe" for safe-upgrade (plain forms skip like safe ones), "strict" for upgrade. */
  mode: RunMode;
  sink: StatementSink;
  /** Where unqualified names live, e.g. "public". */
  defaultSchema: string;
  /** The database's language: quoting, rendering, classification. */
  dialect: Dialect;
}

/** A safeExecute guard: a query that must return a row, or a predicate over the snapshot. */
export type ExecuteGuardOption =
  | { readonly query: string; readonly params?: SqlParams; readonly when?: never }
  | { readonly when: (snapshot: SchemaSnapshot) => boolean; readonly query?: never; readonly params?: never };

export interface SafeExecuteOptions {
  /** Without a guard, safeExecute runs like execute. */
  readonly guard?: ExecuteGuardOption;
  /** Named parameters (`:name`) bound to the SQL. */
  readonly params?: SqlParams;
}

export interface DropOptions {
  /** Also drop what depends on the object (foreign keys, views). @default false */
  readonly cascade?: boolean;
}

export interface DropIndexOptions {
  /**
   * Drop without blocking reads and writes. Like createIndex's, PostgreSQL refuses it inside a
   * transaction: planned with `transaction: "none"`, sent outside the migration's transaction.
   * @default false
   */
  readonly concurrently?: boolean;
}

/**
 * The operations a migration can use. Names: "users" (default schema), "app.users", or
 * { schema, name }. Each safeX skips when the object already exists (drops: when it is already
 * gone); the plain form does the same under safe-upgrade and lets the database refuse under
 * upgrade. Plain and safe forms take the same arguments.
 */
export interface Operations {
  createTable(name: RelationName, definition: TableDefinition): Promise<OpResult>;
  safeCreateTable(name: RelationName, definition: TableDefinition): Promise<OpResult>;
  dropTable(name: RelationName, options?: DropOptions): Promise<OpResult>;
  safeDropTable(name: RelationName, options?: DropOptions): Promise<OpResult>;

  addColumn(table: RelationName, column: ColumnDefinition): Promise<OpResult>;
  safeAddColumn(table: RelationName, column: ColumnDefinition): Promise<OpResult>;
  dropColumn(table: RelationName, column: string, options?: DropOptions): Promise<OpResult>;
  safeDropColumn(table: RelationName, column: string, options?: DropOptions): Promise<OpResult>;
  /**
   * Changes type (with an optional USING conversion), nullability or default (null drops it).
   * Under safe-upgrade, changes the column already has are left out, and a call with nothing
   * left to change is skipped.
   */
  alterColumn(table: RelationName, column: string, changes: AlterColumnChanges): Promise<OpResult>;

  /** Renames within the schema; under safe-upgrade skipped when only the new name exists. */
  renameTable(from: RelationName, to: string): Promise<OpResult>;
  renameColumn(table: RelationName, from: string, to: string): Promise<OpResult>;

  /** The index goes in the table's schema. Columns are names, or { sql } for expressions. */
  createIndex(
    name: RelationName,
    table: RelationName,
    columns: readonly IndexColumn[],
    options?: CreateIndexOptions,
  ): Promise<OpResult>;
  safeCreateIndex(
    name: RelationName,
    table: RelationName,
    columns: readonly IndexColumn[],
    options?: CreateIndexOptions,
  ): Promise<OpResult>;
  dropIndex(name: RelationName, options?: DropIndexOptions): Promise<OpResult>;
  safeDropIndex(name: RelationName, options?: DropIndexOptions): Promise<OpResult>;

  createForeignKey(
    name: string,
    table: RelationName,
    columns: readonly string[],
    refTable: RelationName,
    refColumns: readonly string[],
    options?: ForeignKeyOptions,
  ): Promise<OpResult>;
  safeCreateForeignKey(
    name: string,
    table: RelationName,
    columns: readonly string[],
    refTable: RelationName,
    refColumns: readonly string[],
    options?: ForeignKeyOptions,
  ): Promise<OpResult>;
  addUniqueConstraint(name: string, table: RelationName, columns: readonly string[]): Promise<OpResult>;
  safeAddUniqueConstraint(name: string, table: RelationName, columns: readonly string[]): Promise<OpResult>;
  /** With `{ notValid: true }`, existing rows are not checked now: validate them later with validateConstraint. */
  addCheckConstraint(name: string, table: RelationName, expression: string, options?: CheckConstraintOptions): Promise<OpResult>;
  safeAddCheckConstraint(
    name: string,
    table: RelationName,
    expression: string,
    options?: CheckConstraintOptions,
  ): Promise<OpResult>;
  /**
   * VALIDATE CONSTRAINT: checks the existing rows of a check or foreign key added NOT VALID,
   * without blocking reads and writes. Its statement commits on its own (`transaction: "own"`).
   * The safe form skips a constraint that is already validated; a missing one is the database's
   * error, as is a row that violates it.
   */
  validateConstraint(table: RelationName, name: string): Promise<OpResult>;
  safeValidateConstraint(table: RelationName, name: string): Promise<OpResult>;
  /**
   * Makes a column NOT NULL without holding an ACCESS EXCLUSIVE lock while the table is read: adds
   * CHECK (column IS NOT NULL) NOT VALID as <table>_<column>_not_null_check, validates it, sets
   * NOT NULL (PostgreSQL 12+ skips its scan thanks to the check) and drops the check, each step
   * committing on its own (`transaction: "own"`). The safe form skips a column that is already
   * NOT NULL, and a run stopped between steps is finished from the step it reached.
   */
  setNotNull(table: RelationName, column: string): Promise<OpResult>;
  safeSetNotNull(table: RelationName, column: string): Promise<OpResult>;
  dropConstraint(table: RelationName, name: string, options?: DropOptions): Promise<OpResult>;
  safeDropConstraint(table: RelationName, name: string, options?: DropOptions): Promise<OpResult>;

  /** Raw SQL (several statements are run one by one), `:name` parameters bound from `params`. */
  execute(sql: string, params?: SqlParams): Promise<OpResult>;
  /** Raw SQL that runs only when the guard passes: its query returns a row, or `when` is true. */
  safeExecute(sql: string, options?: SafeExecuteOptions): Promise<OpResult>;

  /** One multi-row INSERT (split only when very large), every value a bound parameter. */
  insertRows(table: RelationName, rows: readonly Row[]): Promise<OpResult>;
  /** The same with ON CONFLICT DO NOTHING: rows whose key is already there are left alone. */
  safeInsertRows(table: RelationName, rows: readonly Row[]): Promise<OpResult>;

  /** Reads data now (queued statements run first), e.g. for a data migration. */
  query<R = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<QueryResult<R>>;
}

/** The op object as the runner holds it: the operations plus what they did. */
export interface OperationsWithResults extends Operations {
  /** One result per operation, in call order. */
  readonly results: readonly OpResult[];
  /** The schema as the run now knows it (after the operations so far). */
  readonly snapshot: SchemaSnapshot;
  /** True when raw SQL changed the schema after `snapshot` was read: the next migration reads it again. */
  readonly stale: boolean;
}

export function createOperations(context: OperationsContext): OperationsWithResults {
  return new OperationsRecorder(context);
}

/** The schemas whose contents an operation's plan looks at. */
function schemasOf(op: Operation): string[] {
  switch (op.kind) {
    case "execute":
      return [];
    case "createIndex":
    case "dropIndex":
      return [op.index.schema];
    default:
      return [op.table.schema];
  }
}

function describeGuard(query: string): string {
  const text = query.replace(/\s+/g, " ").trim();
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

class OperationsRecorder implements OperationsWithResults {
  readonly #sink: StatementSink;
  readonly #mode: RunMode;
  readonly #defaultSchema: string;
  readonly #dialect: Dialect;
  readonly #build: BuildContext;
  readonly #results: OpResult[] = [];
  #snapshot: SchemaSnapshot;
  /** Raw SQL may have changed the schema: re-introspect before the snapshot is trusted again. */
  #stale = false;
  #chain: Promise<unknown> = Promise.resolve();
  /** Failures so far; an operation queued before a failure is not run after it. */
  readonly #failures: unknown[] = [];

  constructor(context: OperationsContext) {
    this.#sink = context.sink;
    this.#mode = context.mode;
    this.#defaultSchema = context.defaultSchema;
    this.#dialect = context.dialect;
    this.#snapshot = context.snapshot;
    this.#stale = context.stale ?? false;
    this.#build = { defaultSchema: context.defaultSchema, dialect: this.#dialect };
  }

  get results(): readonly OpResult[] {
    return this.#results;
  }

  get snapshot(): SchemaSnapshot {
    return this.#snapshot;
  }

  get stale(): boolean {
    return this.#stale;
  }

  // --- machinery -------------------------------------------------------------------------------

  #enqueue<T>(method: string, task: () => Promise<T>): Promise<T> {
    const failuresBefore = this.#failures.length;
    const run = async (): Promise<T> => {
      if (this.#failures.length > failuresBefore) {
        throw new OperationsAbortedError(method, this.#failures[this.#failures.length - 1]);
      }
      try {
        return await task();
      } catch (error) {
        this.#failures.push(error);
        throw error;
      }
    };
    const result = this.#chain.then(run);
    this.#chain = result.catch(() => undefined);
    return result;
  }

  #make(method: string, build: () => Operation): Operation {
    try {
      return build();
    } catch (error) {
      if (error instanceof BuildError || error instanceof InvalidNameError || error instanceof InvalidLiteralError) {
        throw new InvalidOperationError(method, error.message, { cause: error });
      }
      throw error;
    }
  }

  async #introspect(schemas: readonly string[]): Promise<SchemaSnapshot> {
    return this.#dialect.introspect(this.#sink, schemas);
  }

  /** Makes the snapshot current and covering `schemas`, with at most one read. */
  async #prepare(schemas: readonly string[]): Promise<void> {
    if (this.#stale) {
      this.#snapshot = await this.#introspect([...new Set([...this.#snapshot.schemas, ...schemas])]);
      this.#stale = false;
      return;
    }
    const missing = [...new Set(schemas)].filter((s) => !coversSchema(this.#snapshot, s));
    if (missing.length > 0) this.#snapshot = mergeSnapshots(this.#snapshot, await this.#introspect(missing));
  }

  #plan(op: Operation): Plan {
    return planOperation(op, this.#snapshot, {
      mode: this.#mode,
      defaultSchema: this.#defaultSchema,
      dialect: this.#dialect,
    });
  }

  async #commit(op: Operation, plan: Plan): Promise<OpResult> {
    let result: OpResult;
    if (plan.kind === "skip") {
      result = { kind: "skipped", operation: op, reason: plan.reason };
    } else {
      for (const statement of plan.statements) {
        await this.#sink.statement({
          sql: statement.sql,
          ...(statement.params === undefined ? {} : { params: statement.params }),
          operation: op,
          ...(statement.transaction === undefined ? {} : { transaction: statement.transaction }),
        });
      }
      this.#snapshot = plan.snapshot;
      this.#stale ||= plan.stale;
      result = { kind: "applied", operation: op, statements: plan.statements };
    }
    this.#results.push(result);
    return result;
  }

  #run(method: string, build: () => Operation): Promise<OpResult> {
    return this.#enqueue(method, async () => {
      const op = this.#make(method, build);
      if (op.kind !== "execute") await this.#prepare(schemasOf(op));
      return this.#commit(op, this.#plan(op));
    });
  }

  // --- tables ----------------------------------------------------------------------------------

  createTable(name: RelationName, definition: TableDefinition): Promise<OpResult> {
    return this.#run("createTable", () => buildCreateTable(this.#build, name, definition, false));
  }
  safeCreateTable(name: RelationName, definition: TableDefinition): Promise<OpResult> {
    return this.#run("safeCreateTable", () => buildCreateTable(this.#build, name, definition, true));
  }
  dropTable(name: RelationName, options?: DropOptions): Promise<OpResult> {
    return this.#run("dropTable", () => buildDropTable(this.#build, name, options, false));
  }
  safeDropTable(name: RelationName, options?: DropOptions): Promise<OpResult> {
    return this.#run("safeDropTable", () => buildDropTable(this.#build, name, options, true));
  }
  renameTable(from: RelationName, to: string): Promise<OpResult> {
    return this.#run("renameTable", () => buildRenameTable(this.#build, from, to));
  }

  // --- columns ---------------------------------------------------------------------------------

  addColumn(table: RelationName, column: ColumnDefinition): Promise<OpResult> {
    return this.#run("addColumn", () => buildAddColumn(this.#build, table, column, false));
  }
  safeAddColumn(table: RelationName, column: ColumnDefinition): Promise<OpResult> {
    return this.#run("safeAddColumn", () => buildAddColumn(this.#build, table, column, true));
  }
  dropColumn(table: RelationName, column: string, options?: DropOptions): Promise<OpResult> {
    return this.#run("dropColumn", () => buildDropColumn(this.#build, table, column, options, false));
  }
  safeDropColumn(table: RelationName, column: string, options?: DropOptions): Promise<OpResult> {
    return this.#run("safeDropColumn", () => buildDropColumn(this.#build, table, column, options, true));
  }
  alterColumn(table: RelationName, column: string, changes: AlterColumnChanges): Promise<OpResult> {
    return this.#run("alterColumn", () => buildAlterColumn(this.#build, table, column, changes));
  }
  renameColumn(table: RelationName, from: string, to: string): Promise<OpResult> {
    return this.#run("renameColumn", () => buildRenameColumn(this.#build, table, from, to));
  }

  // --- indexes ---------------------------------------------------------------------------------

  createIndex(
    name: RelationName,
    table: RelationName,
    columns: readonly IndexColumn[],
    options?: CreateIndexOptions,
  ): Promise<OpResult> {
    return this.#run("createIndex", () => buildCreateIndex(this.#build, name, table, columns, options, false));
  }
  safeCreateIndex(
    name: RelationName,
    table: RelationName,
    columns: readonly IndexColumn[],
    options?: CreateIndexOptions,
  ): Promise<OpResult> {
    return this.#run("safeCreateIndex", () => buildCreateIndex(this.#build, name, table, columns, options, true));
  }
  dropIndex(name: RelationName, options?: DropIndexOptions): Promise<OpResult> {
    return this.#run("dropIndex", () => buildDropIndex(this.#build, name, options, false));
  }
  safeDropIndex(name: RelationName, options?: DropIndexOptions): Promise<OpResult> {
    return this.#run("safeDropIndex", () => buildDropIndex(this.#build, name, options, true));
  }

  // --- constraints -----------------------------------------------------------------------------

  createForeignKey(
    name: string,
    table: RelationName,
    columns: readonly string[],
    refTable: RelationName,
    refColumns: readonly string[],
    options?: ForeignKeyOptions,
  ): Promise<OpResult> {
    return this.#run("createForeignKey", () =>
      buildCreateForeignKey(this.#build, name, table, columns, refTable, refColumns, options, false),
    );
  }
  safeCreateForeignKey(
    name: string,
    table: RelationName,
    columns: readonly string[],
    refTable: RelationName,
    refColumns: readonly string[],
    options?: ForeignKeyOptions,
  ): Promise<OpResult> {
    return this.#run("safeCreateForeignKey", () =>
      buildCreateForeignKey(this.#build, name, table, columns, refTable, refColumns, options, true),
    );
  }
  addUniqueConstraint(name: string, table: RelationName, columns: readonly string[]): Promise<OpResult> {
    return this.#run("addUniqueConstraint", () => buildAddUniqueConstraint(this.#build, name, table, columns, false));
  }
  safeAddUniqueConstraint(name: string, table: RelationName, columns: readonly string[]): Promise<OpResult> {
    return this.#run("safeAddUniqueConstraint", () =>
      buildAddUniqueConstraint(this.#build, name, table, columns, true),
    );
  }
  addCheckConstraint(name: string, table: RelationName, expression: string, options?: CheckConstraintOptions): Promise<OpResult> {
    return this.#run("addCheckConstraint", () =>
      buildAddCheckConstraint(this.#build, name, table, expression, options, false),
    );
  }
  safeAddCheckConstraint(
    name: string,
    table: RelationName,
    expression: string,
    options?: CheckConstraintOptions,
  ): Promise<OpResult> {
    return this.#run("safeAddCheckConstraint", () =>
      buildAddCheckConstraint(this.#build, name, table, expression, options, true),
    );
  }
  validateConstraint(table: RelationName, name: string): Promise<OpResult> {
    return this.#run("validateConstraint", () => buildValidateConstraint(this.#build, table, name, false));
  }
  safeValidateConstraint(table: RelationName, name: string): Promise<OpResult> {
    return this.#run("safeValidateConstraint", () => buildValidateConstraint(this.#build, table, name, true));
  }
  setNotNull(table: RelationName, column: string): Promise<OpResult> {
    return this.#run("setNotNull", () => buildSetNotNull(this.#build, table, column, false));
  }
  safeSetNotNull(table: RelationName, column: string): Promise<OpResult> {
    return this.#run("safeSetNotNull", () => buildSetNotNull(this.#build, table, column, true));
  }
  dropConstraint(table: RelationName, name: string, options?: DropOptions): Promise<OpResult> {
    return this.#run("dropConstraint", () => buildDropConstraint(this.#build, table, name, options, false));
  }
  safeDropConstraint(table: RelationName, name: string, options?: DropOptions): Promise<OpResult> {
    return this.#run("safeDropConstraint", () => buildDropConstraint(this.#build, table, name, options, true));
  }

  // --- raw SQL and data ------------------------------------------------------------------------

  execute(sql: string, params?: SqlParams): Promise<OpResult> {
    return this.#run("execute", () => buildExecute(sql, params, null));
  }

  safeExecute(sql: string, options: SafeExecuteOptions = {}): Promise<OpResult> {
    return this.#enqueue("safeExecute", async () => {
      const guardOption = options.guard;
      let guard: ExecuteGuard | null = null;
      if (guardOption !== undefined) {
        guard =
          typeof guardOption.when === "function"
            ? { kind: "predicate" }
            : guardOption.params === undefined
              ? { kind: "query", query: guardOption.query ?? "" }
              : { kind: "query", query: guardOption.query ?? "", params: guardOption.params };
      }
      const op = this.#make("safeExecute", () => {
        if (guard?.kind === "query" && guard.query.trim() === "") throw new BuildError("the guard query cannot be empty");
        return buildExecute(sql, options.params, guard);
      });
      if (guardOption !== undefined) {
        let passed: boolean;
        let reason: string;
        if (typeof guardOption.when === "function") {
          await this.#prepare([]);
          passed = guardOption.when(this.#snapshot);
          reason = "the guard predicate returned false";
        } else {
          const rows = await this.#sink.query(guardOption.query ?? "", guardOption.params);
          passed = rows.rows.length > 0;
          reason = `the guard query returned no rows: ${describeGuard(guardOption.query ?? "")}`;
        }
        if (!passed) return this.#commit(op, { kind: "skip", reason });
      }
      return this.#commit(op, this.#plan(op));
    });
  }

  insertRows(table: RelationName, rows: readonly Row[]): Promise<OpResult> {
    return this.#run("insertRows", () => buildInsertRows(this.#build, table, rows, false));
  }
  safeInsertRows(table: RelationName, rows: readonly Row[]): Promise<OpResult> {
    return this.#run("safeInsertRows", () => buildInsertRows(this.#build, table, rows, true));
  }

  query<R = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<QueryResult<R>> {
    return this.#enqueue("query", async () => (await this.#sink.query(sql, params)) as QueryResult<R>);
  }
}
