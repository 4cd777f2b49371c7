// Classifies a statement by its text: can it be combined into a DO block, can it run inside a
// transaction, may it change the schema. The runner batches by it and the planner uses it to know
// when a raw `execute` has made the in-memory snapshot stale.
import type { StatementClass } from "../dialect.ts";

/**
 * The statement with comments, string and dollar-quoted literals and quoted identifiers blanked
 * out, so keyword checks only ever see code. Literals keep their delimiters ('', "", $$).
 */
export function maskLiterals(sql: string): string {
  let out = "";
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      i = end < 0 ? n : end;
      out += " ";
      continue;
    }
    if (c === "/" && next === "*") {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") (depth += 1), (i += 2);
        else if (sql[i] === "*" && sql[i + 1] === "/") (depth -= 1), (i += 2);
        else i += 1;
      }
      out += " ";
      continue;
    }
    if (c === "'" || c === '"') {
      const escapes = c === "'" && /(^|[^A-Za-z0-9_])[Ee]$/.test(sql.slice(Math.max(0, i - 2), i));
      i += 1;
      while (i < n) {
        if (escapes && sql[i] === "\\") i += 2;
        else if (sql[i] === c && sql[i + 1] === c) i += 2;
        else if (sql[i] === c) break;
        else i += 1;
      }
      i += 1;
      out += c + c;
      continue;
    }
    if (c === "$" && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? " ")) {
      const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64))?.[0];
      if (tag) {
        const end = sql.indexOf(tag, i + tag.length);
        i = end < 0 ? n : end + tag.length;
        out += "$$";
        continue;
      }
    }
    out += c;
    i += 1;
  }
  return out;
}

/** Statements PostgreSQL refuses inside a transaction block (and so inside a DO block). */
const NON_TRANSACTIONAL: readonly RegExp[] = [
  /^VACUUM\b/,
  /^(CREATE|DROP|ALTER) DATABASE\b/,
  /^(CREATE|DROP) TABLESPACE\b/,
  /^ALTER SYSTEM\b/,
  /^(CREATE|DROP) (UNIQUE )?INDEX CONCURRENTLY\b/,
  /^REINDEX\b.*\bCONCURRENTLY\b/,
  /^REINDEX (SYSTEM|DATABASE)\b/,
  /^ALTER TABLE\b.*\bDETACH PARTITION\b.*\bCONCURRENTLY\b/,
  /^CLUSTER$/,
  /^DISCARD ALL\b/,
  /^(CREATE|DROP|ALTER) SUBSCRIPTION\b/,
  /^(BEGIN|START|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE TRANSACTION|COMMIT PREPARED|ROLLBACK PREPARED)\b/,
];

/**
 * First words that return rows (no destination inside PL/pgSQL), or that PL/pgSQL reads as its
 * own statements (EXECUTE, FETCH, ...), or that may control transactions (CALL).
 */
const NOT_IN_DO_BLOCK =
  /^(SELECT|WITH|VALUES|TABLE|SHOW|EXPLAIN|COPY|FETCH|MOVE|CLOSE|OPEN|DECLARE|PREPARE|EXECUTE|DEALLOCATE|CALL|PERFORM|RETURN|RAISE|IF|CASE|LOOP|FOR|FOREACH|WHILE|EXIT|CONTINUE|GET|ASSERT|NULL)\b/;

const SCHEMA_CHANGING = /^(CREATE|ALTER|DROP|COMMENT|IMPORT|DO|CALL|SECURITY LABEL|GRANT|REVOKE)\b/;

export function classifyStatement(sql: string): StatementClass {
  const code = maskLiterals(sql).replace(/\s+/g, " ").trim().replace(/;\s*$/, "").toUpperCase();
  const transactional = !NON_TRANSACTIONAL.some((pattern) => pattern.test(code));
  const changesSchema = SCHEMA_CHANGING.test(code);
  const batchable =
    code !== "" &&
    transactional &&
    !NOT_IN_DO_BLOCK.test(code) &&
    // Several statements, or a named parameter a DO block could never bind.
    !code.includes(";") &&
    !/(^|[^:]):[A-Z_]/.test(code) &&
    // PL/pgSQL takes a result-returning clause or a stray INTO as its own INTO target.
    !/\bRETURNING\b/.test(code) &&
    !/\bINTO\b/.test(code.replace(/^(INSERT|MERGE) INTO\b/, "").replace(/^IMPORT FOREIGN SCHEMA\b.*/, ""));
  return { batchable, transactional, changesSchema };
}
