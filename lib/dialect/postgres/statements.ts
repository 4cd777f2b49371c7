// Classifies a statement by its text: can it be combined into a DO block, can it run inside a
// transaction, may it change the schema. The runner batches by it and the planner uses it to know
// when a raw `execute` has made the in-memory snapshot stale.
import { maskLiterals } from "../../sql/lexer.ts";
import type { StatementClass } from "../dialect.ts";

export { maskLiterals };

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
