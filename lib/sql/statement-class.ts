// How a PostgreSQL statement may be sent, decided from its text: can it be combined into a DO
// block, can it run inside a transaction, may it change the schema, should it keep running when
// the call that sent it gives up. retort's one classification: the dialect offers it as
// Dialect.classifyStatement (the runner combines statements by it, the planner knows when a raw
// `execute` has made its snapshot stale), and the Data API executor sends by it. It lives in
// lib/sql, beside the lexer it reads with, because lib/sql may not import lib/dialect.
import { maskLiterals } from "./lexer.ts";

/** How a statement may be sent, decided from its text. */
export interface StatementClass {
  /** Can be combined with others into one statement (a DO block) (no params, no result rows, ...). */
  readonly combinable: boolean;
  /** Can run inside a transaction block (CREATE INDEX CONCURRENTLY cannot). */
  readonly transactional: boolean;
  /** May change the schema (DDL, or DO and CALL, which may run some), so a snapshot taken before it may be stale. */
  readonly changesSchema: boolean;
  /**
   * Should keep running when the call that sent it stops waiting (the Data API's
   * continueAfterTimeout, past its 45 s per call): it may change the schema, and the Data API's
   * documentation warns that DDL cut short can leave errors and corrupted structures; or it is
   * maintenance over whole tables (TRUNCATE, VACUUM, ANALYZE, CLUSTER, REINDEX, REFRESH
   * MATERIALIZED VIEW), whose work would otherwise be thrown away each time.
   */
  readonly continueAfterTimeout: boolean;
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

/** The list above as one pattern (each alternative keeps its `^`): one test instead of twelve. */
const ANY_NON_TRANSACTIONAL = new RegExp(NON_TRANSACTIONAL.map((pattern) => `(?:${pattern.source})`).join("|"));

/**
 * First words that return rows (no destination inside PL/pgSQL), or that PL/pgSQL reads as its
 * own statements (EXECUTE, FETCH, ...), or that may control transactions (CALL).
 */
const NOT_IN_DO_BLOCK =
  /^(\(|(SELECT|WITH|VALUES|TABLE|SHOW|EXPLAIN|COPY|FETCH|MOVE|CLOSE|OPEN|DECLARE|PREPARE|EXECUTE|DEALLOCATE|CALL|PERFORM|RETURN|RAISE|IF|CASE|LOOP|FOR|FOREACH|WHILE|EXIT|CONTINUE|GET|ASSERT|NULL)\b)/;

/**
 * PL/pgSQL's own variable in every block: inside one, `found` in a statement can mean the variable
 * instead of a column (an "ambiguous" error, or a different value), so such a statement is sent
 * alone. Quoted, it is the same name; anything else quoted is not.
 */
const PLPGSQL_VARIABLE = /\bFOUND\b/;
const QUOTED_PLPGSQL_VARIABLE = /"found"/;

/** DDL (IMPORT FOREIGN SCHEMA creates foreign tables), and DO and CALL, which may run some. */
const SCHEMA_CHANGING = /^(CREATE|ALTER|DROP|COMMENT|IMPORT|DO|CALL|SECURITY LABEL|GRANT|REVOKE)\b/;

/** Maintenance over whole tables, which has no rows to return and is wasted if cut short. */
const WHOLE_TABLE_MAINTENANCE = /^(TRUNCATE|VACUUM|ANALYZE|ANALYSE|CLUSTER|REINDEX|REFRESH MATERIALIZED VIEW)\b/;

/**
 * Statements are classified when queued, again when combined, and once more when sent: remembering
 * the last few thousand makes the later times free. Bounded by count and by total length (it
 * starts over when full). Texts longer than V8 hashes in full (16383 characters) are left out:
 * equal-length ones would all collide in the Map, and classifying them again is cheap enough.
 */
const MEMO_ENTRIES = 4096;
const MEMO_CHARS = 4 * 1024 * 1024;
const MEMO_LONGEST = 16_383;
const memo = new Map<string, StatementClass>();
let memoChars = 0;

export function classifyStatement(sql: string): StatementClass {
  if (sql.length > MEMO_LONGEST) return classify(sql);
  const known = memo.get(sql);
  if (known !== undefined) return known;
  const kind = classify(sql);
  if (memo.size >= MEMO_ENTRIES || memoChars + sql.length > MEMO_CHARS) {
    memo.clear();
    memoChars = 0;
  }
  memo.set(sql, kind);
  memoChars += sql.length;
  return kind;
}

function classify(sql: string): StatementClass {
  const masked = maskLiterals(sql);
  // Most statements are already single-spaced; collapsing them would only copy them.
  const spaced = (/[^\S ]| {2}/.test(masked) ? masked.replace(/\s+/g, " ") : masked).trim();
  // Trimmed, so a trailing `;` is the last character if there is one.
  const code = (spaced.endsWith(";") ? spaced.slice(0, -1) : spaced).toUpperCase();
  const transactional = !ANY_NON_TRANSACTIONAL.test(code);
  const changesSchema = SCHEMA_CHANGING.test(code);
  const continueAfterTimeout = changesSchema || WHOLE_TABLE_MAINTENANCE.test(code);
  const combinable =
    code !== "" &&
    transactional &&
    !NOT_IN_DO_BLOCK.test(code) &&
    !PLPGSQL_VARIABLE.test(code) &&
    !QUOTED_PLPGSQL_VARIABLE.test(sql) &&
    // Several statements, or a named parameter a DO block could never bind.
    !code.includes(";") &&
    !/(^|[^:]):[A-Z_]/.test(code) &&
    // PL/pgSQL takes a result-returning clause or a stray INTO as its own INTO target.
    !/\bRETURNING\b/.test(code) &&
    !/\bINTO\b/.test(code.replace(/^(INSERT|MERGE) INTO\b/, "").replace(/^IMPORT FOREIGN SCHEMA\b.*/, ""));
  return Object.freeze({ combinable, transactional, changesSchema, continueAfterTimeout });
}
