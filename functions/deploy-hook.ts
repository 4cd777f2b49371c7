// The deploy-time custom resource, through the CDK Provider framework. onEvent validates the
// properties and the bundle and decides what the deploy means for the database; isComplete, polled
// by the framework, does the work in bounded chunks (a run may span many invocations, up to the
// Provider's total timeout) and reports completion. What the decisions are:
//
//   Create / Update, database at or behind the code   safe-upgrade to the bundled heads
//   Update, database ahead of the code (a rollback)    SUCCESS, schema untouched ("database ahead of
//                                                      this code"), unless OnRollback is 'downgrade':
//                                                      then the newer deploy's runner version (still
//                                                      there during the rollback) downgrades to the
//                                                      code's head
//   Create, database ahead of the code                 FAILED: nothing to roll back to
//   Delete                                             SUCCESS, nothing dropped
//
// Every failure becomes a short one-line error: the Provider framework puts it in the Reason, and
// CloudFormation refuses a response over 4 KB (the deploy would hang until its timeout instead).
import { RetortError } from "../lib/errors.ts";
import type { CloudFormationCustomResourceEvent } from "aws-lambda";
import { checkGraph } from "../lib/runner/check.ts";
import { type Context, loadGraph } from "../lib/runner/context.ts";
import { status } from "../lib/runner/status.ts";
import { safeUpgrade } from "../lib/runner/upgrade.ts";
import type { MigrateResult } from "../lib/runner/migrate.ts";
import { describeHolder, type LockConflictError } from "../lib/state/lock.ts";
import { VERSION_CONFLICT_SQLSTATE } from "../lib/state/version-table.ts";
import { ATTRIBUTES, ON_ROLLBACK, type OnRollback, OUTCOMES, PROPERTIES } from "./constants.ts";

export type DeployEvent = CloudFormationCustomResourceEvent;

/** What isComplete receives: the event plus what onEvent returned. */
export type PollEvent = DeployEvent & { PhysicalResourceId: string; Data?: Record<string, string>; [STARTED_AT]?: string };

/**
 * When onEvent answered (ISO). The Provider framework passes onEvent's whole answer on to every
 * isComplete poll, so this key (not a Data attribute: it is never part of the resource) tells the
 * polls how long this deploy has been at it.
 */
export const STARTED_AT = "RetortStartedAt";

export interface OnEventResponse {
  PhysicalResourceId: string;
  Data: Record<string, string>;
  [STARTED_AT]: string;
}

export type IsCompleteResponse = { IsComplete: false } | { IsComplete: true; Data?: Record<string, string> };

/** Calls another Lambda function (a version ARN) and returns its JSON answer. */
export type Invoker = (functionArn: string, payload: unknown) => Promise<unknown>;

export interface HookEnvironment {
  ctx: Context;
  /** The bundle's manifest hash, to compare with the resource's property. */
  manifestHash: string;
  /** Time left in this invocation (the Lambda context's). */
  remainingMs: () => number;
  invoke: Invoker;
  /** The physical resource id for a new resource. */
  physicalId: string;
  /** How long after onEvent the polls keep waiting for a lock another runner holds. */
  lockWaitMs: number;
  /** What the invocation is doing now: named if its time runs out regardless (handlers.ts). */
  doing: (activity: string) => void;
  log: (message: string, attributes?: Record<string, unknown>) => void;
}

/** A deploy-hook failure: one line, at most MAX_REASON bytes, so the Reason always reaches CloudFormation. */
export class DeployHookError extends RetortError {
  override readonly code: string = "deploy-hook-failed";
  override name = "DeployHookError";
  constructor(message: string) {
    super(shorten(message.replace(/\s*\n\s*/g, "; ")));
    // The runtime sends the stack as the error's trace and the framework appends it to the Reason.
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** Room for the message inside CloudFormation's 4 KB response, next to the ids and the Data. */
export const MAX_REASON = 2048;

function shorten(message: string): string {
  if (Buffer.byteLength(message) <= MAX_REASON) return message;
  const suffix = " ... (shortened; the whole message is in the runner's logs)";
  let cut = message.slice(0, MAX_REASON - suffix.length);
  while (Buffer.byteLength(cut) > MAX_REASON - suffix.length) cut = cut.slice(0, -16);
  return cut + suffix;
}

interface HookProperties {
  manifestHash: string;
  onRollback: OnRollback;
  runnerVersionArn: string | undefined;
}

function readProperties(props: Record<string, unknown> | undefined, which: string): HookProperties {
  const p = props ?? {};
  const hash = p[PROPERTIES.manifestHash];
  if (typeof hash !== "string" || !/^[0-9a-f]{64}$/.test(hash)) {
    throw new DeployHookError(`${which}.${PROPERTIES.manifestHash} must be the bundle's sha256 manifest hash, not ${JSON.stringify(hash)}`);
  }
  const onRollback = p[PROPERTIES.onRollback] ?? ON_ROLLBACK.keep;
  if (onRollback !== ON_ROLLBACK.keep && onRollback !== ON_ROLLBACK.downgrade) {
    throw new DeployHookError(`${which}.${PROPERTIES.onRollback} must be 'keep' or 'downgrade', not ${JSON.stringify(onRollback)}`);
  }
  const version = p[PROPERTIES.runnerVersion];
  return { manifestHash: hash, onRollback, runnerVersionArn: typeof version === "string" && version ? version : undefined };
}

type Decision =
  | { kind: "retain" }
  | { kind: "upgrade"; fromHeads: string[]; pending: number }
  | { kind: "ahead"; message: string; databaseHeads: string[] }
  | { kind: "downgrade"; via: string; target: string; databaseHeads: string[] };

/** What this event asks of the database; throws (fails the deploy) when it cannot be done. */
async function decide(event: DeployEvent, env: HookEnvironment): Promise<Decision> {
  const requestType: unknown = event.RequestType;
  if (requestType !== "Create" && requestType !== "Update" && requestType !== "Delete") {
    throw new DeployHookError(
      `RequestType ${JSON.stringify(requestType)} is not one CloudFormation sends (Create, Update or Delete); nothing was changed`,
    );
  }
  if (event.RequestType === "Delete") return { kind: "retain" };
  const props = readProperties(event.ResourceProperties, "ResourceProperties");
  if (props.manifestHash !== env.manifestHash) {
    throw new DeployHookError(
      `The resource's ${PROPERTIES.manifestHash} ${props.manifestHash.slice(0, 12)} does not match the migrations bundled in ` +
        `this runner (${env.manifestHash.slice(0, 12)}): the function's code and the template come from different synths. ` +
        "Deploy the stack again from one `cdk synth`",
    );
  }
  const graph = await loadGraph(env.ctx);
  const checked = checkGraph(graph);
  if (!checked.ok) {
    throw new DeployHookError(
      `The bundled migrations fail \`retort check\`, so nothing was changed: ` +
        checked.problems.map((p) => `${p.code}: ${p.message}`).join("; "),
    );
  }
  const now = await status(env.ctx);
  const ahead = now.unknown.filter((r) => now.databaseHeads.includes(r));
  if (ahead.length === 0) return { kind: "upgrade", fromHeads: now.databaseHeads, pending: now.pending.length };

  const codeHead = now.codeHeads[0] ?? "base";
  const described =
    `database ahead of this code: it records revision(s) ${ahead.join(", ")} that the bundled migrations ` +
    `(heads: ${now.codeHeads.join(", ") || "none"}) do not define`;
  if (event.RequestType === "Create") {
    throw new DeployHookError(
      `${described}. A new deployment must not run older migrations over a newer schema; nothing was changed. ` +
        "Deploy the code that has those revisions, or stamp the database to a revision this code knows",
    );
  }
  if (props.onRollback === ON_ROLLBACK.downgrade) {
    const newer = readProperties(event.OldResourceProperties, "OldResourceProperties").runnerVersionArn;
    if (newer) return { kind: "downgrade", via: newer, target: codeHead, databaseHeads: now.databaseHeads };
    return {
      kind: "ahead",
      databaseHeads: now.databaseHeads,
      message: `${described}; OnRollback is 'downgrade' but the newer deploy recorded no runner version to downgrade with, so the schema was left as it is`,
    };
  }
  return {
    kind: "ahead",
    databaseHeads: now.databaseHeads,
    message:
      `${described}: a CloudFormation rollback (or an older deploy). The schema was left as it is (OnRollback 'keep'); ` +
      `to revert it, start the rollback state machine with {"target": "${codeHead}"}`,
  };
}

/** Runs `body`, turning any failure into a DeployHookError (short, one line). */
async function failingShort<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof DeployHookError) throw error;
    throw new DeployHookError(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  }
}

export function onEvent(event: DeployEvent, env: HookEnvironment): Promise<OnEventResponse> {
  return failingShort(async (): Promise<OnEventResponse> => {
    const physicalId = event.RequestType === "Create" ? env.physicalId : event.PhysicalResourceId;
    const decision = await decide(event, env);
    env.log("deploy hook decided", { requestType: event.RequestType, decision: decision.kind });
    return { ...answer(decision, physicalId), [STARTED_AT]: new Date().toISOString() };
  });
}

function answer(decision: Decision, physicalId: string): Omit<OnEventResponse, typeof STARTED_AT> {
  switch (decision.kind) {
    case "retain":
      return {
        PhysicalResourceId: physicalId,
        Data: {
          [ATTRIBUTES.outcome]: OUTCOMES.retained,
          [ATTRIBUTES.message]: "Delete never drops anything: the schema and retort's version tables stay",
        },
      };
    case "ahead":
      return {
        PhysicalResourceId: physicalId,
        Data: {
          [ATTRIBUTES.outcome]: OUTCOMES.databaseAhead,
          [ATTRIBUTES.message]: decision.message,
          [ATTRIBUTES.fromHeads]: decision.databaseHeads.join(","),
          [ATTRIBUTES.toHeads]: decision.databaseHeads.join(","),
        },
      };
    case "downgrade":
      return { PhysicalResourceId: physicalId, Data: { [ATTRIBUTES.fromHeads]: decision.databaseHeads.join(",") } };
    case "upgrade":
      return { PhysicalResourceId: physicalId, Data: { [ATTRIBUTES.fromHeads]: decision.fromHeads.join(",") } };
  }
}

/**
 * Time kept back at the end of each invocation: the run stops there (a transaction in flight is
 * cancelled and rolled back, a statement outside one is left running), records how it ended,
 * releases the lock and answers, all before the Lambda's own timeout.
 */
const MARGIN_FRACTION = 0.05;
const MIN_MARGIN_MS = 2_000;
/** A revision stopped having had at least this share of a whole invocation can never fit in one. */
const WHOLE_INVOCATION = 0.9;

export function isComplete(event: PollEvent, env: HookEnvironment): Promise<IsCompleteResponse> {
  return failingShort(async (): Promise<IsCompleteResponse> => {
    const started = Date.now();
    const budget = env.remainingMs();
    const deadline = started + budget - Math.max(MIN_MARGIN_MS, budget * MARGIN_FRACTION);
    try {
      const decision = await decide(event, env);
      switch (decision.kind) {
        case "retain":
        case "ahead":
          return { IsComplete: true };
        case "downgrade":
          return await downgradeWithNewerRunner(decision, env);
        case "upgrade":
          return await upgradeInChunks(env, { started, deadline }, decision, event.Data?.[ATTRIBUTES.fromHeads]);
      }
    } catch (error) {
      const wait = waitFor(error);
      if (wait) return keepPolling(event, env, wait);
      throw error;
    }
  });
}

/** Something another runner (or an earlier statement) is doing, which the deploy waits out. */
interface Wait {
  /** For the log line. */
  waitingFor: string;
  /** Who or what, for the log and the final Reason. */
  detail: string;
  /** The Reason's opening when the time to wait is spent. */
  failure: string;
}

/** A run's result that is a Wait, thrown from the chunk loop to isComplete. */
class WaitError extends Error {
  constructor(readonly wait: Wait) {
    super(wait.detail);
  }
}

/** What a failure the deploy should wait out is waiting for; undefined for a real failure. */
function waitFor(error: unknown): Wait | undefined {
  if (error instanceof WaitError) return error.wait;
  if (!(error instanceof Error)) return undefined;
  if (error.name === "LockConflictError") {
    const holder = (error as Partial<LockConflictError>).info;
    // One from the newer runner version (OnRollback 'downgrade') arrives as its message only.
    const detail = holder ? describeHolder(holder) : error.message.replace(/; retry with --wait.*$/, "");
    return {
      waitingFor: "the migration lock",
      detail,
      failure: `The migration lock for ${holder?.key ?? "this database"} is still held by ${detail}`,
    };
  }
  if (error.name === "StatementStillRunningError") {
    return { waitingFor: "a statement still running", detail: error.message, failure: `The database is still busy: ${error.message}` };
  }
  return undefined;
}

/** Turns what a run reported into a Wait when it is one to wait out (see upgradeInChunks). */
function waitForResult(result: MigrateResult): Wait | undefined {
  const error = result.error;
  if (!error) return undefined;
  if (error.outcome === "unknown") {
    return { waitingFor: "a statement whose outcome is unknown", detail: error.message, failure: `safe-upgrade cannot tell how it ended: ${error.message}` };
  }
  if (error.sqlState === VERSION_CONFLICT_SQLSTATE) {
    return { waitingFor: "another runner that moved the heads", detail: error.message, failure: `The heads kept moving under this deploy: ${error.message}` };
  }
  return undefined;
}

/**
 * A CloudFormation deploy (and above all its rollback) must not fail because another runner holds
 * retort's lock or is still writing: the lease of a runner that died (an isComplete invocation
 * that timed out) runs out within its lease time, a statement that outlived its call ends, and a
 * live runner finishes. So the hook answers "not complete yet", says so in the logs, and is polled
 * again, until the time this deploy allows for waiting (from onEvent) is spent.
 */
function keepPolling(event: PollEvent, env: HookEnvironment, wait: Wait): IsCompleteResponse {
  const startedAt = Date.parse(event[STARTED_AT] ?? "");
  const waitedMs = Number.isNaN(startedAt) ? 0 : Date.now() - startedAt;
  if (waitedMs < env.lockWaitMs) {
    env.log(`deploy hook waits for ${wait.waitingFor}`, { detail: wait.detail, waitedS: Math.round(waitedMs / 1000) });
    return { IsComplete: false };
  }
  throw new DeployHookError(
    `${wait.failure}; this deploy waited ${Math.round(waitedMs / 1000)} s (the time its Provider allows for waiting) and ` +
      "changed nothing more. Let that finish, then deploy again (a rollback: continue the update rollback)",
  );
}

/**
 * Applies pending revisions a chunk at a time until the invocation's deadline. Chunks start at one
 * revision and grow with the measured time per revision; the rest waits for the next poll. A run
 * still going at the deadline stops there (MigrateOptions.deadline): a transactional revision is
 * rolled back and runs again, first, on the next poll, unless it already had a whole invocation's
 * time, in which case it never fits and the deploy fails naming it.
 */
async function upgradeInChunks(
  env: HookEnvironment,
  invocation: { started: number; deadline: number },
  decision: Extract<Decision, { kind: "upgrade" }>,
  /** The heads when the deploy began (onEvent's FromHeads), over however many polls. */
  deployFromHeads: string | undefined,
): Promise<IsCompleteResponse> {
  const { deadline } = invocation;
  let perRevisionMs = 0;
  let left = decision.pending;
  let heads = decision.fromHeads;
  while (left > 0) {
    const time = deadline - Date.now();
    if (time <= 0 || (perRevisionMs > 0 && time < perRevisionMs)) {
      env.log("deploy hook continues on the next poll", { pending: left });
      return { IsComplete: false };
    }
    const limit = perRevisionMs > 0 ? Math.max(1, Math.min(64, Math.floor(time / perRevisionMs))) : 1;
    const started = Date.now();
    env.doing(`applying up to ${limit} revision(s) after ${heads.join(", ") || "base"}`);
    const result = await safeUpgrade(env.ctx, {
      limit,
      deadline,
      onMigration: (m) => env.doing(`applying revision ${m.revision} (${m.file})`),
    });
    if (result.error?.outcome === "stopped") return stoppedAtDeadline(result, env, limit === 1 ? deadline - invocation.started : Infinity);
    if (result.error) {
      // What applied before it stays applied; the next poll plans again from the database.
      const wait = waitForResult(result);
      if (wait) throw new WaitError(wait);
      throw new DeployHookError(failureReason(result));
    }
    const ran = result.results.filter((r) => r.status === "applied").length;
    heads = result.toHeads;
    env.log("deploy hook applied", { revisions: result.results.filter((r) => r.status === "applied").map((r) => r.revision), toHeads: heads });
    if (ran < result.results.length) {
      env.log("deploy hook continues on the next poll", { pending: left - ran });
      return { IsComplete: false };
    }
    // Fewer than asked for: nothing is pending any more (another runner may have applied some).
    left = result.results.length < limit ? 0 : left - ran;
    perRevisionMs = Math.max(perRevisionMs, (Date.now() - started) / Math.max(1, ran));
  }
  env.log("deploy hook done", { toHeads: heads });
  // Nothing was pending for this whole deploy: the database was already at the bundled heads.
  const unchanged = heads.join(",") === (deployFromHeads ?? decision.fromHeads.join(","));
  return {
    IsComplete: true,
    Data: { [ATTRIBUTES.outcome]: unchanged ? OUTCOMES.upToDate : OUTCOMES.upgraded, [ATTRIBUTES.toHeads]: heads.join(",") },
  };
}

/**
 * A transactional revision that was still running at the deadline (and was rolled back): run it
 * again on the next poll, which gives it a whole invocation (its first chunk is that revision
 * alone), unless it already had about that. `wholeMs` is what this invocation could give it when
 * it ran alone; Infinity when it shared a transaction with others, whose time it cannot tell apart.
 */
function stoppedAtDeadline(result: MigrateResult, env: HookEnvironment, wholeMs: number): IsCompleteResponse {
  const stopped = result.results.find((r) => r.status === "failed");
  const ranMs = stopped?.durationMs ?? 0;
  const name = `revision ${result.error!.revision ?? "?"} (${result.error!.file ?? "?"})`;
  if (ranMs < wholeMs * WHOLE_INVOCATION) {
    env.log("deploy hook: a revision stopped at this invocation's deadline runs again on the next poll", {
      revision: result.error!.revision,
      ranS: Math.round(ranMs / 1000),
    });
    return { IsComplete: false };
  }
  throw new DeployHookError(
    `${name} ran for ${Math.round(ranMs / 1000)} s, all the time one invocation gives it (the runner's timeout less what ` +
      "it keeps to answer), and was stopped and rolled back; nothing of it was applied. A transactional revision must " +
      "finish within one invocation: raise the MigrationRunner's `timeout` (at most 15 minutes), make the revision " +
      "faster, or mark it `transactional: false` so its statements may run on across polls",
  );
}

/** The database's message, the revision and the file, first: what the Reason must carry. */
function failureReason(result: MigrateResult): string {
  const error = result.error!;
  return `safe-upgrade failed at revision ${error.revision ?? "?"} (${error.file ?? "?"}): ${error.message}`;
}

async function downgradeWithNewerRunner(decision: Extract<Decision, { kind: "downgrade" }>, env: HookEnvironment): Promise<IsCompleteResponse> {
  env.log("deploy hook downgrades through the newer runner", { via: decision.via, target: decision.target });
  env.doing(`downgrading to ${decision.target} through ${decision.via}`);
  const answer = (await env.invoke(decision.via, { command: "downgrade", target: decision.target })) as MigrateResult;
  if (answer.error) {
    throw new DeployHookError(
      `downgrade to ${decision.target} (OnRollback 'downgrade') failed at revision ${answer.error.revision ?? "?"} ` +
        `(${answer.error.file ?? "?"}): ${answer.error.message}`,
    );
  }
  return {
    IsComplete: true,
    Data: {
      [ATTRIBUTES.outcome]: OUTCOMES.downgraded,
      [ATTRIBUTES.toHeads]: answer.toHeads.join(","),
      [ATTRIBUTES.message]: `database ahead of this code: downgraded ${answer.applied} revision(s) to ${decision.target}`,
    },
  };
}
