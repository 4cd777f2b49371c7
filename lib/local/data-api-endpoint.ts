// The local RDS Data API `retort local` serves: the HTTP server on 127.0.0.1 that routes the
// service's REST-JSON calls to their operations over a SqlExecutor and answers as the service
// does. Faults, transactions and the wire format live in data-api-{faults,transactions,wire}.ts.

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { ColumnMeta, QueryResult, SqlExecutor, SqlParams, SqlSession, SqlValue } from "../sql/executor.ts";
import { mapNamedParameters, splitStatements } from "../sql/lexer.ts";
import { FaultTable, type FaultKind, type FaultSpec, type Faults } from "./data-api-faults.ts";
import { TransactionTable, type TransactionOptions } from "./data-api-transactions.ts";
import {
  ServiceError,
  assertSupportedColumn,
  badRequest,
  bindParameter,
  columnMetadata,
  encodeField,
  invalidRequest,
  jsonCell,
  notInEnum,
  rethrowAsService,
  serviceError,
  sqlErrorText,
  statementTimeout,
  stringifyWire,
  toServiceError,
  type DataApiOperation,
  type ResultSetOptions,
  type WireField,
  type WireSqlParameter,
} from "./data-api-wire.ts";

export type { DataApiOperation } from "./data-api-wire.ts";
export type { FaultKind, FaultSpec, Faults, InjectedFault } from "./data-api-faults.ts";

const OPERATIONS: ReadonlyMap<string, DataApiOperation> = new Map([
  ["/Execute", "Execute"],
  ["/BatchExecute", "BatchExecute"],
  ["/BeginTransaction", "BeginTransaction"],
  ["/CommitTransaction", "CommitTransaction"],
  ["/RollbackTransaction", "RollbackTransaction"],
]);

/** One call the endpoint answered, for tests that count round trips. */
export interface DataApiCall {
  operation: DataApiOperation | "unknown";
  sql?: string;
  transactionId?: string;
  /** Present (true) when the call asked for continueAfterTimeout. */
  continueAfterTimeout?: boolean;
  status: number;
  errorType?: string;
  /** The fault that answered this call, if any. */
  fault?: FaultKind;
}

export interface DataApiEndpointOptions extends TransactionOptions {
  /** The database the statements run on. The endpoint never closes it. */
  backend: SqlExecutor;
  /**
   * TCP port on 127.0.0.1.
   * @default 0 (a free port, reported as `port` and `url`)
   */
  port?: number;
  /** When set, calls naming another cluster are refused (HttpEndpointNotEnabledException). */
  resourceArn?: string;
  /** When set, calls naming another secret are refused (SecretsErrorException). */
  secretArn?: string;
  /** When set, calls naming another database are refused like PostgreSQL does (3D000). */
  database?: string;
  /**
   * A call running longer is answered with StatementTimeoutException (`--statement-timeout`). The
   * statement itself keeps running on the backend, as with continueAfterTimeout: the port has no
   * way to cancel it, where the service stops a statement sent without continueAfterTimeout.
   * @default 45000 (the service's 45 s)
   */
  statementTimeoutMs?: number;
  /**
   * Result sets larger than this (records as JSON) are refused.
   * @default 1048576 (the service's 1 MiB)
   */
  maxResponseBytes?: number;
  /**
   * formattedRecords (formatRecordsAs JSON) longer than this are refused.
   * @default 10000000 (the service's 10 MB)
   */
  maxFormattedRecordsBytes?: number;
}

export interface DataApiEndpoint {
  /** `http://127.0.0.1:PORT`: what AWS_ENDPOINT_URL_RDS_DATA should say. */
  readonly url: string;
  readonly port: number;
  readonly faults: Faults;
  /** Every call answered so far, oldest first. */
  readonly calls: readonly DataApiCall[];
  /** Transactions begun and not yet committed, rolled back or expired. */
  openTransactionCount(): number;
  /** Rolls back open transactions and stops listening. Does not close the backend. */
  close(): Promise<void>;
}

const DEFAULT_STATEMENT_TIMEOUT_MS = 45_000;
const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
// "10 MB": whether decimal or binary is not said; the smaller reading is the conservative one.
const DEFAULT_MAX_FORMATTED_RECORDS_BYTES = 10_000_000;
/** The service's 4 MiB, which counts the headers too; the body alone is held to it here. */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** The longest timer Node keeps (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Starts a local RDS Data API: an HTTP server on 127.0.0.1 that speaks the service's REST-JSON
 * protocol (/Execute, /BatchExecute, /BeginTransaction, /CommitTransaction, /RollbackTransaction)
 * over any SqlExecutor (PGlite or PostgreSQL), so tests and `retort local` drive it with the real
 * @aws-sdk/client-rds-data client. It keeps the service's rules that production code trips over:
 * one statement per call, typed parameters bound as JDBC binds them, SQL errors as
 * `ERROR: ...; SQLState: XXXXX`, transactions that die after an error or 3 idle minutes, the
 * request and result limits, and injectable faults (resuming, timeouts, 5xx, throttling, any of
 * the service's exceptions) for the retry logic. It plays a Serverless v2 or provisioned Aurora
 * PostgreSQL cluster; test/local/data-api-conformance.test.ts walks the API reference through it.
 */
export async function startDataApiEndpoint(options: DataApiEndpointOptions): Promise<DataApiEndpoint> {
  assertTimeouts(options);
  const endpoint = new LocalDataApi(options);
  return endpoint.listen(options.port ?? 0);
}

type TimeoutOptions = Pick<DataApiEndpointOptions, "transactionTimeoutMs" | "transactionMaxLifetimeMs" | "statementTimeoutMs">;

/** Refuses a timeout that is not a whole number of milliseconds a timer can wait (1 to 2^31-1). */
export function assertTimeouts(options: TimeoutOptions): void {
  for (const key of ["transactionTimeoutMs", "transactionMaxLifetimeMs", "statementTimeoutMs"] as const) {
    const ms = options[key];
    if (ms !== undefined && !(Number.isInteger(ms) && ms > 0 && ms <= MAX_TIMER_MS)) {
      throw new RangeError(`${key} must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, not ${String(ms)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The endpoint
// ---------------------------------------------------------------------------------------------

interface ExecuteRequest {
  resourceArn?: unknown;
  secretArn?: unknown;
  sql?: unknown;
  database?: unknown;
  schema?: unknown;
  parameters?: unknown;
  parameterSets?: unknown;
  transactionId?: unknown;
  includeResultMetadata?: unknown;
  continueAfterTimeout?: unknown;
  resultSetOptions?: unknown;
  formatRecordsAs?: unknown;
}

class LocalDataApi {
  readonly #options: DataApiEndpointOptions;
  readonly #backend: SqlExecutor;
  readonly #faults: FaultTable;
  readonly #transactions: TransactionTable;
  readonly #calls: DataApiCall[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #server = createServer((req, res) => {
    // A failure here is a bug or a client that went away mid-answer: drop that connection only.
    this.#handle(req, res).catch(() => res.destroy());
  });
  #closing = false;

  constructor(options: DataApiEndpointOptions) {
    this.#options = options;
    this.#backend = options.backend;
    this.#faults = new FaultTable(options);
    this.#transactions = new TransactionTable(options.backend, options);
    this.#server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
  }

  listen(port: number): Promise<DataApiEndpoint> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, "127.0.0.1", () => {
        this.#server.off("error", reject);
        const actual = (this.#server.address() as AddressInfo).port;
        const calls = this.#calls;
        resolve({
          url: `http://127.0.0.1:${actual}`,
          port: actual,
          faults: this.#faults,
          calls,
          openTransactionCount: () => this.#transactions.size,
          close: () => this.#close(),
        });
      });
    });
  }

  async #close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#faults.releaseWaits();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await this.#transactions.close();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  // -- HTTP --------------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const operation = OPERATIONS.get((req.url ?? "").split("?")[0] ?? "");
    const call: DataApiCall = { operation: operation ?? "unknown", status: 0 };
    this.#calls.push(call);
    let body: ExecuteRequest;
    try {
      if (operation === undefined || req.method !== "POST") {
        throw serviceError("UnknownOperationException", `No such Data API operation: ${req.method} ${req.url}`);
      }
      body = await readJson(req);
    } catch (error) {
      this.#sendError(res, call, toServiceError(error));
      return;
    }
    if (typeof body.sql === "string") call.sql = body.sql;
    if (typeof body.transactionId === "string") call.transactionId = body.transactionId;
    if (body.continueAfterTimeout === true) call.continueAfterTimeout = true;

    const fault = this.#faults.match(operation);
    if (fault) call.fault = fault.error;
    if (fault && !fault.afterExecuting) {
      await this.#answerWithFault(res, call, fault);
      return;
    }
    let outcome: { ok: true; value: unknown } | { ok: false; error: ServiceError };
    try {
      outcome = { ok: true, value: await this.#dispatch(operation, body) };
    } catch (error) {
      outcome = { ok: false, error: toServiceError(error) };
    }
    if (fault) {
      await this.#answerWithFault(res, call, fault);
      return;
    }
    if (outcome.ok) this.#send(res, call, 200, outcome.value);
    else this.#sendError(res, call, outcome.error);
  }

  #send(res: ServerResponse, call: DataApiCall, status: number, body: unknown, errorType?: string): void {
    call.status = status;
    if (errorType) call.errorType = errorType;
    const text = stringifyWire(body);
    const headers: Record<string, string | number> = {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      "x-amzn-requestid": randomUUID(),
    };
    if (errorType) headers["x-amzn-errortype"] = errorType;
    res.writeHead(status, headers).end(text);
  }

  #sendError(res: ServerResponse, call: DataApiCall, error: ServiceError): void {
    this.#send(res, call, error.status, { message: error.message, ...error.extra }, error.type);
  }

  async #answerWithFault(res: ServerResponse, call: DataApiCall, fault: FaultSpec): Promise<void> {
    const answer = await this.#faults.fire(fault);
    if (answer === "drop") {
      call.status = 0;
      res.socket?.destroy();
      return;
    }
    this.#sendError(res, call, answer);
  }

  // -- Operations --------------------------------------------------------------------------------

  async #dispatch(operation: DataApiOperation, body: ExecuteRequest): Promise<unknown> {
    checkConstraints(operation, body);
    this.#checkIdentity(body);
    switch (operation) {
      case "Execute":
        return this.#execute(body);
      case "BatchExecute":
        return this.#batchExecute(body);
      case "BeginTransaction":
        this.#checkDatabase(body);
        return { transactionId: await this.#transactions.begin() };
      case "CommitTransaction":
        await this.#transactions.finish(requireString(body, "transactionId"), "committed");
        return { transactionStatus: "Transaction Committed" };
      case "RollbackTransaction":
        await this.#transactions.finish(requireString(body, "transactionId"), "rolled back");
        return { transactionStatus: "Rollback Complete" };
    }
  }

  #checkIdentity(body: ExecuteRequest): void {
    const resourceArn = requireString(body, "resourceArn");
    const secretArn = requireString(body, "secretArn");
    const expected = this.#options;
    if (expected.resourceArn !== undefined && resourceArn !== expected.resourceArn) {
      // What the service answers for a cluster it cannot serve through the Data API.
      throw serviceError(
        "HttpEndpointNotEnabledException",
        `HttpEndpoint is not enabled for resource ${resourceArn}. This local Data API serves ` +
          `only ${expected.resourceArn}.`,
      );
    }
    if (expected.secretArn !== undefined && secretArn !== expected.secretArn) {
      throw serviceError(
        "SecretsErrorException",
        `Error fetching secret ${secretArn}: Secrets Manager can't find the specified secret. ` +
          `This local Data API accepts only ${expected.secretArn}.`,
      );
    }
  }

  #checkDatabase(body: ExecuteRequest): void {
    const expected = this.#options.database;
    if (expected === undefined || body.database === undefined || body.database === "") return;
    if (body.database !== expected) {
      // The service's own words for it (ERROR, not the FATAL PostgreSQL sends at connection).
      throw serviceError(
        "DatabaseErrorException",
        sqlErrorText(`database "${String(body.database)}" does not exist`, "3D000"),
      );
    }
  }

  async #execute(body: ExecuteRequest): Promise<unknown> {
    const sql = requireString(body, "sql");
    const statement = prepare(sql, readParameters(body.parameters, "parameters"));
    const resultSetOptions = readResultSetOptions(body.resultSetOptions);
    const format = body.formatRecordsAs ?? "NONE";
    if (format !== "JSON" && format !== "NONE") throw notInEnum(format, "formatRecordsAs", ["NONE", "JSON"]);
    const formatJson = format === "JSON";
    const transactionId = optionalString(body, "transactionId");
    if (transactionId === undefined) this.#checkDatabase(body);
    const result = await this.#run(transactionId, (session) => session.query(statement.sql, statement.params));
    return this.#executeResponse(result, {
      includeResultMetadata: body.includeResultMetadata === true,
      formatJson,
      resultSetOptions,
    });
  }

  #executeResponse(
    result: QueryResult,
    how: { includeResultMetadata: boolean; formatJson: boolean; resultSetOptions: ResultSetOptions },
  ): unknown {
    const columns = result.columns;
    const returnsRows = columns.length > 0;
    const response: Record<string, unknown> = {
      // The service reports rows affected for DML and 0 for a query.
      numberOfRecordsUpdated: returnsRows ? 0 : result.rowCount,
    };
    // A statement without a result set (DML without RETURNING, DDL) has neither records nor
    // columnMetadata, whatever includeResultMetadata says: clients such as kysely-data-api tell
    // DML from a query by the missing columnMetadata.
    if (!returnsRows) return response;
    columns.forEach(assertSupportedColumn);
    const encode = { resultSetOptions: how.resultSetOptions };
    const cells = result.rows.map((row) => rowCells(row, columns));
    if (how.formatJson) {
      // JSON objects cannot hold two keys of one name; the service refuses such a result set
      // (the JSON format's troubleshooting section, next to its BadRequestException for size).
      const duplicate = columns.find((c, i) => columns.findIndex((d) => d.name === c.name) !== i);
      if (duplicate) {
        throw badRequest(
          `The result set has more than one column named "${duplicate.name}", and JSON keys must be ` +
            `unique. Give the columns distinct aliases (AS).`,
        );
      }
      // columnMetadata is null in this format, includeResultMetadata or not.
      const text = stringifyWire(
        cells.map((cell) => Object.fromEntries(columns.map((c, i) => [c.name, jsonCell(cell[i], c.typeName, encode)]))),
      );
      this.#checkSize(text, this.#options.maxFormattedRecordsBytes ?? DEFAULT_MAX_FORMATTED_RECORDS_BYTES, "JSON ");
      response["formattedRecords"] = text;
      return response;
    }
    const records = cells.map((cell) => columns.map((c, i): WireField => encodeField(cell[i], c.typeName, encode)));
    this.#checkSize(stringifyWire(records), this.#options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, "");
    response["records"] = records;
    if (how.includeResultMetadata) response["columnMetadata"] = columns.map(columnMetadata);
    return response;
  }

  /**
   * The service's response limits: 1 MiB of records, 10 MB of formattedRecords. The JSON format's
   * page documents BadRequestException for its limit; the exception for the records limit is
   * undocumented and is the same here.
   */
  #checkSize(text: string, limit: number, what: string): void {
    const size = Buffer.byteLength(text);
    if (size <= limit) return;
    throw badRequest(
      `Database returned more than the allowed ${what}response size limit (${size} bytes > ${limit}). ` +
        `Use LIMIT to return less per call.`,
    );
  }

  async #batchExecute(body: ExecuteRequest): Promise<unknown> {
    const sql = requireString(body, "sql");
    const sets: WireSqlParameter[][] = [];
    if (body.parameterSets !== undefined && body.parameterSets !== null) {
      if (!Array.isArray(body.parameterSets)) throw invalidRequest("parameterSets must be a list of parameter lists");
      body.parameterSets.forEach((set, i) => sets.push(readParameters(set, `parameterSets.${i}`)));
    }
    // "The SQL statement is executed as many times as the number of parameter sets provided": with
    // none it does not run (the documentation says to send one empty set to run it once).
    checkOneStatement(sql);
    const statements = sets.map((set) => prepare(sql, set));
    const transactionId = optionalString(body, "transactionId");
    if (transactionId === undefined) this.#checkDatabase(body);
    const runAll = async (session: SqlSession) => {
      for (const statement of statements) await session.query(statement.sql, statement.params);
    };
    if (transactionId !== undefined) await this.#run(transactionId, runAll);
    // Outside a transaction the whole batch is one implicit transaction: all sets or none.
    else await this.#withStatementTimeout(this.#backend.transaction(runAll).catch(rethrowAsService));
    return { updateResults: sets.map(() => ({ generatedFields: [] })) };
  }

  /** Runs `work` on the named transaction, or on the backend directly (autocommit). */
  async #run<T>(transactionId: string | undefined, work: (session: SqlSession) => Promise<T>): Promise<T> {
    if (transactionId === undefined) {
      return this.#withStatementTimeout(work(this.#backend).catch(rethrowAsService));
    }
    // The transaction stays busy until the statement really finishes, even after a timeout answer.
    return this.#withStatementTimeout(this.#transactions.run(transactionId, work).catch(rethrowAsService));
  }

  #withStatementTimeout<T>(work: Promise<T>): Promise<T> {
    const ms = this.#options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(statementTimeout()), ms);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

async function readJson(req: IncomingMessage): Promise<ExecuteRequest> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Past the limit the rest is read and dropped, so the client gets the answer rather than a
    // connection reset halfway through sending.
    if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
  }
  if (size > MAX_REQUEST_BYTES) {
    // The limit is documented, the exception it comes with is not.
    throw invalidRequest(
      `The request is larger than the Data API's 4 MiB limit (${size} bytes). Send fewer parameter ` +
        `sets per BatchExecuteStatement call, or smaller values.`,
    );
  }
  const text = Buffer.concat(chunks).toString("utf8");
  let parsed: unknown;
  try {
    parsed = text === "" ? {} : JSON.parse(text);
  } catch {
    throw serviceError("SerializationException", "The request body is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw serviceError("SerializationException", "The request body must be a JSON object");
  }
  return parsed as ExecuteRequest;
}

function requireString(body: ExecuteRequest, key: keyof ExecuteRequest): string {
  const value = body[key];
  if (typeof value !== "string" || value === "") {
    throw invalidRequest(
      `1 validation error detected: Value null at '${key}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

// The members' length constraints in the service model (Arn, SqlStatement, DbName, Id).
const LENGTHS: ReadonlyArray<readonly [keyof ExecuteRequest, number, number]> = [
  ["resourceArn", 11, 100],
  ["secretArn", 11, 100],
  ["sql", 0, 65_536],
  ["database", 0, 64],
  ["schema", 0, 64],
  ["transactionId", 0, 192],
];
const HAS_SCHEMA: ReadonlySet<DataApiOperation> = new Set(["Execute", "BatchExecute", "BeginTransaction"]);

/**
 * Checks what the service checks before it looks at the database: the members' lengths (all
 * violations in one ValidationException, worded as the AWS front end words them) and the schema
 * member, which Serverless v2 and provisioned clusters refuse ("The schema parameter isn't
 * supported"; Serverless v1 ignored it). Set search_path in the SQL, or qualify names, instead.
 */
function checkConstraints(operation: DataApiOperation, body: ExecuteRequest): void {
  const problems: string[] = [];
  for (const [key, min, max] of LENGTHS) {
    const value = body[key];
    if (typeof value !== "string" || (value.length >= min && value.length <= max)) continue;
    // A statement is not echoed back: it can be 64 KiB long.
    const shown = key === "sql" ? "" : ` '${value}'`;
    problems.push(
      `Value${shown} at '${key}' failed to satisfy constraint: Member must have length ` +
        (value.length < min ? `greater than or equal to ${min}` : `less than or equal to ${max}`),
    );
  }
  if (problems.length > 0) {
    const count = problems.length === 1 ? "1 validation error" : `${problems.length} validation errors`;
    throw invalidRequest(`${count} detected: ${problems.join("; ")}`);
  }
  if (HAS_SCHEMA.has(operation) && body.schema !== undefined && body.schema !== null) {
    throw invalidRequest("The schema parameter isn't supported");
  }
}

function optionalString(body: ExecuteRequest, key: keyof ExecuteRequest): string | undefined {
  const value = body[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw serviceError("SerializationException", `${key} must be a string`);
  return value;
}

function readParameters(value: unknown, where: string): WireSqlParameter[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw serviceError("SerializationException", `${where} must be a list`);
  return value.map((p: unknown, i) => {
    if (typeof p !== "object" || p === null) throw serviceError("SerializationException", `${where}.${i} must be an object`);
    return p as WireSqlParameter;
  });
}

const RESULT_SET_OPTIONS = {
  decimalReturnType: ["STRING", "DOUBLE_OR_LONG"],
  longReturnType: ["STRING", "LONG"],
} as const;

/** resultSetOptions, each member checked against its documented values. */
function readResultSetOptions(value: unknown): ResultSetOptions {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object") throw serviceError("SerializationException", "resultSetOptions must be an object");
  const v = value as Record<string, unknown>;
  const out: ResultSetOptions = {};
  for (const key of ["decimalReturnType", "longReturnType"] as const) {
    const member = v[key];
    if (member === undefined || member === null) continue;
    const allowed: readonly string[] = RESULT_SET_OPTIONS[key];
    if (typeof member !== "string" || !allowed.includes(member)) throw notInEnum(member, `resultSetOptions.${key}`, allowed);
    out[key] = member;
  }
  return out;
}

/** The one-statement rule, as Serverless v2 and provisioned clusters word it. */
function checkOneStatement(sql: string): void {
  if (splitStatements(sql).length > 1) throw invalidRequest("Multistatements aren't supported.");
}

/**
 * Checks the one-statement rule and binds the parameters as the service does: every `:name` is
 * wrapped in a cast to the type the service would bind (varchar for strings unless a typeHint
 * says otherwise), and a name without a value is refused before anything runs.
 */
function prepare(sql: string, parameters: WireSqlParameter[]): { sql: string; params: SqlParams } {
  checkOneStatement(sql);
  const bound = new Map<string, ReturnType<typeof bindParameter>>();
  for (const parameter of parameters) {
    // The service has named parameters only (`:name`, `:1`); where a name is missing is undocumented.
    if (typeof parameter.name !== "string" || parameter.name === "") {
      throw invalidRequest("Every parameter needs a name: the one its :name (or :1) in the SQL says");
    }
    bound.set(parameter.name, bindParameter(parameter));
  }
  const params: Record<string, SqlValue> = {};
  const text = mapNamedParameters(sql, (name) => {
    const p = bound.get(name);
    // Undocumented in Serverless v2's words; a ValidationException, like the other malformed calls.
    if (!p) throw invalidRequest(`No value specified for parameter :${name}. Add a parameter named "${name}".`);
    params[name] = p.value;
    return p.cast === undefined ? `:${name}` : `(:${name}::${p.cast})`;
  });
  return { sql: text, params };
}

function rowCells(row: Record<string, unknown>, columns: readonly ColumnMeta[]): unknown[] {
  // Rows are keyed by name, so of two columns with one name both cells show the last value, as
  // they do through every other adapter.
  return columns.map((c) => row[c.name]);
}
