// What the SqlExecutor adapters share, so they behave alike (test/sql/contract.ts checks each): all
// three use the single-statement check and the transaction guard; node-postgres and PGlite also the
// binding, result building and error mapping here (the Data API's: data-api-parameters/-results/-errors.ts).

import { AsyncLocalStorage } from "node:async_hooks";
import type { ColumnMeta, QueryOptions, QueryResult, SqlParams, SqlResultValue, SqlSession } from "./executor.ts";
import { MultipleStatementsError, SqlError, TransactionUsageError } from "./errors.ts";
import { MissingParameterError, countStatements, scanStatement } from "./lexer.ts";
import { decodeText, encodeParam, type EncodedParam } from "./values.ts";

/** Refuses anything but exactly one statement (comments and a trailing `;` are fine). */
export function assertSingleStatement(sql: string): void {
  const count = countStatements(sql);
  if (count !== 1) throw new MultipleStatementsError(count);
}

/** A statement ready for a positional-parameter driver (node-postgres, PGlite). */
export interface PreparedStatement {
  /** The SQL with `:name` rewritten as `$1, $2, ...`. */
  text: string;
  /** The parameters in `$n` order, classified. */
  params: EncodedParam[];
  /** Their text input forms (`null` for NULL): what node-postgres and PGlite are given. */
  values: Array<string | null>;
}

/**
 * Checks the statement, resolves named parameters (MissingParameterError when one is absent) and
 * encodes their values (UnsupportedParameterError for values that cannot be bound).
 */
export function prepareStatement(sql: string, params: SqlParams = {}): PreparedStatement {
  // One walk for both checks. The statement count is judged first, so a text that is several
  // statements fails with MultipleStatementsError even when it also lacks a parameter, as it does
  // on the Data API adapter (assertSingleStatement before binding).
  const { statementCount, missingParameter, text, values, names } = scanStatement(sql, params);
  if (statementCount !== 1) throw new MultipleStatementsError(statementCount);
  if (missingParameter !== undefined) throw new MissingParameterError(missingParameter);
  const encoded = values.map((value, i) => encodeParam(value, names[i]));
  return { text, params: encoded, values: encoded.map((p) => p.text) };
}

/**
 * Builds row objects from text cells (both direct drivers are asked for text, so lib/sql/values.ts
 * decodes every value the same way); a repeated column name keeps the last value.
 */
export function buildResult<Row>(
  columns: ColumnMeta[],
  cells: ReadonlyArray<ReadonlyArray<string | null>>,
  rowCount: number | undefined,
): QueryResult<Row> {
  const rows = cells.map((cell) => {
    const row: Record<string, SqlResultValue> = {};
    columns.forEach((column, i) => {
      row[column.name] = decodeText(cell[i] ?? null, column.typeName);
    });
    return row as Row;
  });
  return { rows, columns, rowCount: rowCount ?? rows.length };
}

interface DriverDatabaseError {
  message: string;
  code: string;
  severity?: string;
  detail?: string;
  hint?: string;
}

/** True for an error the server sent (pg's and PGlite's DatabaseError both look like this). */
export function isDriverDatabaseError(error: unknown): error is DriverDatabaseError {
  if (typeof error !== "object" || error === null) return false;
  const e = error as Record<string, unknown>;
  return (
    typeof e["message"] === "string" &&
    typeof e["code"] === "string" &&
    /^[0-9A-Z]{5}$/.test(e["code"]) &&
    typeof e["severity"] === "string"
  );
}

/** The server's message, with its DETAIL and HINT lines when it sent them. */
export function serverErrorMessage(error: DriverDatabaseError): string {
  let message = error.message;
  if (error.detail) message += `\nDETAIL: ${error.detail}`;
  if (error.hint) message += `\nHINT: ${error.hint}`;
  return message;
}

/** Maps a server error to SqlError; anything else is returned unchanged. */
export function mapDriverError(error: unknown): unknown {
  if (error instanceof SqlError || !isDriverDatabaseError(error)) return error;
  return new SqlError(serverErrorMessage(error), error.code, { cause: error });
}

type QueryFn = SqlSession["query"];

/**
 * Marks the async context of a transaction's callback, so that an executor can refuse calls that
 * would nest (PostgreSQL transactions do not nest; on PGlite it would deadlock, on a pool it would
 * silently run outside the transaction).
 */
export class TransactionGuard {
  readonly #inside = new AsyncLocalStorage<{ open: boolean }>();

  /** Throws TransactionUsageError when called from inside one of this executor's callbacks. */
  assertOutside(operation: "query" | "transaction"): void {
    if (!this.#inside.getStore()?.open) return;
    throw new TransactionUsageError(
      operation === "transaction"
        ? "transaction() was called inside another transaction's callback. Transactions do not " +
            "nest: run the statements on the `tx` session the outer callback was given."
        : "query() was called on the executor inside a transaction's callback. Run it on the " +
            "`tx` session the callback was given (the executor would wait for the transaction, " +
            "or run outside it).",
    );
  }

  /**
   * Runs a transaction's callback with a session over `query` that runs statements one after
   * another, and that refuses to run any once the callback has settled.
   */
  async run<T>(query: QueryFn, fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    const mark = { open: true };
    const finished = () =>
      new TransactionUsageError(
        "This transaction has already finished (committed or rolled back); its `tx` session " +
          "cannot run more statements. Await every statement inside the callback.",
      );
    let tail: Promise<unknown> = Promise.resolve();
    const session: SqlSession = {
      query<Row>(sql: string, params?: SqlParams, options?: QueryOptions): Promise<QueryResult<Row>> {
        if (!mark.open) return Promise.reject(finished());
        const next = tail.then(() => {
          // A statement queued but not started when the callback settled must not run after it.
          if (!mark.open) throw finished();
          return query<Row>(sql, params, options);
        });
        tail = next.catch(() => undefined);
        return next;
      },
    };
    try {
      return await this.#inside.run(mark, () => fn(session));
    } finally {
      mark.open = false;
      // Let a statement the callback forgot to await finish before COMMIT or ROLLBACK is sent.
      await tail;
    }
  }
}
