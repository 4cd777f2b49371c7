// Data API failures: which class each AWS error is in for the retry policy (not run, outcome
// unknown, timeout, final), and the retort error it becomes (SqlError, ConnectionError,
// DataApiError, StatementBlockedError), worded to say what to check. Pure: no call is made here.

import {
  ConnectionError,
  DataApiError,
  SqlError,
  StatementBlockedError,
  type DataApiCommand,
  type LockBlocker,
} from "./errors.ts";
import { blockedAdvice } from "./data-api-blockers.ts";
import { describeBlocker } from "./lock-blockers.ts";

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

/**
 * The error for a statement that ran into the 45 s limit per call. Without blockers the statement
 * itself is slow; with them it waits for their lock, and no speed-up would have helped.
 */
export function statementTimeoutError(
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

/** The cluster and secret a call used, as its error names them: by ARN, never a secret's value. */
export interface DataApiTarget {
  resourceArn: string;
  secretArn: string;
}

/** How a failed call went: the calls made, whether retries ran out on it, its transaction. */
export interface FailedCall {
  attempts: number;
  exhausted: boolean;
  elapsedMs: number;
  transactionId: string | undefined;
}

/** The port's error for a failed call (`failure` is classifyFailure's class of `error`). */
export function mapDataApiError(
  error: unknown,
  operation: DataApiCommand,
  failure: FailureClass,
  how: FailedCall,
  target: DataApiTarget,
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
        `The Aurora cluster ${target.resourceArn} is still resuming from auto-pause after ` +
          `${how.attempts} attempts over ${seconds} s (DatabaseResumingException). Try again in a ` +
          `minute, or allow more attempts (retry.maxAttempts).`,
        cause,
      );
    }
    return new ConnectionError(
      `The Data API call ${operation} for cluster ${target.resourceArn} failed ${how.attempts} ` +
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
      `The Data API could not use secret ${target.secretArn} for cluster ${target.resourceArn} ` +
        `(${name}: ${text}). Check that the secret ARN is right and in the cluster's account and ` +
        `region, that the secret holds the database username and password, and that the caller ` +
        `may secretsmanager:GetSecretValue on it and rds-data:ExecuteStatement on the cluster.`,
      cause,
    );
  }
  if (RESOURCE.has(name)) {
    return new ConnectionError(
      `The Data API cannot serve cluster ${target.resourceArn} (${name}: ${text}). Check the ` +
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

/** What a statement in a transaction that already failed gets, as on PostgreSQL. */
export function abortedTransactionError(cause: unknown): SqlError {
  return new SqlError(
    "current transaction is aborted, commands ignored until end of transaction block",
    "25P02",
    { cause },
  );
}
