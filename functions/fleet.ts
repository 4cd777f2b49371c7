// The fleet state machine's tasks (infra/migration-fleet.ts):
//
//   read-targets     the targets from their source (fleet-targets.ts), checked; for a Distributed
//                    Map (more than the inline limit, or always), written to the work bucket
//                    (fleet-work.ts) and answered as that object instead of the list
//   upgrade-target   safe-upgrade of one target, in chunks until this invocation's deadline (as
//                    the deploy hook's isComplete does); answers `done: false` when the target
//                    needs another invocation (more to apply, its lock held by another runner, a
//                    statement of an earlier invocation still running), else its summary line
//   summarize        the FleetSummary of every target's line, and whether the failures stayed
//                    within the tolerated share, with a message naming the failed targets; after
//                    a Distributed Map, the lines read from its exported results, the whole
//                    summary written to the work bucket and a compact one answered
//
// A target's own failure (a migration that fails, a database ahead of the code, a lock that stays
// held) is an answer, not an error: the Map item succeeds with a failed line, so the summary names
// it with its error's code. Only a fault of the task itself (the Lambda, its configuration) is an
// error, which the state machine's Catch turns into a failed line the same way.
import { RetortError } from "../lib/errors.ts";
import { type FleetSummary, type FleetTargetResult, summarize, targetResult } from "../lib/fleet/summary.ts";
import type { FleetTarget } from "../lib/fleet/targets.ts";
import type { Context } from "../lib/runner/context.ts";
import { UnknownDatabaseRevisionsError } from "../lib/runner/errors.ts";
import type { MigrateResult } from "../lib/runner/migrate.ts";
import { safeUpgrade } from "../lib/runner/upgrade.ts";
import { describeHolder, LockConflictError } from "../lib/state/lock.ts";
import { VERSION_CONFLICT_SQLSTATE } from "../lib/state/version-table.ts";
import { FLEET_MAP_MODE, FLEET_STEPS } from "./constants.ts";
import { readTargets, type TargetReaders, type TargetSource } from "./fleet-targets.ts";
import { type MapRunOutput, readMapResults, type S3Location, type WorkLocation, workKeys } from "./fleet-work.ts";
import { ValidationError } from "./manual.ts";
import { s3Objects } from "./s3-objects.ts";

/** What a target's run so far has done, carried from one UpgradeTarget invocation to the next. */
export interface TargetProgress {
  /** True once the target is upgraded, up to date or failed: `result` is its summary line. */
  done: boolean;
  /** UpgradeTarget invocations so far, this one included. */
  invocations: number;
  /** When the first invocation started (ISO). */
  since: string;
  /** How long the state machine waits before the next invocation (when not done). */
  waitSeconds: number;
  /** What the next invocation waits for, when something is in the way. */
  waiting?: string;
  /** Since when (ISO) it has been waiting for that, over consecutive invocations. */
  waitingSince?: string;
  fromHeads?: string[];
  toHeads: string[];
  applied: number;
  skippedOperations: number;
  /** Time spent in the invocations (ms). */
  workedMs: number;
  result?: FleetTargetResult;
}

/** What the execution was started with; only `ahead` is read. */
export interface FleetInput {
  /**
   * "keep": a target whose database records revisions this code does not have (a deploy's
   * CloudFormation rollback running older code) is left as it is and reported up to date, as the
   * runner's deploy hook does with OnRollback 'keep'. Otherwise it is a failed target.
   */
  ahead?: "keep";
}

export type FleetStepEvent =
  | {
      step: typeof FLEET_STEPS.readTargets;
      source: TargetSource;
      /**
       * Given when the state machine has a Distributed Map: the list goes to the work bucket when
       * it has more than `inlineLimit` targets, or always when there is no inline Map to take it.
       */
      work?: WorkLocation & { inlineLimit?: number };
    }
  | {
      step: typeof FLEET_STEPS.upgradeTarget;
      target: FleetTarget;
      progress?: Partial<TargetProgress>;
      /** The execution's input ($$.Execution.Input). */
      input?: FleetInput;
      /** The execution ($$.Execution.Id): named in the target's lock, so `retort status` shows who holds it. */
      executionArn?: string;
    }
  | {
      step: typeof FLEET_STEPS.summarize;
      /** The inline Map's results, or where a Distributed Map exported them. */
      results: FleetTargetResult[] | MapRunOutput;
      toleratedFailurePercentage: number;
      startedAt?: string;
      /** Where the whole summary of a Distributed Map run is written. */
      work?: WorkLocation;
    };

/** ReadTargets' answer: the list itself for the inline Map, or the object the Distributed Map reads. */
export type ReadTargetsAnswer =
  | { mode: typeof FLEET_MAP_MODE.inline; count: number; targets: FleetTarget[] }
  | {
      mode: typeof FLEET_MAP_MODE.distributed;
      count: number;
      /** The Map's ItemReader: a JSON array of the targets. */
      itemsObject: S3Location;
      /** The Map's ResultWriter prefix: this execution's folder. */
      resultsPrefix: string;
    };

/** A fleet step that could not do its work at all (its invocation's time ran out regardless). */
export class FleetStepError extends RetortError {
  override readonly code: string = "fleet-step-failed";
  override name = "FleetStepError";
}

const STEPS = Object.values(FLEET_STEPS) as string[];

export function parseFleetEvent(event: unknown): FleetStepEvent {
  const e = (typeof event === "object" && event !== null ? event : {}) as Record<string, unknown>;
  const fail = (problem: string): never => {
    throw new ValidationError(`Invalid fleet step event: ${problem}. Steps: ${STEPS.join(", ")}`);
  };
  if (typeof e["step"] !== "string" || !STEPS.includes(e["step"])) return fail(`unknown step ${JSON.stringify(e["step"])}`);
  const object = (key: string) => typeof e[key] === "object" && e[key] !== null && !Array.isArray(e[key]);
  const work = e["work"] as Record<string, unknown> | undefined;
  if (work !== undefined && (!object("work") || typeof work["bucket"] !== "string" || typeof work["executionName"] !== "string")) {
    return fail('"work" must be { "bucket", "executionName" } (the work bucket and $$.Execution.Name)');
  }
  if (e["step"] === FLEET_STEPS.readTargets) {
    if (!object("source")) return fail('"source" must name where the targets are');
    const limit = work?.["inlineLimit"];
    if (limit !== undefined && !(Number.isInteger(limit) && (limit as number) >= 0)) return fail('"work.inlineLimit" must be a whole number');
  }
  if (e["step"] === FLEET_STEPS.upgradeTarget) {
    const target = e["target"] as Partial<FleetTarget> | undefined;
    if (!object("target") || typeof target?.name !== "string" || typeof target.db !== "string") {
      return fail('"target" must be one of ReadTargets\' targets ({ "name", "db", "schema"? })');
    }
  }
  if (e["step"] === FLEET_STEPS.summarize) {
    const details = (e["results"] as Record<string, unknown> | undefined)?.["ResultWriterDetails"] as Record<string, unknown> | undefined;
    const exported = object("results") && typeof details?.["Bucket"] === "string" && typeof details["Key"] === "string";
    if (!Array.isArray(e["results"]) && !exported) return fail('"results" must be the Map\'s results, or a Distributed Map\'s ResultWriterDetails');
    if (exported && !work) return fail('"work" must say where to write the summary of a Distributed Map run');
    const share = e["toleratedFailurePercentage"];
    if (typeof share !== "number" || !(share >= 0 && share <= 100)) return fail('"toleratedFailurePercentage" must be a number from 0 to 100');
  }
  return e as unknown as FleetStepEvent;
}

export interface FleetStepEnvironment {
  /** The runner Context of one target (its executor, schemas, lock key, the history). */
  contextFor(target: FleetTarget): Context;
  /** Time left in this invocation. */
  remainingMs: () => number;
  /** How long a target keeps waiting for its lock (or a statement still running) from its first invocation. */
  lockWaitMs: number;
  readers?: TargetReaders;
  /** What the invocation is doing now: named if its time runs out regardless. */
  doing?: (activity: string) => void;
  log: (message: string, attributes?: Record<string, unknown>) => void;
}

export async function runFleetStep(event: FleetStepEvent, env: FleetStepEnvironment): Promise<unknown> {
  switch (event.step) {
    case FLEET_STEPS.readTargets:
      return readFleetTargets(event, env);
    case FLEET_STEPS.upgradeTarget:
      return upgradeTarget(event, env);
    case FLEET_STEPS.summarize:
      if (Array.isArray(event.results)) return summarizeFleet(event.results, event.toleratedFailurePercentage, event.startedAt);
      return summarizeMapRun(event.results, event.toleratedFailurePercentage, event.startedAt, event.work!);
  }
}

/**
 * The targets, checked; past the inline limit (or always, without an inline Map) written to the
 * work bucket for the Distributed Map's ItemReader, so the list never travels in the state.
 */
async function readFleetTargets(event: Extract<FleetStepEvent, { step: typeof FLEET_STEPS.readTargets }>, env: FleetStepEnvironment): Promise<ReadTargetsAnswer> {
  const targets = await readTargets(event.source, env.readers);
  const { work } = event;
  if (!work || (work.inlineLimit !== undefined && targets.length <= work.inlineLimit)) {
    env.log("fleet targets read", { targets: targets.length, mode: FLEET_MAP_MODE.inline });
    return { mode: FLEET_MAP_MODE.inline, count: targets.length, targets };
  }
  const keys = workKeys(work.executionName);
  await s3Objects.put(work.bucket, keys.targets, JSON.stringify(targets));
  env.log("fleet targets read", { targets: targets.length, mode: FLEET_MAP_MODE.distributed, itemsObject: `s3://${work.bucket}/${keys.targets}` });
  return { mode: FLEET_MAP_MODE.distributed, count: targets.length, itemsObject: { bucket: work.bucket, key: keys.targets }, resultsPrefix: keys.results };
}

/** Time kept back at the end of each invocation, as the deploy hook keeps it (deploy-hook.ts). */
const MARGIN_FRACTION = 0.05;
const MIN_MARGIN_MS = 2_000;
/** A revision stopped having had at least this share of a whole invocation can never fit in one. */
const WHOLE_INVOCATION = 0.9;
/** How long the state machine waits before trying a target whose lock or database is busy again. */
const BUSY_WAIT_S = 10;
/** A failed target's message in the summary: the database's message is at the start. */
const MAX_MESSAGE = 1000;

type Step = Extract<FleetStepEvent, { step: typeof FLEET_STEPS.upgradeTarget }>;

/**
 * One invocation's share of a target's safe-upgrade: chunks of revisions until the deadline
 * (starting with one, growing with the measured time per revision, as the deploy hook does), so
 * a target with more than one invocation's work continues in the next one, and a target with
 * nothing pending costs one Data API call (the version table's read).
 */
async function upgradeTarget(event: Step, env: FleetStepEnvironment): Promise<TargetProgress> {
  const started = Date.now();
  const budget = env.remainingMs();
  const deadline = started + budget - Math.max(MIN_MARGIN_MS, budget * MARGIN_FRACTION);
  const before = event.progress ?? {};
  const progress: TargetProgress = {
    done: false,
    invocations: (before.invocations ?? 0) + 1,
    since: before.since ?? new Date(started).toISOString(),
    waitSeconds: 0,
    ...(before.fromHeads ? { fromHeads: before.fromHeads } : {}),
    toHeads: before.toHeads ?? before.fromHeads ?? [],
    applied: before.applied ?? 0,
    skippedOperations: before.skippedOperations ?? 0,
    workedMs: before.workedMs ?? 0,
  };
  const { target } = event;
  /** How the target ended: its run's error, an error thrown before a run could answer, or neither. */
  type Failure = { error: NonNullable<MigrateResult["error"]> } | { thrown: unknown };
  const finish = (failure?: Failure): TargetProgress => {
    progress.workedMs += Date.now() - started;
    progress.done = true;
    const total: MigrateResult = {
      command: "safe-upgrade",
      target: "heads",
      fromHeads: progress.fromHeads ?? progress.toHeads,
      toHeads: progress.toHeads,
      results: [],
      applied: progress.applied,
      skippedOperations: progress.skippedOperations,
      ...(failure && "error" in failure ? { error: failure.error } : {}),
    };
    const line = cutMessage(targetResult(target, failure && "thrown" in failure ? { error: failure.thrown } : total, progress.workedMs));
    progress.result = line;
    delete progress.waiting;
    delete progress.waitingSince;
    env.log("fleet target done", { target: target.name, status: line.status, applied: line.applied, ...(line.error ? { code: line.error.code } : {}) });
    return progress;
  };
  /** Another runner or an earlier statement is in the way: wait and try again, until lockWaitMs has passed. */
  const busy = (waiting: string, failure: Failure): TargetProgress => {
    const since = before.waitingSince ?? new Date(started).toISOString();
    const waitedMs = Date.now() - Date.parse(since);
    if (waitedMs >= env.lockWaitMs) return finish(failure);
    progress.workedMs += Date.now() - started;
    progress.waitSeconds = BUSY_WAIT_S;
    progress.waiting = waiting;
    progress.waitingSince = since;
    env.log("fleet target waits", { target: target.name, waiting, waitedS: Math.round(waitedMs / 1000) });
    return progress;
  };

  let ctx: Context;
  try {
    ctx = env.contextFor(target);
  } catch (error) {
    return finish({ thrown: error });
  }
  let perRevisionMs = 0;
  for (;;) {
    const time = deadline - Date.now();
    if (time <= 0 || (perRevisionMs > 0 && time < perRevisionMs)) {
      progress.workedMs += Date.now() - started;
      env.log("fleet target continues in the next invocation", { target: target.name, toHeads: progress.toHeads });
      return progress;
    }
    const limit = perRevisionMs > 0 ? Math.max(1, Math.min(64, Math.floor(time / perRevisionMs))) : 1;
    const chunkStarted = Date.now();
    env.doing?.(`upgrading target ${target.name}`);
    let result: MigrateResult;
    try {
      result = await safeUpgrade(ctx, {
        limit,
        deadline,
        onMigration: (m) => env.doing?.(`applying revision ${m.revision} (${m.file}) to target ${target.name}`),
      });
    } catch (error) {
      if (error instanceof LockConflictError) return busy(`the migration lock, held by ${describeHolder(error.info)}`, { thrown: error });
      if (error instanceof UnknownDatabaseRevisionsError && event.input?.ahead === "keep") {
        progress.fromHeads ??= error.databaseHeads;
        progress.toHeads = error.databaseHeads;
        env.log("fleet target is ahead of this code: left as it is", { target: target.name, unknown: error.unknown });
        return finish();
      }
      if (error instanceof RetortError) return finish({ thrown: error });
      throw error;
    }
    progress.fromHeads ??= result.fromHeads;
    progress.toHeads = result.toHeads;
    progress.applied += result.applied;
    progress.skippedOperations += result.skippedOperations;
    const ran = result.results.filter((r) => r.status === "applied").length;
    if (result.error?.outcome === "stopped") {
      // A transactional revision still running at the deadline was rolled back: it runs again,
      // alone, in the next invocation, unless it already had a whole invocation to itself.
      const stopped = result.results.find((r) => r.status === "failed");
      const wholeMs = limit === 1 ? deadline - started : Infinity;
      if ((stopped?.durationMs ?? 0) < wholeMs * WHOLE_INVOCATION) {
        progress.workedMs += Date.now() - started;
        return progress;
      }
      const ranS = Math.round((stopped?.durationMs ?? 0) / 1000);
      const message =
        `revision ${result.error.revision ?? "?"} (${result.error.file ?? "?"}) ran for ${ranS} s, all the time one invocation ` +
        "gives it, and was stopped and rolled back: raise the MigrationRunner's `timeout`, make it faster, or mark it `transactional: false`";
      return finish({ error: { ...result.error, message } });
    }
    if (result.error?.outcome === "unknown" || result.error?.sqlState === VERSION_CONFLICT_SQLSTATE) {
      return busy(result.error.message, { error: result.error });
    }
    if (result.error) return finish({ error: result.error });
    if (ran < result.results.length) {
      // The run left some of its chunk for later (its deadline came between them).
      progress.workedMs += Date.now() - started;
      return progress;
    }
    // Fewer than asked for: nothing is pending any more (another runner may have applied some).
    if (result.results.length < limit) return finish();
    perRevisionMs = Math.max(perRevisionMs, (Date.now() - chunkStarted) / Math.max(1, ran));
  }
}

/** The longest cause a Fail state takes is 32,768 characters; the summary's message stays well inside. */
const MAX_CAUSE = 8000;

export type FleetSummaryAnswer = FleetSummary & {
  /** One line: the counts and each failed target with its error's code; the Fail state's cause. */
  message: string;
};

/**
 * The summary of the Map's results, and whether the failures stayed within the tolerated share.
 * `wholeList` says where a reader finds every failure when the message has to be cut.
 */
export function summarizeFleet(
  results: FleetTargetResult[],
  toleratedFailurePercentage: number,
  startedAt?: string,
  wholeList = "the Summarize step's output",
): FleetSummaryAnswer {
  const since = startedAt ? Date.parse(startedAt) : NaN;
  const summary = summarize(results, toleratedFailurePercentage / 100, Number.isNaN(since) ? 0 : Date.now() - since);
  const failed = summary.results.filter((r) => r.status === "failed");
  const counts = `${summary.upgraded} upgraded, ${summary.upToDate} up to date, ${summary.failed} failed of ${summary.targets} target(s)`;
  const verdict = summary.ok
    ? `within the ${toleratedFailurePercentage}% tolerated`
    : `more than the ${toleratedFailurePercentage}% tolerated (at most ${Math.floor(summary.targets * summary.tolerate + 1e-9)} of ${summary.targets} may fail)`;
  let message = `${counts}, ${verdict}${failed.length > 0 ? `: ${failed.map(describeFailure).join("; ")}` : ""}`;
  if (message.length > MAX_CAUSE) message = `${message.slice(0, MAX_CAUSE)} ... (${failed.length} failed; the whole list is in ${wholeList})`;
  return { ...summary, message };
}

/**
 * Failed lines a Distributed Map run's answer carries, each message cut to MAX_MESSAGE: at most
 * about 135 KB, so the answer fits the execution's 256 KiB state whatever the count.
 */
const MAX_FAILURES = 100;

/** Summarize's answer after a Distributed Map: the whole summary is an object in the work bucket. */
export type FleetSummaryDigest = Omit<FleetSummaryAnswer, "results"> & {
  /** The first failed targets' lines. */
  failures: FleetTargetResult[];
  /** Failed targets left out of `failures`. */
  moreFailures: number;
  /** summary.json: the whole summary, every target's line. */
  summaryObject: S3Location;
};

/** The summary of a Distributed Map run: its exported results read back, the whole summary written beside them. */
async function summarizeMapRun(run: MapRunOutput, toleratedFailurePercentage: number, startedAt: string | undefined, work: WorkLocation): Promise<FleetSummaryDigest> {
  const summaryObject = { bucket: work.bucket, key: workKeys(work.executionName).summary };
  const lines = await readMapResults(s3Objects, run);
  const whole = summarizeFleet(lines, toleratedFailurePercentage, startedAt, `s3://${summaryObject.bucket}/${summaryObject.key}`);
  await s3Objects.put(summaryObject.bucket, summaryObject.key, JSON.stringify(whole));
  const { results, ...summary } = whole;
  const failures = results.filter((r) => r.status === "failed");
  return { ...summary, failures: failures.slice(0, MAX_FAILURES).map(cutMessage), moreFailures: Math.max(0, failures.length - MAX_FAILURES), summaryObject };
}

/** The line with its error's message cut to MAX_MESSAGE (the database's message is at the start). */
function cutMessage(line: FleetTargetResult): FleetTargetResult {
  if (!line.error || line.error.message.length <= MAX_MESSAGE) return line;
  return { ...line, error: { ...line.error, message: `${line.error.message.slice(0, MAX_MESSAGE)} ...` } };
}

/**
 * `tenant_07: sql-error (SQLSTATE 42703): upgrade of 0a1b2c3d4e5f (file: message) failed: column
 * "owner_id" does not exist; ...`: the code, then the message (naming the revision, else added).
 */
function describeFailure(result: FleetTargetResult): string {
  const error = result.error;
  if (!error) return `${result.name}: failed`;
  const state = error.sqlState ? ` (SQLSTATE ${error.sqlState})` : "";
  const at = error.revision && !error.message.includes(error.revision) ? ` at revision ${error.revision}${error.file ? ` (${error.file})` : ""}` : "";
  const text = error.message.split("\n")[0]!.slice(0, 300);
  return `${result.name}: ${error.code}${state}${at}: ${text}`;
}
