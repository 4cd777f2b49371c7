// A one-line description of an operation ("addColumn users.email"), for results, reports and
// error messages.
import { displayName, displayPart } from "../schema/names.ts";
import type { Operation } from "../schema/operation.ts";

export function describeOperation(op: Operation, defaultSchema: string): string {
  const name = (n: Parameters<typeof displayName>[0]) => displayName(n, defaultSchema);
  switch (op.kind) {
    case "createTable":
    case "dropTable":
      return `${op.kind} ${name(op.table)}`;
    case "addColumn":
      return `addColumn ${name(op.table)}.${displayPart(op.column.name)}`;
    case "dropColumn":
    case "alterColumn":
    case "setNotNull":
      return `${op.kind} ${name(op.table)}.${displayPart(op.column)}`;
    case "renameTable":
      return `renameTable ${name(op.table)} -> ${displayPart(op.to)}`;
    case "renameColumn":
      return `renameColumn ${name(op.table)}.${displayPart(op.from)} -> ${displayPart(op.to)}`;
    case "createIndex":
      return `createIndex ${name(op.index)} on ${name(op.table)}`;
    case "dropIndex":
      return `dropIndex ${name(op.index)}`;
    case "createForeignKey":
    case "addUniqueConstraint":
    case "addCheckConstraint":
    case "validateConstraint":
    case "dropConstraint":
      return `${op.kind} ${displayPart(op.name)} on ${name(op.table)}`;
    case "insertRows":
      return `insertRows ${name(op.table)} (${op.rows.length} row(s))`;
    case "execute": {
      const text = op.sql.replace(/\s+/g, " ").trim();
      return `execute ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
    }
  }
}
