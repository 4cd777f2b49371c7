// The runner Lambda's bundle: its size and its cold init (importing the bundle in a fresh Node
// process, as a Lambda cold start does before the first event), against the goals of under 1 MB
// and 250 ms. The bundle is the real artifact: the example stack synthesized with NodejsFunction
// bundling the example migrations.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { App } from "aws-cdk-lib";
import { ExampleStack } from "../infra/example-stack.ts";
import { median, printTable } from "./report.ts";

const run = promisify(execFile);
const GOAL_BYTES = 1024 * 1024;
const GOAL_INIT_MS = 250;

/** Synthesizes the example stack and returns the runner's bundle file. */
async function synthesizeBundle(outdir: string): Promise<string> {
  const app = new App({ outdir });
  new ExampleStack(app, "Bench", { env: { account: "123456789012", region: "us-east-1" } });
  app.synth();
  const assets = (await readdir(outdir)).filter((d) => d.startsWith("asset."));
  for (const asset of assets) {
    const files = await readdir(path.join(outdir, asset));
    if (files.length === 1 && files[0] === "index.mjs") return path.join(outdir, asset, "index.mjs");
  }
  throw new Error(`no runner bundle among ${assets.join(", ")}`);
}

/** Milliseconds from process start to the bundle's handlers being exported, measured inside a fresh process. */
async function coldInit(bundle: string): Promise<number> {
  const probe = `const t = performance.now(); await import(${JSON.stringify(bundle)}); console.log(performance.now() - t);`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", probe], { cwd: os.tmpdir(), env: { PATH: process.env["PATH"] } });
  return Number(stdout.trim().split("\n").pop());
}

export async function benchBundle(): Promise<void> {
  const outdir = await mkdtemp(path.join(os.tmpdir(), "retort-bench-bundle-"));
  try {
    const bundle = await synthesizeBundle(outdir);
    const bytes = (await stat(bundle)).size;
    await coldInit(bundle); // warm the file cache, as Lambda's is warm for its image
    const times: number[] = [];
    for (let i = 0; i < 7; i += 1) times.push(await coldInit(bundle));
    const init = median(times);
    printTable("Runner Lambda bundle (esbuild, minified, ESM, AWS SDK inside; example migrations)", ["measure", "value", "goal", "ok"], [
      ["size", `${(bytes / 1024).toFixed(0)} KiB`, "< 1024 KiB", bytes < GOAL_BYTES ? "yes" : "NO"],
      ["cold init (import, median of 7)", `${init.toFixed(0)} ms`, `< ${GOAL_INIT_MS} ms`, init < GOAL_INIT_MS ? "yes" : "NO"],
    ]);
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchBundle();
