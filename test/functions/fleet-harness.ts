// The fleet state machine as MigrationFleet synthesizes it, run by aws-local-stepfunctions with
// every Lambda task calling the real fleet-step handler in-process; the tenants (schemas of one
// database behind the local Data API endpoint) and their migrations. Shared by the fleet's
// execution tests (fleet.test.ts, fleet-distributed.test.ts).
import { randomUUID } from "node:crypto";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { StateMachine, type StateMachineDefinition } from "aws-local-stepfunctions";
import { ENV } from "../../functions/constants.ts";
import type { Handlers } from "../../functions/handlers.ts";
import { distributedState, FLEET_STATES } from "../../infra/fleet-state-machine.ts";
import { MigrationFleet, type MigrationFleetProps } from "../../infra/migration-fleet.ts";
import { MigrationRunner } from "../../infra/migration-runner.ts";
import type { FleetSummary } from "../../lib/fleet/summary.ts";
import type { FleetTarget } from "../../lib/fleet/targets.ts";
import { ARNS } from "../local/harness.ts";
import { lambdaContext, type LocalAws, type TestMigration } from "./harness.ts";
import type { LocalS3 } from "./local-s3.ts";

/** tenant_01, tenant_02, ... */
export const tenantNames = (count: number): string[] => Array.from({ length: count }, (_, i) => `tenant_${String(i + 1).padStart(2, "0")}`);
/** The tenant the tests break: a hand-made `projects` without the column a migration indexes. */
export const BROKEN = "tenant_07";

/** Three migrations a tenant's schema receives: unqualified names, raw SQL included (the search_path). */
export const MIGRATIONS: TestMigration[] = [
  {
    revision: "f1ee70000001",
    revises: null,
    message: "create projects",
    async upgrade(op) {
      await op.safeCreateTable("projects", {
        columns: [
          { name: "id", type: "bigint", primaryKey: true },
          { name: "name", type: "text" },
          { name: "owner_id", type: "bigint" },
        ],
      });
    },
    async downgrade(op) {
      await op.safeDropTable("projects");
    },
  },
  {
    revision: "f1ee70000002",
    revises: "f1ee70000001",
    message: "index the owners",
    async upgrade(op) {
      await op.execute("CREATE INDEX IF NOT EXISTS ix_projects_owner ON projects (owner_id)");
    },
    async downgrade(op) {
      await op.execute("DROP INDEX IF EXISTS ix_projects_owner");
    },
  },
  {
    revision: "f1ee70000003",
    revises: "f1ee70000002",
    message: "create tasks",
    async upgrade(op) {
      await op.safeCreateTable("tasks", { columns: [{ name: "id", type: "bigint", primaryKey: true }] });
    },
    async downgrade(op) {
      await op.safeDropTable("tasks");
    },
  },
];
export const HEAD = "f1ee70000003";

export const EXECUTION_NAME = "test-1";
export const EXECUTION_ARN = `arn:aws:states:us-east-1:123456789012:execution:fleet:${EXECUTION_NAME}`;

export const dbUrl = (database: string) => `data-api://${ARNS.resourceArn}?secret=${ARNS.secretArn}&database=${database}`;

/** The targets of these tenants: schemas of the local database. */
export const targetsOf = (local: LocalAws, names: readonly string[]): FleetTarget[] =>
  names.map((name) => ({ name, db: dbUrl(local.env[ENV.database]!), schema: name }));

export async function createTenants(local: LocalAws, names: readonly string[]): Promise<void> {
  for (const name of names) await local.db.query(`CREATE SCHEMA ${name}`);
}

export async function headsOf(local: LocalAws, schema: string): Promise<string[]> {
  const exists = await local.db.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = '${schema}' AND table_name = 'retort_version'`);
  if (exists.rows.length === 0) return [];
  return (await local.db.query<{ version_num: string }>(`SELECT version_num FROM ${schema}.retort_version ORDER BY 1`)).rows.map((r) => r.version_num);
}

/** The template of a stack with the runner and the fleet; bundling skipped. */
export function synthesize(fleet: (stack: Stack) => Omit<MigrationFleetProps, "runner">): Template {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Test", { env: { account: "123456789012", region: "us-east-1" } });
  const runner = new MigrationRunner(stack, "Migrations", {
    clusterArn: ARNS.resourceArn,
    secret: Secret.fromSecretCompleteArn(stack, "Secret", ARNS.secretArn),
    databaseName: "app",
    migrationsDirectory: "migrations",
  });
  new MigrationFleet(stack, "Fleet", { runner, ...fleet(stack) });
  return Template.fromStack(stack);
}

/** The fleet state machine's definition from the template, its tokens filled in. */
export function fleetDefinition(template: Template): StateMachineDefinition {
  const machines = template.findResources("AWS::StepFunctions::StateMachine");
  const [machine] = Object.entries(machines).filter(([id]) => id.startsWith("FleetStateMachine"));
  const resolve = (part: unknown): string => {
    if (typeof part === "string") return part;
    const p = part as Record<string, unknown>;
    if (p["Fn::GetAtt"]) return `arn:aws:lambda:us-east-1:123456789012:function:${(p["Fn::GetAtt"] as string[])[0]}`;
    if (p["Ref"] === "AWS::Partition") return "aws";
    if (p["Ref"] === "AWS::Region") return "us-east-1";
    if (p["Ref"] === "AWS::URLSuffix") return "amazonaws.com";
    if (typeof p["Ref"] === "string") return `ref-${p["Ref"]}`;
    throw new Error(`unexpected token in the definition: ${JSON.stringify(part)}`);
  };
  const body = machine![1]["Properties"]["DefinitionString"] as { "Fn::Join": [string, unknown[]] } | string;
  const text = typeof body === "string" ? body : body["Fn::Join"][1].map(resolve).join("");
  return JSON.parse(text) as StateMachineDefinition;
}

export interface Execution {
  output?: FleetSummary & { message: string };
  /** How the execution failed, as DescribeExecution says it: the error's name and its cause. */
  error?: { error: string; cause: string };
  invocations: { state: string; target?: string }[];
}

export interface ExecuteOptions {
  /** The Lambda context's time for each task invocation. @default 15 minutes */
  budgetMs?: (state: string, payload: Record<string, unknown>) => number | undefined;
  /** Where a Distributed Map's ItemReader and ResultWriter go (see emulateDistributedMaps). */
  s3?: LocalS3;
}

type TaskHandler = (input: unknown) => Promise<never>;

/** Runs the definition; every Lambda task calls the fleet-step handler in-process. */
export async function execute(definition: StateMachineDefinition, handlers: Handlers, input: object = {}, options: ExecuteOptions = {}): Promise<Execution> {
  const invocations: Execution["invocations"] = [];
  const task = (state: string) => async (input: unknown) => {
    // With payloadResponseOnly the task's Resource is the function itself: its input is the payload.
    const payload = input as Record<string, unknown>;
    const target = (payload["target"] as FleetTarget | undefined)?.name;
    invocations.push({ state, ...(target ? { target } : {}) });
    const budgetMs = options.budgetMs?.(state, payload);
    return (await handlers.fleetStep(payload, lambdaContext({ functionName: "retort-fleet-step", ...(budgetMs ? { budgetMs } : {}) }))) as never;
  };
  const states = (d: StateMachineDefinition): string[] =>
    Object.entries(d.States).flatMap(([name, s]) =>
      s.Type === "Task" ? [name] : s.Type === "Map" ? states(((s as { ItemProcessor?: StateMachineDefinition }).ItemProcessor)!) : [],
    );
  const emulated = emulateDistributedMaps(definition, options.s3);
  const machine = new StateMachine(emulated.definition, { validationOptions: { checkArn: false } });
  const run = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: { ...Object.fromEntries(states(definition).map((name) => [name, task(name)])), ...emulated.handlers },
      waitTimeOverrides: { [FLEET_STATES.continueTarget]: 10, [distributedState(FLEET_STATES.continueTarget)]: 10 },
    },
    context: { Execution: { Id: EXECUTION_ARN, Name: EXECUTION_NAME, Input: input as never, StartTime: new Date().toISOString() } },
  });
  try {
    return { output: (await run.result) as unknown as Execution["output"], invocations };
  } catch (error) {
    // aws-local-stepfunctions wraps the Fail state's (or the task's) error: its name is the
    // execution's error, its message the cause.
    const failure = ((error as { cause?: unknown }).cause ?? error) as Error;
    return { error: { error: failure.name, cause: failure.message }, invocations };
  }
}

type States = Record<string, Record<string, unknown>>;

/**
 * aws-local-stepfunctions runs every Map inline and knows neither ItemReader nor ResultWriter, so
 * a Distributed Map's two fields are replaced here by what the Step Functions guide documents them
 * to do ("ItemReader (Map)", "ResultWriter (Map)"): before the Map, a task reads the items, the
 * JSON array in the S3 object the ItemReader's Parameters name, and the Map takes them from the
 * state; after it, a task writes each item's output as a succeeded child execution (Name, Status,
 * Output as JSON text) to `<Prefix>/<map run id>/SUCCEEDED_0.json`, the manifest listing it to
 * `<Prefix>/<map run id>/manifest.json`, and puts `{ MapRunArn, ResultWriterDetails: { Bucket, Key } }`
 * at the Map's ResultPath, where a Distributed Map puts it. Both run against `s3` (s3rver). The
 * item processor runs as written, each item as a child execution would.
 */
function emulateDistributedMaps(definition: StateMachineDefinition, s3: LocalS3 | undefined): { definition: StateMachineDefinition; handlers: Record<string, TaskHandler> } {
  const copy = structuredClone(definition) as unknown as { StartAt: string; States: States };
  const handlers: Record<string, TaskHandler> = {};
  const localS3 = (): LocalS3 => {
    if (!s3) throw new Error("a Distributed Map ran: pass execute() a local S3 (options.s3)");
    return s3;
  };
  for (const [name, map] of Object.entries(copy.States)) {
    if (map["Type"] !== "Map" || !map["ItemReader"]) continue;
    const reader = `${name} (ItemReader)`;
    const writer = `${name} (ResultWriter)`;
    // Whatever led to the Map now leads to its reader.
    if (copy.StartAt === name) copy.StartAt = reader;
    for (const state of Object.values(copy.States)) {
      if (state["Next"] === name) state["Next"] = reader;
      if (state["Default"] === name) state["Default"] = reader;
      for (const choice of (state["Choices"] ?? []) as { Next: string }[]) if (choice.Next === name) choice.Next = reader;
    }
    const resultPath = (map["ResultPath"] as string | undefined) ?? "$";
    copy.States[reader] = {
      Type: "Task",
      Resource: "arn:aws:lambda:us-east-1:123456789012:function:item-reader",
      Parameters: (map["ItemReader"] as { Parameters: unknown }).Parameters,
      ResultPath: "$.emulatedItems",
      Next: name,
    };
    copy.States[writer] = {
      Type: "Task",
      Resource: "arn:aws:lambda:us-east-1:123456789012:function:result-writer",
      Parameters: { ...(map["ResultWriter"] as { Parameters: object }).Parameters, "outputs.$": resultPath },
      ResultPath: resultPath,
      ...(map["Next"] ? { Next: map["Next"] } : { End: true }),
    };
    delete map["ItemReader"];
    delete map["ResultWriter"];
    delete map["End"];
    map["ItemsPath"] = "$.emulatedItems";
    map["Next"] = writer;
    handlers[reader] = async (input) => {
      const { Bucket, Key } = input as { Bucket: string; Key: string };
      return JSON.parse(await localS3().get(Bucket, Key)) as never;
    };
    handlers[writer] = async (input) => {
      const { Bucket, Prefix, outputs } = input as { Bucket: string; Prefix: string; outputs: unknown[] };
      const runId = randomUUID();
      const mapRunArn = `arn:aws:states:us-east-1:123456789012:mapRun:fleet/${name}:${runId}`;
      const children = outputs.map((output) => {
        const child = randomUUID();
        return { ExecutionArn: `arn:aws:states:us-east-1:123456789012:execution:fleet/${name}:${child}`, Name: child, Status: "SUCCEEDED", Output: JSON.stringify(output) };
      });
      const succeeded = `${Prefix}/${runId}/SUCCEEDED_0.json`;
      const body = JSON.stringify(children);
      await localS3().put(Bucket, succeeded, body);
      const manifest = `${Prefix}/${runId}/manifest.json`;
      await localS3().put(
        Bucket,
        manifest,
        JSON.stringify({ DestinationBucket: Bucket, MapRunArn: mapRunArn, ResultFiles: { FAILED: [], PENDING: [], SUCCEEDED: [{ Key: succeeded, Size: Buffer.byteLength(body) }] } }),
      );
      return { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket, Key: manifest } } as never;
    };
  }
  return { definition: copy as unknown as StateMachineDefinition, handlers };
}
