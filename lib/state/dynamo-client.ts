// The DynamoDB client the lock and the history share, and how their calls survive DynamoDB's
// faults: throttling and 5xx answers are retried here with jittered exponential backoff (lib/retry.ts;
// the SDK's own retries are off on the default client, so the policy is visible and testable, as the
// Data API adapter does); anything else, and faults that outlast the retries, fail the operation.
// Also a call counter (an SDK middleware) for tests and benchmarks.
import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type RetryPolicy, withRetry } from "../retry.ts";

/** The default client: region, credentials and endpoint (AWS_ENDPOINT_URL_DYNAMODB) from the SDK's environment. */
export function createDynamoClient(): DynamoDBClient {
  return new DynamoDBClient({ maxAttempts: 1 });
}

export interface RetryOptions {
  /** Attempts in all, the first included. @default 5 */
  attempts?: number;
  /** First backoff; doubles per attempt, jittered. @default 50 */
  baseMs?: number;
  /** Longest single backoff. @default 1000 */
  maxMs?: number;
}

/** The policy when RetryOptions leave it open: 5 calls, 50 ms doubling to 1 s. */
export const DYNAMO_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 1000 };

const RETRYABLE_NAMES = new Set([
  "ThrottlingException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "LimitExceededException",
  "InternalServerError",
  "InternalFailure",
  "ServiceUnavailable",
  "TransactionConflictException",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
]);
const RETRYABLE_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ENOTFOUND"]);

/** Throttling, a 5xx or a dropped connection: worth another try. A failed condition never is. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ConditionalCheckFailedException) return false;
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  if (e?.$retryable) return true;
  if (e?.name && RETRYABLE_NAMES.has(e.name)) return true;
  if (e?.code && RETRYABLE_CODES.has(e.code)) return true;
  const status = e?.$metadata?.httpStatusCode;
  return typeof status === "number" && status >= 500;
}

/** Runs `call`, retrying retryable faults; the last fault is thrown when the attempts run out. */
export function withDynamoRetry<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const retry: RetryPolicy = {
    maxAttempts: options.attempts ?? DYNAMO_RETRY.maxAttempts,
    baseDelayMs: options.baseMs ?? DYNAMO_RETRY.baseDelayMs,
    maxDelayMs: options.maxMs ?? DYNAMO_RETRY.maxDelayMs,
  };
  return withRetry(call, { retry, retryable: isRetryable });
}

export { sleep } from "../retry.ts";

export { describeAwsError } from "./aws-error.ts";

export interface CallCounter {
  /** HTTP requests sent, retries included. */
  readonly total: number;
  readonly byOperation: Readonly<Record<string, number>>;
  reset(): void;
}

/**
 * Counts every request the client sends (each retry too): a middleware in the deserialize step
 * runs once per HTTP attempt.
 */
export function countCalls(client: DynamoDBClient): CallCounter {
  const byOperation: Record<string, number> = {};
  let total = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      total += 1;
      const name = String(context.commandName ?? "unknown").replace(/Command$/, "");
      byOperation[name] = (byOperation[name] ?? 0) + 1;
      return next(args);
    },
    { step: "deserialize", name: "retortCallCounter" },
  );
  return {
    get total() {
      return total;
    },
    get byOperation() {
      return { ...byOperation };
    },
    reset() {
      total = 0;
      for (const k of Object.keys(byOperation)) delete byOperation[k];
    },
  };
}
