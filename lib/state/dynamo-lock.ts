// The Lock port on DynamoDB: one item per target database (keys in dynamo-table.ts). Acquiring is
// ONE conditional UpdateItem that also increments the fencing token; a conflict returns the
// holder in the same answer (ReturnValuesOnConditionCheckFailure: ALL_OLD), so an uncontended
// acquire + release is two calls. A heartbeat renews the lease while work runs; a renewal that
// finds the lock taken, or a lease that runs out before a renewal succeeds, makes assertHeld()
// throw before the next statement.
import { performance } from "node:perf_hooks";
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  ResourceNotFoundException,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from "@aws-sdk/client-dynamodb";
import { randomUUID } from "node:crypto";
import { createDynamoClient, describeAwsError, isRetryable, type RetryOptions, sleep, withDynamoRetry } from "./dynamo-client.ts";
import { backoffDelay } from "../retry.ts";
import { attr, type Item, itemKey, keys, read } from "./dynamo-table.ts";
import {
  type AcquireOptions,
  DEFAULT_LEASE_MS,
  type ForceReleaseOptions,
  type ForceReleaseResult,
  type Lease,
  LeaseLostError,
  type Lock,
  LockConflictError,
  type LockHolder,
  type LockInfo,
  LockStoreError,
} from "./lock.ts";

// One lock item over time (t = the writer's clock, E = expiresAt):
//
//   free ──acquire(A)──> held by A, E = t+lease ──renew──> E' ──release──> free (token kept)
//                              │
//                              └─ A dies; t > E ──acquire(B)──> held by B, token+1 (A fenced out)
//
//   forceRelease: whatever the state, free again and token+1.
// Expiry is derived from E and the writer's clock inside the condition, never stored or left to TTL.
const LOCK_IS_FREE = "attribute_not_exists(#owner)";
const LEASE_HAS_EXPIRED = "#expiresAt < :now";
const ACQUIRE_CONDITION = `${LOCK_IS_FREE} OR ${LEASE_HAS_EXPIRED}`;
const STILL_OURS = "#owner = :owner";

const NAMES = {
  "#owner": "owner",
  "#holder": "holder",
  "#since": "since",
  "#expiresAt": "expiresAt",
  "#leaseMs": "leaseMs",
  "#token": "token",
} as const;
const HOLDER_ATTRIBUTES = "#owner, #holder, #since, #expiresAt, #leaseMs";

export interface DynamoLockOptions {
  /** The table (see dynamo-table.ts for its key schema). */
  table: string;
  /** @default createDynamoClient(): region and endpoint from the SDK's environment */
  client?: DynamoDBClient;
  /** Retries of throttling and 5xx on every call. @default 5 attempts, 50 ms doubling to 1 s */
  retry?: RetryOptions;
  /** Backoff between polls while waiting for a held lock. @default 100 ms doubling to 1 s, jittered */
  pollMs?: { baseMs: number; maxMs: number };
  /** Renewal interval. @default a third of the lease */
  heartbeatMs?: number;
  /** The clock written into the item and compared in conditions (epoch ms). @default Date.now */
  clock?: () => number;
}

export class DynamoLock implements Lock {
  readonly description: string;
  readonly client: DynamoDBClient;
  private readonly clock: () => number;

  constructor(private readonly options: DynamoLockOptions) {
    this.client = options.client ?? createDynamoClient();
    this.clock = options.clock ?? Date.now;
    this.description = `DynamoDB table ${options.table}`;
  }

  async acquire(key: string, holder: LockHolder, options: AcquireOptions = {}): Promise<Lease> {
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    const owner = options.owner ?? randomUUID();
    const started = performance.now();
    const poll = this.options.pollMs ?? { baseMs: 100, maxMs: 1000 };
    for (let attempt = 0; ; attempt += 1) {
      const outcome = await this.tryAcquire(key, holder, owner, leaseMs);
      if (outcome.kind === "acquired") {
        return new DynamoLease(this, key, owner, outcome.info, leaseMs, outcome.sentAt, outcome.tookOver, this.options.heartbeatMs);
      }
      const waited = performance.now() - started;
      const remaining = (options.waitMs ?? 0) - waited;
      if (remaining <= 0) throw new LockConflictError(outcome.holder, options.waitMs ? waited : 0);
      await sleep(Math.min(remaining, backoffDelay(attempt + 1, { baseDelayMs: poll.baseMs, maxDelayMs: poll.maxMs })));
    }
  }

  private async tryAcquire(
    key: string,
    holder: LockHolder,
    owner: string,
    leaseMs: number,
  ): Promise<
    | { kind: "acquired"; info: LockInfo; sentAt: number; tookOver?: LockInfo }
    | { kind: "held"; holder: LockInfo }
  > {
    for (;;) {
      const now = this.clock();
      const sentAt = performance.now();
      try {
        const { Attributes: old } = await this.update(key, {
          UpdateExpression:
            "SET #owner = :owner, #holder = :holder, #since = :now, #expiresAt = :expiresAt, #leaseMs = :leaseMs ADD #token :one",
          ConditionExpression: ACQUIRE_CONDITION,
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: {
            ":owner": attr.s(owner),
            ":holder": attr.json(holder),
            ":now": attr.n(now),
            ":expiresAt": attr.n(now + leaseMs),
            ":leaseMs": attr.n(leaseMs),
            ":one": attr.n(1),
          },
          ReturnValues: "ALL_OLD",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        });
        const info: LockInfo = {
          key,
          holder,
          since: new Date(now).toISOString(),
          expiresAt: new Date(now + leaseMs).toISOString(),
          token: (read.n(old, "token") ?? 0) + 1,
        };
        const previous = read.s(old, "owner") !== undefined && read.s(old, "owner") !== owner ? lockInfo(key, old) : null;
        return { kind: "acquired", info, sentAt, ...(previous ? { tookOver: previous } : {}) };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        // The holder comes with the refusal; only a store that ignores ALL_OLD (some emulators) needs a read.
        const item = error.Item ?? (await this.item(key));
        const current = lockInfo(key, item);
        // Our own lease: an acquire repeated after its answer was lost (the SDK's retry, or a
        // caller with a stable owner id). It is ours again, renewed, with its token unchanged.
        if (current && read.s(item, "owner") === owner) {
          const renewedAt = performance.now();
          const renewed = await this.renew(key, owner, leaseMs);
          if (renewed.kind === "renewed") return { kind: "acquired", info: current, sentAt: renewedAt };
          continue;
        }
        if (current && Date.parse(current.expiresAt) >= this.clock()) return { kind: "held", holder: current };
        // Released or expired between the write and the read: try again at once.
      }
    }
  }

  async current(key: string): Promise<LockInfo | null> {
    return lockInfo(key, await this.item(key));
  }

  async forceRelease(key: string, options: ForceReleaseOptions = {}): Promise<ForceReleaseResult> {
    const { Attributes: old } = await this.update(key, {
      UpdateExpression: `REMOVE ${HOLDER_ATTRIBUTES} ADD #token :one`,
      ExpressionAttributeNames: NAMES,
      ExpressionAttributeValues: { ":one": attr.n(1) },
      ReturnValues: "ALL_OLD",
    });
    let token = (read.n(old, "token") ?? 0) + 1;
    // Tokens below what the database has seen (a recreated table) would be refused forever.
    while (options.minToken !== undefined && token <= options.minToken) {
      const target = options.minToken + 1;
      try {
        await this.update(key, {
          UpdateExpression: "SET #token = :target",
          ConditionExpression: "#token = :seen",
          ExpressionAttributeNames: { "#token": "token" },
          ExpressionAttributeValues: { ":target": attr.n(target), ":seen": attr.n(token) },
        });
        token = target;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        token = read.n(await this.item(key), "token") ?? token;
      }
    }
    return { key, broken: lockInfo(key, old), token };
  }

  /** The lock item, read consistently. */
  private async item(key: string): Promise<Item | undefined> {
    const { Item } = await this.send(key, () =>
      this.client.send(new GetItemCommand({ TableName: this.options.table, Key: itemKey(key, keys.lock), ConsistentRead: true })),
    );
    return Item;
  }

  /** One UpdateItem on the lock item. */
  private update(key: string, input: Omit<UpdateItemCommandInput, "TableName" | "Key">) {
    return this.send(key, () =>
      this.client.send(new UpdateItemCommand({ TableName: this.options.table, Key: itemKey(key, keys.lock), ...input })),
    );
  }

  /** Renews `owner`'s lease; "lost" when the item no longer names it. */
  async renew(key: string, owner: string, leaseMs: number): Promise<{ kind: "renewed" } | { kind: "lost"; holder: LockInfo | null }> {
    const now = this.clock();
    try {
      await this.update(key, {
        UpdateExpression: "SET #expiresAt = :expiresAt",
        ConditionExpression: STILL_OURS,
        ExpressionAttributeNames: { "#owner": "owner", "#expiresAt": "expiresAt" },
        ExpressionAttributeValues: { ":owner": attr.s(owner), ":expiresAt": attr.n(now + leaseMs) },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      });
      return { kind: "renewed" };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { kind: "lost", holder: lockInfo(key, error.Item) };
      throw error;
    }
  }

  /** Frees the lock if `owner` still holds it; a lock taken over meanwhile is left alone. */
  async release(key: string, owner: string): Promise<void> {
    try {
      await this.update(key, {
        UpdateExpression: `REMOVE ${HOLDER_ATTRIBUTES}`,
        ConditionExpression: STILL_OURS,
        ExpressionAttributeNames: { "#owner": "owner", "#holder": "holder", "#since": "since", "#expiresAt": "expiresAt", "#leaseMs": "leaseMs" },
        ExpressionAttributeValues: { ":owner": attr.s(owner) },
      });
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** One call with retries; a missing table or a refusal becomes a LockStoreError naming it. */
  private async send<T>(key: string, call: () => Promise<T>): Promise<T> {
    try {
      return await withDynamoRetry(call, this.options.retry);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw error;
      if (error instanceof ResourceNotFoundException) {
        throw new LockStoreError(
          `The lock table ${this.options.table} does not exist (lock ${key}): create it with ` +
            `\`retort lock-table create --lock-table ${this.options.table}\`, or deploy the MigrationRunner construct`,
          { cause: error },
        );
      }
      throw new LockStoreError(
        `DynamoDB call on lock table ${this.options.table} failed for ${key}${isRetryable(error) ? " after retries" : ""}: ` +
          `${describeAwsError(error)}; nothing was changed by this runner. Check the table and the credentials, then run the command again`,
        { cause: error },
      );
    }
  }
}

/** The lock item as LockInfo, or null when it names no holder. */
function lockInfo(key: string, item: Item | undefined): LockInfo | null {
  const holder = read.json<LockHolder>(item, "holder");
  if (!item || read.s(item, "owner") === undefined || !holder) return null;
  return {
    key,
    holder,
    since: new Date(read.n(item, "since") ?? 0).toISOString(),
    expiresAt: new Date(read.n(item, "expiresAt") ?? 0).toISOString(),
    token: read.n(item, "token") ?? 0,
  };
}

/**
 * A held DynamoDB lease and its heartbeat. The local deadline is measured on the monotonic clock
 * from when the last successful write was *sent*, minus a margin, so a paused process never
 * believes a lease that another runner may already have taken.
 */
export class DynamoLease implements Lease {
  readonly fenced = true;
  private lost: string | undefined;
  private released = false;
  private deadline: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly interval: number;
  private readonly margin: number;
  private beating: Promise<void> = Promise.resolve();

  constructor(
    private readonly lock: DynamoLock,
    private readonly key: string,
    /** The lease's id in the lock item; lease-handover.ts passes it from one invocation to the next. */
    readonly owner: string,
    readonly info: LockInfo,
    private readonly leaseMs: number,
    sentAt: number,
    readonly tookOver: LockInfo | undefined,
    heartbeatMs?: number,
  ) {
    this.margin = Math.min(1000, leaseMs / 10);
    this.deadline = sentAt + leaseMs - this.margin;
    this.interval = heartbeatMs ?? leaseMs / 3;
    this.schedule(this.interval);
  }

  assertHeld(): void {
    if (this.released) throw new LeaseLostError(this.info, "it was already released");
    if (this.lost) throw new LeaseLostError(this.info, this.lost);
    if (performance.now() >= this.deadline) {
      this.lost = "its lease ran out before a renewal succeeded (the process was paused, or DynamoDB was unreachable)";
      throw new LeaseLostError(this.info, this.lost);
    }
  }

  /** Renews now (the heartbeat does this on its own); resolves once the renewal settled. */
  renewNow(): Promise<void> {
    this.beating = this.beating.then(() => this.beat());
    return this.beating;
  }

  /** Stops the heartbeat, keeping the lock held for a later invocation to pick up (lease-handover.ts). */
  detach(): void {
    this.released = true;
    this.stop();
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stop();
    await this.beating;
    if (this.lost) return;
    await this.lock.release(this.key, this.owner);
  }

  private schedule(ms: number): void {
    if (this.released || this.lost) return;
    this.timer = setTimeout(() => void this.renewNow(), ms);
    // The heartbeat must never keep a finished process alive.
    this.timer.unref();
  }

  private stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async beat(): Promise<void> {
    if (this.released || this.lost) return;
    this.stop();
    if (performance.now() >= this.deadline) {
      this.lost = "its lease ran out before a renewal succeeded (the process was paused, or DynamoDB was unreachable)";
      return;
    }
    const sentAt = performance.now();
    try {
      const outcome = await this.lock.renew(this.key, this.owner, this.leaseMs);
      if (outcome.kind === "lost") {
        this.lost = outcome.holder
          ? `another runner took it over: ${outcome.holder.holder.command} (${outcome.holder.holder.host} pid ${outcome.holder.holder.pid}), fencing token ${outcome.holder.token}`
          : "it was broken with `retort unlock --force`";
        return;
      }
      this.deadline = sentAt + this.leaseMs - this.margin;
      this.schedule(this.interval);
    } catch {
      // The lease is still ours until the deadline: keep trying, sooner.
      this.schedule(Math.min(this.interval, Math.max(50, (this.deadline - performance.now()) / 4)));
    }
  }
}
