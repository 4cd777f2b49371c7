// The rollback state machine's tasks. Each is one short invocation: plan (the revisions a
// downgrade to the target reverts, and its SQL as a dry run), request approval (log the task
// token), acquire the lock, downgrade ONE revision under that lock, release it. The lease passes
// from step to step as a handle (lib/state/lease-handover.ts), so the fencing token stays the same
// from the first downgrade to the last.
import type { Context } from "../lib/runner/context.ts";
import { planDowngrade, type DowngradePlan } from "../lib/runner/downgrade-plan.ts";
import { downgrade } from "../lib/runner/upgrade.ts";
import { currentHolder, describeHolder, type Lease, type Lock, LockConflictError, type LockHolder } from "../lib/state/lock.ts";
import { handOver, HeldLock, type LeaseHandle, pickUp, releaseHandedOver } from "../lib/state/lease-handover.ts";
import { ROLLBACK_STEPS } from "./constants.ts";
import { ValidationError } from "./manual.ts";

export type RollbackEvent =
  | { step: typeof ROLLBACK_STEPS.plan; target: string }
  | { step: typeof ROLLBACK_STEPS.requestApproval; taskToken: string; plan?: DowngradePlan; executionArn?: string }
  | { step: typeof ROLLBACK_STEPS.acquire; executionArn?: string }
  | { step: typeof ROLLBACK_STEPS.downgrade; target: string; lease: LeaseHandle; approved: { revision: string }[] }
  | { step: typeof ROLLBACK_STEPS.release; lease: LeaseHandle };

export interface DowngradeStepResult {
  /** The revision this step reverted; null when there was nothing left. */
  reverted: string | null;
  toHeads: string[];
  /** Revisions still to revert to reach the target. */
  remaining: number;
  done: boolean;
}

/** A step that failed; the state machine releases the lock and fails with this message. */
export class RollbackStepError extends Error {
  override name = "RollbackStepError";
}

const STEPS = Object.values(ROLLBACK_STEPS) as string[];

export function parseRollbackEvent(event: unknown): RollbackEvent {
  const e = (typeof event === "object" && event !== null ? event : {}) as Record<string, unknown>;
  const fail = (problem: string): never => {
    throw new ValidationError(`Invalid rollback step event: ${problem}. Steps: ${STEPS.join(", ")}`);
  };
  if (typeof e["step"] !== "string" || !STEPS.includes(e["step"])) return fail(`unknown step ${JSON.stringify(e["step"])}`);
  const needsTarget = e["step"] === ROLLBACK_STEPS.plan || e["step"] === ROLLBACK_STEPS.downgrade;
  if (needsTarget && (typeof e["target"] !== "string" || e["target"].trim() === "")) {
    return fail('"target" must be a revision, a prefix, -N or base; start the state machine with {"target": "<revision>"}');
  }
  if (e["step"] === ROLLBACK_STEPS.requestApproval && typeof e["taskToken"] !== "string") return fail('"taskToken" is missing');
  if (e["step"] === ROLLBACK_STEPS.downgrade) {
    const approved = e["approved"];
    if (!Array.isArray(approved) || !approved.every((r) => typeof (r as { revision?: unknown })?.revision === "string")) {
      return fail('"approved" must be the plan\'s revisions (the Plan step\'s "revisions")');
    }
  }
  if (e["step"] === ROLLBACK_STEPS.downgrade || e["step"] === ROLLBACK_STEPS.release) {
    const lease = e["lease"] as Partial<LeaseHandle> | undefined;
    if (!lease || typeof lease.owner !== "string" || typeof lease.info?.token !== "number" || typeof lease.leaseMs !== "number") {
      return fail('"lease" must be the handle the acquire step returned');
    }
  }
  return e as unknown as RollbackEvent;
}

export interface StepEnvironment {
  ctx: Context;
  /** The lock the runner would use (the DynamoDB table's). */
  lock: Lock;
  lockKey: string;
  holder: Partial<LockHolder>;
  /** Lease length for the whole rollback's hand-overs: longer than one step can run. */
  leaseMs: number;
  log: (message: string, attributes?: Record<string, unknown>) => void;
  /** Called with the fencing token once a step holds the lock. */
  onToken: (token: number) => void;
}

export async function runRollbackStep(event: RollbackEvent, env: StepEnvironment): Promise<unknown> {
  switch (event.step) {
    case ROLLBACK_STEPS.plan:
      return planDowngrade(env.ctx, { target: event.target });
    case ROLLBACK_STEPS.requestApproval:
      // The token is the approval: whoever may call SendTaskSuccess with it approves the rollback.
      env.log("rollback waits for approval", {
        executionArn: event.executionArn,
        revisions: event.plan?.revisions.map((r) => r.revision),
        approve: "aws stepfunctions send-task-success --task-token <taskToken> --task-output '{}'",
        reject: "aws stepfunctions send-task-failure --task-token <taskToken> --error Rejected",
        taskToken: event.taskToken,
      });
      return { requested: true };
    case ROLLBACK_STEPS.acquire: {
      // The execution owns the lease: a retried acquire (its answer lost) gets the same lease back.
      const execution = event.executionArn;
      let lease: Lease;
      try {
        lease = await env.lock.acquire(env.lockKey, currentHolder("rollback", { ...env.holder, ...(execution ? { executionArn: execution } : {}) }), {
          leaseMs: env.leaseMs,
          ...(execution ? { owner: execution } : {}),
        });
      } catch (error) {
        if (!(error instanceof LockConflictError)) throw error;
        throw new RollbackStepError(
          `The migration lock for ${error.info.key} is held by ${describeHolder(error.info)}; this rollback changed nothing. ` +
            "Start the execution again once that runner has finished (a runner that died frees the lock when its lease expires)",
        );
      }
      env.onToken(lease.info.token);
      return handOver(lease, env.leaseMs);
    }
    case ROLLBACK_STEPS.downgrade:
      return downgradeOne(event, env);
    case ROLLBACK_STEPS.release: {
      env.onToken(event.lease.info.token);
      const released = await releaseHandedOver(env.lock, event.lease);
      env.log(released.released ? "rollback released the lock" : "rollback lock was already gone", released);
      return released;
    }
  }
}

/** Reverts the newest revision of the plan under the handed-over lease, and says what is left. */
async function downgradeOne(event: Extract<RollbackEvent, { step: "downgrade" }>, env: StepEnvironment): Promise<DowngradeStepResult> {
  const lease = await pickUp(env.lock, event.lease);
  env.onToken(lease.info.token);
  const ctx: Context = { ...env.ctx, database: { ...env.ctx.database!, lock: new HeldLock(env.lock, lease) } };
  try {
    // Under the lock: the database must still be on the approved plan. A deploy (or anything else)
    // that changed it since the plan was made, e.g. while the approval waited, stops the rollback
    // before it reverts anything that was not approved.
    const now = await planDowngrade(ctx, { target: event.target, sql: false });
    const approved = event.approved.map((r) => r.revision);
    const pending = now.revisions.map((r) => r.revision);
    const expected = approved.slice(approved.length - pending.length);
    if (pending.length > approved.length || pending.some((revision, i) => revision !== expected[i])) {
      throw new RollbackStepError(
        `The database is no longer where the approved plan left it: reverting to ${event.target} now means ${pending.join(", ") || "nothing"}, ` +
          `but the plan approved ${approved.join(", ")} (newest first). It changed since the plan was made (a deploy, or another ` +
          "runner); nothing was reverted by this step. Start a new rollback to plan (and approve) again",
      );
    }
    const result = await downgrade(ctx, { target: event.target, limit: 1 });
    if (result.error) throw new RollbackStepError(result.error.message);
    // Under the lock nothing else moved the heads: what is left is the plan read above, less what ran.
    const left = pending.slice(result.results.length);
    if (result.results.length === 0 && left.length > 0) {
      // Nothing reverted yet something left: looping again would never end.
      throw new RollbackStepError(
        `downgrade to ${event.target} made no progress with ${left.length} revision(s) left (${left.join(", ")}); run \`retort status\``,
      );
    }
    return {
      reverted: result.results[0]?.revision ?? null,
      toHeads: result.toHeads,
      remaining: left.length,
      done: left.length === 0,
    };
  } finally {
    handOver(lease, event.lease.leaseMs);
  }
}
