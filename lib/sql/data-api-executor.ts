// SqlExecutor over the RDS Data API (production: a Lambda talking to Aurora PostgreSQL). Every
// statement is one HTTPS call; this adapter maps named parameters to typed field values and typed
// fields back to the port's row shape (the rules in executor.ts), and owns the retry policy:
// jittered exponential backoff for calls that certainly did not run (DatabaseResumingException
// from an auto-paused cluster, throttling) and for 5xx outside a transaction, but never a retry
// of a statement whose outcome is unknown inside a transaction.

import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
  type ArrayValue,
  type ColumnMetadata,
  type ExecuteStatementCommandInput,
  type ExecuteStatementCommandOutput,
  type Field,
  type SqlParameter,
} from "@aws-sdk/client-rds-data";
import type {
  ColumnMeta,
  ExecutorKind,
  QueryOptions,
  QueryResult,
  SqlExecutor,
  SqlParams,
  SqlResultValue,
  SqlSession,
} from "./executor.ts";
import {
  ConnectionError,
  DataApiError,
  SqlError,
  StatementBlockedError,
  type DataApiCommand,
  type LockBlocker,
} from "./errors.ts";
import { TransactionGuard, assertSingleStatement } from "./adapter-kit.ts";
import { mapNamedParameters, toPositional } from "./lexer.ts";
import { decodeInt8, decodeText, encodeParam, type EncodedParam } from "./values.ts";

/**
 * Backoff for calls that can be retried. The defaults wait at least ~26 s in all (up to ~53 s)
 * before giving up, enough for an auto-paused Aurora Serverless v2 cluster to resume.
 */
export interface DataApiRetryOptions {
  /**
   * Calls per statement, the first included.
   * @default 15
   */
  maxAttempts?: number;
  /**
   * The first backoff; it doubles per attempt (half of each delay is random).
   * @default 250
   */
  baseDelayMs?: number;
  /**
   * The cap of one backoff.
   * @default 5000
   */
  maxDelayMs?: number;
}

export interface DataApiExecutorOptions {
  /** The Aurora cluster's ARN. */
  resourceArn: string;
  /** The Secrets Manager secret holding the database user's credentials. */
  secretArn: string;
  /**
   * The database name.
   * @default the database the secret names
   */
  database?: string;
  /**
   * The client to use (tests, custom endpoints); it is not closed by close().
   * @default createDataApiClient(): region and endpoint from the SDK's environment
   */
  client?: RDSDataClient;
  retry?: DataApiRetryOptions;
  /**
   * How to wait between attempts (tests inject a fake).
   * @default setTimeout
   */
  sleep?: (ms: number) => Promise<void>;
}

// Defined with the other executor errors, so the runner can recognise it without loading the AWS SDK.
export { DataApiError, StatementBlockedError, type DataApiCommand, type LockBlocker } from "./errors.ts";

/** A request timeout above the service's own 45 s per call, so its StatementTimeoutException wins. */
const REQUEST_TIMEOUT_MS = 60_000;
export const DEFAULT_RETRY: Required<DataApiRetryOptions> = { maxAttempts: 15, baseDelayMs: 250, maxDelayMs: 5_000 };

/** The default client: SDK retries off (this adapter decides), region/endpoint from the environment. */
export function createDataApiClient(): RDSDataClient {
  // AWS_REGION and AWS_ENDPOINT_URL_RDS_DATA / AWS_ENDPOINT_URL are read by the SDK itself.
  return new RDSDataClient({
    maxAttempts: 1,
    requestHandler: {
      requestTimeout: REQUEST_TIMEOUT_MS,
      // Without this the SDK only logs a warning when the timeout passes and keeps waiting.
      throwOnRequestTimeout: true,
      connectionTimeout: 10_000,
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Parameters (pure)
// ---------------------------------------------------------------------------------------------

/**
 * The Data API's `YYYY-MM-DD HH:MM:SS.FFF` (typeHint TIMESTAMP) for a Date, in UTC: the service's
 * session time zone, so a timestamptz column stores the same instant other adapters store.
 */
export function toDataApiTimestamp(date: Date): string {
  return date.toISOString().replace("T", " ").replace(/Z$/, "");
}

/**
 * One named parameter as a typed Data API parameter, in the style of drizzle's toValueParam.
 * Strings go as stringValue (the service binds them as varchar, so write `:id::uuid` where the
 * context needs another type); integers beyond 2^53 and non-finite floats travel as text with
 * typeHint DECIMAL so no digit is lost.
 */
export function toSqlParameter(name: string, param: EncodedParam): SqlParameter {
  switch (param.kind) {
    case "null":
      return { name, value: { isNull: true } };
    case "string":
      return { name, value: { stringValue: param.text } };
    case "integer": {
      const n = Number(param.value);
      return Number.isSafeInteger(n)
        ? { name, value: { longValue: n } }
        : { name, value: { stringValue: param.text }, typeHint: "DECIMAL" };
    }
    case "float":
      return Number.isFinite(param.value)
        ? { name, value: { doubleValue: param.value } }
        : { name, value: { stringValue: param.text }, typeHint: "DECIMAL" };
    case "boolean":
      return { name, value: { booleanValue: param.value } };
    case "timestamp":
      return { name, value: { stringValue: toDataApiTimestamp(param.value) }, typeHint: "TIMESTAMP" };
    case "bytes":
      return { name, value: { blobValue: param.value } };
    case "json":
      return { name, value: { stringValue: param.text }, typeHint: "JSON" };
  }
}

/**
 * Checks the statement and builds the typed parameters for the `:name`s it uses (unused ones are
 * not sent). Throws MultipleStatementsError, MissingParameterError or UnsupportedParameterError,
 * exactly as the other adapters do, before any call is made.
 */
export function toSqlParameters(sql: string, params: SqlParams = {}): SqlParameter[] {
  assertSingleStatement(sql);
  const { names, values } = toPositional(sql, params);
  return names.map((name, i) => toSqlParameter(name, encodeParam(values[i], name)));
}

// ---------------------------------------------------------------------------------------------
// Results (pure)
// ---------------------------------------------------------------------------------------------

// pgjdbc reports serial columns by their pseudo-type; the port names the real type.
const TYPE_ALIASES: Readonly<Record<string, string>> = {
  serial: "int4",
  bigserial: "int8",
  smallserial: "int2",
  serial4: "int4",
  serial8: "int8",
  serial2: "int2",
};

/** The column's type name as the port reports it (`_int4` for arrays, real types for serials). */
export function normalizeTypeName(typeName: string | undefined): string {
  const name = (typeName ?? "").toLowerCase();
  if (name.endsWith("[]")) return "_" + normalizeTypeName(name.slice(0, -2));
  return TYPE_ALIASES[name] ?? name;
}

/** Column list from columnMetadata. */
export function toColumns(metadata: readonly ColumnMetadata[] | undefined): ColumnMeta[] {
  return (metadata ?? []).map((c, i) => ({
    name: c.label ?? c.name ?? `?column?${i}`,
    typeName: normalizeTypeName(c.typeName),
  }));
}

const TZ_TYPES = new Set(["timestamptz", "timetz"]);

/**
 * The service renders timestamptz and timetz in UTC without an offset; the port's text form (the
 * other adapters, session time zone UTC) ends in `+00`.
 */
function withUtcOffset(text: string, typeName: string): string {
  if (!TZ_TYPES.has(typeName) || /^-?infinity$/i.test(text)) return text;
  const bc = text.endsWith(" BC");
  const body = bc ? text.slice(0, -3) : text;
  // Look for an offset in the time part only (a date's dashes are not one).
  const time = typeName === "timestamptz" ? body.slice(body.indexOf(" ") + 1) : body;
  if (/(?:[+-]\d{2}(?::?\d{2}){0,2}|Z)$/i.test(time)) return text;
  return `${body}+00${bc ? " BC" : ""}`;
}

/** A text value as the port returns it for `typeName`. */
function fromText(text: string, typeName: string): SqlResultValue {
  return decodeText(withUtcOffset(text, typeName), typeName);
}

function fromLong(value: number, typeName: string): SqlResultValue {
  if (typeName === "int8") return decodeInt8(String(value));
  if (typeName === "numeric" || typeName === "money") return String(value);
  return value;
}

function fromDouble(value: number, typeName: string): SqlResultValue {
  // decimalReturnType DOUBLE_OR_LONG would send numerics as doubles; the port wants their text.
  if (typeName === "numeric" || typeName === "money") return String(value);
  return value;
}

/** One field as the port's value, given the column's (normalised) type name. */
export function fromField(field: Field | undefined, typeName: string): SqlResultValue {
  if (field === undefined || field.isNull) return null;
  if (field.stringValue !== undefined) return fromText(field.stringValue, typeName);
  if (field.longValue !== undefined) return fromLong(field.longValue, typeName);
  if (field.doubleValue !== undefined) return fromDouble(field.doubleValue, typeName);
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.blobValue !== undefined) return new Uint8Array(field.blobValue);
  if (field.arrayValue !== undefined) {
    const element = typeName.startsWith("_") ? typeName.slice(1) : typeName;
    return fromArray(field.arrayValue, element);
  }
  return null;
}

function fromArray(array: ArrayValue, elementType: string): SqlResultValue[] {
  if (array.arrayValues !== undefined) {
    return array.arrayValues.map((inner) => (inner === null ? null : fromArray(inner, elementType)));
  }
  if (array.longValues !== undefined) {
    return array.longValues.map((v) => (v === null ? null : fromLong(v, elementType)));
  }
  if (array.doubleValues !== undefined) {
    return array.doubleValues.map((v) => (v === null ? null : fromDouble(v, elementType)));
  }
  if (array.booleanValues !== undefined) return array.booleanValues.map((v) => v);
  if (array.stringValues !== undefined) {
    return array.stringValues.map((v) => (v === null ? null : fromText(v, elementType)));
  }
  return [];
}

/** An ExecuteStatement response as the port's QueryResult. */
export function toQueryResult<Row>(output: Pick<ExecuteStatementCommandOutput, "columnMetadata" | "records" | "numberOfRecordsUpdated">): QueryResult<Row> {
  const columns = toColumns(output.columnMetadata);
  const rows = (output.records ?? []).map((record) => {
    const row: Record<string, SqlResultValue> = {};
    columns.forEach((column, i) => {
      row[column.name] = fromField(record[i], column.typeName);
    });
    return row as Row;
  });
  // The service says 0 records updated for a query; the port counts the rows it returned.
  const rowCount = columns.length > 0 ? rows.length : (output.numberOfRecordsUpdated ?? 0);
  return { rows, columns, rowCount };
}

// ---------------------------------------------------------------------------------------------
// Errors (pure)
// ---------------------------------------------------------------------------------------------

/**
 * Splits the service's SQL error text (`ERROR: msg\n  Detail: d\n  Hint: h\n  Position: 8;
 * SQLState: 42P07`) into the port's message (`msg\nDETAIL: d\nHINT: h`, as the other adapters
 * word it) and the SQLState. Undefined when the text carries no SQLState.
 */
export function parseSqlErrorMessage(text: string): { message: string; sqlState: string } | undefined {
  const m = /^([\s\S]*?);?\s*SQLState:\s*([0-9A-Z]{5})\s*$/.exec(text);
  if (!m) return undefined;
  const [primary = "", ...rest] = m[1]!.replace(/^(?:ERROR|FATAL|PANIC):\s*/, "").split("\n");
  let message = primary.trim();
  for (const line of rest) {
    const detail = /^\s*(Detail|Hint):\s?(.*)$/i.exec(line);
    if (detail) message += `\n${detail[1]!.toUpperCase()}: ${detail[2]}`;
    // Position, Where, Routine and the like are not part of the other adapters' messages.
  }
  return { message, sqlState: m[2]! };
}

interface AwsErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

function awsError(error: unknown): AwsErrorShape {
  return typeof error === "object" && error !== null ? (error as AwsErrorShape) : {};
}

const THROTTLING = new Set([
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "ProvisionedThroughputExceededException",
  "RequestThrottled",
  "RequestThrottledException",
  "SlowDown",
]);
const SERVER_FAULTS = new Set(["InternalServerErrorException", "ServiceUnavailableError", "DatabaseUnavailableException"]);
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]);
const LOST_IN_FLIGHT = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "TimeoutError", "RequestTimeout"]);
/** The secret or the caller's permissions. */
const AUTH = new Set(["SecretsErrorException", "InvalidSecretException", "AccessDeniedException", "ForbiddenException"]);
/** The caller's own AWS credentials. */
const CREDENTIALS = new Set([
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "ExpiredTokenException",
  "MissingAuthenticationTokenException",
  "CredentialsProviderError",
]);
const RESOURCE = new Set(["HttpEndpointNotEnabledException", "DatabaseNotFoundException", "InvalidResourceStateException", "NotFoundException"]);

/**
 * - not-run: the service says the statement did not run (resuming, throttled) or the request never
 *   left (connection refused): safe to retry anywhere
 * - unknown: a 5xx or a connection lost in flight: the statement may have run
 * - timeout: StatementTimeoutException: may still be running; never retried
 * - final: anything else (SQL errors, bad input, auth)
 */
export type FailureClass = "not-run" | "unknown" | "timeout" | "final";

export function classifyFailure(error: unknown): FailureClass {
  const e = awsError(error);
  const name = e.name ?? "";
  if (name === "DatabaseResumingException" || THROTTLING.has(name) || e.$retryable?.throttling) return "not-run";
  if (e.$metadata?.httpStatusCode === 429) return "not-run";
  if (name === "StatementTimeoutException") return "timeout";
  if (SERVER_FAULTS.has(name)) return "unknown";
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return "unknown";
  if (e.code !== undefined && NOT_SENT.has(e.code)) return "not-run";
  if ((e.code !== undefined && LOST_IN_FLIGHT.has(e.code)) || LOST_IN_FLIGHT.has(name)) return "unknown";
  if (/socket hang up/i.test(e.message ?? "")) return "unknown";
  return "final";
}

/** Equal-jitter exponential backoff: half the capped delay fixed, half random. */
export function backoffDelay(attempt: number, retry: Required<DataApiRetryOptions>, random = Math.random): number {
  const capped = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(capped / 2 + random() * (capped / 2));
}

// ---------------------------------------------------------------------------------------------
// Statement timeouts, and the locks behind them
// ---------------------------------------------------------------------------------------------

/** A transaction no call uses for this long is rolled back by the Data API. */
const TRANSACTION_IDLE_MS = 3 * 60_000;

/**
 * Enough of a statement to tell it apart, and within what pg_stat_activity keeps of a query
 * (track_activity_query_size, 1024 bytes by default) even at 4 bytes a character.
 */
const PREFIX_CHARS = 200;

/** Stands for a parameter while looking for the first one; PostgreSQL text never holds NUL. */
const PARAMETER_MARK = "\u0000";

/**
 * What pg_stat_activity shows `sql` starting with while it runs: its text up to the first
 * parameter (the service sends parameters as `$1`, the local endpoint as a cast of one), without
 * leading whitespace or a trailing `;`, at most PREFIX_CHARS characters. "" when it starts with one.
 */
export function activityPrefix(sql: string): string {
  const marked = mapNamedParameters(sql, () => PARAMETER_MARK);
  const cut = marked.indexOf(PARAMETER_MARK);
  const text = cut < 0 ? marked.replace(/[\s;]+$/, "") : marked.slice(0, cut);
  // By code points, as PostgreSQL counts characters: a surrogate pair is never split.
  return Array.from(text.trimStart()).slice(0, PREFIX_CHARS).join("");
}

/**
 * The sessions in the way of a statement that timed out, in one read. The statement, still
 * running in a session of its own, is any session of this user on this database that waits for a
 * lock (wait_event_type 'Lock', whatever the lock: a table, a row, an advisory lock) running a
 * statement that starts with :prefix. pg_blocking_pids gives the sessions holding the lock it
 * wants or queued ahead of it for a conflicting one; the recursion adds what blocks those in turn
 * (UNION keeps it finite), so the holder at the head of a queue is found too. Each comes with its
 * pg_stat_activity row, named as LockBlocker names it (NULLs where this user may not see it).
 * Neither view takes a lock a killed runner could hold.
 */
const BLOCKERS_SQL = `WITH RECURSIVE waiting AS (
    SELECT a.pid FROM pg_catalog.pg_stat_activity a
     WHERE a.datname = current_database() AND a.usename = session_user
       AND a.pid <> pg_catalog.pg_backend_pid() AND a.wait_event_type = 'Lock'
       AND left(regexp_replace(a.query, '^\\s+', ''), char_length(:prefix)) = :prefix
  ), blocker (pid) AS (
    SELECT b.pid FROM waiting w CROSS JOIN LATERAL unnest(pg_catalog.pg_blocking_pids(w.pid)) AS b (pid)
    UNION
    SELECT b.pid FROM blocker k CROSS JOIN LATERAL unnest(pg_catalog.pg_blocking_pids(k.pid)) AS b (pid)
  )
  SELECT k.pid, a.state, a.application_name AS "applicationName",
         to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "xactStart",
         to_char(a.state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "stateChange",
         left(split_part(regexp_replace(a.query, '^\\s+', ''), chr(10), 1), 200) AS query,
         coalesce(a.wait_event_type = 'Lock', false) AS waiting
    FROM blocker k LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = k.pid
   ORDER BY waiting, k.pid`;

/**
 * The error for a statement that ran into the 45 s limit per call. Without blockers the statement
 * itself is slow; with them it waits for their lock, and no speed-up would have helped.
 */
function statementTimeoutError(
  operation: DataApiCommand,
  transactionId: string | undefined,
  options: { cause?: unknown },
  blockers: readonly LockBlocker[] = [],
): DataApiError {
  const inTx = transactionId === undefined ? "" : ` inside transaction ${shortId(transactionId)}`;
  const limit = `${operation}${inTx} ran into the Data API's 45 s limit per call (StatementTimeoutException)`;
  const rolledBack = transactionId === undefined ? "" : "; the transaction is rolled back";
  if (blockers.length === 0) {
    return new DataApiError(
      `${limit}. The statement may still be running on the database, so it was not retried${rolledBack}. ` +
        (transactionId === undefined
          ? "Send long DDL with continueAfterTimeout, or make the statement faster."
          : "Make the statement faster, or run it outside the transaction with continueAfterTimeout."),
      operation,
      "StatementTimeoutException",
      true,
      options,
    );
  }
  return new StatementBlockedError(
    `${limit} waiting for a lock held by ${blockers.length === 1 ? "another session" : "other sessions"}: ` +
      `${blockers.map(describeBlocker).join("; ")}. The statement is still waiting on the database, so it ` +
      `was not retried${rolledBack}. ${blockedAdvice(blockers)}`,
    operation,
    blockers,
    options,
  );
}

function describeBlocker(b: LockBlocker): string {
  const facts = [
    (b.state ?? "state not visible to this user") + (b.stateChange ? ` since ${b.stateChange}` : ""),
    b.xactStart ? `transaction begun ${b.xactStart}` : "",
    b.applicationName ? `application_name ${JSON.stringify(b.applicationName)}` : "",
    b.waiting ? "itself waiting for a lock" : "",
  ].filter((fact) => fact !== "");
  const statement = b.query ? `, ${b.state === "active" ? "running" : "last statement"}: ${b.query}` : "";
  return `pid ${b.pid} (${facts.join(", ")})${statement}`;
}

/**
 * What to do about the sessions in the way. Those not waiting themselves hold the lock. If they
 * are a killed runner's Data API transactions, the service ends each 3 minutes after its last call
 * (for an idle session: its state_change); terminating the session ends it at once.
 */
function blockedAdvice(blockers: readonly LockBlocker[]): string {
  const holding = blockers.filter((b) => !b.waiting);
  const holders = holding.length > 0 ? holding : blockers;
  const idleSince = holders.map((b) => (b.state?.startsWith("idle in transaction") && b.stateChange ? Date.parse(b.stateChange) : NaN));
  const when = idleSince.every((t) => Number.isFinite(t))
    ? `run again after ${isoSeconds(Math.max(...idleSince) + TRANSACTION_IDLE_MS)}`
    : "run again 3 minutes after its last call";
  const terminate = holders.map((b) => `pg_terminate_backend(${b.pid})`).join(", ");
  const one = holders.length === 1;
  return (
    `If ${one ? "it is a Data API transaction" : "they are Data API transactions"} left open by a killed runner, ` +
    `the Data API ends ${one ? "it" : "each"} after 3 minutes without a call: ${when}, or end ${one ? "it" : "them"} ` +
    `now with SELECT ${terminate}. If ${one ? "it is" : "one is"} a live run, let it finish instead.`
  );
}

/** An instant as ISO 8601 in whole seconds, rounded up: "after" it, the moment has passed. */
function isoSeconds(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// ---------------------------------------------------------------------------------------------
// The executor
// ---------------------------------------------------------------------------------------------

// Statements that change the schema keep running past the 45 s call limit: cutting a DDL short
// is what the service's documentation warns against.
const DDL = /^(CREATE|ALTER|DROP|TRUNCATE|COMMENT|GRANT|REVOKE|REINDEX|CLUSTER|VACUUM|ANALYZE|REFRESH|SECURITY\s+LABEL)\b/i;

/** True for a statement that should be sent with continueAfterTimeout. */
export function isDdl(sql: string): boolean {
  const stripped = sql.replace(/^(?:\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/|\()*/, "");
  return DDL.test(stripped);
}

interface TransactionState {
  id: string;
  /** Set when a statement failed: later statements fail at once, COMMIT is not attempted. */
  failure: { error: unknown; sqlError: boolean } | undefined;
}

export class DataApiExecutor implements SqlExecutor {
  readonly dialect = "postgresql" as const;
  readonly kind: ExecutorKind = "data-api";
  readonly description: string;

  readonly #resourceArn: string;
  readonly #secretArn: string;
  readonly #database: string | undefined;
  readonly #client: RDSDataClient;
  readonly #ownsClient: boolean;
  readonly #retry: Required<DataApiRetryOptions>;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #guard = new TransactionGuard();
  #closed = false;

  constructor(options: DataApiExecutorOptions) {
    this.#resourceArn = options.resourceArn;
    this.#secretArn = options.secretArn;
    this.#database = options.database;
    this.#ownsClient = options.client === undefined;
    this.#client = options.client ?? createDataApiClient();
    this.#retry = {
      maxAttempts: Math.max(1, options.retry?.maxAttempts ?? DEFAULT_RETRY.maxAttempts),
      baseDelayMs: options.retry?.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs,
      maxDelayMs: options.retry?.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs,
    };
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.description =
      `RDS Data API, cluster ${options.resourceArn}` + (options.database ? `, database ${options.database}` : "");
  }

  query<Row = Record<string, unknown>>(sql: string, params?: SqlParams, options?: QueryOptions): Promise<QueryResult<Row>> {
    this.#guard.assertOutside("query");
    return this.#execute<Row>(sql, params, options, undefined);
  }

  async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    this.#guard.assertOutside("transaction");
    this.#assertOpen();
    const begun = await this.#send("BeginTransaction", () =>
      this.#client.send(
        new BeginTransactionCommand({ resourceArn: this.#resourceArn, secretArn: this.#secretArn, database: this.#database }),
      ),
    );
    const id = begun.transactionId;
    if (!id) throw new DataApiError("BeginTransaction returned no transactionId", "BeginTransaction", undefined, false);
    const state: TransactionState = { id, failure: undefined };

    let result: T;
    try {
      result = await this.#guard.run((sql, params, options) => this.#execute(sql, params, options, state), fn);
    } catch (error) {
      await this.#rollback(state);
      throw error;
    }
    if (state.failure) {
      // fn swallowed a failed statement. The service has already ended the transaction (after an
      // SQL error) or its state is unknown: committing is not possible, as on PostgreSQL, where
      // COMMIT after an error rolls back.
      await this.#rollback(state);
      if (state.failure.sqlError) throw abortedTransactionError(state.failure.error);
      throw state.failure.error;
    }
    await this.#send(
      "CommitTransaction",
      () =>
        this.#client.send(
          new CommitTransactionCommand({ resourceArn: this.#resourceArn, secretArn: this.#secretArn, transactionId: id }),
        ),
      { transactionId: id, outcomeUnknownIsFinal: true },
    );
    return result;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsClient) this.#client.destroy();
  }

  #assertOpen(): void {
    if (this.#closed) throw new ConnectionError(`${this.description} has been closed`);
  }

  async #execute<Row>(
    sql: string,
    params: SqlParams | undefined,
    options: QueryOptions | undefined,
    tx: TransactionState | undefined,
  ): Promise<QueryResult<Row>> {
    this.#assertOpen();
    const parameters = toSqlParameters(sql, params);
    if (tx?.failure) {
      throw tx.failure.sqlError ? abortedTransactionError(tx.failure.error) : tx.failure.error;
    }
    const input = this.#statementInput(sql, parameters);
    if (tx) input.transactionId = tx.id;
    const runsOn = options?.continueAfterTimeout || isDdl(sql);
    if (runsOn) input.continueAfterTimeout = true;
    try {
      const output = await this.#send("ExecuteStatement", () => this.#client.send(new ExecuteStatementCommand(input)), {
        transactionId: tx?.id,
        outcomeUnknownIsFinal: tx !== undefined,
      });
      return toQueryResult<Row>(output);
    } catch (caught) {
      // Only a statement sent with continueAfterTimeout is still there to look at: the service
      // cancels any other when its call times out.
      const error = runsOn ? await this.#blockedError(caught, sql, tx?.id) : caught;
      if (tx) tx.failure = { error, sqlError: error instanceof SqlError };
      throw error;
    }
  }

  #statementInput(sql: string, parameters: SqlParameter[]): ExecuteStatementCommandInput {
    const input: ExecuteStatementCommandInput = {
      resourceArn: this.#resourceArn,
      secretArn: this.#secretArn,
      sql,
      includeResultMetadata: true,
      // int8 as text, so values beyond 2^53 keep every digit; numerics as text (the default).
      resultSetOptions: { longReturnType: "STRING", decimalReturnType: "STRING" },
    };
    if (this.#database !== undefined) input.database = this.#database;
    if (parameters.length > 0) input.parameters = parameters;
    return input;
  }

  /**
   * After a statement timeout: when the statement, still running on the database, waits for a
   * lock, the 45 s say nothing about its speed. Typically a killed runner's Data API transaction
   * holds the lock until the service ends it. One read (BLOCKERS_SQL, outside any transaction,
   * one attempt) finds the sessions in the way; the error then names them. Whatever goes wrong
   * here, the caller gets the original error: the look-up only ever adds to it.
   */
  async #blockedError(error: unknown, sql: string, transactionId: string | undefined): Promise<unknown> {
    if (!(error instanceof DataApiError) || error.exceptionName !== "StatementTimeoutException") return error;
    const prefix = activityPrefix(sql);
    if (prefix === "") return error;
    let blockers: LockBlocker[];
    try {
      const input = this.#statementInput(BLOCKERS_SQL, toSqlParameters(BLOCKERS_SQL, { prefix }));
      const output = await this.#client.send(new ExecuteStatementCommand(input));
      blockers = toQueryResult<LockBlocker>(output).rows;
    } catch {
      return error;
    }
    if (blockers.length === 0) return error;
    return statementTimeoutError("ExecuteStatement", transactionId, { cause: error.cause }, blockers);
  }

  async #rollback(state: TransactionState): Promise<void> {
    try {
      await this.#send(
        "RollbackTransaction",
        () =>
          this.#client.send(
            new RollbackTransactionCommand({ resourceArn: this.#resourceArn, secretArn: this.#secretArn, transactionId: state.id }),
          ),
        { transactionId: state.id },
      );
    } catch {
      // Already gone (the service ends a transaction after an SQL error, or it expired) or
      // unreachable: the service rolls it back when it expires. The caller's error is what matters.
    }
  }

  /**
   * Sends one call with the retry policy. `outcomeUnknownIsFinal`: a 5xx or a lost connection is
   * not retried (a statement inside a transaction, a COMMIT), because running it twice, or
   * committing what may already be committed, is worse than failing with a clear error.
   */
  async #send<T>(
    operation: DataApiCommand,
    call: () => Promise<T>,
    context: { transactionId?: string | undefined; outcomeUnknownIsFinal?: boolean } = {},
  ): Promise<T> {
    const started = Date.now();
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await call();
      } catch (error) {
        const failure = classifyFailure(error);
        const retryable = failure === "not-run" || (failure === "unknown" && !context.outcomeUnknownIsFinal);
        if (retryable && attempt < this.#retry.maxAttempts) {
          await this.#sleep(backoffDelay(attempt, this.#retry));
          continue;
        }
        throw this.#mapError(error, operation, failure, {
          attempts: attempt,
          exhausted: retryable,
          elapsedMs: Date.now() - started,
          transactionId: context.transactionId,
        });
      }
    }
  }

  /** The port's error for a failed call; messages name ARNs, never a secret's value. */
  #mapError(
    error: unknown,
    operation: DataApiCommand,
    failure: FailureClass,
    how: { attempts: number; exhausted: boolean; elapsedMs: number; transactionId: string | undefined },
  ): Error {
    const e = awsError(error);
    const name = e.name ?? "Error";
    const text = e.message ?? String(error);
    const cause = { cause: slimCause(error) };
    const inTx = how.transactionId === undefined ? "" : ` inside transaction ${shortId(how.transactionId)}`;

    if (name === "DatabaseErrorException" || name === "BadRequestException") {
      const parsed = parseSqlErrorMessage(text);
      if (parsed) return new SqlError(parsed.message, parsed.sqlState, cause);
    }
    if (how.exhausted) {
      const seconds = (how.elapsedMs / 1000).toFixed(1);
      if (name === "DatabaseResumingException") {
        return new ConnectionError(
          `The Aurora cluster ${this.#resourceArn} is still resuming from auto-pause after ` +
            `${how.attempts} attempts over ${seconds} s (DatabaseResumingException). Try again in a ` +
            `minute, or allow more attempts (retry.maxAttempts).`,
          cause,
        );
      }
      return new ConnectionError(
        `The Data API call ${operation} for cluster ${this.#resourceArn} failed ${how.attempts} ` +
          `time(s) over ${seconds} s; last error: ${name}: ${text}. Check the network and the ` +
          `endpoint (AWS_REGION, AWS_ENDPOINT_URL_RDS_DATA), then try again.`,
        cause,
      );
    }
    if (failure === "timeout") return statementTimeoutError(operation, how.transactionId, cause);
    if (failure === "unknown") {
      if (operation === "CommitTransaction") {
        return new DataApiError(
          `CommitTransaction of transaction ${shortId(how.transactionId ?? "")} failed with ${name} ` +
            `(${text}); whether the transaction committed is unknown, so it was not retried. ` +
            `Check the database (e.g. \`retort status\`) before running it again.`,
          operation,
          name,
          true,
          cause,
        );
      }
      return new DataApiError(
        `${operation}${inTx} failed with ${name} (${text}); whether the statement ran is unknown, ` +
          `so it was not retried and the transaction is rolled back. Run it again.`,
        operation,
        name,
        true,
        cause,
      );
    }
    if (CREDENTIALS.has(name)) {
      return new ConnectionError(
        `AWS refused this caller's credentials for the Data API (${name}: ${text}). Check the AWS ` +
          `credentials and region this process runs with.`,
        cause,
      );
    }
    if (AUTH.has(name)) {
      return new ConnectionError(
        `The Data API could not use secret ${this.#secretArn} for cluster ${this.#resourceArn} ` +
          `(${name}: ${text}). Check that the secret ARN is right and in the cluster's account and ` +
          `region, that the secret holds the database username and password, and that the caller ` +
          `may secretsmanager:GetSecretValue on it and rds-data:ExecuteStatement on the cluster.`,
        cause,
      );
    }
    if (RESOURCE.has(name)) {
      return new ConnectionError(
        `The Data API cannot serve cluster ${this.#resourceArn} (${name}: ${text}). Check the ` +
          `cluster ARN and region, that the cluster has a writer instance, and that the Data API ` +
          `(HTTP endpoint) is enabled on it.`,
        cause,
      );
    }
    if (name === "TransactionNotFoundException") {
      return new DataApiError(text, operation, name, false, cause);
    }
    if (name === "DatabaseErrorException" || name === "BadRequestException") {
      return new SqlError(text.replace(/^(?:ERROR|FATAL):\s*/, ""), undefined, cause);
    }
    return new DataApiError(`${operation}${inTx} failed: ${name}: ${text}`, operation, name, false, cause);
  }
}

/**
 * The SDK's exception without `$response` (the raw HTTP response, socket and all), which would
 * otherwise fill a log with kilobytes of internals whenever the error is printed.
 */
function slimCause(error: unknown): unknown {
  if (typeof error !== "object" || error === null || !("$response" in error)) return error;
  const e = error as AwsErrorShape & { $fault?: string };
  const slim = new Error(e.message ?? "");
  slim.name = e.name ?? "Error";
  if (error instanceof Error && error.stack) slim.stack = error.stack;
  return Object.assign(slim, { $fault: e.$fault, $metadata: e.$metadata });
}

/** Transaction ids are long; the start is enough to tell them apart in a message. */
function shortId(id: string): string {
  return id.length > 16 ? `${id.slice(0, 12)}...` : id;
}

function abortedTransactionError(cause: unknown): SqlError {
  return new SqlError(
    "current transaction is aborted, commands ignored until end of transaction block",
    "25P02",
    { cause },
  );
}
