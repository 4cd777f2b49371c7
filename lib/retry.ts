// Calling again after a passing failure, for the Data API executor and the DynamoDB lock and
// history alike: the policy's shape, its jittered exponential backoff, and the loop. Which
// failures are worth another call, and the default policy, are each client's own.

/** How often, and how patiently, a failed call is made again. */
export interface RetryPolicy {
  /** Calls in all, the first included; less than 1 counts as 1. */
  maxAttempts: number;
  /** The first backoff; it doubles per attempt. */
  baseDelayMs: number;
  /** The cap of one backoff. */
  maxDelayMs: number;
}

/** Waits `ms` milliseconds: what tests replace so that retries take no time. */
export type Sleep = (ms: number) => Promise<void>;

/** The real wait: a timer. */
export const sleep: Sleep = (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The wait after the `attempt`-th failed call (1 for the first): the base delay doubled per attempt
 * up to the cap, with equal jitter: half of it fixed, half random, so contenders spread out but
 * never stall.
 */
export function backoffDelay(
  attempt: number,
  policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">,
  random: () => number = Math.random,
): number {
  const capped = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(capped / 2 + random() * (capped / 2));
}

export interface WithRetryOptions {
  retry: RetryPolicy;
  /** Whether a failure is worth another call; one that is not is thrown at once. */
  retryable: (error: unknown) => boolean;
  /** @default sleep, a timer */
  sleep?: Sleep | undefined;
  /** The source of the jitter. @default Math.random */
  random?: () => number;
}

/**
 * Calls `call` (given its attempt number, 1 for the first) until it succeeds, fails with a
 * failure that is not retryable, or has failed `retry.maxAttempts` times, backing off between
 * calls. The last failure is thrown as it is.
 */
export async function withRetry<T>(call: (attempt: number) => Promise<T>, options: WithRetryOptions): Promise<T> {
  const wait = options.sleep ?? sleep;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call(attempt);
    } catch (error) {
      if (attempt >= options.retry.maxAttempts || !options.retryable(error)) throw error;
      await wait(backoffDelay(attempt, options.retry, options.random));
    }
  }
}
