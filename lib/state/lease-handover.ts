// A lease that outlives the invocation that took it. The rollback state machine acquires the lock
// in one Lambda invocation, downgrades one revision per later invocation, and releases it in a
// last one: each step hands the lease on as a small JSON handle, and the next picks it up again
// (renewing it) or learns that it was lost. The fencing token stays the same throughout, so the
// database keeps refusing any runner that took the lock over meanwhile.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { DynamoLease, DynamoLock } from "./dynamo-lock.ts";
import { type Lease, LeaseLostError, type Lock, type LockInfo } from "./lock.ts";

/** What a step passes to the next: enough to pick the lease up again. JSON-serialisable. */
export interface LeaseHandle {
  info: LockInfo;
  /** The lease's owner id in the lock item (not a secret: it only matches that one lease). */
  owner: string;
  leaseMs: number;
}

/**
 * Leases of locks that live in this process only (the in-process lock): they can be picked up
 * again only in the same process, which is what tests and a locally run state machine are.
 */
const local = new Map<string, Lease>();

/** Lets the lease go from this invocation without releasing the lock; returns its handle. */
export function handOver(lease: Lease, leaseMs: number): LeaseHandle {
  if (lease instanceof DynamoLease) {
    lease.detach();
    return { info: lease.info, owner: lease.owner, leaseMs };
  }
  const owner = randomUUID();
  local.set(owner, lease);
  return { info: lease.info, owner, leaseMs };
}

/** Picks a handed-over lease up again, renewed; LeaseLostError when it is no longer held. */
export async function pickUp(lock: Lock, handle: LeaseHandle): Promise<Lease> {
  if (lock instanceof DynamoLock) {
    const sentAt = performance.now();
    const renewed = await lock.renew(handle.info.key, handle.owner, handle.leaseMs);
    if (renewed.kind === "lost") {
      throw new LeaseLostError(
        handle.info,
        renewed.holder ? `the lock is now held with fencing token ${renewed.holder.token}` : "the lock was released or broken",
      );
    }
    return new DynamoLease(lock, handle.info.key, handle.owner, handle.info, handle.leaseMs, sentAt, undefined);
  }
  const lease = local.get(handle.owner);
  if (!lease) throw new LeaseLostError(handle.info, `${lock.description} holds no such lease in this process`);
  lease.assertHeld();
  return lease;
}

/**
 * Releases a handed-over lease; a lease already lost or released is left alone. `whileHeld` runs
 * once the lease is picked up again, before it is released (the run's last record).
 */
export async function releaseHandedOver(
  lock: Lock,
  handle: LeaseHandle,
  whileHeld?: () => Promise<void>,
): Promise<{ released: boolean; reason?: string }> {
  let lease: Lease;
  try {
    lease = await pickUp(lock, handle);
  } catch (error) {
    if (error instanceof LeaseLostError) return { released: false, reason: error.reason };
    throw error;
  }
  await whileHeld?.();
  await lease.release();
  local.delete(handle.owner);
  return { released: true };
}

/**
 * A Lock whose `acquire` hands out a lease that is already held, so a runner command (which
 * acquires and releases around its work) runs under it; its release leaves the lease held for the
 * next step.
 */
export class HeldLock implements Lock {
  readonly description: string;

  constructor(
    private readonly inner: Lock,
    private readonly lease: Lease,
  ) {
    this.description = `${inner.description}, lease with fencing token ${lease.info.token}`;
  }

  async acquire(key: string): Promise<Lease> {
    if (key !== this.lease.info.key) {
      throw new Error(`The held lease is for ${this.lease.info.key}, not ${key}; start the rollback for that database instead`);
    }
    this.lease.assertHeld();
    const lease = this.lease;
    return {
      info: lease.info,
      fenced: lease.fenced,
      assertHeld: () => lease.assertHeld(),
      release: async () => {},
    };
  }

  current(key: string): Promise<LockInfo | null> {
    return this.inner.current(key);
  }

  forceRelease: Lock["forceRelease"] = (key, options) => this.inner.forceRelease(key, options);
}
