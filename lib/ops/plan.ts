// The planner: given an operation, the schema snapshot and the run's mode, decide whether the
// operation runs (and with which statements) or is skipped (and why, naming the object), and what
// the snapshot looks like afterwards. Pure, so every decision is unit tested without a database.
//
// Safe forms (safeX) always skip what already exists (or, for drops, what is already gone).
// Mode "safe" (safe-upgrade) makes the plain forms behave the same. Mode "strict" (upgrade) sends
// plain forms regardless, so the database refuses an existing object with its own message.
import type { Dialect, RenderedStatement } from "../dialect/dialect.ts";
import { displayName, displayPart, type QualifiedName } from "../schema/names.ts";
import {
  findColumn,
  findConstraint,
  findIndex,
  findTable,
  type ConstraintSnapshot,
  type SchemaSnapshot,
} from "../schema/snapshot.ts";
import { applyOperation } from "./effects.ts";
import { isSafeForm, setNotNullSteps, type AlterColumnOp, type Operation } from "../schema/operation.ts";
import type { StatementTransaction } from "./sink.ts";

export type RunMode = "safe" | "strict";

/** A statement the planner decided to send, and how it must be committed. */
export interface PlannedStatement extends RenderedStatement {
  /**
   * Absent: in the migration's transaction. "own": committed alone (setNotNull's steps,
   * validateConstraint); "none": outside any transaction (CONCURRENTLY). See StatementTransaction.
   */
  readonly transaction?: StatementTransaction;
}

export interface PlanContext {
  readonly mode: RunMode;
  /** Names in this schema are shown unqualified in reasons. */
  readonly defaultSchema: string;
  readonly dialect: Dialect;
}

export type Plan =
  | {
      readonly kind: "apply";
      readonly statements: readonly PlannedStatement[];
      /** The snapshot once the statements have run. */
      readonly snapshot: SchemaSnapshot;
      /** True when the statements may change the schema in ways the snapshot cannot follow (raw SQL). */
      readonly stale: boolean;
    }
  | { readonly kind: "skip"; readonly reason: string };

function skip(reason: string): Plan {
  return { kind: "skip", reason };
}

export function planOperation(op: Operation, snapshot: SchemaSnapshot, context: PlanContext): Plan {
  const { dialect } = context;
  const safe = isSafeForm(op) || context.mode === "safe";
  const table = (name: QualifiedName): string => `table ${displayName(name, context.defaultSchema)}`;
  const column = (name: QualifiedName, col: string): string =>
    `column ${displayName(name, context.defaultSchema)}.${displayPart(col)}`;
  const constraint = (name: QualifiedName, con: string): string =>
    `constraint ${displayPart(con)} on ${table(name)}`;
  const index = (name: QualifiedName): string => `index ${displayName(name, context.defaultSchema)}`;

  /**
   * Renders `effective` (the op with its IF [NOT] EXISTS flag as the mode decides), or sends
   * `statements`; `transaction` marks every statement (see StatementTransaction).
   */
  const apply = (effective: Operation, statements?: RenderedStatement[], transaction?: StatementTransaction): Plan => {
    const rendered = statements ?? dialect.render(effective);
    return {
      kind: "apply",
      statements: transaction === undefined ? rendered : rendered.map((s) => ({ ...s, transaction })),
      snapshot: applyOperation(snapshot, effective, dialect),
      stale: false,
    };
  };

  switch (op.kind) {
    case "createTable":
      if (safe && findTable(snapshot, op.table)) return skip(`${table(op.table)} already exists`);
      return apply({ ...op, ifNotExists: safe });

    case "dropTable":
      if (safe && !findTable(snapshot, op.table)) return skip(`${table(op.table)} does not exist`);
      return apply({ ...op, ifExists: safe });

    case "addColumn": {
      const existing = findTable(snapshot, op.table);
      if (safe && existing && findColumn(existing, op.column.name)) {
        return skip(`${column(op.table, op.column.name)} already exists`);
      }
      return apply({ ...op, ifNotExists: safe });
    }

    case "dropColumn": {
      const existing = findTable(snapshot, op.table);
      if (safe && !(existing && findColumn(existing, op.column))) {
        return skip(`${column(op.table, op.column)} does not exist`);
      }
      return apply({ ...op, ifExists: safe });
    }

    case "alterColumn": {
      if (!safe) return apply(op);
      const current = findTable(snapshot, op.table);
      const col = current && findColumn(current, op.column);
      // A missing column is not hidden: the database reports it.
      if (!col) return apply(op);
      const remaining = unsatisfiedChanges(op, col, dialect);
      if (remaining === null) {
        return skip(`${column(op.table, op.column)} already has the requested ${describeChanges(op)}`);
      }
      return apply(remaining);
    }

    case "renameTable": {
      const to = { schema: op.table.schema, name: op.to };
      if (safe && !findTable(snapshot, op.table) && findTable(snapshot, to)) {
        return skip(`${table(op.table)} was already renamed to ${displayPart(op.to)}`);
      }
      return apply(op);
    }

    case "renameColumn": {
      const existing = findTable(snapshot, op.table);
      if (safe && existing && !findColumn(existing, op.from) && findColumn(existing, op.to)) {
        return skip(`${column(op.table, op.from)} was already renamed to ${displayPart(op.to)}`);
      }
      return apply(op);
    }

    case "createIndex": {
      // CONCURRENTLY cannot run in a transaction block.
      const transaction = op.concurrently ? "none" : undefined;
      const found = findIndex(snapshot, op.index);
      if (safe && found) {
        if (!found.index.valid) {
          // A failed CREATE INDEX CONCURRENTLY leaves an invalid index that IF NOT EXISTS would keep.
          const drop = dialect.render({ kind: "dropIndex", index: op.index, concurrently: op.concurrently, ifExists: true });
          return apply({ ...op, ifNotExists: true }, [...drop, ...dialect.render({ ...op, ifNotExists: true })], transaction);
        }
        const elsewhere = found.table.name !== op.table.name ? ` (on ${table(found.table)})` : "";
        return skip(`${index(op.index)} already exists${elsewhere}`);
      }
      return apply({ ...op, ifNotExists: safe }, undefined, transaction);
    }

    case "dropIndex":
      if (safe && !findIndex(snapshot, op.index)) return skip(`${index(op.index)} does not exist`);
      return apply({ ...op, ifExists: safe }, undefined, op.concurrently ? "none" : undefined);

    case "createForeignKey":
    case "addUniqueConstraint":
    case "addCheckConstraint": {
      const existing = findTable(snapshot, op.table);
      if (safe && existing && findConstraint(existing, op.name)) {
        return skip(`${constraint(op.table, op.name)} already exists`);
      }
      // PostgreSQL has no ADD CONSTRAINT IF NOT EXISTS: the snapshot is the only guard.
      return apply({ ...op, ifNotExists: safe });
    }

    case "dropConstraint": {
      const existing = findTable(snapshot, op.table);
      if (safe && !(existing && findConstraint(existing, op.name))) {
        return skip(`${constraint(op.table, op.name)} does not exist`);
      }
      return apply({ ...op, ifExists: safe });
    }

    case "validateConstraint": {
      const existing = findTable(snapshot, op.table);
      const found = existing && findConstraint(existing, op.name);
      if (safe && found && isValidated(found)) return skip(`${constraint(op.table, op.name)} is already validated`);
      // A missing constraint is not hidden: the database reports it. The scan takes a lock that
      // lets reads and writes go on, unless the transaction it runs in holds a stronger one.
      return apply({ ...op, ifNotValidated: safe }, undefined, "own");
    }

    case "setNotNull": {
      const effective = { ...op, ifNullable: safe };
      const [add, validate, set, drop] = setNotNullSteps(effective);
      const existing = findTable(snapshot, op.table);
      const col = existing && findColumn(existing, op.column);
      // Under upgrade, or for a column the snapshot does not know (the database reports it), all four.
      if (!safe || !existing || !col) return apply(effective, undefined, "own");
      // Each step commits on its own, so a run may have stopped after any of them: go on from there.
      const check = findConstraint(existing, op.check.name);
      if (!col.nullable) {
        if (check === undefined) return skip(`${column(op.table, op.column)} is already NOT NULL`);
        return apply(effective, dialect.render(drop), "own");
      }
      const steps = check === undefined ? [add, validate, set, drop] : isValidated(check) ? [set, drop] : [validate, set, drop];
      return apply(effective, steps.flatMap((step) => dialect.render(step)), "own");
    }

    case "execute": {
      const statements = dialect.render(op);
      return {
        kind: "apply",
        statements,
        snapshot,
        stale: statements.some((s) => dialect.classifyStatement(s.sql).changesSchema),
      };
    }

    case "insertRows": {
      if (op.rows.length === 0) return skip(`no rows to insert into ${table(op.table)}`);
      const existing = findTable(snapshot, op.table);
      const columnTypes = existing ? new Map(existing.columns.map((c) => [c.name, c.type])) : undefined;
      const effective = { ...op, onConflictDoNothing: safe };
      return apply(effective, dialect.render(effective, columnTypes ? { columnTypes } : {}));
    }
  }
}

/** Checks and foreign keys may be NOT VALID; other constraints are valid once they exist. */
function isValidated(c: ConstraintSnapshot): boolean {
  return c.kind === "check" || c.kind === "foreignKey" ? c.validated : true;
}

/** The parts of an alterColumn the column does not already satisfy; null when none remain. */
function unsatisfiedChanges(
  op: AlterColumnOp,
  col: { type: string; nullable: boolean; default: string | null },
  dialect: Dialect,
): AlterColumnOp | null {
  const typeDone = op.type === undefined || dialect.normalizeType(op.type) === dialect.normalizeType(col.type);
  const nullableDone = op.nullable === undefined || op.nullable === col.nullable;
  // Only "no default" can be compared reliably: PostgreSQL rewrites default expressions.
  const defaultDone = op.default === undefined || (op.default === null && col.default === null);
  if (typeDone && nullableDone && defaultDone) return null;
  const { type, using, nullable, default: newDefault, ...rest } = op;
  return {
    ...rest,
    ...(typeDone || type === undefined ? {} : { type, ...(using === undefined ? {} : { using }) }),
    ...(nullableDone || nullable === undefined ? {} : { nullable }),
    ...(defaultDone || newDefault === undefined ? {} : { default: newDefault }),
  };
}

function describeChanges(op: AlterColumnOp): string {
  const parts: string[] = [];
  if (op.type !== undefined) parts.push(`type ${op.type}`);
  if (op.nullable !== undefined) parts.push(op.nullable ? "NULL" : "NOT NULL");
  if (op.default === null) parts.push("no default");
  return parts.join(", ");
}
