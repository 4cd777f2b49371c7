// Combines DDL statements into one DO block: through the Data API every statement is an HTTPS
// round trip, and a migration's DDL usually fits in one. A DO block is one statement, so it is
// atomic on its own: when its third statement fails, the first two are undone with it, and the
// error is PostgreSQL's own (it names the object) with the failing line as context.
import type { RenderedStatement } from "../dialect.ts";
import { classifyStatement } from "../../sql/statement-class.ts";

/**
 * One statement running all of `statements` in order, or null when they cannot be combined: one
 * has bound parameters, returns rows, or cannot run in a transaction (CREATE INDEX CONCURRENTLY,
 * VACUUM). A single statement comes back as is; an empty list gives null. `procedural` holds
 * PL/pgSQL statements (IF ... RAISE) appended to the block; with any, the result is always a DO.
 * `preamble` holds PL/pgSQL run before everything else (the fencing claim, which must refuse a
 * stale runner before any of its DDL runs).
 */
export function renderBlock(
  statements: readonly RenderedStatement[],
  procedural: readonly string[] = [],
  preamble: readonly string[] = [],
): string | null {
  if (statements.length === 0 && procedural.length === 0 && preamble.length === 0) return null;
  const bodies: string[] = [];
  for (const statement of statements) {
    if (statement.params !== undefined && Object.keys(statement.params).length > 0) return null;
    if (!classifyStatement(statement.sql).combinable) return null;
    bodies.push(statement.sql.trim().replace(/;\s*$/, ""));
  }
  if (bodies.length === 1 && procedural.length === 0 && preamble.length === 0) return bodies[0]!;
  // PL/pgSQL of the caller's own (the version-table update and its checks) goes last.
  bodies.push(...procedural.map((p) => p.trim().replace(/;\s*$/, "")));
  bodies.unshift(...preamble.map((p) => p.trim().replace(/;\s*$/, "")));
  const body = bodies.map(terminate).join("\n");
  let n = 0;
  while (body.includes(`$retort_${n}$`)) n += 1;
  const tag = `$retort_${n}$`;
  return `DO ${tag}\nBEGIN\n${body}\nEND\n${tag}`;
}

/**
 * The statement ended with `;` for a script: after a trailing line comment, which would swallow
 * it, on a line of its own (also when the `--` is inside a literal on the last line: still valid).
 */
export function terminate(sql: string): string {
  const body = sql.trim();
  // A `;` in that comment is the comment's: the statement still needs its own.
  if (/--[^\n]*$/.test(body)) return `${body}\n;`;
  return `${body.replace(/;$/, "")};`;
}
