// The retry loop and backoff both the Data API executor and the DynamoDB clients use: how many
// calls it makes, how long it waits between them, and which failure it throws.

import { describe, expect, it } from "vitest";
import { backoffDelay, withRetry, type RetryPolicy } from "../lib/retry.ts";

const policy: RetryPolicy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 300 };
const transient = (error: unknown) => error instanceof Error && error.message.startsWith("transient");

/** A call that fails with the given errors in turn, then returns "done"; it counts its attempts. */
function failing(...errors: Error[]) {
  const attempts: number[] = [];
  const call = async (attempt: number) => {
    attempts.push(attempt);
    const error = errors[attempts.length - 1];
    if (error) throw error;
    return "done";
  };
  return { call, attempts };
}

/** A sleep that records the delays instead of waiting them. */
function recorder() {
  const slept: number[] = [];
  return { slept, sleep: async (ms: number) => void slept.push(ms) };
}

describe("backoffDelay", () => {
  it("doubles from the base up to the cap, half of each delay fixed and half random", () => {
    const attempts = [1, 2, 3, 4];
    expect(attempts.map((a) => backoffDelay(a, policy, () => 0))).toEqual([50, 100, 150, 150]);
    expect(attempts.map((a) => backoffDelay(a, policy, () => 0.5))).toEqual([75, 150, 225, 225]);
    expect(attempts.map((a) => backoffDelay(a, policy, () => 1))).toEqual([100, 200, 300, 300]);
  });
});

describe("withRetry", () => {
  it("returns the first success, numbering the attempts from 1", async () => {
    const { call, attempts } = failing(new Error("transient 1"), new Error("transient 2"));
    const { slept, sleep } = recorder();
    await expect(withRetry(call, { retry: policy, retryable: transient, sleep })).resolves.toBe("done");
    expect(attempts).toEqual([1, 2, 3]);
    expect(slept).toHaveLength(2);
  });

  it("waits the jittered backoff between attempts, within its bounds", async () => {
    const { call } = failing(new Error("transient 1"), new Error("transient 2"), new Error("transient 3"));
    const { slept, sleep } = recorder();
    await withRetry(call, { retry: policy, retryable: transient, sleep, random: () => 0.25 });
    expect(slept).toEqual([63, 125, 188]);
    slept.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(backoffDelay(i + 1, policy, () => 0));
      expect(ms).toBeLessThanOrEqual(backoffDelay(i + 1, policy, () => 1));
    });
  });

  it("stops after maxAttempts and throws the last failure", async () => {
    const errors = [1, 2, 3, 4, 5].map((n) => new Error(`transient ${n}`));
    const { call, attempts } = failing(...errors);
    const { slept, sleep } = recorder();
    await expect(withRetry(call, { retry: policy, retryable: transient, sleep })).rejects.toBe(errors[3]);
    expect(attempts).toEqual([1, 2, 3, 4]);
    expect(slept).toHaveLength(3);
  });

  it("throws a failure that is not retryable at once", async () => {
    const final = new Error("final");
    const { call, attempts } = failing(new Error("transient 1"), final, new Error("transient 3"));
    const { slept, sleep } = recorder();
    await expect(withRetry(call, { retry: policy, retryable: transient, sleep })).rejects.toBe(final);
    expect(attempts).toEqual([1, 2]);
    expect(slept).toHaveLength(1);
  });

  it("calls once when maxAttempts is below 1", async () => {
    const { call, attempts } = failing(new Error("transient 1"));
    const { slept, sleep } = recorder();
    await expect(withRetry(call, { retry: { ...policy, maxAttempts: 0 }, retryable: transient, sleep })).rejects.toThrow("transient 1");
    expect(attempts).toEqual([1]);
    expect(slept).toEqual([]);
  });
});
