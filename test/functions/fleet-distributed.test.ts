// The fleet past its inline limit: MigrationFleet in mapMode "auto" (inlineLimit 10) over 30
// tenant schemas read from an S3 object, run by aws-local-stepfunctions with the real fleet-step
// handler, the real S3 client against s3rver and the tenants on the local Data API endpoint.
// ReadTargets writes the list to the work bucket and ManyTargets? takes the Distributed Map, whose
// ItemReader and ResultWriter the harness replaces with what AWS documents them to do (see
// emulateDistributedMaps in fleet-harness.ts: aws-local-stepfunctions has neither); Summarize
// reads the exported results, writes the whole summary and answers a compact one naming the
// broken tenant with its code. Up to the limit the same definition takes the inline Map. Then the
// handler's two work-bucket steps on their own: ReadTargets' answer either side of the limit, and
// Summarize over a manifest with failed and never-started child executions, its answer capped.
import * as s3 from "aws-cdk-lib/aws-s3";
import type { Stack } from "aws-cdk-lib";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FLEET_WORK_PREFIX } from "../../functions/constants.ts";
import type { FleetSummaryAnswer, FleetSummaryDigest, ReadTargetsAnswer } from "../../functions/fleet.ts";
import { distributedState, FLEET_STATES } from "../../infra/fleet-state-machine.ts";
import type { MigrationFleetProps } from "../../infra/migration-fleet.ts";
import type { FleetSummary, FleetTargetResult } from "../../lib/fleet/summary.ts";
import { ARNS } from "../local/harness.ts";
import { BROKEN, createTenants, EXECUTION_NAME, execute, fleetDefinition, HEAD, headsOf, MIGRATIONS, synthesize, targetsOf, tenantNames } from "./fleet-harness.ts";
import { handlersFor, lambdaContext, type LocalAws, polyfillWithResolvers, startLocalAws } from "./harness.ts";
import { type LocalS3, startLocalS3 } from "./local-s3.ts";

beforeAll(polyfillWithResolvers);

const CONFIG = "fleet-config";
const WORK = "fleet-work";

let local: LocalAws;
let objects: LocalS3;
beforeEach(async () => {
  local = await startLocalAws();
  objects = await startLocalS3([CONFIG, WORK]);
});
afterEach(async () => {
  await objects.close();
  await local.close();
});

/** A fleet whose targets are read at run time (so "auto" is decided by ReadTargets), and whose work bucket is on s3rver. */
const autoFleet = (stack: Stack): Omit<MigrationFleetProps, "runner"> => ({
  targetsObject: { bucket: s3.Bucket.fromBucketName(stack, "Config", CONFIG), key: "tenants.json" },
  clusterArns: [ARNS.resourceArn],
  secretArns: [ARNS.secretArn],
  mapMode: "auto",
  inlineLimit: 10,
  maxConcurrency: 8,
  toleratedFailurePercentage: 5,
  workBucket: s3.Bucket.fromBucketName(stack, "Work", WORK),
});

const folder = `${FLEET_WORK_PREFIX}/${EXECUTION_NAME}`;

describe("the fleet state machine in mapMode auto", () => {
  it("over 30 tenants (inlineLimit 10) fans out with the Distributed Map, names the broken one, and writes the whole summary", { timeout: 60_000 }, async () => {
    const tenants = tenantNames(30);
    await createTenants(local, tenants);
    await local.db.query(`CREATE TABLE ${BROKEN}.projects (id bigint PRIMARY KEY, name text)`);
    await objects.put(CONFIG, "tenants.json", JSON.stringify(targetsOf(local, tenants)));
    const definition = fleetDefinition(synthesize(autoFleet));
    const { handlers } = handlersFor(local, MIGRATIONS);

    const { output, error, invocations } = await execute(definition, handlers, {}, { s3: objects });
    expect(error).toBeUndefined();
    const digest = output as unknown as FleetSummaryDigest;
    expect(digest).toMatchObject({
      command: "fleet upgrade",
      targets: 30,
      upgraded: 29,
      upToDate: 0,
      failed: 1,
      ok: true,
      moreFailures: 0,
      summaryObject: { bucket: WORK, key: `${folder}/summary.json` },
    });
    expect(digest).not.toHaveProperty("results");
    expect(digest.failures).toHaveLength(1);
    expect(digest.failures[0]).toMatchObject({ name: BROKEN, status: "failed", error: { code: "sql-error", sqlState: "42703", revision: "f1ee70000002" } });
    expect(digest.message).toMatch(/^29 upgraded, 0 up to date, 1 failed of 30 target\(s\), within the 5% tolerated: tenant_07: sql-error \(SQLSTATE 42703\): upgrade of f1ee70000002/);

    // Every target ran in the Distributed Map's item processor, none in the inline Map's.
    const upgrades = invocations.filter((i) => i.state === distributedState(FLEET_STATES.upgradeTarget));
    expect(new Set(upgrades.map((i) => i.target))).toEqual(new Set(tenants));
    expect(invocations.filter((i) => i.state === FLEET_STATES.upgradeTarget)).toEqual([]);
    for (const tenant of tenants) expect(await headsOf(local, tenant), tenant).toEqual(tenant === BROKEN ? ["f1ee70000001"] : [HEAD]);

    // The execution's folder: the list ReadTargets wrote, the Map Run's results, the whole summary.
    const keys = await objects.keys(WORK);
    expect(keys.filter((k) => !k.startsWith(`${folder}/results/`))).toEqual([`${folder}/summary.json`, `${folder}/targets.json`]);
    expect(keys.filter((k) => k.startsWith(`${folder}/results/`)).map((k) => k.split("/").pop())).toEqual(["SUCCEEDED_0.json", "manifest.json"]);
    expect(JSON.parse(await objects.get(WORK, `${folder}/targets.json`))).toEqual(targetsOf(local, tenants));
    const whole = JSON.parse(await objects.get(WORK, `${folder}/summary.json`)) as FleetSummary;
    expect(whole).toMatchObject({ targets: 30, upgraded: 29, failed: 1, ok: true, message: digest.message });
    expect(whole.results.map((r) => r.name).sort()).toEqual(tenants);
  });

  it("up to inlineLimit takes the inline Map, and writes nothing", { timeout: 60_000 }, async () => {
    const tenants = tenantNames(8);
    await createTenants(local, tenants);
    await objects.put(CONFIG, "tenants.json", JSON.stringify(targetsOf(local, tenants)));
    const { handlers } = handlersFor(local, MIGRATIONS);
    const { output, error, invocations } = await execute(fleetDefinition(synthesize(autoFleet)), handlers, {}, { s3: objects });
    expect(error).toBeUndefined();
    expect(output).toMatchObject({ targets: 8, upgraded: 8, failed: 0, ok: true });
    expect(output!.results).toHaveLength(8);
    expect(invocations.filter((i) => i.state === FLEET_STATES.upgradeTarget)).toHaveLength(8);
    expect(await objects.keys(WORK)).toEqual([]);
  });
});

describe("the fleet step with a work bucket", () => {
  const step = async (event: Record<string, unknown>) => handlersFor(local, MIGRATIONS).handlers.fleetStep(event, lambdaContext());

  it("ReadTargets answers the list up to inlineLimit; past it, or with no inline Map, writes it as one JSON array and answers the object", async () => {
    const targets = targetsOf(local, tenantNames(3));
    const read = (work?: Record<string, unknown>) => step({ step: "read-targets", source: { targets }, ...(work ? { work } : {}) }) as Promise<ReadTargetsAnswer>;
    expect(await read()).toEqual({ mode: "inline", count: 3, targets });
    expect(await read({ bucket: WORK, executionName: "run-a", inlineLimit: 3 })).toEqual({ mode: "inline", count: 3, targets });
    expect(await objects.keys(WORK)).toEqual([]);

    expect(await read({ bucket: WORK, executionName: "run-a", inlineLimit: 2 })).toEqual({
      mode: "distributed",
      count: 3,
      itemsObject: { bucket: WORK, key: `${FLEET_WORK_PREFIX}/run-a/targets.json` },
      resultsPrefix: `${FLEET_WORK_PREFIX}/run-a/results`,
    });
    expect(JSON.parse(await objects.get(WORK, `${FLEET_WORK_PREFIX}/run-a/targets.json`))).toEqual(targets);
    // mapMode "distributed": no inlineLimit, the object whatever the count.
    expect(await read({ bucket: WORK, executionName: "run-b" })).toMatchObject({ mode: "distributed", count: 3 });
    expect(await objects.keys(WORK)).toEqual([`${FLEET_WORK_PREFIX}/run-a/targets.json`, `${FLEET_WORK_PREFIX}/run-b/targets.json`]);
  });

  const line = (name: string, status: FleetTargetResult["status"], error?: FleetTargetResult["error"]): FleetTargetResult => ({
    name,
    schema: name,
    status,
    fromHeads: [],
    toHeads: status === "failed" ? [] : [HEAD],
    applied: status === "upgraded" ? 3 : 0,
    skippedOperations: 0,
    durationMs: 120,
    ...(error ? { error } : {}),
  });

  /** A Map Run's export as the ResultWriter writes it: the result files by status, the manifest listing them. */
  async function exportMapRun(prefix: string, files: { SUCCEEDED?: object[]; FAILED?: object[]; PENDING?: object[] }): Promise<{ Bucket: string; Key: string }> {
    const run = `${prefix}/0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f`;
    const listed: Record<string, { Key: string; Size: number }[]> = { FAILED: [], PENDING: [], SUCCEEDED: [] };
    for (const [status, children] of Object.entries(files)) {
      const key = `${run}/${status}_0.json`;
      const body = JSON.stringify(children);
      await objects.put(WORK, key, body);
      listed[status]!.push({ Key: key, Size: body.length });
    }
    const manifest = `${run}/manifest.json`;
    await objects.put(WORK, manifest, JSON.stringify({ DestinationBucket: WORK, MapRunArn: "arn:aws:states:us-east-1:123456789012:mapRun:fleet/DistributedUpgradeTargets:0f9e8d7c", ResultFiles: listed }));
    return { Bucket: WORK, Key: manifest };
  }
  const itemInput = (name: string) => JSON.stringify({ target: { name, db: "data-api://x", schema: name }, input: {}, progress: {} });
  const succeeded = (result: FleetTargetResult) => ({ Name: `child-${result.name}`, Status: "SUCCEEDED", Input: itemInput(result.name), Output: JSON.stringify(result) });

  it("Summarize reads a Map Run's manifest: a FAILED child execution is a failed line naming its Error, a PENDING one was never started", async () => {
    const details = await exportMapRun(`${FLEET_WORK_PREFIX}/run-c/results`, {
      SUCCEEDED: [
        succeeded(line("tenant_01", "upgraded")),
        // The TargetFailed state's line: the task itself failed.
        succeeded(line("tenant_02", "failed", { code: "Lambda.Unknown", message: "The function timed out" })),
      ],
      FAILED: [{ Name: "child-3", Status: "TIMED_OUT", Input: itemInput("tenant_03"), Error: "States.Timeout", Cause: "The child execution ran past its timeout" }],
      PENDING: [{ Name: "child-4", Input: itemInput("tenant_04") }],
    });
    const answer = (await step({
      step: "summarize",
      results: { MapRunArn: "arn:aws:states:us-east-1:123456789012:mapRun:fleet/DistributedUpgradeTargets:0f9e8d7c", ResultWriterDetails: details },
      toleratedFailurePercentage: 50,
      work: { bucket: WORK, executionName: "run-c" },
    })) as FleetSummaryDigest;
    expect(answer).toMatchObject({ targets: 4, upgraded: 1, failed: 3, ok: false, moreFailures: 0, summaryObject: { bucket: WORK, key: `${FLEET_WORK_PREFIX}/run-c/summary.json` } });
    expect(answer.failures.map((f) => [f.name, f.error?.code])).toEqual([
      ["tenant_02", "Lambda.Unknown"],
      ["tenant_03", "States.Timeout"],
      ["tenant_04", "not-started"],
    ]);
    expect(answer.message).toContain("tenant_03: States.Timeout: The child execution ran past its timeout");
    expect(answer.message).toContain("tenant_04: not-started: the Map Run ended before this target's child execution started");
    const whole = JSON.parse(await objects.get(WORK, `${FLEET_WORK_PREFIX}/run-c/summary.json`)) as FleetSummaryAnswer;
    expect(whole.results.map((r) => r.name)).toEqual(["tenant_01", "tenant_02", "tenant_03", "tenant_04"]);
    expect(whole.results[2]).toEqual({
      name: "tenant_03",
      schema: "tenant_03",
      status: "failed",
      fromHeads: [],
      toHeads: [],
      applied: 0,
      skippedOperations: 0,
      durationMs: 0,
      error: { code: "States.Timeout", message: "The child execution ran past its timeout" },
    });
  });

  it("Summarize keeps its answer inside the state: the first 100 failed lines, messages cut; every line in summary.json", async () => {
    const failures = tenantNames(150).map((name) => line(name, "failed", { code: "sql-error", message: `${name}: ${"x".repeat(2000)}`, sqlState: "42703" }));
    const details = await exportMapRun(`${FLEET_WORK_PREFIX}/run-d/results`, { SUCCEEDED: failures.map(succeeded) });
    const answer = (await step({ step: "summarize", results: { ResultWriterDetails: details }, toleratedFailurePercentage: 0, work: { bucket: WORK, executionName: "run-d" } })) as FleetSummaryDigest;
    expect(answer).toMatchObject({ targets: 150, failed: 150, ok: false, moreFailures: 50 });
    expect(answer.failures).toHaveLength(100);
    expect(answer.failures[0]!.error!.message).toHaveLength(1004);
    expect(answer.message).toMatch(/ \.\.\. \(150 failed; the whole list is in s3:\/\/fleet-work\/retort-fleet\/run-d\/summary\.json\)$/);
    expect(JSON.stringify(answer).length).toBeLessThan(200 * 1024);
    const whole = JSON.parse(await objects.get(WORK, `${FLEET_WORK_PREFIX}/run-d/summary.json`)) as FleetSummaryAnswer;
    expect(whole.results).toHaveLength(150);
    expect(whole.results[149]!.error!.message).toHaveLength(2000 + "tenant_150: ".length);
  });

  it("refuses results it cannot read, naming the object, and a Distributed Map's results without a work location", async () => {
    await objects.put(WORK, "retort-fleet/run-e/results/1/manifest.json", "{ not json");
    const summarize = (results: unknown, work: unknown = { bucket: WORK, executionName: "run-e" }) =>
      step({ step: "summarize", results, toleratedFailurePercentage: 0, work });
    await expect(summarize({ ResultWriterDetails: { Bucket: WORK, Key: "retort-fleet/run-e/results/1/manifest.json" } })).rejects.toThrow(
      /^s3:\/\/fleet-work\/retort-fleet\/run-e\/results\/1\/manifest\.json: not JSON/,
    );
    const details = await exportMapRun(`${FLEET_WORK_PREFIX}/run-e/results`, { SUCCEEDED: [{ Name: "child-1", Status: "SUCCEEDED", Output: '{"ok":true}' }] });
    await expect(summarize({ ResultWriterDetails: details })).rejects.toThrow(/SUCCEEDED_0\.json: child execution child-1's Output is not a target's summary line$/);
    await expect(summarize({ ResultWriterDetails: details }, null)).rejects.toThrow(/"work" must be \{ "bucket", "executionName" \}/);
    await expect(step({ step: "summarize", results: { ResultWriterDetails: details }, toleratedFailurePercentage: 0 })).rejects.toThrow(
      /"work" must say where to write the summary of a Distributed Map run/,
    );
  });
});
