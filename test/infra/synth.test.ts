// `npx cdk synth` as a user runs it, offline: the CDK app (cdk.json) synthesizes the example
// stack, NodejsFunction bundles the runner with the local esbuild (never Docker), and the bundle
// loads in a fresh Node process with the handlers the template names, migrations inside.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { HANDLERS, RUNNER_HANDLERS } from "../../functions/constants.ts";
import { readManifest } from "../../lib/revision/bundle.ts";

const run = promisify(execFile);
let out: string | undefined;
afterAll(() => (out ? rm(out, { recursive: true, force: true }) : undefined));

it("npx cdk synth bundles the runner and the bundle loads", { timeout: 240_000 }, async () => {
  out = await mkdtemp(path.join(os.tmpdir(), "retort-synth-"));
  // cdk-nag runs in-process in nag.test.ts; here it would only repeat that.
  await run("npx", ["cdk", "synth", "-c", "nag=false", "-o", out, "-q", "--no-notices"], {
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: "true" },
    maxBuffer: 16 * 1024 * 1024,
  });
  const template = JSON.parse(await readFile(path.join(out, "RetortExample.template.json"), "utf8")) as {
    Resources: Record<string, { Type: string; Properties: Record<string, any> }>;
  };
  const functions = Object.values(template.Resources).filter((r) => r.Type === "AWS::Lambda::Function" && r.Properties["Runtime"] === "nodejs22.x");
  expect(functions.map((f) => f.Properties["Handler"]).sort()).toEqual(RUNNER_HANDLERS.map((h) => `index.${h}`).sort());
  // All four share one asset: the same bundle, which also exports the fleet's handlers.
  const keys = new Set(functions.map((f) => f.Properties["Code"]["S3Key"] as string));
  expect(keys.size).toBe(1);
  const asset = path.join(out, `asset.${[...keys][0]!.replace(/\.zip$/, "")}`);
  expect(await readdir(asset)).toEqual(["index.mjs"]);
  expect((await stat(path.join(asset, "index.mjs"))).size).toBeLessThan(1024 * 1024);

  // A fresh process, as a Lambda cold start: import, then check the bundled migrations.
  const probe = `
    const m = await import(${JSON.stringify(path.join(asset, "index.mjs"))});
    const context = { awsRequestId: "probe", functionName: "probe", getRemainingTimeInMillis: () => 60000 };
    process.env.RETORT_CLUSTER_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:probe";
    process.env.RETORT_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:probe-AbCdEf";
    process.env.RETORT_DATABASE = "probe";
    const check = await m.manual({ command: "check" }, context);
    console.log(JSON.stringify({ exports: Object.keys(m).sort(), check }));
  `;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", probe], {
    cwd: os.tmpdir(),
    env: { PATH: process.env["PATH"], POWERTOOLS_LOG_LEVEL: "SILENT", AWS_REGION: "us-east-1" },
  });
  const result = JSON.parse(stdout.trim().split("\n").pop()!) as { exports: string[]; check: { ok: boolean; revisions: number; bundle: { hash: string } } };
  expect(result.exports).toEqual(Object.values(HANDLERS).sort());
  expect(result.check).toMatchObject({ ok: true, revisions: readManifest("migrations").migrations.length });
  const hook = Object.values(template.Resources).find((r) => r.Type === "Custom::RetortMigrations")!;
  expect(result.check.bundle.hash).toBe(hook.Properties["ManifestHash"]);
});
