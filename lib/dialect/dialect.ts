// What a SQL dialect provides to the rest of retort: the Dialect interface and the types it
// speaks in. PostgreSQL (lib/dialect/postgres) is the only implementation, and `name` admits no
// other. Where retort writes SQL outside a dialect is listed on Dialect below.
import type { QueryResult, SqlParams } from "../sql/executor.ts";
import type { StatementClass } from "../sql/statement-class.ts";
import type { ColumnSpec, LiteralValue, Operation } from "../schema/operation.ts";
import type { QualifiedName } from "../schema/names.ts";
import type { CatalogObject, ColumnSnapshot, SchemaSnapshot } from "../schema/snapshot.ts";

/** One statement ready to send: SQL text plus the values bound to its `:name` parameters. */
export interface RenderedStatement {
  readonly sql: string;
  readonly params?: SqlParams;
}

/** What the snapshot knows that rendering can use (column types for casts of bound values). */
export interface RenderHints {
  /** Column name -> type of the table an insertRows targets, when the snapshot knows it. */
  readonly columnTypes?: ReadonlyMap<string, string>;
}

/** What one raw SQL statement (an `op.execute`) does to a table, as far as its text tells (lint reads these). */
export type RawFact =
  | { readonly kind: "createTable"; readonly table: QualifiedName }
  | { readonly kind: "dropTable"; readonly tables: readonly QualifiedName[] }
  | { readonly kind: "truncate"; readonly tables: readonly QualifiedName[] }
  | { readonly kind: "delete"; readonly table: QualifiedName; readonly where: boolean }
  | { readonly kind: "update"; readonly table: QualifiedName; readonly where: boolean }
  /** INSERT ... SELECT: copies rows from other tables. */
  | { readonly kind: "insertSelect"; readonly table: QualifiedName; readonly where: boolean }
  | {
      readonly kind: "createIndex";
      readonly index: string | null;
      readonly table: QualifiedName;
      readonly concurrently: boolean;
    }
  | {
      readonly kind: "addConstraint";
      readonly table: QualifiedName;
      readonly name: string | null;
      readonly constraint: "check" | "foreignKey";
      readonly notValid: boolean;
      /** A check's expression, tokens joined by spaces without parentheses ("email is not null"). */
      readonly expression: string | null;
    }
  | { readonly kind: "validateConstraint"; readonly table: QualifiedName; readonly name: string }
  | { readonly kind: "addColumn"; readonly table: QualifiedName; readonly column: string }
  | { readonly kind: "dropColumn"; readonly table: QualifiedName; readonly column: string }
  | { readonly kind: "alterColumnType"; readonly table: QualifiedName; readonly column: string }
  | { readonly kind: "setNotNull"; readonly table: QualifiedName; readonly column: string };

/** What changing a column's type costs. */
export interface TypeChange {
  /** The table (or at least every row) is rewritten or scanned while writes are blocked. */
  readonly rewrite: boolean;
  /** Some values of the old type have no equal value in the new one: the change may fail or lose data. */
  readonly narrowing: boolean;
}

/**
 * The last part of a generated constraint name: PostgreSQL's own for unnamed constraints, and
 * "not_null_check" for the helper check setNotNull adds and then drops (not PostgreSQL 18's
 * "not_null", the name its own NOT NULL constraint will want).
 */
export type ConstraintLabel = "pkey" | "key" | "fkey" | "check" | "not_null_check";

/** What introspection needs of a session or a statement sink: one statement at a time. */
export interface SnapshotReader {
  query(sql: string, params?: SqlParams): Promise<QueryResult>;
}

/**
 * A migration's operations become SQL only through `render`. Not all of retort's SQL is written by
 * a dialect, though: the version and fence tables (lib/state/version-table.ts) and the run history
 * (lib/state/database-history.ts) write their PostgreSQL as text themselves (CREATE TABLE, upserts,
 * PL/pgSQL checks, pg_catalog queries), quoting names and rendering literals through the Dialect;
 * the executors and the runner send a few catalog queries and session settings of their own
 * (lib/sql, lib/runner/database.ts), and --sql scripts have their BEGIN/COMMIT
 * (lib/runner/offline-sql.ts); the lint rules' suggested fixes quote with
 * lib/dialect/postgres/quote.ts; and lib/local/many-tables.ts, a test and benchmark helper, creates
 * its tables in PL/pgSQL. Another engine would need its own versions of all of these.
 */
export interface Dialect {
  readonly name: "postgresql";
  /** Quotes one identifier, always, so case, quotes and reserved words survive exactly. */
  quoteIdentifier(part: string): string;
  /** Quotes a schema-qualified name. */
  quoteName(name: QualifiedName): string;
  /**
   * The one way a value becomes SQL text, where it cannot be bound: DDL defaults, the parameters of
   * an offline (--sql) script, the state tables' own statements.
   */
  renderLiteral(value: LiteralValue): string;
  /** Throws InvalidNameError for an identifier the database would refuse or silently change. */
  checkIdentifier(part: string): void;
  /** The longest identifier the database keeps whole, in UTF-8 bytes. */
  readonly maxIdentifierBytes: number;
  /** The name the database would choose for an unnamed constraint (for "not_null_check", by the same rule). */
  constraintName(table: string, columns: readonly string[], label: ConstraintLabel | `${ConstraintLabel}${number}`): string;
  /** Canonical spelling of a type, as introspection reports it ("varchar(5)" -> "character varying(5)"). */
  normalizeType(type: string): string;
  /** The column as the database will record it, for the in-memory snapshot. */
  describeColumn(table: QualifiedName, column: ColumnSpec): ColumnSnapshot;
  /** Throws when a type text is not exactly one type (the database's type grammar). */
  checkType(type: string): void;
  /**
   * Throws when an expression text could be more than one expression inside the parentheses the
   * renderer puts around it (a top-level comma, a `;`, a comment, a bracket it did not open).
   */
  checkExpression(text: string, what: string): void;
  render(op: Operation, hints?: RenderHints): RenderedStatement[];
  /**
   * Several parameterless statements as one, or null when they cannot be combined; `procedural`
   * (PL/pgSQL) runs after them, `preamble` before them.
   */
  renderBlock(statements: readonly RenderedStatement[], procedural?: readonly string[], preamble?: readonly string[]): string | null;
  /** A statement ended for a script (psql): its terminator where no comment can swallow it. */
  terminate(sql: string): string;
  /** How a statement may be sent (lib/sql/statement-class.ts: the executors classify by it too). */
  classifyStatement(sql: string): StatementClass;
  /**
   * Reads a snapshot of these schemas through `session`: as few statements as the Data API's
   * response limit allows (one for most schemas; one more per page of a large one).
   */
  introspect(session: SnapshotReader, schemas: readonly string[]): Promise<SchemaSnapshot>;
  /** The schemas users own (not the system's), by name. */
  userSchemas(session: SnapshotReader): Promise<string[]>;
  /** Enum types, sequences no column owns, and views of these schemas, in one read (`retort diff`). */
  catalogObjects(session: SnapshotReader, schemas: readonly string[]): Promise<CatalogObject[]>;
  /** Statements that drop every schema in `schemas` with all it holds, then create `defaultSchema` empty. */
  resetSchemas(schemas: readonly string[], defaultSchema: string): string[];
  /**
   * One row, one column `fingerprints`: a JSON array with, per table in order, a hash of its rows
   * (equal hashes, equal contents). It reads every row: for scratch databases.
   */
  tableFingerprints(tables: readonly QualifiedName[]): RenderedStatement;

  // What lint asks about SQL text retort did not render (raw `op.execute`, expressions, types).
  /** The facts of one raw statement; none for a statement it does not recognise. */
  readStatement(sql: string, defaultSchema: string): RawFact[];
  /** An expression as comparable text, so two spellings of one check compare equal. */
  expressionText(sql: string): string;
  /** Whether changing a column from `from` to `to` (with a USING conversion or not) rewrites the table or narrows it. */
  typeChange(from: string, to: string, using?: boolean): TypeChange;
  /** The first volatile function an expression calls (such a default fills every row one by one), if any. */
  volatileCall(expression: string): string | undefined;
  /** Whether a type is shorthand for an integer column owning a sequence (serial). */
  isSerialType(type: string): boolean;
}
