// The fleet state machine as MigrationFleet synthesizes it, executed by aws-local-stepfunctions
// with every Lambda task calling the real fleet-step handler in-process, over 20 tenant schemas in
// one database behind the local Data API endpoint (embedded PostgreSQL) and dynalite for the lock
// and the history: one tenant is broken (a hand-made `projects` without the column a migration
// indexes), the other 19 reach the heads, the summary names the broken one and its error's code,
// and the execution fails or succeeds by the tolerated share. After the fix a second execution
// converges touching only that tenant (each other one costs one Data API call). Also the target
// sources (the prop, a DynamoDB table, an S3 object) and their bad lists, a target whose upgrade
// outlasts one invocation, a lock held by another runner, and the deploy hook that starts the
// fleet and waits for it. The sources read at run time leave mapMode "auto" to ReadTargets, whose
// short lists take the inline Map (past inlineLimit: fleet-distributed.test.ts). The synthesis,
// the local execution and the tenants: fleet-harness.ts.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CreateTableCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as s3 from "aws-cdk-lib/aws-s3";
import type { StateMachineDefinition } from "aws-local-stepfunctions";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ENV, FLEET_ATTRIBUTES, FLEET_PROPERTIES, FLEET_RESOURCE_TYPE } from "../../functions/constants.ts";
import type { DeployEvent } from "../../functions/deploy-hook.ts";
import type { TargetProgress } from "../../functions/fleet.ts";
import type { Executions } from "../../functions/fleet-deploy.ts";
import { readTargets } from "../../functions/fleet-targets.ts";
import type { Handlers } from "../../functions/handlers.ts";
import { provide } from "../../functions/provider-protocol.ts";
import { FLEET_FAILED_ERROR, FLEET_STATES } from "../../infra/fleet-state-machine.ts";
import type { FleetTargetResult } from "../../lib/fleet/summary.ts";
import { createDynamoClient } from "../../lib/state/dynamo-client.ts";
import { DynamoHistory } from "../../lib/state/dynamo-history.ts";
import { ARNS } from "../local/harness.ts";
import { BROKEN, createTenants, dbUrl, type Execution, execute, fleetDefinition, HEAD, headsOf, MIGRATIONS, synthesize, targetsOf, tenantNames } from "./fleet-harness.ts";
import { handlersFor, lambdaContext, type LocalAws, polyfillWithResolvers, startLocalAws, STACK_ID, TABLE, type TestMigration } from "./harness.ts";

beforeAll(polyfillWithResolvers);

const TENANTS = tenantNames(20);

let local: LocalAws;
beforeEach(async () => {
  local = await startLocalAws();
});
afterEach(() => local.close());

async function tablesOf(schema: string): Promise<string[]> {
  return (
    await local.db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = '${schema}' AND table_name NOT LIKE 'retort%' ORDER BY 1`,
    )
  ).rows.map((r) => r.table_name);
}

/** The fleet's runs of one tenant, newest first, from the DynamoDB history. */
async function runsOf(schema: string) {
  const client = createDynamoClient();
  try {
    return await new DynamoHistory({ table: TABLE, client }).runs(`${ARNS.resourceArn}/${local.env[ENV.database]}?schema=${schema}`);
  } finally {
    client.destroy();
  }
}

const byName = (results: FleetTargetResult[]) => Object.fromEntries(results.map((r) => [r.name, r]));

describe("the fleet state machine over 20 tenant schemas", () => {
  it("upgrades 19, names the broken one with its code, fails at 0% tolerated, and converges after the fix touching only it", { timeout: 60_000 }, async () => {
    await createTenants(local, TENANTS);
    await local.db.query(`CREATE TABLE ${BROKEN}.projects (id bigint PRIMARY KEY, name text)`);
    const definition = fleetDefinition(synthesize(() => ({ targets: targetsOf(local, TENANTS) })));
    const { handlers } = handlersFor(local, MIGRATIONS);

    const first = await execute(definition, handlers);
    expect(first.output).toBeUndefined();
    // The Fail state: its error, and a cause naming the broken tenant, its code and its SQLSTATE.
    expect(first.error?.error).toBe(FLEET_FAILED_ERROR);
    const cause = first.error!.cause;
    expect(cause).toMatch(/^19 upgraded, 0 up to date, 1 failed of 20 target\(s\), more than the 0% tolerated \(at most 0 of 20 may fail\): tenant_07: /);
    expect(cause).toContain(`${BROKEN}: sql-error (SQLSTATE 42703): upgrade of f1ee70000002`);
    expect(cause).toContain('column "owner_id" does not exist');
    for (const tenant of TENANTS) {
      // The broken tenant keeps what applied before the failing revision (its first chunk).
      expect(await headsOf(local, tenant), tenant).toEqual(tenant === BROKEN ? ["f1ee70000001"] : [HEAD]);
      if (tenant !== BROKEN) expect(await tablesOf(tenant), tenant).toEqual(["projects", "tasks"]);
    }
    // Nothing in public: every unqualified name went to the tenant's schema.
    expect(await tablesOf("public")).toEqual([]);
    // Every target's run is in the history under its own lock key.
    const [good] = await runsOf("tenant_03");
    expect(good).toMatchObject({ command: "safe-upgrade", status: "succeeded", toHeads: [HEAD] });
    const [bad] = await runsOf(BROKEN);
    expect(bad).toMatchObject({ command: "safe-upgrade", status: "failed" });
    expect(bad!.error).toContain('column "owner_id" does not exist');
    // Summarize ran once, after every target.
    expect(first.invocations.filter((i) => i.state === FLEET_STATES.summarize)).toHaveLength(1);
    expect(new Set(first.invocations.filter((i) => i.state === FLEET_STATES.upgradeTarget).map((i) => i.target))).toEqual(new Set(TENANTS));

    // The fix, then a second execution: only the broken tenant does any work.
    await local.db.query(`ALTER TABLE ${BROKEN}.projects ADD COLUMN owner_id bigint`);
    const callsBefore = local.dataApi.calls.length;
    const second = await execute(definition, handlers);
    expect(second.error).toBeUndefined();
    const summary = second.output!;
    expect(summary).toMatchObject({ command: "fleet upgrade", targets: 20, upgraded: 1, upToDate: 19, failed: 0, ok: true });
    expect(summary.message).toBe("1 upgraded, 19 up to date, 0 failed of 20 target(s), within the 0% tolerated");
    expect(byName(summary.results)[BROKEN]).toMatchObject({ status: "upgraded", schema: BROKEN, fromHeads: ["f1ee70000001"], toHeads: [HEAD], applied: 2 });
    expect(await headsOf(local, BROKEN)).toEqual([HEAD]);
    expect(await tablesOf(BROKEN)).toEqual(["projects", "tasks"]);
    // Each up-to-date tenant cost one Data API call, the version table's read, which names it;
    // nothing else named any of them (the broken tenant's statements name it, or no schema).
    const calls = local.dataApi.calls.slice(callsBefore);
    const tenantsIn = (sql: string | undefined) => [...new Set(sql?.match(/tenant_\d\d/g) ?? [])];
    for (const tenant of TENANTS.filter((t) => t !== BROKEN)) {
      expect(calls.filter((c) => tenantsIn(c.sql).includes(tenant)), tenant).toHaveLength(1);
    }
    expect(calls.filter((c) => tenantsIn(c.sql).length > 1)).toEqual([]);
    for (const tenant of ["tenant_01", "tenant_20"]) expect((await runsOf(tenant))[0]).toMatchObject({ status: "succeeded", applied: 0, toHeads: [HEAD] });

    // All 20 up to date: 20 calls in all.
    const callsBeforeThird = local.dataApi.calls.length;
    const third = await execute(definition, handlers);
    expect(third.output).toMatchObject({ upgraded: 0, upToDate: 20, failed: 0, ok: true });
    expect(local.dataApi.calls.length - callsBeforeThird).toBe(20);
  });

  it("succeeds at 10% tolerated with the failure in the summary", { timeout: 60_000 }, async () => {
    await createTenants(local, TENANTS);
    await local.db.query(`CREATE TABLE ${BROKEN}.projects (id bigint PRIMARY KEY, name text)`);
    const definition = fleetDefinition(synthesize(() => ({ targets: targetsOf(local, TENANTS), toleratedFailurePercentage: 10, maxConcurrency: 8 })));
    const { handlers } = handlersFor(local, MIGRATIONS);
    const { output, error } = await execute(definition, handlers);
    expect(error).toBeUndefined();
    expect(output).toMatchObject({ targets: 20, upgraded: 19, upToDate: 0, failed: 1, tolerate: 0.1, ok: true });
    const broken = byName(output!.results)[BROKEN]!;
    expect(broken).toMatchObject({
      status: "failed",
      schema: BROKEN,
      fromHeads: [],
      toHeads: ["f1ee70000001"],
      applied: 1,
      error: { code: "sql-error", sqlState: "42703", revision: "f1ee70000002" },
    });
    expect(broken.error!.message).toContain('column "owner_id" does not exist');
    expect(output!.message).toMatch(/^19 upgraded, 0 up to date, 1 failed of 20 target\(s\), within the 10% tolerated: tenant_07: sql-error \(SQLSTATE 42703\): upgrade of f1ee70000002/);
    for (const tenant of TENANTS.filter((t) => t !== BROKEN)) expect(await headsOf(local, tenant), tenant).toEqual([HEAD]);
  });
});

describe("one target", () => {
  const slow = (revision: string, revises: string | null): TestMigration => ({
    revision,
    revises,
    message: `slow ${revision}`,
    async upgrade(op) {
      await op.execute("SELECT pg_sleep(0.4)");
      await op.safeCreateTable(`t_${revision}`, { columns: [{ name: "id", type: "bigint" }] });
    },
    async downgrade() {},
  });

  it("whose upgrade outlasts one invocation continues in the next ones, as the deploy hook's polls do", { timeout: 60_000 }, async () => {
    await createTenants(local, ["tenant_01"]);
    const definition = fleetDefinition(synthesize(() => ({ targets: targetsOf(local, ["tenant_01"]) })));
    const { handlers } = handlersFor(local, [slow("5a0000000001", null), slow("5a0000000002", "5a0000000001"), slow("5a0000000003", "5a0000000002")]);
    // Each invocation has 2.6 s: it works until 0.6 s (the 2 s kept back to answer), one slow revision.
    const { output, error, invocations } = await execute(definition, handlers, {}, { budgetMs: (state) => (state === FLEET_STATES.upgradeTarget ? 2_600 : undefined) });
    expect(error).toBeUndefined();
    expect(output).toMatchObject({ targets: 1, upgraded: 1, ok: true, results: [{ name: "tenant_01", status: "upgraded", fromHeads: [], toHeads: ["5a0000000003"], applied: 3 }] });
    expect(invocations.filter((i) => i.state === FLEET_STATES.upgradeTarget).length).toBeGreaterThanOrEqual(3);
    expect(await headsOf(local, "tenant_01")).toEqual(["5a0000000003"]);
  });

  it("whose lock another runner holds waits for it, then is reported failed naming the holder", { timeout: 60_000 }, async () => {
    await createTenants(local, ["tenant_01", "tenant_02"]);
    local.env[ENV.fleetLockWait] = "1";
    const lease = await local.lock.acquire(`${ARNS.resourceArn}/${local.env[ENV.database]}?schema=tenant_02`, { command: "safe-upgrade", host: "laptop", pid: 42 });
    const definition = fleetDefinition(synthesize(() => ({ targets: targetsOf(local, ["tenant_01", "tenant_02"]), toleratedFailurePercentage: 50 })));
    const { handlers } = handlersFor(local, MIGRATIONS);
    const { output, invocations } = await execute(definition, handlers);
    await lease.release();
    expect(output).toMatchObject({ upgraded: 1, failed: 1, ok: true });
    expect(byName(output!.results)["tenant_02"]).toMatchObject({ status: "failed", error: { code: "lock-held" } });
    expect(byName(output!.results)["tenant_02"]!.error!.message).toContain("laptop pid 42");
    // It tried again (ContinueTarget) before giving up.
    expect(invocations.filter((i) => i.target === "tenant_02").length).toBeGreaterThan(1);
  });

  it("answers its summary line when done; an up-to-date target costs one Data API call", async () => {
    await createTenants(local, ["tenant_01"]);
    const { handlers } = handlersFor(local, MIGRATIONS);
    const [target] = targetsOf(local, ["tenant_01"]);
    const step = (progress: Partial<TargetProgress> = {}) =>
      handlers.fleetStep({ step: "upgrade-target", target, progress }, lambdaContext()) as Promise<TargetProgress>;
    const done = await step();
    expect(done).toMatchObject({ done: true, invocations: 1, result: { name: "tenant_01", status: "upgraded", applied: 3, toHeads: [HEAD] } });
    const before = local.dataApi.calls.length;
    const again = await step();
    expect(again).toMatchObject({ done: true, result: { status: "up-to-date", applied: 0, fromHeads: [HEAD], toHeads: [HEAD] } });
    expect(local.dataApi.calls.length - before).toBe(1);
  });
});

describe("the targets' sources", () => {
  let server: Server | undefined;
  const objects = new Map<string, string>();
  afterAll(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  /** S3's GetObject on loopback, path-style, for the real S3 client. */
  async function s3Endpoint(): Promise<string> {
    if (!server) {
      server = createServer((req, res) => {
        const key = decodeURIComponent((req.url ?? "").split("?")[0]!.slice(1));
        const body = objects.get(key);
        if (req.method !== "GET" || body === undefined) {
          res.writeHead(404, { "content-type": "application/xml" });
          res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${key}</Key></Error>`);
          return;
        }
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
      });
      await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    }
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async function targetsTable(name: string, items: Record<string, string>[]): Promise<void> {
    const client = createDynamoClient();
    try {
      await client.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: [{ AttributeName: "name", KeyType: "HASH" }],
          AttributeDefinitions: [{ AttributeName: "name", AttributeType: "S" }],
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
      for (const item of items) {
        await client.send(new PutItemCommand({ TableName: name, Item: Object.fromEntries(Object.entries(item).map(([k, v]) => [k, { S: v }])) }));
      }
    } finally {
      client.destroy();
    }
  }

  it("reads a DynamoDB table's items, by name, and an S3 object, through the real SDK clients", async () => {
    const db = dbUrl("app");
    await targetsTable("fleet-targets", [
      { name: "tenant_02", db, schema: "tenant_02" },
      { name: "tenant_01", db, schema: "tenant_01" },
    ]);
    expect(await readTargets({ table: "fleet-targets" })).toEqual([
      { name: "tenant_01", db, schema: "tenant_01" },
      { name: "tenant_02", db, schema: "tenant_02" },
    ]);
    process.env["AWS_ENDPOINT_URL_S3"] = await s3Endpoint();
    objects.set("fleet-bucket/targets.json", JSON.stringify({ targets: [{ name: "a", db }, { name: "b", db, schema: "b" }] }));
    expect(await readTargets({ bucket: "fleet-bucket", key: "targets.json" })).toEqual([{ name: "a", db }, { name: "b", db, schema: "b" }]);
    await expect(readTargets({ bucket: "fleet-bucket", key: "missing.json" })).rejects.toThrow(/^s3:\/\/fleet-bucket\/missing\.json: could not be read \(NoSuchKey/);
  });

  it("refuses a bad list naming the source and the target", async () => {
    const db = dbUrl("app");
    process.env["AWS_ENDPOINT_URL_S3"] = await s3Endpoint();
    objects.set("b/not-json.json", "[{ name: 1 ");
    await expect(readTargets({ bucket: "b", key: "not-json.json" })).rejects.toThrow(/^s3:\/\/b\/not-json\.json: not JSON \(/);
    objects.set("b/bad-item.json", JSON.stringify([{ name: "a", db }, "tenant_02"]));
    await expect(readTargets({ bucket: "b", key: "bad-item.json" })).rejects.toThrow(/^s3:\/\/b\/bad-item\.json: target 2 is not an object; each target is/);
    objects.set("b/twice.json", JSON.stringify([{ name: "a", db }, { name: "a", db, schema: "x" }]));
    await expect(readTargets({ bucket: "b", key: "twice.json" })).rejects.toThrow('s3://b/twice.json: targets 1 and 2 are both named "a"; names must be unique');
    await targetsTable("extra-field", [{ name: "tenant_01", db, schema: "tenant_01", region: "eu" }]);
    await expect(readTargets({ table: "extra-field" })).rejects.toThrow('dynamodb table extra-field: target 1 has "region", which a target does not take');
    await expect(readTargets({ targets: [{ name: "local", db: "postgres://u@localhost/app" }] })).rejects.toThrow(
      /^the MigrationFleet's targets prop: target 1 \("local"\): "db" must be a data-api:\/\/.* not postgres:\/\//,
    );
    await expect(readTargets({ targets: [{ name: "x", db, schema: "s".repeat(64) }] })).rejects.toThrow(/target 1 \("x"\): "schema": /);
    await expect(readTargets({ table: "no-such-table" })).rejects.toThrow(/^dynamodb table no-such-table: could not be read \(ResourceNotFoundException/);
  });

  it("a bad object fails the execution at ReadTargets, with the cause naming it and the target", { timeout: 60_000 }, async () => {
    process.env["AWS_ENDPOINT_URL_S3"] = await s3Endpoint();
    objects.set("fleet-bucket/bad.json", JSON.stringify([{ name: "tenant_01", db: dbUrl("app"), schema: "tenant_01", shard: 3 }]));
    const definition = fleetDefinition(
      synthesize((stack) => ({
        targetsObject: { bucket: s3.Bucket.fromBucketName(stack, "Bucket", "fleet-bucket"), key: "bad.json" },
        clusterArns: [ARNS.resourceArn],
        secretArns: [ARNS.secretArn],
      })),
    );
    const { handlers } = handlersFor(local, MIGRATIONS);
    const { error, invocations } = await execute(definition, handlers);
    expect(invocations.map((i) => i.state)).toEqual([FLEET_STATES.readTargets]);
    expect(error?.error).toBe("TargetsError");
    expect(error?.cause).toContain(
      's3://fleet-bucket/bad.json: target 1 has "shard", which a target does not take',
    );
  });

  it("a DynamoDB table is read when the execution starts", { timeout: 60_000 }, async () => {
    await createTenants(local, ["tenant_01", "tenant_02"]);
    const db = dbUrl(local.env[ENV.database]!);
    await targetsTable("tenants", [
      { name: "tenant_01", db, schema: "tenant_01" },
      { name: "tenant_02", db, schema: "tenant_02" },
    ]);
    const definition = fleetDefinition(
      synthesize((stack) => ({
        targetsTable: dynamodb.Table.fromTableName(stack, "Tenants", "tenants"),
        clusterArns: [ARNS.resourceArn],
        secretArns: [ARNS.secretArn],
      })),
    );
    const { handlers } = handlersFor(local, MIGRATIONS);
    const { output, error } = await execute(definition, handlers);
    expect(error).toBeUndefined();
    expect(output).toMatchObject({ targets: 2, upgraded: 2, ok: true });
    expect(await headsOf(local, "tenant_02")).toEqual([HEAD]);
  });
});

describe("the fleet's deploy hook", () => {
  /** Step Functions as the hook sees it, each execution run by aws-local-stepfunctions. */
  function localExecutions(definition: StateMachineDefinition, handlers: Handlers): Executions & { started: unknown[] } {
    const runs = new Map<string, Promise<Execution>>();
    const settled = new Map<string, Execution>();
    const started: unknown[] = [];
    return {
      started,
      async start(stateMachineArn, name, input) {
        const arn = `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
        if (!runs.has(arn)) {
          started.push(input);
          runs.set(arn, execute(definition, handlers, input).then((e) => (settled.set(arn, e), e)));
        }
        return arn;
      },
      async describe(arn) {
        const done = settled.get(arn);
        if (!done) return { status: "RUNNING" };
        if (done.error) return { status: "FAILED", ...done.error };
        return { status: "SUCCEEDED", output: JSON.stringify(done.output) };
      },
    };
  }

  const event = (requestType: "Create" | "Update", onDeploy: "wait" | "start"): DeployEvent =>
    ({
      RequestType: requestType,
      ServiceToken: "arn:aws:lambda:us-east-1:123456789012:function:fleet-provider",
      ResponseURL: "https://example.invalid/response",
      StackId: STACK_ID,
      RequestId: `request-${requestType}-${onDeploy}`,
      LogicalResourceId: "FleetDeployHook",
      ResourceType: FLEET_RESOURCE_TYPE,
      ResourceProperties: { ServiceToken: "x", [FLEET_PROPERTIES.onDeploy]: onDeploy, [FLEET_PROPERTIES.manifestHash]: "0".repeat(64) },
      ...(requestType === "Update" ? { PhysicalResourceId: "retort-fleet:sm", OldResourceProperties: {} } : {}),
    }) as DeployEvent;

  it('"wait" fails the deploy naming the broken tenant, and succeeds once it is fixed; "start" answers at once', { timeout: 60_000 }, async () => {
    const tenants = TENANTS.slice(0, 8);
    await createTenants(local, tenants);
    await local.db.query(`CREATE TABLE ${BROKEN}.projects (id bigint PRIMARY KEY, name text)`);
    const definition = fleetDefinition(synthesize(() => ({ targets: targetsOf(local, tenants) })));
    const stateMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:fleet";
    local.env[ENV.fleetStateMachine] = stateMachineArn;
    const { handlers: steps } = handlersFor(local, MIGRATIONS);
    const executions = localExecutions(definition, steps);
    const { handlers } = handlersFor(local, MIGRATIONS, { executions });
    const hook = { onEvent: handlers.fleetOnEvent, isComplete: handlers.fleetIsComplete } as never;

    const failed = await provide(hook, event("Create", "wait"), { context: () => lambdaContext(), pollIntervalMs: 50, maxPolls: 1000 });
    expect(failed.response.Status).toBe("FAILED");
    expect(failed.response.Reason).toContain(`the fleet execution ${stateMachineArn.replace(":stateMachine:", ":execution:")}:deploy-request-Create-wait FAILED (${FLEET_FAILED_ERROR})`);
    expect(failed.response.Reason).toContain(`(at most 0 of 8 may fail): ${BROKEN}: sql-error (SQLSTATE 42703): upgrade of f1ee70000002`);
    expect(failed.polls).toBeGreaterThan(1);
    expect(executions.started).toEqual([{}]);

    await local.db.query(`ALTER TABLE ${BROKEN}.projects ADD COLUMN owner_id bigint`);
    const fixed = await provide(hook, event("Update", "wait"), { context: () => lambdaContext(), pollIntervalMs: 50, maxPolls: 1000 });
    expect(fixed.response.Status).toBe("SUCCESS");
    expect(fixed.response.Data).toMatchObject({
      [FLEET_ATTRIBUTES.status]: "SUCCEEDED",
      [FLEET_ATTRIBUTES.message]: "1 upgraded, 7 up to date, 0 failed of 8 target(s), within the 0% tolerated",
    });
    // An Update keeps a tenant ahead of the code (a CloudFormation rollback) as it is.
    expect(executions.started[1]).toEqual({ ahead: "keep" });

    const started = await provide(hook, event("Create", "start"), { context: () => lambdaContext(), maxPolls: 1 });
    expect(started.response).toMatchObject({ Status: "SUCCESS", Data: { [FLEET_ATTRIBUTES.status]: "RUNNING" } });
    expect(started.response.Data![FLEET_ATTRIBUTES.executionArn]).toMatch(/:execution:fleet:deploy-request-Create-start$/);
  });

  it("keeps a tenant ahead of the code when started by an Update", async () => {
    await createTenants(local, ["tenant_01"]);
    const [target] = targetsOf(local, ["tenant_01"]);
    const { handlers: newer } = handlersFor(local, MIGRATIONS);
    await newer.fleetStep({ step: "upgrade-target", target }, lambdaContext());
    const { handlers: older } = handlersFor(local, MIGRATIONS.slice(0, 2));
    const kept = (await older.fleetStep({ step: "upgrade-target", target, input: { ahead: "keep" } }, lambdaContext())) as TargetProgress;
    expect(kept.result).toMatchObject({ status: "up-to-date", toHeads: [HEAD] });
    const refused = (await older.fleetStep({ step: "upgrade-target", target, input: {} }, lambdaContext())) as TargetProgress;
    expect(refused.result).toMatchObject({ status: "failed", error: { code: "unknown-database-revisions" } });
    expect(await headsOf(local, "tenant_01")).toEqual([HEAD]);
  });
});
