// The Lock port: exactly one runner may change a target database at a time. Acquiring returns a
// lease with a fencing token that strictly increases per target, so the database can refuse a
// runner that lost its lease. This file holds the port, its errors and the in-process adapter
// used with the embedded database; the DynamoDB adapter slots in beside it.
import os from "node:os";

/** Who holds (or wants) the lock: enough for an operator to find the process. */
export interface LockHolder {
  /** The retort command, e.g. "safe-upgrade". */
  command: string;
  host: string;
  pid: number;
  /** The Lambda request id, when run by Lambda. */
  requestId?: string;
  /** The CloudFormation stack, when run by a deploy. */
  stackId?: string;
}

export interface LockInfo {
  /** The lock's key: one per target database. */
  key: string;
  holder: LockHolder;
  /** ISO time the current holder acquired it. */
  since: string;
  /** ISO time the lease runs out unless renewed. */
  expiresAt: string;
  token: number;
}

export interface Lease {
  readonly info: LockInfo;
  /** Throws LeaseLostError when the lease is known to be lost; call before each statement. */
  assertHeld(): void;
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** How long to keep trying while another runner holds the lock; 0 fails at once. */
  waitMs?: number;
  /** Lease duration. @default 60_000 */
  leaseMs?: number;
}

export interface Lock {
  acquire(key: string, holder: LockHolder, options?: AcquireOptions): Promise<Lease>;
  /** The current holder, or null when the lock is free. */
  current(key: string): Promise<LockInfo | null>;
}

export function currentHolder(command: string, extra: Partial<LockHolder> = {}): LockHolder {
  return { command, host: os.hostname(), pid: process.pid, ...extra };
}

export function describeHolder(info: LockInfo): string {
  const h = info.holder;
  const where = [h.requestId ? `Lambda request ${h.requestId}` : `${h.host} pid ${h.pid}`, h.stackId && `stack ${h.stackId}`]
    .filter(Boolean)
    .join(", ");
  return `${h.command} (${where}) since ${info.since}, lease expires ${info.expiresAt}, fencing token ${info.token}`;
}

export class LockConflictError extends Error {
  override name = "LockConflictError";
  constructor(readonly info: LockInfo) {
    super(
      `The migration lock for ${info.key} is held by ${describeHolder(info)}; ` +
        "retry with --wait <duration> to queue behind it, or, if that runner is gone, run `retort unlock --force`",
    );
  }
}

export class LeaseLostError extends Error {
  override name = "LeaseLostError";
  constructor(readonly info: LockInfo, reason: string) {
    super(`Lost the migration lock for ${info.key} (fencing token ${info.token}): ${reason}; nothing more will be run`);
  }
}

interface Slot {
  info: LockInfo | null;
  nextToken: number;
  waiters: (() => void)[];
}

/**
 * A lock shared by the runners of one process: what the embedded database needs (PGlite is
 * single-process anyway). Waiters queue in order; tokens increase per key.
 */
export class InProcessLock implements Lock {
  private readonly slots = new Map<string, Slot>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  private slot(key: string): Slot {
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = { info: null, nextToken: 1, waiters: [] }));
    return slot;
  }

  async current(key: string): Promise<LockInfo | null> {
    return this.slots.get(key)?.info ?? null;
  }

  async acquire(key: string, holder: LockHolder, options: AcquireOptions = {}): Promise<Lease> {
    const slot = this.slot(key);
    const deadline = Date.now() + (options.waitMs ?? 0);
    while (slot.info) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new LockConflictError(slot.info);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        slot.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const since = this.now();
    const info: LockInfo = {
      key,
      holder,
      since: since.toISOString(),
      expiresAt: new Date(since.getTime() + (options.leaseMs ?? 60_000)).toISOString(),
      token: slot.nextToken++,
    };
    slot.info = info;
    let released = false;
    return {
      info,
      assertHeld: () => {
        if (released) throw new LeaseLostError(info, "it was already released");
      },
      release: async () => {
        if (released) return;
        released = true;
        if (slot.info === info) slot.info = null;
        slot.waiters.shift()?.();
      },
    };
  }
}
