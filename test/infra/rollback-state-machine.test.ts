// The rollback state machine as synthesized by MigrationRunner, executed by aws-local-stepfunctions
// with every Lambda task calling the real rollback-step handler in-process, against the local Data
// API endpoint and dynalite: the schema ends at the target, one invocation per revision, and the
// lock is free afterwards, also when a step fails.
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { StateMachine, type StateMachineDefinition } from "aws-local-stepfunctions";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MigrationRunner } from "../../infra/migration-runner.ts";
import { ROLLBACK_STATES } from "../../infra/rollback-state-machine.ts";
import type { Handlers } from "../../functions/handlers.ts";
import { handlersFor, lambdaContext, type LocalAws, polyfillWithResolvers, startLocalAws, tableMigration } from "../functions/harness.ts";

beforeAll(polyfillWithResolvers);

const one = tableMigration("c00000000001", null, "one");
const two = tableMigration("c00000000002", "c00000000001", "two");
const three = tableMigration("c00000000003", "c00000000002", "three");
const stuck = tableMigration("c00000000004", "c00000000003", "four", async (op) => {
  await op.execute("DROP TABLE four_does_not_exist");
});

const definitions = new Map<boolean, StateMachineDefinition>();

/** The template MigrationRunner synthesizes, bundling skipped. */
function synthesizedTemplate(requireApproval: boolean): Template {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Test", { env: { account: "123456789012", region: "us-east-1" } });
  new MigrationRunner(stack, "Migrations", {
    clusterArn: "arn:aws:rds:us-east-1:123456789012:cluster:app",
    // Imported by complete ARN: what a user with an existing cluster passes.
    secret: Secret.fromSecretCompleteArn(stack, "Secret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf"),
    databaseName: "app",
    migrationsDirectory: "migrations",
    requireApproval,
  });
  return Template.fromStack(stack);
}

/** The state machine's definition from the synthesized template, its ARNs filled in. */
function synthesizedDefinition(requireApproval: boolean): StateMachineDefinition {
  const cached = definitions.get(requireApproval);
  if (cached) return cached;
  const machines = synthesizedTemplate(requireApproval).findResources("AWS::StepFunctions::StateMachine");
  const [machine] = Object.values(machines);
  const resolve = (part: unknown): string => {
    if (typeof part === "string") return part;
    const p = part as Record<string, unknown>;
    if (p["Fn::GetAtt"]) return `arn:aws:lambda:us-east-1:123456789012:function:${(p["Fn::GetAtt"] as string[])[0]}`;
    if (p["Ref"] === "AWS::Partition") return "aws";
    if (p["Ref"] === "AWS::Region") return "us-east-1";
    if (p["Ref"] === "AWS::URLSuffix") return "amazonaws.com";
    throw new Error(`unexpected token in the definition: ${JSON.stringify(part)}`);
  };
  const body = machine!["Properties"]["DefinitionString"] as { "Fn::Join": [string, unknown[]] } | string;
  const text = typeof body === "string" ? body : body["Fn::Join"][1].map(resolve).join("");
  const definition = JSON.parse(text) as StateMachineDefinition;
  definitions.set(requireApproval, definition);
  return definition;
}

interface ExecuteOptions {
  /** The operator's answer to the approval request. */
  approve?: boolean;
  /** States whose first answer is lost after the function ran (Lambda.ServiceException): the state machine retries them. */
  loseAnswerOf?: readonly string[];
  /** What happens while the approval waits (a deploy, say). */
  whileWaiting?: () => Promise<void>;
  /** Called after each task's function returned; "abort" aborts the execution there (StopExecution). */
  afterTask?: (state: string) => Promise<void | "abort">;
}

export const EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:rollback:test-1";

/** Runs the definition; each Lambda task calls the rollback-step handler in-process. */
async function execute(definition: StateMachineDefinition, handlers: Handlers, input: object, options: ExecuteOptions = {}) {
  const invocations: string[] = [];
  const lost = new Set(options.loseAnswerOf ?? []);
  let aborting = false;
  const task = (state: string) => async (input: unknown) => {
    invocations.push(state);
    // The service integration (arn:aws:states:::lambda:invoke...) hands the function `Payload`.
    const resource = (definition.States[state] as { Resource: string }).Resource;
    const payload = resource.startsWith("arn:aws:states:::lambda:invoke") ? (input as { Payload: unknown }).Payload : input;
    const result = await handlers.rollbackStep(payload, lambdaContext({ functionName: "retort-rollback-step" }));
    if ((await options.afterTask?.(state)) === "abort") {
      aborting = true;
      execution.abort();
      // An aborted execution schedules nothing more; this answer goes nowhere.
      return new Promise<never>(() => {});
    }
    if (lost.delete(state)) throw Object.assign(new Error("the answer was lost"), { name: "Lambda.ServiceException" });
    if (state === ROLLBACK_STATES.approval) {
      // The task token came with the payload; an operator's SendTaskSuccess / SendTaskFailure answers it.
      await options.whileWaiting?.();
      if (options.approve === false) throw Object.assign(new Error("rejected by the operator"), { name: "Rejected" });
      return {};
    }
    return result as never;
  };
  const taskStates = Object.entries(definition.States).filter(([, s]) => s.Type === "Task").map(([name]) => name);
  const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: Object.fromEntries(taskStates.map((name) => [name, task(name)])) },
    context: {
      Execution: { Id: EXECUTION_ARN, Input: input as never },
      Task: { Token: "task-token-for-the-operator" },
    },
    noThrowOnAbort: true,
  });
  try {
    const output = (await execution.result) as Record<string, unknown> | null;
    return { output: output ?? {}, invocations, aborted: aborting };
  } catch (error) {
    return { error: error as Error & { cause?: unknown }, invocations, aborted: aborting };
  }
}

let local: LocalAws;
beforeEach(async () => {
  local = await startLocalAws();
});
afterEach(() => local.close());

const heads = () => local.heads();
async function tables(): Promise<string[]> {
  return (
    await local.db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE 'retort%' ORDER BY 1",
    )
  ).rows.map((r) => r.table_name);
}

interface RunView {
  command: string;
  status: string;
  token: number;
  fromHeads?: string[];
  toHeads?: string[];
  applied?: number;
  durationMs?: number;
  finishedAt?: string;
  error?: string;
  abandoned?: { by: string };
  revisions: { revision: string; direction: string; status: string }[];
}

/** The newest run in the history, as `history --runs` shows it. */
async function newestRun(handlers: Handlers): Promise<RunView> {
  const { runs } = (await handlers.manual({ command: "history", runs: true }, lambdaContext())) as { runs: RunView[] };
  return runs[0]!;
}

/** The synthesized rule that sends an execution's end (TIMED_OUT, ABORTED, FAILED) to the step function. */
function synthesizedEndRule(): { pattern: Record<string, unknown>; render: (event: object) => unknown } {
  const rules = Object.values(synthesizedTemplate(false).findResources("AWS::Events::Rule"));
  expect(rules).toHaveLength(1);
  const props = rules[0]!["Properties"] as {
    EventPattern: Record<string, unknown>;
    Targets: { InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string } }[];
  };
  const { InputPathsMap, InputTemplate } = props.Targets[0]!.InputTransformer;
  // EventBridge's input transformer: each <name> in the template becomes the JSON of its path's value.
  const render = (event: object) => {
    const text = InputTemplate.replace(/<([A-Za-z0-9_-]+)>/g, (_, name: string) => {
      const path = InputPathsMap[name]!.replace(/^\$\./, "").split(".");
      const value = path.reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], event);
      return JSON.stringify(value ?? null);
    });
    return JSON.parse(text);
  };
  return { pattern: props.EventPattern, render };
}

describe("the rollback state machine", () => {
  it("reverts two revisions, one invocation each, and frees the lock", async () => {
    const { handlers } = handlersFor(local, [one, two, three]);
    await handlers.manual({ command: "safe-upgrade" }, lambdaContext());
    const { output, error, invocations } = await execute(synthesizedDefinition(false), handlers, { target: one.revision });
    expect(error).toBeUndefined();
    expect(invocations).toEqual([
      ROLLBACK_STATES.plan,
      ROLLBACK_STATES.acquire,
      ROLLBACK_STATES.downgrade,
      ROLLBACK_STATES.downgrade,
      ROLLBACK_STATES.release,
    ]);
    expect((output!["plan"] as { revisions: { revision: string }[] }).revisions.map((r) => r.revision)).toEqual([three.revision, two.revision]);
    expect((output!["plan"] as { sql: string }).sql).toContain('DROP TABLE IF EXISTS "public"."three"');
    expect(output!["lastStep"]).toMatchObject({ done: true, remaining: 0, toHeads: [one.revision] });
    expect(await heads()).toEqual([one.revision]);
    expect(await tables()).toEqual(["one"]);
    expect(await local.lock.current(local.lockKey)).toBeNull();
    // One lease, one run in the history, although it spans several invocations.
    const { runs } = (await handlers.manual({ command: "history", runs: true }, lambdaContext())) as {
      runs: { command: string; token: number; revisions: { revision: string; direction: string }[] }[];
    };
    expect(runs[0]).toMatchObject({ command: "rollback", token: 2 });
    expect(runs[0]!.revisions.map((r) => [r.revision, r.direction])).toEqual([
      [three.revision, "downgrade"],
      [two.revision, "downgrade"],
    ]);
  });

  it("a failing downgrade releases the lock and fails the execution with the cause", async () => {
    const { handlers } = handlersFor(local, [one, two, three, stuck]);
    await handlers.manual({ command: "safe-upgrade" }, lambdaContext());
    const { error, invocations } = await execute(synthesizedDefinition(false), handlers, { target: two.revision });
    expect(error?.message).toContain("Execution has failed");
    expect(String(error?.cause ?? error?.message)).toContain('table "four_does_not_exist" does not exist');
    expect(invocations).toEqual([
      ROLLBACK_STATES.plan,
      ROLLBACK_STATES.acquire,
      ROLLBACK_STATES.downgrade,
      ROLLBACK_STATES.releaseAfterFailure,
    ]);
    expect(await heads()).toEqual([stuck.revision]);
    expect(await local.lock.current(local.lockKey)).toBeNull();
  });

  it("nothing to revert succeeds without taking the lock", async () => {
    const { handlers } = handlersFor(local, [one, two]);
    await handlers.manual({ command: "safe-upgrade" }, lambdaContext());
    const { error, invocations } = await execute(synthesizedDefinition(false), handlers, { target: two.revision });
    expect(error).toBeUndefined();
    expect(invocations).toEqual([ROLLBACK_STATES.plan]);
  });

  it("with approval required, waits for the task token, and a rejection changes nothing", async () => {
    const { handlers, logs } = handlersFor(local, [one, two]);
    await handlers.manual({ command: "safe-upgrade" }, lambdaContext());
    const rejected = await execute(synthesizedDefinition(true), handlers, { target: one.revision }, { approve: false });
    expect(rejected.invocations).toEqual([ROLLBACK_STATES.plan, ROLLBACK_STATES.approval]);
    expect(await heads()).toEqual([two.revision]);
    expect(logs.lines.find((l) => l["message"] === "rollback waits for approval")).toMatchObject({
      taskToken: "task-token-for-the-operator",
      revisions: [two.revision],
    });
    const approved = await execute(synthesizedDefinition(true), handlers, { target: one.revision });
    expect(approved.error).toBeUndefined();
    expect(await heads()).toEqual([one.revision]);
    expect(await local.lock.current(local.lockKey)).toBeNull();
  });

  it("a retried AcquireLock whose first answer was lost gets the execution's own lease back and the rollback completes", { timeout: 30_000 }, async () => {
    const { handlers } = handlersFor(local, [one, two, three]);
    await handlers.manual({ command: "safe-upgrade" }, lambdaContext());
    const { error, invocations } = await execute(synthesizedDefinition(false), handlers, { target: one.revision }, { loseAnswerOf: [ROLLBACK_STATES.acquire] });
    expect(error).toBeUndefined();
    expect(invocations.filter((s) => s === ROLLBACK_STATES.acquire)).toHaveLength(2);
    expect(await heads()).toEqual([one.revision]);
    expect(await local.lock.current(local.lockKey)).toBeNull();
  });

  it("a lock held by another runner fails the execution with advice for an operator, naming the holder, changing nothing", async () => {
    const { handlers } = handlersFor(local, [one, two]);
    await handlers.manual({ command: "safe-upgrade" }, lambdaContext());
    const held = await local.lock.acquire(local.lockKey, { command: "upgrade", host: "laptop", pid: 42 }, { leaseMs: 60_000 });
    const { error } = await execute(synthesizedDefinition(false), handlers, { target: one.revision });
    const cause = String(error?.cause ?? error?.message);
    expect(cause).toContain("is held by upgrade (laptop pid 42");
    expect(cause).toContain("Start the execution again once that runner has finished");
    expect(cause).not.toContain("--wait");
    expect(await heads()).toEqual([two.revision]);
    await held.release();
  });

  it("an execution started without a target fails with what to start it with", async () => {
    const { handlers } = handlersFor(local, [one]);
    const { error, invocations } = await execute(synthesizedDefinition(false), handlers, {});
    expect(invocations).toEqual([]);
    expect(String(error?.cause ?? error?.message)).toContain('start the execution with {"target": "<revision>|<prefix>|-N|base"}');
  });

  it("the lock of a rollback names its execution", async () => {
    const { handlers } = handlersFor(local, [one, two]);
    const lease = (await handlers.rollbackStep(
      { step: "acquire", executionArn: "arn:aws:states:us-east-1:123456789012:execution:rollback:ops-7" },
      lambdaContext(),
    )) as { info: { holder: { executionArn?: string } } };
    expect(lease.info.holder.executionArn).toBe("arn:aws:states:us-east-1:123456789012:execution:rollback:ops-7");
    await handlers.rollbackStep({ step: "release", lease }, lambdaContext());
    expect(await local.lock.current(local.lockKey)).toBeNull();
  });

  it("an approval raced by a deploy reverts nothing that was not approved: the step stops, changing nothing", async () => {
    const before = handlersFor(local, [one, two]);
    await before.handlers.manual({ command: "safe-upgrade" }, lambdaContext());
    const after = handlersFor(local, [one, two, three]);
    // The operator approves reverting `two`; meanwhile a deploy applies `three`.
    const { error, invocations } = await execute(synthesizedDefinition(true), after.handlers, { target: one.revision }, {
      whileWaiting: async () => {
        await after.handlers.manual({ command: "safe-upgrade" }, lambdaContext());
      },
    });
    expect(invocations).toEqual([
      ROLLBACK_STATES.plan,
      ROLLBACK_STATES.approval,
      ROLLBACK_STATES.acquire,
      ROLLBACK_STATES.downgrade,
      ROLLBACK_STATES.releaseAfterFailure,
    ]);
    const cause = String(error?.cause ?? error?.message);
    expect(cause).toContain(`reverting to ${one.revision} now means ${three.revision}, ${two.revision}, but the plan approved ${two.revision}`);
    expect(await heads()).toEqual([three.revision]);
    expect(await tables()).toEqual(["one", "three", "two"]);
    expect(await local.lock.current(local.lockKey)).toBeNull();
  });

  it("a retried downgrade step whose answer was lost does not revert beyond the plan", { timeout: 30_000 }, async () => {
    const { handlers } = handlersFor(local, [one, two, three]);
    await handlers.manual({ command: "safe-upgrade" }, lambdaContext());
    const { error } = await execute(synthesizedDefinition(false), handlers, { target: one.revision }, { loseAnswerOf: [ROLLBACK_STATES.downgrade] });
    expect(error).toBeUndefined();
    expect(await heads()).toEqual([one.revision]);
    expect(await tables()).toEqual(["one"]);
    expect(await local.lock.current(local.lockKey)).toBeNull();
  });
  it("one run per execution: started when the lock is taken, each reverted revision appended, finished once with the truth", async () => {
    const { handlers } = handlersFor(local, [one, two, three]);
    await handlers.manual({ command: "safe-upgrade" }, lambdaContext());
    const seen: Record<string, RunView> = {};
    const { error } = await execute(synthesizedDefinition(false), handlers, { target: one.revision }, {
      afterTask: async (state) => {
        if (state === ROLLBACK_STATES.acquire || (state === ROLLBACK_STATES.downgrade && !seen[state])) seen[state] = await newestRun(handlers);
      },
    });
    expect(error).toBeUndefined();
    expect(seen[ROLLBACK_STATES.acquire]).toMatchObject({ command: "rollback", status: "started", revisions: [] });
    // While it runs, it is a started run with what it has reverted so far.
    expect(seen[ROLLBACK_STATES.downgrade]).toMatchObject({ status: "started", fromHeads: [three.revision], toHeads: [two.revision], applied: 1 });
    expect(seen[ROLLBACK_STATES.downgrade]!.finishedAt).toBeUndefined();
    const run = await newestRun(handlers);
    expect(run).toMatchObject({ command: "rollback", status: "succeeded", fromHeads: [three.revision], toHeads: [one.revision], applied: 2 });
    expect(run.finishedAt).toBeDefined();
    expect(run.durationMs).toBeGreaterThanOrEqual(0);
    expect(run.revisions.map((r) => [r.revision, r.direction, r.status])).toEqual([
      [three.revision, "downgrade", "applied"],
      [two.revision, "downgrade", "applied"],
    ]);
  });

  it("a rollback that fails part way is one failed run: what it reverted, where it stopped, and why", async () => {
    const brokenDown = tableMigration("c00000000003", "c00000000002", "three", async (op) => {
      await op.execute("DROP TABLE three_does_not_exist");
    });
    const four = tableMigration("c00000000004", "c00000000003", "four");
    const { handlers } = handlersFor(local, [one, two, brokenDown, four]);
    await handlers.manual({ command: "safe-upgrade" }, lambdaContext());
    const { error } = await execute(synthesizedDefinition(false), handlers, { target: one.revision });
    expect(error).toBeDefined();
    const run = await newestRun(handlers);
    expect(run).toMatchObject({ command: "rollback", status: "failed", fromHeads: [four.revision], toHeads: [brokenDown.revision], applied: 1 });
    expect(run.error).toContain('table "three_does_not_exist" does not exist');
    expect(run.revisions.map((r) => [r.revision, r.status])).toEqual([
      [four.revision, "applied"],
      [brokenDown.revision, "failed"],
    ]);
    expect(await local.lock.current(local.lockKey)).toBeNull();
  });

  it("a retried AwaitApproval whose answer was lost asks again: the newest logged token is the one to answer", { timeout: 30_000 }, async () => {
    const { handlers, logs } = handlersFor(local, [one, two]);
    await handlers.manual({ command: "safe-upgrade" }, lambdaContext());
    const { error, invocations } = await execute(synthesizedDefinition(true), handlers, { target: one.revision }, { loseAnswerOf: [ROLLBACK_STATES.approval] });
    expect(error).toBeUndefined();
    expect(invocations.filter((s) => s === ROLLBACK_STATES.approval)).toHaveLength(2);
    expect(logs.lines.filter((l) => l["message"] === "rollback waits for approval")).toHaveLength(2);
    expect(await heads()).toEqual([one.revision]);
  });

  it("a retried ReleaseLock or Plan whose answer was lost ends the same: lock free, one succeeded run", { timeout: 30_000 }, async () => {
    const { handlers } = handlersFor(local, [one, two, three]);
    await handlers.manual({ command: "safe-upgrade" }, lambdaContext());
    const { error, invocations } = await execute(synthesizedDefinition(false), handlers, { target: one.revision }, {
      loseAnswerOf: [ROLLBACK_STATES.plan, ROLLBACK_STATES.release],
    });
    expect(error).toBeUndefined();
    expect(invocations.filter((s) => s === ROLLBACK_STATES.release)).toHaveLength(2);
    expect(await heads()).toEqual([one.revision]);
    expect(await local.lock.current(local.lockKey)).toBeNull();
    expect(await newestRun(handlers)).toMatchObject({ status: "succeeded", applied: 2, toHeads: [one.revision] });
  });

  it("an aborted execution: the end rule releases its lock at once and records the run as abandoned", async () => {
    const { handlers } = handlersFor(local, [one, two, three]);
    await handlers.manual({ command: "safe-upgrade" }, lambdaContext());
    const { aborted } = await execute(synthesizedDefinition(false), handlers, { target: one.revision }, {
      afterTask: async (state) => (state === ROLLBACK_STATES.downgrade ? "abort" : undefined),
    });
    expect(aborted).toBe(true);
    // The execution stopped between steps: its lease is still held, its run still started.
    expect((await local.lock.current(local.lockKey))?.holder.executionArn).toBe(EXECUTION_ARN);
    expect(await newestRun(handlers)).toMatchObject({ status: "started", applied: 1 });

    const rule = synthesizedEndRule();
    expect(rule.pattern).toMatchObject({
      source: ["aws.states"],
      "detail-type": ["Step Functions Execution Status Change"],
      detail: { status: ["FAILED", "TIMED_OUT", "ABORTED"] },
    });
    const event = { source: "aws.states", "detail-type": "Step Functions Execution Status Change", detail: { executionArn: EXECUTION_ARN, status: "ABORTED" } };
    const ended = await handlers.rollbackStep(rule.render(event), lambdaContext());
    expect(ended).toMatchObject({ released: true });
    expect(await local.lock.current(local.lockKey)).toBeNull();
    const run = await newestRun(handlers);
    expect(run).toMatchObject({ status: "abandoned", applied: 1, toHeads: [two.revision] });
    expect(run.abandoned?.by).toContain(`execution ${EXECUTION_ARN} ABORTED`);
    // EventBridge delivers at least once: the same event again changes nothing.
    expect(await handlers.rollbackStep(rule.render(event), lambdaContext())).toMatchObject({ released: false });
    expect((await newestRun(handlers)).status).toBe("abandoned");
  });

  it("a timed-out execution is ended by the rule; one that failed and released already is left alone", { timeout: 30_000 }, async () => {
    const { handlers } = handlersFor(local, [one, two, three]);
    await handlers.manual({ command: "safe-upgrade" }, lambdaContext());
    const short = { ...synthesizedDefinition(false), TimeoutSeconds: 1 };
    const { error } = await execute(short, handlers, { target: one.revision }, {
      afterTask: async (state) => {
        if (state === ROLLBACK_STATES.downgrade) await new Promise((r) => setTimeout(r, 1500));
      },
    });
    expect(error?.name).toBe("ExecutionTimeoutError");
    const rule = synthesizedEndRule();
    const timedOut = { detail: { executionArn: EXECUTION_ARN, status: "TIMED_OUT" } };
    expect(await handlers.rollbackStep(rule.render(timedOut), lambdaContext())).toMatchObject({ released: true });
    expect(await local.lock.current(local.lockKey)).toBeNull();
    expect((await newestRun(handlers)).abandoned?.by).toContain("TIMED_OUT");

    // A FAILED execution went through ReleaseLockAfterFailure: its run stays failed, no lock is touched.
    const failing = handlersFor(local, [one, two, three, stuck]).handlers;
    await failing.manual({ command: "safe-upgrade" }, lambdaContext());
    await execute(synthesizedDefinition(false), failing, { target: two.revision });
    const other = await local.lock.acquire(local.lockKey, { command: "upgrade", host: "laptop", pid: 7 }, { leaseMs: 60_000 });
    const failed = { detail: { executionArn: EXECUTION_ARN, status: "FAILED" } };
    expect(await failing.rollbackStep(rule.render(failed), lambdaContext())).toMatchObject({ released: false });
    expect((await local.lock.current(local.lockKey))?.token).toBe(other.info.token);
    await other.release();
  });
});
