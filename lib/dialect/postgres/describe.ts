// What PostgreSQL records for a column a migration defines, so the in-memory snapshot after an
// operation looks like what introspection would then report: the canonical type name, NOT NULL
// implied by serial and identity, the sequence default serial creates.
import type { ColumnSpec } from "../../schema/operation.ts";
import { isSqlExpression } from "../../schema/operation.ts";
import type { QualifiedName } from "../../schema/names.ts";
import type { ColumnSnapshot } from "../../schema/snapshot.ts";
import { makeObjectName } from "./naming.ts";
import { renderLiteral } from "./quote.ts";
import { isSerialType, normalizeType } from "./types.ts";

/** How regclass output spells a name: bare when PostgreSQL would not need quotes. */
function regclassPart(part: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(part) ? part : `"${part.replaceAll('"', '""')}"`;
}

/**
 * Exact for names, types PostgreSQL spells one way, nullability and identity. Defaults are the
 * SQL retort sent (PostgreSQL may print an equivalent expression differently, e.g. 42 as 42 but
 * 'a' as 'a'::text), so compare defaults only between two introspected snapshots.
 */
export function describeColumn(table: QualifiedName, column: ColumnSpec): ColumnSnapshot {
  const serial = isSerialType(column.type);
  let defaultText: string | null = null;
  if (column.default !== undefined && column.default !== null) {
    defaultText = isSqlExpression(column.default) ? column.default.sql : renderLiteral(column.default);
  }
  if (serial) {
    const sequence = makeObjectName(table.name, column.name, "seq");
    // The sequence is named schema-qualified unless it is on the search path (assumed: public).
    const qualified =
      table.schema === "public" ? regclassPart(sequence) : `${regclassPart(table.schema)}.${regclassPart(sequence)}`;
    defaultText = `nextval('${qualified.replaceAll("'", "''")}'::regclass)`;
  }
  return {
    name: column.name,
    type: normalizeType(column.type),
    nullable: column.nullable && !serial && column.identity === null,
    default: defaultText,
    identity: column.identity,
    generated: null,
  };
}
