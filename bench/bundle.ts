// The runner Lambda's bundle, for the example migrations and for 1,000 and 10,000 generated ones:
// its size and its cold init (importing the bundle in a fresh Node process, as a Lambda cold start
// does before the first event, which builds the handlers), against the goals of under 1 MB per
// 1,000 migrations, under 250 ms at 1,000, and growth from 1,000 to 10,000 no worse than linear.
// Each set is bundled twice from the same files in the same run: the entry the construct generates
// (strings: each migration's metadata in the entry and its module compiled to CommonJS at synth, as
// a string that V8 compiles when the migration runs) and every module imported statically (eager
// imports: evaluated at cold start, the entry before). Both are written by writeRunnerEntry and
// bundled with the options MigrationRunner gives NodejsFunction; the example stack is also
// synthesized, and its asset compared with the strings build of the same migrations, so the method
// is checked against the real artifact.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { App } from "aws-cdk-lib";
import { build } from "esbuild";
import { ExampleStack } from "../infra/example-stack.ts";
import { REQUIRE_SHIM } from "../infra/migration-runner.ts";
import { BUNDLE_TARGET, writeRunnerEntry } from "../infra/runner-entry.ts";
import { ownFile, PACKAGE_NAME } from "../lib/own-files.ts";
import { migrationSpecs } from "./generate.ts";
import { writeRetortFiles } from "./migration-files.ts";
import { printTable, type Spread, spread } from "./report.ts";

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Inside the repository (git-ignored), so the generated files import "retort-migrate" as users' do. */
const WORK_DIR = path.join(REPO, ".retort", "bench");
const GOAL_KIB_PER_1000 = 1024;
const GOAL_INIT_MS = 250;
const RUNS = 15;

/** What infra/migration-runner.ts gives NodejsFunction, as esbuild options (NodejsFunction runs the esbuild CLI with them). */
async function bundleLikeTheConstruct(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: BUNDLE_TARGET,
    minify: true,
    keepNames: true,
    sourcemap: false,
    external: ["@aws-sdk/client-lambda", "esbuild"],
    mainFields: ["module", "main"],
    banner: { js: REQUIRE_SHIM },
    alias: { [PACKAGE_NAME]: ownFile("index") },
    outfile,
    absWorkingDir: REPO,
    logLevel: "warning",
  });
}

type Kind = "strings" | "eager";
const KINDS: Kind[] = ["strings", "eager"];

interface BundleSet {
  name: string;
  migrations: number;
  bundles: Record<Kind, { file: string; bytes: number }>;
  /** Writing the strings entry (reading every file's metadata, compiling the bodies) and bundling it, at synth. */
  synthMs: { entry: number; esbuild: number };
}

/** Both entries of a migrations directory, bundled. */
async function bundleSet(name: string, directory: string, count: number, out: string): Promise<BundleSet> {
  const bundles = {} as BundleSet["bundles"];
  const synthMs = { entry: 0, esbuild: 0 };
  for (const kind of KINDS) {
    const t0 = performance.now();
    const { entry } = writeRunnerEntry(directory, REPO, { bodies: kind });
    const t1 = performance.now();
    const file = path.join(out, kind, "index.mjs");
    await bundleLikeTheConstruct(entry, file);
    if (kind === "strings") Object.assign(synthMs, { entry: t1 - t0, esbuild: performance.now() - t1 });
    bundles[kind] = { file, bytes: (await stat(file)).size };
  }
  return { name, migrations: count, bundles, synthMs };
}

/** Synthesizes the example stack and returns the runner's bundle file. */
async function synthesizeExample(outdir: string): Promise<string> {
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

interface Probe {
  /** Importing the bundle: evaluating it and building the handlers. */
  init: number;
  /** Then the first invoke, `{"command": "check"}` (loads every migration's metadata, no database). */
  check: number;
}

/** One cold start in a fresh Node process: the import, then a check that must find every migration. */
async function coldStart(bundle: string, migrations: number): Promise<Probe> {
  const probe = `
    process.env.RETORT_CLUSTER_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:bench";
    process.env.RETORT_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-AbCdEf";
    process.env.RETORT_DATABASE = "bench";
    const context = { awsRequestId: "bench", functionName: "bench", getRemainingTimeInMillis: () => 60000 };
    const t0 = performance.now();
    const m = await import(${JSON.stringify(bundle)});
    const t1 = performance.now();
    const result = await m.manual({ command: "check" }, context);
    const t2 = performance.now();
    console.log(JSON.stringify({ init: t1 - t0, check: t2 - t1, ok: result.ok, revisions: result.revisions }));
  `;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", probe], {
    cwd: os.tmpdir(),
    env: { PATH: process.env["PATH"], AWS_REGION: "us-east-1", POWERTOOLS_LOG_LEVEL: "SILENT" },
    maxBuffer: 16 * 1024 * 1024,
  });
  const result = JSON.parse(stdout.trim().split("\n").pop()!) as Probe & { ok: boolean; revisions: number };
  if (!result.ok || result.revisions !== migrations) {
    throw new Error(`${bundle}: check found ${result.revisions} revisions (ok: ${result.ok}), expected ${migrations}`);
  }
  return result;
}

const kib = (bytes: number) => bytes / 1024;
const ms = (s: Spread) => `${s.median.toFixed(0)} (${s.min.toFixed(0)}-${s.max.toFixed(0)})`;
const ok = (yes: boolean) => (yes ? "yes" : "NO");

export async function benchBundle(): Promise<void> {
  const outdir = await mkdtemp(path.join(os.tmpdir(), "retort-bench-bundle-"));
  try {
    const sets: BundleSet[] = [];
    const example = path.join(REPO, "migrations");
    const exampleCount = (await readdir(example)).filter((f) => f.endsWith(".ts")).length;
    sets.push(await bundleSet("example", example, exampleCount, path.join(outdir, "example")));
    for (const count of [1000, 10_000]) {
      const directory = path.join(WORK_DIR, `bundle-${count}`, "migrations");
      await mkdir(path.dirname(directory), { recursive: true });
      await writeRetortFiles(directory, migrationSpecs(count));
      sets.push(await bundleSet(count.toLocaleString("en-US"), directory, count, path.join(outdir, String(count))));
    }

    // The real artifact: the example stack synthesized, its runner bundled by NodejsFunction.
    const synthesized = await synthesizeExample(path.join(outdir, "cdk.out"));
    const stringsExample = sets[0]!.bundles.strings.file;
    const same = (await readFile(synthesized)).equals(await readFile(stringsExample));

    // Fresh processes, the variants taking turns (which of strings and eager goes first alternating
    // too) so drift in the machine's speed hits them alike; one round first to warm the OS file
    // cache (Lambda's is warm for its image).
    const probes = new Map<string, Probe[]>();
    for (let round = 0; round <= RUNS; round += 1) {
      for (const set of sets) {
        for (const kind of round % 2 ? [...KINDS].reverse() : KINDS) {
          const probe = await coldStart(set.bundles[kind].file, set.migrations);
          if (round > 0) probes.set(`${set.name}/${kind}`, [...(probes.get(`${set.name}/${kind}`) ?? []), probe]);
        }
      }
    }
    const init = (set: BundleSet, kind: Kind) => spread(probes.get(`${set.name}/${kind}`)!.map((p) => p.init));
    const check = (set: BundleSet, kind: Kind) => spread(probes.get(`${set.name}/${kind}`)!.map((p) => p.check));

    console.log(
      `\nThe example stack's synthesized runner bundle (${kib((await stat(synthesized)).size).toFixed(0)} KiB) is ` +
        `${same ? "byte-identical to" : "NOT identical to"} this benchmark's strings build of the same migrations.`,
    );
    printTable(
      "Runner Lambda bundle (esbuild as NodejsFunction runs it: minified, ESM, node22, AWS SDK inside)",
      ["migrations", "strings", "eager imports", "strings per 1,000 migrations", "synth (strings): entry + esbuild"],
      sets.map((set) => [
        `${set.name}${set.name === "example" ? ` (${set.migrations})` : ""}`,
        `${kib(set.bundles.strings.bytes).toFixed(0)} KiB`,
        `${kib(set.bundles.eager.bytes).toFixed(0)} KiB`,
        set.name === "example" ? "-" : `${((kib(set.bundles.strings.bytes) * 1000) / set.migrations).toFixed(0)} KiB`,
        `${set.synthMs.entry.toFixed(0)} + ${set.synthMs.esbuild.toFixed(0)} ms`,
      ]),
    );
    printTable(
      `Cold start in a fresh node process, ms: median (min-max) of ${RUNS} runs after a warm-up round`,
      ["migrations", "init strings", "init eager imports", "strings/eager", "first check strings", "first check eager imports"],
      sets.map((set) => [
        set.name,
        ms(init(set, "strings")),
        ms(init(set, "eager")),
        `${(init(set, "strings").median / init(set, "eager").median).toFixed(2)}x`,
        ms(check(set, "strings")),
        ms(check(set, "eager")),
      ]),
    );

    const [, thousand, tenThousand] = sets as [BundleSet, BundleSet, BundleSet];
    const perThousand = (set: BundleSet) => (kib(set.bundles.strings.bytes) * 1000) / set.migrations;
    const sizeGrowth = thousand.bundles.strings.bytes > 0 ? tenThousand.bundles.strings.bytes / thousand.bundles.strings.bytes : Number.NaN;
    const initGrowth = init(tenThousand, "strings").median / init(thousand, "strings").median;
    const eagerGrowth = init(tenThousand, "eager").median / init(thousand, "eager").median;
    const added = (kib(tenThousand.bundles.strings.bytes) - kib(thousand.bundles.strings.bytes)) / 9;
    printTable("Against the goals (strings entry, what the construct generates)", ["measure", "value", "goal", "ok"], [
      ["size per 1,000 migrations, at 1,000", `${perThousand(thousand).toFixed(0)} KiB`, `< ${GOAL_KIB_PER_1000} KiB`, ok(perThousand(thousand) < GOAL_KIB_PER_1000)],
      ["size per 1,000 migrations, at 10,000", `${perThousand(tenThousand).toFixed(0)} KiB`, `< ${GOAL_KIB_PER_1000} KiB`, ok(perThousand(tenThousand) < GOAL_KIB_PER_1000)],
      ["size added per 1,000 migrations, 1k to 10k", `${added.toFixed(0)} KiB`, "", ""],
      ["cold init at 1,000 (median)", `${init(thousand, "strings").median.toFixed(0)} ms`, `< ${GOAL_INIT_MS} ms`, ok(init(thousand, "strings").median < GOAL_INIT_MS)],
      ["cold init, example migrations (median)", `${init(sets[0]!, "strings").median.toFixed(0)} ms`, `< ${GOAL_INIT_MS} ms`, ok(init(sets[0]!, "strings").median < GOAL_INIT_MS)],
      ["size growth, 1k to 10k", `${sizeGrowth.toFixed(2)}x`, "<= 10x", ok(sizeGrowth <= 10)],
      ["cold init growth, 1k to 10k", `${initGrowth.toFixed(2)}x (eager ${eagerGrowth.toFixed(2)}x)`, "<= 10x", ok(initGrowth <= 10)],
    ]);
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchBundle();
