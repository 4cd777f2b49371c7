// The rollback state machine's tasks. Each is one short invocation: plan (the revisions a
// downgrade to the target reverts, and its SQL as a dry run), request approval (log the task
// token), acquire the lock, downgrade ONE revision under that lock, release it. The lease passes
// from step to step as a handle (lib/state/lease-handover.ts), so the fencing token stays the same
// from the first downgrade to the last.
//
// The execution is one run in the history: the acquire step records it as started, each downgrade
// step adds its revision and the heads so far (the run stays started), and the release step
// finishes it once, succeeded or failed. An execution that ends any other way (it timed out, was
// stopped, or its release failed) is ended by the `end` step, which an EventBridge rule sends: it
// records the run as abandoned and frees the lock the execution still holds.
import { RetortError } from "../lib/errors.ts";
import type { Context, DatabaseContext } from "../lib/runner/context.ts";
import { planDowngrade, type DowngradePlan } from "../lib/runner/downgrade-plan.ts";
import { beginRun } from "../lib/runner/locked-run.ts";
import { downgrade } from "../lib/runner/upgrade.ts";
import { describeAwsError } from "../lib/state/aws-error.ts";
import { type History, type RunOutcome, RunStatus, runFromLease } from "../lib/state/history.ts";
import { describeHolder, type Lease, type Lock, LockConflictError, type LockHolder } from "../lib/state/lock.ts";
import { handOver, HeldLock, type LeaseHandle, pickUp, releaseHandedOver } from "../lib/state/lease-handover.ts";
import { ROLLBACK_STEPS } from "./constants.ts";
import { ValidationError } from "./manual.ts";

export type RollbackEvent =
  | { step: typeof ROLLBACK_STEPS.plan; target: string }
  | { step: typeof ROLLBACK_STEPS.requestApproval; taskToken: string; plan?: DowngradePlan; executionArn?: string }
  | { step: typeof ROLLBACK_STEPS.acquire; executionArn?: string; target?: string }
  | {
      step: typeof ROLLBACK_STEPS.downgrade;
      target: string;
      lease: LeaseHandle;
      approved: { revision: string }[];
      /** The heads the approved plan starts from. */
      fromHeads?: string[];
    }
  | { step: typeof ROLLBACK_STEPS.release; lease: LeaseHandle; error?: StepFailure }
  | { step: typeof ROLLBACK_STEPS.end; executionArn: string; status: string };

/** A caught error as Step Functions passes it on: its name, and the cause (for a Lambda, JSON). */
export interface StepFailure {
  Error?: string;
  Cause?: string;
}

export interface DowngradeStepResult {
  /** The revision this step reverted; null when there was nothing left. */
  reverted: string | null;
  toHeads: string[];
  /** Revisions still to revert to reach the target. */
  remaining: number;
  done: boolean;
}

/** A step that failed; the state machine releases the lock and fails with this message. */
export class RollbackStepError extends RetortError {
  override readonly code: string = "rollback-step-failed";
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
  if (e["step"] === ROLLBACK_STEPS.end && (typeof e["executionArn"] !== "string" || typeof e["status"] !== "string")) {
    return fail('"executionArn" and "status" must come from the execution\'s status change event');
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
        // A retried request (its answer lost) gets a new token; the earlier one no longer answers.
        note: "when an execution logs this more than once, answer with the newest taskToken",
      });
      return { requested: true };
    case ROLLBACK_STEPS.acquire: {
      // The execution owns the lease: a retried acquire (its answer lost) gets the same lease back,
      // and its run's start is recorded once.
      const execution = event.executionArn;
      const db: DatabaseContext = {
        ...env.ctx.database!,
        lock: env.lock,
        lockKey: env.lockKey,
        holder: { ...env.holder, ...(execution ? { executionArn: execution } : {}) },
        leaseMs: env.leaseMs,
        lockWaitMs: 0,
      };
      let run;
      try {
        run = await beginRun(db, "rollback", event.target, execution ? { owner: execution } : {});
      } catch (error) {
        if (!(error instanceof LockConflictError)) throw error;
        throw new RollbackStepError(
          `The migration lock for ${error.info.key} is held by ${describeHolder(error.info)}; this rollback changed nothing. ` +
            "Start the execution again once that runner has finished (a runner that died frees the lock when its lease expires)",
        );
      }
      env.onToken(run.lease.info.token);
      await run.recorded;
      for (const warning of run.warnings) env.log("rollback history", { warning });
      return handOver(run.lease, env.leaseMs);
    }
    case ROLLBACK_STEPS.downgrade:
      return downgradeOne(event, env);
    case ROLLBACK_STEPS.release: {
      env.onToken(event.lease.info.token);
      // The run is finished before the lock is free: the next holder must not find it started.
      const released = await releaseHandedOver(env.lock, event.lease, () =>
        finishRun(env, event.lease, event.error ? { status: RunStatus.Failed, error: failureMessage(event.error) } : { status: RunStatus.Succeeded }),
      );
      env.log(released.released ? "rollback released the lock" : "rollback lock was already gone", released);
      return released;
    }
    case ROLLBACK_STEPS.end:
      return endExecution(event, env);
  }
}

/** Records how the execution's run ended; a history that cannot be written is logged, never fatal. */
async function finishRun(env: StepEnvironment, lease: LeaseHandle, outcome: Pick<RunOutcome, "status" | "error">): Promise<void> {
  const history = env.ctx.database?.history;
  if (!history) return;
  const run = runFromLease(lease.info);
  const finishedAt = new Date();
  await history
    .finish(run, { ...outcome, finishedAt: finishedAt.toISOString(), durationMs: finishedAt.getTime() - Date.parse(run.startedAt) }, [])
    .catch((error) => env.log("rollback history", { warning: `could not record the end of the run in ${history.description}: ${describeAwsError(error)}` }));
}

/** The message of a caught error: a Lambda's cause is its JSON error, a timeout's is text. */
function failureMessage(failure: StepFailure): string {
  try {
    const cause = JSON.parse(failure.Cause ?? "") as { errorMessage?: unknown };
    if (typeof cause.errorMessage === "string") return cause.errorMessage;
  } catch {
    // Not JSON: the cause is the message.
  }
  return failure.Cause || failure.Error || "the rollback failed";
}

/**
 * The execution ended without releasing its lock (timed out, stopped, or its release failed): the
 * run is recorded as abandoned and the lock freed. Anything else (the lock free or someone
 * else's, the run already finished) is left alone, so a repeated event changes nothing.
 */
async function endExecution(event: Extract<RollbackEvent, { step: "end" }>, env: StepEnvironment) {
  const info = await env.lock.current(env.lockKey);
  if (info?.holder.executionArn !== event.executionArn) {
    const reason = info ? `the lock is held by ${describeHolder(info)}` : "the lock is free";
    env.log("rollback execution ended; nothing of it to release", { executionArn: event.executionArn, status: event.status, reason });
    return { released: false, reason };
  }
  // Its own lease back (the execution owns it), so nobody can take the lock between the record and the release.
  let lease: Lease;
  try {
    lease = await env.lock.acquire(env.lockKey, info.holder, { owner: event.executionArn, leaseMs: env.leaseMs });
  } catch (error) {
    if (!(error instanceof LockConflictError)) throw error;
    return { released: false, reason: `the lock was taken over by ${describeHolder(error.info)}` };
  }
  env.onToken(lease.info.token);
  const abandoned = await env.ctx.database?.history
    ?.abandon(info, { description: `Step Functions execution ${event.executionArn} ${event.status}`, token: info.token, at: new Date().toISOString() })
    .catch((error) => {
      env.log("rollback history", { warning: `could not mark run ${info.holder.runId ?? info.token} abandoned: ${describeAwsError(error)}` });
      return false;
    });
  await lease.release();
  const runAbandoned = abandoned === true;
  env.log("rollback execution ended; its lock was released", { executionArn: event.executionArn, status: event.status, runAbandoned });
  return { released: true, runAbandoned };
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
    const history = ctx.database!.history;
    if (history) {
      const before = approved.length - pending.length;
      ctx.database!.history = stepHistory(history, event.fromHeads, before);
    }
    const result = await downgrade(ctx, { target: event.target, limit: 1 });
    for (const warning of result.warnings ?? []) env.log("rollback history", { warning });
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

/**
 * The history as one downgrade step writes it: the execution's run was started by the acquire
 * step and is finished by the release step, so this step adds its revision and the heads so far,
 * and the run stays started.
 */
function stepHistory(inner: History, fromHeads: string[] | undefined, revertedBefore: number): History {
  return {
    description: inner.description,
    start: async () => {},
    finish: (run, outcome, revisions) =>
      inner.finish(
        run,
        {
          status: outcome.status === RunStatus.Unknown ? RunStatus.Unknown : RunStatus.Started,
          ...(fromHeads ? { fromHeads } : revertedBefore === 0 && outcome.fromHeads ? { fromHeads: outcome.fromHeads } : {}),
          ...(outcome.toHeads ? { toHeads: outcome.toHeads } : {}),
          applied: revertedBefore + (outcome.applied ?? 0),
        } as RunOutcome,
        revisions,
      ),
    abandon: (lease, by) => inner.abandon(lease, by),
    runs: (target, options) => inner.runs(target, options),
    revisions: (run) => inner.revisions(run),
  };
}
