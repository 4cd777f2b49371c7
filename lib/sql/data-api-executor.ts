// SqlExecutor over the RDS Data API (production: a Lambda talking to Aurora PostgreSQL), one HTTPS
// call per statement: sessions, transactions, and each call sent with the retry policy. Parameters,
// results and failures are translated by data-api-parameters.ts, -results.ts and -errors.ts.

import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
  type ExecuteStatementCommandInput,
  type SqlParameter,
} from "@aws-sdk/client-rds-data";
import type { ExecutorKind, QueryOptions, QueryResult, SqlExecutor, SqlParams, SqlSession } from "./executor.ts";
import { ConnectionError, DataApiError, SqlError, type DataApiCommand, type LockBlocker } from "./errors.ts";
import { TransactionGuard } from "./adapter-kit.ts";
import { withRetry, type RetryPolicy, type Sleep } from "../retry.ts";
import { toSqlParameters } from "./data-api-parameters.ts";
import { toQueryResult } from "./data-api-results.ts";
import {
  abortedTransactionError,
  classifyFailure,
  mapDataApiError,
  statementTimeoutError,
  type FailureClass,
} from "./data-api-errors.ts";
import { activityPrefix, BLOCKERS_SQL } from "./data-api-blockers.ts";
import { classifyStatement } from "./statement-class.ts";

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
  sleep?: Sleep;
}

// Defined with the other executor errors, so the runner can recognise it without loading the AWS SDK.
export { DataApiError, StatementBlockedError, type DataApiCommand, type LockBlocker } from "./errors.ts";

/** A request timeout above the service's own 45 s per call, so its StatementTimeoutException wins. */
const REQUEST_TIMEOUT_MS = 60_000;
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 15, baseDelayMs: 250, maxDelayMs: 5_000 };

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
  readonly #retry: RetryPolicy;
  readonly #sleep: Sleep | undefined;
  readonly #guard = new TransactionGuard();
  #closed = false;

  constructor(options: DataApiExecutorOptions) {
    this.#resourceArn = options.resourceArn;
    this.#secretArn = options.secretArn;
    this.#database = options.database;
    this.#ownsClient = options.client === undefined;
    this.#client = options.client ?? createDataApiClient();
    this.#retry = {
      maxAttempts: options.retry?.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
      baseDelayMs: options.retry?.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs,
      maxDelayMs: options.retry?.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs,
    };
    this.#sleep = options.sleep;
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
    // DDL keeps running past the 45 s call limit (cutting one short is what the service's
    // documentation warns against), and so does whole-table maintenance: the classification says.
    const runsOn = options?.continueAfterTimeout || classifyStatement(sql).continueAfterTimeout;
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
   * Sends one call with the retry policy: jittered exponential backoff (lib/retry.ts) for a call
   * that certainly did not run (DatabaseResumingException from an auto-paused cluster, throttling)
   * and for a 5xx or a lost connection, unless `outcomeUnknownIsFinal` (a statement inside a
   * transaction, a COMMIT): running it twice, or committing what may already be committed, is
   * worse than failing with a clear error.
   */
  async #send<T>(
    operation: DataApiCommand,
    call: () => Promise<T>,
    context: { transactionId?: string | undefined; outcomeUnknownIsFinal?: boolean } = {},
  ): Promise<T> {
    const started = Date.now();
    const retryable = (failure: FailureClass) =>
      failure === "not-run" || (failure === "unknown" && !context.outcomeUnknownIsFinal);
    let attempts = 0;
    try {
      return await withRetry(
        (attempt) => {
          attempts = attempt;
          return call();
        },
        { retry: this.#retry, retryable: (error) => retryable(classifyFailure(error)), sleep: this.#sleep },
      );
    } catch (error) {
      const failure = classifyFailure(error);
      const how = { attempts, exhausted: retryable(failure), elapsedMs: Date.now() - started, transactionId: context.transactionId };
      throw mapDataApiError(error, operation, failure, how, { resourceArn: this.#resourceArn, secretArn: this.#secretArn });
    }
  }
}
