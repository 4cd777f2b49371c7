// What a lint rule is asked about: one target (the migration as a whole, one of its operations,
// one statement of a raw `op.execute` and what its text says, one read) together with the facts
// of the dry run (the schema when the migration starts, everything it does) and the other linted
// migrations, for rules that look across them (a NOT VALID constraint validated later).
import { displayRelation } from "../schema/diff.ts";
import { sameName, type QualifiedName } from "../schema/names.ts";
import type { Dialect, RawFact } from "../dialect/dialect.ts";
import { findColumn, findTable, type ColumnSnapshot, type SchemaSnapshot } from "../schema/snapshot.ts";
import type { AlterColumnOp, Operation } from "../schema/operation.ts";

/** One statement of a raw `op.execute`, with what its text says. */
export interface RawStatement {
  readonly sql: string;
  readonly facts: readonly RawFact[];
  /** False for statements PostgreSQL refuses inside a transaction (CREATE INDEX CONCURRENTLY). */
  readonly transactional: boolean;
}

export interface LintedOperation {
  readonly operation: Operation;
  /** Position in the upgrade, from 0. */
  readonly index: number;
  /** For an execute: each of its statements. */
  readonly statements: readonly RawStatement[];
}

/** A migration's upgrade as the dry run saw it. */
export interface LintedMigration {
  readonly revision: string;
  readonly file: string;
  readonly message: string;
  readonly transactional: boolean;
  readonly irreversible: boolean;
  /** Its place in the linted plan: lower runs first. */
  readonly position: number;
  /** The simulated schema when the migration starts (raw SQL is opaque to the simulation). */
  readonly before: SchemaSnapshot;
  /** The upgrade's operations in call order, applied or skipped by the dry run. */
  readonly operations: readonly LintedOperation[];
  /** The upgrade's reads (op.query, safeExecute guard queries). */
  readonly reads: readonly string[];
  /** How many operations and reads the downgrade makes. */
  readonly downgradeSteps: number;
  /**
   * True when the runner holds a transaction open across calls for it (it binds values, reads, or
   * has a statement a DO block cannot take), instead of sending one self-committing DO block.
   */
  readonly holdsTransaction: boolean;
}

export type LintTarget =
  | { readonly kind: "migration" }
  | { readonly kind: "operation"; readonly operation: LintedOperation }
  | { readonly kind: "statement"; readonly operation: LintedOperation; readonly statement: RawStatement }
  | { readonly kind: "fact"; readonly operation: LintedOperation; readonly statement: RawStatement; readonly fact: RawFact }
  | { readonly kind: "read"; readonly sql: string };

export interface LintSubject {
  readonly target: LintTarget;
  readonly migration: LintedMigration;
  /** Every linted migration, in plan order. */
  readonly all: readonly LintedMigration[];
  /** Names in this schema are shown unqualified. */
  readonly defaultSchema: string;
  /** The database's language: quoting for suggested fixes, and what raw SQL, types and expressions mean. */
  readonly dialect: Dialect;
}

/** `users`, or `app.users` outside the default schema. */
export function tableName(subject: LintSubject, table: QualifiedName): string {
  return displayRelation(table, subject.defaultSchema);
}

/** True when the migration creates the table itself: it is new and empty, so nothing waits on it. */
export function createdHere(m: LintedMigration, table: QualifiedName): boolean {
  if (findTable(m.before, table)) return false;
  return m.operations.some(
    (o) =>
      (o.operation.kind === "createTable" && sameName(o.operation.table, table)) ||
      o.statements.some((s) => s.facts.some((f) => f.kind === "createTable" && sameName(f.table, table))),
  );
}

/**
 * True when the table is there before the migration runs, and so may be big and busy. A table
 * the simulation does not know and the migration does not create (made by raw SQL elsewhere)
 * counts as existing: lint errs on the side of saying something.
 */
export function tableExisted(m: LintedMigration, table: QualifiedName): boolean {
  return !createdHere(m, table);
}

/** True when the column is there before the migration runs (on a table that is too). */
export function columnExisted(m: LintedMigration, table: QualifiedName, column: string): boolean {
  if (!tableExisted(m, table)) return false;
  const known = findTable(m.before, table);
  if (known && findColumn(known, column)) return true;
  const addedHere = m.operations.some(
    (o) =>
      (o.operation.kind === "addColumn" && sameName(o.operation.table, table) && o.operation.column.name === column) ||
      o.statements.some((s) => s.facts.some((f) => f.kind === "addColumn" && sameName(f.table, table) && f.column === column)),
  );
  return !addedHere;
}

/** The column as the simulation knows it when the migration starts. */
export function columnBefore(m: LintedMigration, table: QualifiedName, column: string): ColumnSnapshot | undefined {
  const known = findTable(m.before, table);
  return known && findColumn(known, column);
}

/** The target when it changes the type of a column that exists before the migration, with that column. */
export function existingColumnTypeChange(subject: LintSubject): { op: AlterColumnOp & { type: string }; before: ColumnSnapshot } | undefined {
  const { target, migration } = subject;
  if (target.kind !== "operation") return undefined;
  const op = target.operation.operation;
  if (op.kind !== "alterColumn" || op.type === undefined) return undefined;
  const before = columnBefore(migration, op.table, op.column);
  // A new column holds no values yet; an unknown one cannot be judged.
  if (!columnExisted(migration, op.table, op.column) || before === undefined) return undefined;
  return { op: op as AlterColumnOp & { type: string }, before };
}
