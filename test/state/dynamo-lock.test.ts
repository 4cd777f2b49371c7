// The DynamoDB lock against dynalite on loopback (real SDK client, real HTTP): acquire, conflict
// with the holder named in the same answer, renew, release, expiry and takeover, force, fencing
// tokens that only go up, and DynamoDB's faults (throttling, 5xx, answers lost after the write).
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DynamoLease, DynamoLock } from "../../lib/state/dynamo-lock.ts";
import { sleep } from "../../lib/state/dynamo-client.ts";
import {
  currentHolder,
  InProcessLock,
  type Lease,
  LeaseLostError,
  LockConflictError,
  type LockHolder,
  LockStoreError,
} from "../../lib/state/lock.ts";
import { localDynamoClient, startLocalLockTable, type LocalLockTable } from "../../lib/local/dynamodb-table.ts";

let dynamo: LocalLockTable;
let n = 0;
/** A lock key of its own per test, so tests share the table without meeting. */
let key: string;

beforeAll(async () => {
  dynamo = await startLocalLockTable();
});
afterAll(() => dynamo.close());
beforeEach(() => {
  key = `postgres://db.example:5432/app_${++n}`;
  dynamo.local.clearFaults();
  dynamo.calls.reset();
});

const holder = (command: string, extra: Partial<LockHolder> = {}) => currentHolder(command, extra);
/** A lock whose heartbeat never fires on its own: tests renew by hand. */
const manual = (options: Partial<ConstructorParameters<typeof DynamoLock>[0]> = {}) =>
  new DynamoLock({ table: dynamo.table, client: dynamo.client, heartbeatMs: 3_600_000, retry: { baseMs: 1, maxMs: 5 }, ...options });
const dynamoLease = (lease: Lease) => lease as DynamoLease;

describe("DynamoDB lock", () => {
  it("an uncontended acquire and release cost two calls, and the lock is free again", async () => {
    const lock = manual();
    const lease = await lock.acquire(key, holder("safe-upgrade"), { leaseMs: 60_000 });
    await lease.release();
    expect(dynamo.calls.total).toBe(2);
    expect(lease.info).toMatchObject({ key, token: 1, holder: { command: "safe-upgrade", pid: process.pid } });
    expect(lease.fenced).toBe(true);
    expect(await lock.current(key)).toBeNull();
  });

  it("an acquire repeated by the same owner (its answer was lost) gets its own lease back, same token; another owner is refused", async () => {
    const lock = manual();
    const execution = "arn:aws:states:us-east-1:123456789012:execution:rollback:r-1";
    const first = await lock.acquire(key, holder("rollback", { executionArn: execution }), { leaseMs: 60_000, owner: execution });
    const again = await lock.acquire(key, holder("rollback", { executionArn: execution }), { leaseMs: 60_000, owner: execution });
    expect(again.info.token).toBe(first.info.token);
    expect(again.info.holder).toEqual(first.info.holder);
    const other = await lock.acquire(key, holder("rollback"), { owner: "arn:aws:states:us-east-1:123456789012:execution:rollback:r-2" }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(LockConflictError);
    expect((other as Error).message).toContain(`Step Functions execution ${execution}`);
    await again.release();
    expect(await lock.current(key)).toBeNull();
  });

  it("a conflict names the holder (command, host, Lambda request, stack, since, expiry, token) from the same answer", async () => {
    const lock = manual();
    const held = await lock.acquire(key, holder("safe-upgrade", { requestId: "req-123", stackId: "arn:aws:cloudformation:stack/app" }), {
      leaseMs: 60_000,
    });
    dynamo.calls.reset();
    const error = await lock.acquire(key, holder("downgrade")).catch((e: unknown) => e);
    expect(dynamo.calls.total).toBe(1);
    expect(error).toBeInstanceOf(LockConflictError);
    const conflict = error as LockConflictError;
    expect(conflict.info).toEqual(held.info);
    expect(conflict.message).toContain(`The migration lock for ${key} is held by safe-upgrade (Lambda request req-123`);
    expect(conflict.message).toContain("stack arn:aws:cloudformation:stack/app");
    expect(conflict.message).toContain(`since ${held.info.since}, lease expires ${held.info.expiresAt}, fencing token 1`);
    expect(conflict.message).toContain("retry with --wait <duration>");
    expect(conflict.message).toContain("`retort unlock --force`");
    await held.release();
  });

  it("a store that ignores ReturnValuesOnConditionCheckFailure still gets the holder, with one consistent read", async () => {
    const client = localDynamoClient(dynamo.local.url);
    // Strip the item from the refusal, as an emulator without the feature would.
    client.middlewareStack.add(
      (next) => async (args) => {
        try {
          return await next(args);
        } catch (error) {
          if (error instanceof ConditionalCheckFailedException) delete error.Item;
          throw error;
        }
      },
      { step: "deserialize" },
    );
    const held = await manual().acquire(key, holder("upgrade"), { leaseMs: 60_000 });
    const error = await manual({ client }).acquire(key, holder("stamp")).catch((e: unknown) => e);
    expect((error as LockConflictError).info).toEqual(held.info);
    client.destroy();
    await held.release();
  });

  it("renewing moves the expiry from the writer's clock; current() reads it consistently", async () => {
    let now = Date.parse("2026-11-24T10:00:00Z");
    const lock = manual({ clock: () => now });
    const lease = dynamoLease(await lock.acquire(key, holder("upgrade"), { leaseMs: 30_000 }));
    expect((await lock.current(key))?.expiresAt).toBe("2026-11-24T10:00:30.000Z");
    now += 20_000;
    await lease.renewNow();
    expect((await lock.current(key))?.expiresAt).toBe("2026-11-24T10:00:50.000Z");
    lease.assertHeld();
    await lease.release();
  });

  it("the heartbeat renews on its own while work runs, and stops on release", async () => {
    const lock = manual({ heartbeatMs: 20 });
    const lease = await lock.acquire(key, holder("upgrade"), { leaseMs: 60_000 });
    const first = (await lock.current(key))!.expiresAt;
    for (let i = 0; i < 500 && (await lock.current(key))!.expiresAt === first; i++) await sleep(10);
    expect((await lock.current(key))!.expiresAt > first).toBe(true);
    await lease.release();
    const after = dynamo.local.calls.length;
    await sleep(100);
    expect(dynamo.local.calls.slice(after).filter((c) => c.operation === "UpdateItem")).toEqual([]);
  });

  it("an expired lease is taken over (expiry compared in the condition), and its holder learns it lost the lock", async () => {
    const first = manual();
    const a = dynamoLease(await first.acquire(key, holder("safe-upgrade"), { leaseMs: 60_000 }));
    // A second runner whose clock is past A's expiry: A stopped renewing a minute ago.
    const later = manual({ clock: () => Date.now() + 61_000 });
    const b = await later.acquire(key, holder("safe-upgrade"), { leaseMs: 60_000 });
    expect(b.info.token).toBe(2);
    expect(b.tookOver).toEqual(a.info);
    await a.renewNow();
    expect(() => a.assertHeld()).toThrow(LeaseLostError);
    expect(() => a.assertHeld()).toThrow(/another runner took it over: safe-upgrade .* fencing token 2/);
    // A's release leaves B's lock alone.
    await a.release();
    expect((await first.current(key))?.token).toBe(2);
    await b.release();
  });

  it("a lease that ran out before a renewal succeeded is lost locally, even before anyone else takes it", async () => {
    const leaseMs = 60_000;
    const before = performance.now();
    const lease = await manual().acquire(key, holder("upgrade"), { leaseMs });
    const after = performance.now();
    // The lease runs on the monotonic clock from when the acquire was sent (between before and
    // after; held locally a little less, a safety margin). Stand that clock halfway through it and
    // at its end, rather than sleeping through a short lease and hoping the acquire itself took
    // less: no outcome depends on the machine's speed.
    const clock = vi.spyOn(performance, "now");
    try {
      clock.mockReturnValue(before + leaseMs / 2);
      lease.assertHeld();
      clock.mockReturnValue(after + leaseMs);
      expect(() => lease.assertHeld()).toThrow(/its lease ran out before a renewal succeeded/);
    } finally {
      clock.mockRestore();
    }
    await lease.release();
  });

  it("waiting: a queued acquire gets the lock once the holder releases it", async () => {
    const lock = manual({ pollMs: { baseMs: 10, maxMs: 50 } });
    const a = await lock.acquire(key, holder("upgrade"), { leaseMs: 60_000 });
    const before = dynamo.local.calls.length;
    const waiting = lock.acquire(key, holder("safe-upgrade"), { waitMs: 30_000, leaseMs: 60_000 });
    // Release only once the waiter has been refused at least twice.
    while (dynamo.local.calls.slice(before).length < 2) await sleep(5);
    await a.release();
    const b = await waiting;
    expect(b.info.token).toBe(2);
    expect(b.tookOver).toBeUndefined();
    await b.release();
  });

  it("waiting gives up after --wait with the holder named", async () => {
    const lock = manual({ pollMs: { baseMs: 10, maxMs: 50 } });
    const a = await lock.acquire(key, holder("upgrade"), { leaseMs: 60_000 });
    const error = await lock.acquire(key, holder("stamp"), { waitMs: 150 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockConflictError);
    expect((error as Error).message).toMatch(/held by upgrade .* \(waited 0 s\)/);
    await a.release();
  });

  it("fencing tokens strictly increase across contenders, each holding alone", async () => {
    const order: number[] = [];
    let holding = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const lock = manual({ pollMs: { baseMs: 5, maxMs: 40 } });
        const lease = await lock.acquire(key, holder(`runner-${i}`), { waitMs: 60_000, leaseMs: 60_000 });
        holding += 1;
        expect(holding).toBe(1);
        order.push(lease.info.token);
        await sleep(5);
        holding -= 1;
        await lease.release();
      }),
    );
    expect(order).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("unlock --force breaks the lease, bumps the token so the old holder is fenced out, and can move past the database's token", async () => {
    const lock = manual();
    const a = dynamoLease(await lock.acquire(key, holder("safe-upgrade"), { leaseMs: 60_000 }));
    const forced = await lock.forceRelease(key);
    expect(forced).toEqual({ key, broken: a.info, token: 2 });
    await a.renewNow();
    expect(() => a.assertHeld()).toThrow(/broken with `retort unlock --force`/);
    expect(await lock.current(key)).toBeNull();
    expect((await lock.forceRelease(key, { minToken: 40 })).token).toBe(41);
    const b = await lock.acquire(key, holder("upgrade"));
    expect(b.info.token).toBe(42);
    await b.release();
  });

  describe("faults", () => {
    it("throttling on acquire is retried with backoff", async () => {
      dynamo.local.inject({ operation: "UpdateItem", error: "throttle", times: 2 });
      const lease = await manual().acquire(key, holder("upgrade"));
      expect(dynamo.calls.byOperation).toEqual({ UpdateItem: 3 });
      await lease.release();
    });

    it("a 5xx after the acquire took effect: the retry finds its own write (already ours) and holds the lock", async () => {
      dynamo.local.inject({ operation: "UpdateItem", error: "5xx", afterExecuting: true });
      const lock = manual();
      const lease = await lock.acquire(key, holder("upgrade"), { leaseMs: 60_000 });
      expect((await lock.current(key))?.holder).toEqual(lease.info.holder);
      // The retry found its own lease: same token, not a second one.
      expect(lease.info.token).toBe(1);
      await expect(manual().acquire(key, holder("stamp"))).rejects.toBeInstanceOf(LockConflictError);
      await lease.release();
      expect(await lock.current(key)).toBeNull();
    });

    it("faults that outlast the retries fail the acquire safely: nothing is held", async () => {
      dynamo.local.inject({ operation: "UpdateItem", error: "5xx", times: 3 });
      const error = await manual({ retry: { attempts: 3, baseMs: 1, maxMs: 2 } })
        .acquire(key, holder("upgrade"))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockStoreError);
      expect((error as Error).message).toMatch(/DynamoDB call on lock table retort-local failed for .* after retries: InternalServerError/);
      expect(await manual().current(key)).toBeNull();
    });

    it("throttled renewals are retried and the lease is kept", async () => {
      const lease = dynamoLease(await manual().acquire(key, holder("upgrade"), { leaseMs: 60_000 }));
      dynamo.local.inject({ operation: "UpdateItem", error: "throttle", times: 3 });
      await lease.renewNow();
      lease.assertHeld();
      await lease.release();
    });

    it("renewals failing until the lease runs out: the holder stops before its next statement", async () => {
      const lease = await manual({ heartbeatMs: 50 }).acquire(key, holder("upgrade"), { leaseMs: 600 });
      dynamo.local.inject({ operation: "UpdateItem", error: "5xx", times: 1_000_000 });
      let lost: unknown;
      for (let i = 0; i < 1000 && !lost; i++) {
        try {
          lease.assertHeld();
          await sleep(10);
        } catch (error) {
          lost = error;
        }
      }
      expect(lost).toBeInstanceOf(LeaseLostError);
      dynamo.local.clearFaults();
      await lease.release();
    });

    it("a throttled release is retried; a release whose answer was lost still frees the lock", async () => {
      const lock = manual();
      const a = await lock.acquire(key, holder("upgrade"), { leaseMs: 60_000 });
      dynamo.local.inject({ operation: "UpdateItem", error: "throttle", times: 2 });
      await a.release();
      expect(await lock.current(key)).toBeNull();
      const b = await lock.acquire(key, holder("upgrade"), { leaseMs: 60_000 });
      dynamo.local.inject({ operation: "UpdateItem", error: "5xx", afterExecuting: true });
      await b.release();
      expect(await lock.current(key)).toBeNull();
    });

    it("a release that keeps failing says so; the lock frees itself when the lease expires", async () => {
      const lock = manual({ retry: { attempts: 2, baseMs: 1, maxMs: 2 } });
      const lease = await lock.acquire(key, holder("upgrade"), { leaseMs: 60_000 });
      dynamo.local.inject({ operation: "UpdateItem", error: "5xx", times: 2 });
      await expect(lease.release()).rejects.toBeInstanceOf(LockStoreError);
      expect((await lock.current(key))?.token).toBe(1);
    });

    it("a missing table names the command that creates it", async () => {
      const error = await new DynamoLock({ table: "no-such-table", client: dynamo.client })
        .acquire(key, holder("upgrade"))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockStoreError);
      expect((error as Error).message).toContain("`retort lock-table create --lock-table no-such-table`");
    });
  });
});

describe("in-process lock", () => {
  it("force breaks a lease: its holder can no longer assert it, and tokens keep rising", async () => {
    const lock = new InProcessLock();
    const a = await lock.acquire("k", holder("upgrade"));
    expect(a.fenced).toBe(false);
    const forced = await lock.forceRelease("k", { minToken: 5 });
    expect(forced).toMatchObject({ broken: a.info, token: 6 });
    expect(() => a.assertHeld()).toThrow(/broken with `retort unlock --force`/);
    expect((await lock.acquire("k", holder("upgrade"))).info.token).toBe(7);
  });
});
