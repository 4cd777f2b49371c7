// A local RDS Data API: an HTTP server on 127.0.0.1 that speaks the service's REST-JSON protocol
// (/Execute, /BatchExecute, /BeginTransaction, /CommitTransaction, /RollbackTransaction) over any
// SqlExecutor (PGlite or PostgreSQL), so tests and `retort local` drive it with the real
// @aws-sdk/client-rds-data client. It keeps the service's rules that production code trips over:
// one statement per call, typed parameters bound as JDBC binds them, SQL errors as
// `ERROR: ...; SQLState: XXXXX`, transactions that die after an error or 3 idle minutes, the
// request and result limits, and injectable faults (resuming, timeouts, 5xx, throttling, any of the
// service's exceptions) for the retry logic. It plays a Serverless v2 or provisioned Aurora
// PostgreSQL cluster; test/local/data-api-conformance.test.ts walks the API reference through it.

import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { ColumnMeta, QueryResult, SqlExecutor, SqlParams, SqlSession, SqlValue } from "../sql/executor.ts";
import { SqlError } from "../sql/errors.ts";
import { mapNamedParameters, splitStatements } from "../sql/lexer.ts";
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
  serviceError,
  sqlErrorText,
  stringifyWire,
  type ResultSetOptions,
  type ServiceExceptionName,
  type WireField,
  type WireSqlParameter,
} from "./data-api-wire.ts";

export type DataApiOperation =
  | "Execute"
  | "BatchExecute"
  | "BeginTransaction"
  | "CommitTransaction"
  | "RollbackTransaction";

const OPERATIONS: ReadonlyMap<string, DataApiOperation> = new Map([
  ["/Execute", "Execute"],
  ["/BatchExecute", "BatchExecute"],
  ["/BeginTransaction", "BeginTransaction"],
  ["/CommitTransaction", "CommitTransaction"],
  ["/RollbackTransaction", "RollbackTransaction"],
]);

/**
 * - resuming: DatabaseResumingException (400) - an auto-paused cluster; the statement did not run
 * - timeout: StatementTimeoutException (400) - the call outlived the service's 45 s
 * - 5xx: InternalServerErrorException (500), ServiceUnavailableError (503) or
 *   DatabaseUnavailableException (504), by `status`
 * - throttle: ThrottlingException (429)
 * - hang: no answer at all; the connection is dropped after `delayMs` (or when the endpoint closes)
 * - exception: the service exception named by `exception` (ForbiddenException, NotFoundException,
 *   ...), with the HTTP status the service model gives it
 */
export type FaultKind = "resuming" | "timeout" | "5xx" | "throttle" | "hang" | "exception";

export interface FaultSpec {
  /** The operation whose calls are counted, or "any" for every call. */
  on: DataApiOperation | "any";
  /**
   * The first matching call (1-based, counted from injection) that fails.
   * @default 1
   */
  nth?: number;
  /**
   * How many matching calls fail, from the nth on (Infinity for all).
   * @default 1
   */
  times?: number;
  error: FaultKind;
  /** Run the call for real first, then answer with the error: the client cannot know it ran. */
  afterExecuting?: boolean;
  /**
   * For "5xx": which server fault.
   * @default 500
   */
  status?: 500 | 503 | 504;
  /** Wait this long before answering (for "hang": before dropping the connection). */
  delayMs?: number;
  /** For "exception": which one. */
  exception?: ServiceExceptionName;
  /** For "exception": the message it carries. */
  message?: string;
}
// Over PGlite (one session) a BeginTransaction failed with afterExecuting leaves a transaction
// that holds the session until it expires: give such tests a short transactionTimeoutMs.

export interface InjectedFault {
  /** How many calls this fault has failed so far. */
  readonly fired: number;
  /** How many matching calls it has seen. */
  readonly seen: number;
  remove(): void;
}

export interface Faults {
  inject(spec: FaultSpec): InjectedFault;
  /** Removes every injected fault. */
  clear(): void;
}

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

export interface DataApiEndpointOptions {
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
   * A transaction no call has used for this long is rolled back (`--transaction-idle-timeout`).
   * @default 180000 (the service's 3 minutes)
   */
  transactionTimeoutMs?: number;
  /**
   * A transaction still open this long after it began is rolled back, however busy.
   * @default 86400000 (the service's 24 hours)
   */
  transactionMaxLifetimeMs?: number;
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

const DEFAULT_TRANSACTION_TIMEOUT_MS = 3 * 60_000;
const DEFAULT_TRANSACTION_MAX_LIFETIME_MS = 24 * 3_600_000;
const DEFAULT_STATEMENT_TIMEOUT_MS = 45_000;
const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
// "10 MB": whether decimal or binary is not said; the smaller reading is the conservative one.
const DEFAULT_MAX_FORMATTED_RECORDS_BYTES = 10_000_000;
/** The service's 4 MiB, which counts the headers too; the body alone is held to it here. */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** The longest timer Node keeps (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How many finished transaction ids are remembered, to say why one is no longer there. */
const ENDED_MEMORY = 1000;

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
// Faults
// ---------------------------------------------------------------------------------------------

interface FaultRule {
  spec: FaultSpec;
  seen: number;
  fired: number;
}

class FaultTable implements Faults {
  #rules: FaultRule[] = [];

  inject(spec: FaultSpec): InjectedFault {
    const nth = spec.nth ?? 1;
    const times = spec.times ?? 1;
    if (!(nth >= 1) || !(times >= 0)) throw new RangeError("faults.inject: nth must be >= 1 and times >= 0");
    const rule: FaultRule = { spec: { ...spec, nth, times }, seen: 0, fired: 0 };
    this.#rules.push(rule);
    const rules = () => this.#rules;
    return {
      get fired() {
        return rule.fired;
      },
      get seen() {
        return rule.seen;
      },
      remove: () => {
        this.#rules = rules().filter((r) => r !== rule);
      },
    };
  }

  clear(): void {
    this.#rules = [];
  }

  /** Counts the call on every matching rule; returns the first rule that fires for it. */
  match(operation: DataApiOperation): FaultSpec | undefined {
    let chosen: FaultSpec | undefined;
    for (const rule of this.#rules) {
      if (rule.spec.on !== "any" && rule.spec.on !== operation) continue;
      rule.seen += 1;
      const { nth = 1, times = 1 } = rule.spec;
      if (!chosen && rule.seen >= nth && rule.fired < times) {
        rule.fired += 1;
        chosen = rule.spec;
      }
    }
    return chosen;
  }
}

// ---------------------------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------------------------

type EndReason = "committed" | "rolled back" | "expired" | "outlived" | "aborted";

type Job =
  | { kind: "run"; work: (tx: SqlSession) => Promise<unknown>; resolve(value: unknown): void; reject(error: unknown): void }
  | { kind: "commit" }
  | { kind: "rollback" };

/** Thrown inside the backend transaction's callback to make it roll back. */
class RollbackSignal extends Error {
  constructor() {
    super("rollback requested");
  }
}

/**
 * One Data API transaction, holding one backend transaction open: the backend's callback waits
 * on a queue of jobs until CommitTransaction (return -> COMMIT) or RollbackTransaction, expiry or
 * a failed statement (throw -> ROLLBACK). On PGlite, other calls wait behind it, as they would
 * behind any open transaction on its single connection.
 */
class OpenTransaction {
  /** A call is running on it; a second concurrent call is refused. */
  busy = false;
  /** The idle clock, restarted by every call. */
  timer: NodeJS.Timeout | undefined;
  /** The lifetime clock, started by BeginTransaction. */
  lifetime: NodeJS.Timeout | undefined;
  /** Settles when the backend transaction has committed or rolled back. */
  done!: Promise<unknown>;
  #jobs: Job[] = [];
  #wake: (() => void) | undefined;

  constructor(readonly id: string) {}

  push(job: Job): void {
    this.#jobs.push(job);
    this.#wake?.();
  }

  async next(): Promise<Job> {
    for (;;) {
      const job = this.#jobs.shift();
      if (job) return job;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  run<T>(work: (tx: SqlSession) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.push({ kind: "run", work, resolve: (v) => resolve(v as T), reject });
    });
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
  readonly #faults = new FaultTable();
  readonly #calls: DataApiCall[] = [];
  readonly #open = new Map<string, OpenTransaction>();
  readonly #ended = new Map<string, EndReason>();
  readonly #sockets = new Set<Socket>();
  readonly #hangs = new Set<() => void>();
  readonly #server = createServer((req, res) => {
    // A failure here is a bug or a client that went away mid-answer: drop that connection only.
    this.#handle(req, res).catch(() => res.destroy());
  });
  #closing = false;

  constructor(options: DataApiEndpointOptions) {
    this.#options = options;
    this.#backend = options.backend;
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
          openTransactionCount: () => this.#open.size,
          close: () => this.#close(),
        });
      });
    });
  }

  async #close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const release of this.#hangs) release();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const tx of [...this.#open.values()]) await this.#end(tx, "rolled back").catch(() => undefined);
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
    if (fault.error === "hang") {
      await this.#hang(fault.delayMs);
      call.status = 0;
      res.socket?.destroy();
      return;
    }
    if (fault.delayMs) await this.#hang(fault.delayMs);
    this.#sendError(res, call, faultError(fault, this.#clusterName()));
  }

  /** Waits `ms` (forever when undefined) or until the endpoint closes. */
  #hang(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const release = () => {
        clearTimeout(timer);
        this.#hangs.delete(release);
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(release, ms);
      this.#hangs.add(release);
    });
  }

  #clusterName(): string {
    const arn = this.#options.resourceArn ?? "";
    return /:cluster:(.+)$/.exec(arn)?.[1] ?? "local";
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
        return { transactionId: await this.#begin() };
      case "CommitTransaction":
        await this.#finish(requireString(body, "transactionId"), "committed");
        return { transactionStatus: "Transaction Committed" };
      case "RollbackTransaction":
        await this.#finish(requireString(body, "transactionId"), "rolled back");
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
    const tx = this.#transaction(transactionId);
    this.#claim(tx);
    const job = tx.run(work);
    // The transaction stays busy until the statement really finishes, even after a timeout answer.
    void job.then(
      () => this.#release(tx),
      () => this.#release(tx),
    );
    return this.#withStatementTimeout(job.catch(rethrowAsService));
  }

  #withStatementTimeout<T>(work: Promise<T>): Promise<T> {
    const ms = this.#options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(statementTimeout()), ms);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  async #begin(): Promise<string> {
    if (this.#closing) throw shuttingDown();
    const id = randomBytes(48).toString("base64");
    const tx = new OpenTransaction(id);
    let started!: () => void;
    const ready = new Promise<void>((resolve) => (started = resolve));
    tx.done = this.#backend.transaction(async (session) => {
      started();
      for (;;) {
        const job = await tx.next();
        if (job.kind === "commit") return;
        if (job.kind === "rollback") throw new RollbackSignal();
        try {
          job.resolve(await job.work(session));
        } catch (error) {
          // The service ends a transaction whose statement failed; later calls do not find it.
          this.#forget(tx, "aborted");
          job.reject(error);
          throw new RollbackSignal();
        }
      }
    });
    // BEGIN itself can fail (backend closed, connection refused): then the callback never runs.
    const failedEarly = tx.done.then(
      () => {
        throw new Error("the backend transaction ended before it began");
      },
      (error: unknown) => {
        throw error;
      },
    );
    failedEarly.catch(() => undefined);
    await Promise.race([ready, failedEarly]).catch(rethrowAsService);
    this.#open.set(id, tx);
    if (this.#closing) {
      // Began (behind others, on PGlite) while the endpoint was closing: do not leave it open.
      await this.#end(tx, "rolled back").catch(() => undefined);
      throw shuttingDown();
    }
    this.#arm(tx);
    // The lifetime clock runs whether the transaction is busy or not: a rollback queued behind a
    // running statement ends it as soon as that statement is done.
    tx.lifetime = setTimeout(() => {
      if (this.#open.get(tx.id) === tx) void this.#end(tx, "outlived").catch(() => undefined);
    }, this.#options.transactionMaxLifetimeMs ?? DEFAULT_TRANSACTION_MAX_LIFETIME_MS);
    tx.lifetime.unref();
    return id;
  }

  async #finish(id: string, how: "committed" | "rolled back"): Promise<void> {
    const tx = this.#transaction(id);
    this.#claim(tx);
    await this.#end(tx, how);
  }

  /** Ends the transaction: COMMIT or ROLLBACK on the backend, and remembers why it is gone. */
  async #end(tx: OpenTransaction, how: EndReason): Promise<void> {
    this.#forget(tx, how);
    tx.push(how === "committed" ? { kind: "commit" } : { kind: "rollback" });
    try {
      await tx.done;
    } catch (error) {
      if (error instanceof RollbackSignal) return;
      rethrowAsService(error);
    }
  }

  #forget(tx: OpenTransaction, reason: EndReason): void {
    clearTimeout(tx.timer);
    clearTimeout(tx.lifetime);
    if (this.#open.get(tx.id) !== tx) return;
    this.#open.delete(tx.id);
    this.#ended.set(tx.id, reason);
    if (this.#ended.size > ENDED_MEMORY) {
      const oldest = this.#ended.keys().next().value;
      if (oldest !== undefined) this.#ended.delete(oldest);
    }
  }

  #transaction(id: string): OpenTransaction {
    const tx = this.#open.get(id);
    if (tx) return tx;
    const why: Record<EndReason, string> = {
      committed: "One previous call resulted in a termination of your transaction (it was committed).",
      "rolled back": "One previous call resulted in a termination of your transaction (it was rolled back).",
      expired:
        "Transaction may be expired: no call used it for " +
        `${spell(this.#options.transactionTimeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS)}, so it was rolled back.`,
      outlived:
        "Transaction may be expired: it was begun more than " +
        `${spell(this.#options.transactionMaxLifetimeMs ?? DEFAULT_TRANSACTION_MAX_LIFETIME_MS)} ago, so it was rolled back.`,
      aborted: "Transaction has been aborted due to an error from a previous call.",
    };
    const reason = this.#ended.get(id);
    throw serviceError(
      "TransactionNotFoundException",
      `Transaction ${id} isn't found. ` +
        (reason ? why[reason] : "Transaction may be expired, or it was not started by BeginTransaction."),
    );
  }

  /**
   * Marks a transaction as running a call. A concurrent call on it is refused at once, as Serverless
   * v2 and provisioned clusters do (Serverless v1 queued it).
   */
  #claim(tx: OpenTransaction): void {
    if (tx.busy) {
      throw serviceError(
        "DatabaseErrorException",
        "Transaction is still running a query. Wait for the call running in transaction " +
          `${tx.id} to finish before sending the next one.`,
      );
    }
    tx.busy = true;
    clearTimeout(tx.timer);
  }

  #release(tx: OpenTransaction): void {
    tx.busy = false;
    if (this.#open.get(tx.id) === tx) this.#arm(tx);
  }

  /** (Re)starts the idle clock: the transaction expires when no call uses it for the timeout. */
  #arm(tx: OpenTransaction): void {
    clearTimeout(tx.timer);
    const ms = this.#options.transactionTimeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS;
    tx.timer = setTimeout(() => {
      if (tx.busy || this.#open.get(tx.id) !== tx) return;
      void this.#end(tx, "expired").catch(() => undefined);
    }, ms);
    tx.timer.unref();
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

/** A duration for a message: `180 s`, or `150 ms` below a second. */
function spell(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

function statementTimeout(): ServiceError {
  return serviceError("StatementTimeoutException", "Request timed out", { dbConnectionId: 0 });
}

function shuttingDown(): ServiceError {
  return serviceError("ServiceUnavailableError", "The local Data API is shutting down");
}

function faultError(fault: FaultSpec, cluster: string): ServiceError {
  switch (fault.error) {
    case "resuming":
      return serviceError(
        "DatabaseResumingException",
        `The Aurora DB instance ${cluster}-instance-1 is resuming after being auto-paused. ` +
          `Please wait a few seconds and try again.`,
      );
    case "timeout":
      return statementTimeout();
    case "throttle":
      return serviceError("ThrottlingException", "Rate exceeded");
    case "exception": {
      const type = fault.exception ?? "InternalServerErrorException";
      return serviceError(type, fault.message ?? `${type} injected by the local Data API`);
    }
    case "5xx":
    case "hang": {
      const status = fault.status ?? 500;
      if (status === 503) return serviceError("ServiceUnavailableError", "Service Unavailable");
      if (status === 504) return serviceError("DatabaseUnavailableException", "The writer instance in the DB cluster isn't available.");
      return serviceError("InternalServerErrorException", "Internal Server Error");
    }
  }
}

/** Turns a backend failure into the service's answer: SQL errors keep their text and SQLState. */
function toServiceError(error: unknown): ServiceError {
  if (error instanceof ServiceError) return error;
  if (error instanceof SqlError) return serviceError("DatabaseErrorException", sqlErrorText(error.message, error.sqlState));
  const message = error instanceof Error ? error.message : String(error);
  return serviceError("InternalServerErrorException", `Local Data API backend failure: ${message}`);
}

function rethrowAsService(error: unknown): never {
  throw toServiceError(error);
}
