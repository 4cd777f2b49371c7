// The Lock port: exactly one runner may change a target database at a time. Acquiring returns a
// lease with a fencing token that strictly increases per target, so the database can refuse a
// runner that lost its lease (lib/state/version-table.ts checks it inside each migration's
// transaction). This file holds the port, its errors and the in-process adapter used with the
// embedded database; the DynamoDB adapter is lib/state/dynamo-lock.ts.
import { RetortError } from "../errors.ts";
import { randomUUID } from "node:crypto";
import os from "node:os";

/** Who holds (or wants) the lock: enough for an operator to find the process. */
export interface LockHolder {
  /** The retort command, e.g. "safe-upgrade". */
  command: string;
  host: string;
  pid: number;
  /** The run this acquisition is for; its history record has the same id. */
  runId?: string;
  /** Who started it: an OS user, or the Lambda function. */
  actor?: string;
  /** The Lambda request id, when run by Lambda. */
  requestId?: string;
  /** The CloudFormation stack, when run by a deploy. */
  stackId?: string;
  /** The Step Functions execution, when run by the rollback state machine. */
  executionArn?: string;
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
  /**
   * Whether the token is a fencing token the database must check. The DynamoDB lock's are; the
   * in-process lock's restart at 1 in every process, so they fence nothing across processes.
   */
  readonly fenced: boolean;
  /** The lease this acquisition took over because it had expired (its holder presumably died). */
  readonly tookOver?: LockInfo;
  /** Throws LeaseLostError when the lease is known (or may be) lost; call before each statement. */
  assertHeld(): void;
  /** Gives the lock up. Never throws for a lock someone else has taken meanwhile. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** How long to keep trying while another runner holds the lock; 0 fails at once. */
  waitMs?: number;
  /** Lease duration; a heartbeat renews it while the work runs. @default 30_000 */
  leaseMs?: number;
  /**
   * The lease's owner id, when the caller has a stable one (a Step Functions execution's ARN): an
   * acquire repeated by the same owner (its first answer was lost) finds its own lease and gets
   * it back, with the same fencing token and holder, instead of a conflict with itself.
   * @default a new id for every acquire
   */
  owner?: string;
}

/** What `retort unlock --force` did. */
export interface ForceReleaseResult {
  key: string;
  /** The lease that was broken, or null when the lock was free. */
  broken: LockInfo | null;
  /** The token now recorded: any later acquisition gets a higher one, so the old holder is fenced out. */
  token: number;
}

export interface ForceReleaseOptions {
  /** Move the token to at least this (the highest token that wrote to the database). */
  minToken?: number;
}

export interface Lock {
  /** Where the lock lives, for messages ("DynamoDB table retort-lock", "this process"). */
  readonly description: string;
  acquire(key: string, holder: LockHolder, options?: AcquireOptions): Promise<Lease>;
  /** The current holder (consistent read), or null when the lock is free. */
  current(key: string): Promise<LockInfo | null>;
  /** Breaks the lock whoever holds it and bumps the fencing token. */
  forceRelease(key: string, options?: ForceReleaseOptions): Promise<ForceReleaseResult>;
}

export const DEFAULT_LEASE_MS = 30_000;

/** The OS user, or undefined where the platform has none (some containers). */
function osUser(): string | undefined {
  try {
    return os.userInfo().username || undefined;
  } catch {
    return undefined;
  }
}

/** The holder for a new run of `command` in this process, with a fresh run id. */
export function currentHolder(command: string, extra: Partial<LockHolder> = {}): LockHolder {
  const actor = osUser();
  return {
    command,
    host: os.hostname(),
    pid: process.pid,
    runId: randomUUID(),
    ...(actor ? { actor } : {}),
    ...extra,
  };
}

/** True when the lease ran out (derived from its timestamps, never stored). */
export function isExpired(info: LockInfo, now: Date = new Date()): boolean {
  return Date.parse(info.expiresAt) <= now.getTime();
}

export function describeHolder(info: LockInfo): string {
  const h = info.holder;
  const where = [
    h.executionArn ? `Step Functions execution ${h.executionArn}` : h.requestId ? `Lambda request ${h.requestId}` : `${h.host} pid ${h.pid}`,
    h.actor && `by ${h.actor}`,
    h.stackId && `stack ${h.stackId}`,
  ]
    .filter(Boolean)
    .join(", ");
  return `${h.command} (${where}) since ${info.since}, lease expires ${info.expiresAt}, fencing token ${info.token}`;
}

export class LockConflictError extends RetortError {
  override readonly code: string = "lock-held";
  protected override details(): Record<string, unknown> {
    return { holder: this.info };
  }
  override name = "LockConflictError";
  constructor(
    readonly info: LockInfo,
    waitedMs = 0,
  ) {
    super(
      `The migration lock for ${info.key} is held by ${describeHolder(info)}` +
        (waitedMs > 0 ? ` (waited ${Math.round(waitedMs / 1000)} s)` : "") +
        "; retry with --wait <duration> to queue behind it, or, if that runner is gone, run `retort unlock --force`",
    );
  }
}

export class LeaseLostError extends RetortError {
  override readonly code: string = "lease-lost";
  protected override details(): Record<string, unknown> {
    return { lease: this.info };
  }
  override name = "LeaseLostError";
  constructor(
    readonly info: LockInfo,
    readonly reason: string,
  ) {
    super(
      `Lost the migration lock for ${info.key} (fencing token ${info.token}): ${reason}; nothing more will be run. ` +
        "Run `retort status` to see who holds it and what is applied",
    );
  }
}

/** The lock store itself failed (table missing, no permission, faults beyond the retries). */
export class LockStoreError extends RetortError {
  override readonly code: string = "lock-store";
  override name = "LockStoreError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

interface Slot {
  info: LockInfo | null;
  owner?: string;
  lease?: Lease;
  nextToken: number;
  waiters: (() => void)[];
}

/**
 * A lock shared by the runners of one process: what the embedded database needs (PGlite is
 * single-process anyway). Waiters queue in order; tokens increase per key. Its leases do not
 * expire and are not fenced: a second process is not excluded (use a DynamoDB lock table).
 */
export class InProcessLock implements Lock {
  readonly description = "the in-process lock (this process only)";
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
    if (options.owner !== undefined && slot.info && slot.owner === options.owner && slot.lease) return slot.lease;
    const started = Date.now();
    const deadline = started + (options.waitMs ?? 0);
    while (slot.info) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new LockConflictError(slot.info, options.waitMs ? Date.now() - started : 0);
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
      expiresAt: new Date(since.getTime() + (options.leaseMs ?? DEFAULT_LEASE_MS)).toISOString(),
      token: slot.nextToken++,
    };
    slot.info = info;
    slot.owner = options.owner;
    let released = false;
    return (slot.lease = {
      info,
      fenced: false,
      assertHeld: () => {
        if (released) throw new LeaseLostError(info, "it was already released");
        if (slot.info !== info) throw new LeaseLostError(info, "it was broken with `retort unlock --force`");
      },
      release: async () => {
        if (released) return;
        released = true;
        if (slot.info === info) {
          slot.info = null;
          slot.owner = undefined;
          slot.lease = undefined;
          slot.waiters.shift()?.();
        }
      },
    });
  }

  async forceRelease(key: string, options: ForceReleaseOptions = {}): Promise<ForceReleaseResult> {
    const slot = this.slot(key);
    const broken = slot.info;
    slot.info = null;
    // nextToken - 1 was handed out last: bump past it, and past minToken.
    const token = Math.max(slot.nextToken, (options.minToken ?? 0) + 1);
    slot.nextToken = token + 1;
    slot.waiters.shift()?.();
    return { key, broken, token };
  }
}
