// Whether a default expression is volatile, as PostgreSQL decides when a column is added: a
// non-volatile default (a constant, now()) is evaluated once and stored in the catalog, a
// volatile one (random(), gen_random_uuid(), nextval(), any function of unknown volatility) is
// evaluated per row, which rewrites the whole table.
import { isPunct, tokenize } from "../../sql/lexer.ts";

/** Functions known to be volatile: evaluated again for every row. */
const VOLATILE = new Set([
  "random",
  "random_normal",
  "gen_random_uuid",
  "uuidv4",
  "uuidv7",
  "uuid_generate_v1",
  "uuid_generate_v1mc",
  "uuid_generate_v4",
  "clock_timestamp",
  "timeofday",
  "nextval",
  "setval",
  "txid_current",
  "pg_current_xact_id",
]);

/**
 * Functions and function-like keywords known to be stable or immutable. Anything else is taken
 * as volatile, which is PostgreSQL's own default for a function created without a volatility.
 */
const NOT_VOLATILE = new Set([
  "now",
  "transaction_timestamp",
  "statement_timestamp",
  "current_setting",
  "cast",
  "coalesce",
  "nullif",
  "greatest",
  "least",
  "lower",
  "upper",
  "length",
  "concat",
  "substr",
  "substring",
  "trim",
  "abs",
  "round",
  "floor",
  "ceil",
  "to_char",
  "to_date",
  "to_timestamp",
  "make_date",
  "make_interval",
  "date_trunc",
  "extract",
  "timezone",
  "md5",
  "json_build_object",
  "jsonb_build_object",
  "json_build_array",
  "jsonb_build_array",
  "array",
  "row",
  "interval",
  "numeric",
  "decimal",
  "varchar",
  "char",
  "character",
  "timestamp",
  "timestamptz",
  "time",
]);

/** The functions an expression calls, lower-cased, in order. */
export function calledFunctions(sql: string): string[] {
  const tokens = tokenize(sql);
  const calls: string[] = [];
  tokens.forEach((t, i) => {
    if (t.type === "word" && isPunct(tokens[i + 1], "(")) calls.push(t.value);
  });
  return calls;
}

/** The first call that makes the expression volatile, or undefined when it is not volatile. */
export function volatileCall(sql: string): string | undefined {
  return calledFunctions(sql).find((f) => VOLATILE.has(f) || !NOT_VOLATILE.has(f));
}
