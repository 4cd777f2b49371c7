// The package as users install it: the tarball's size, the installed dependency tree, and the time
// of `npx retort heads` on the example migrations installed against the same in this repository.
// Packs dist/ as it is (run `npm run build` first; `npm run bench` does not rebuild), installs the
// tarball into an empty project in the temporary directory (from the npm cache where it can).
import { execFile, execFileSync } from "node:child_process";
import { cp, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { median, printTable } from "./report.ts";

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const RUNS = 11;

/** A shell's environment, without what `npm run` adds for this repository. */
function userEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !/^npm_/i.test(key) && key !== "INIT_CWD") env[key] = value;
  return env;
}

/** Bytes of the files under `dir`, a hard-linked file once (esbuild links its binary). */
async function sizeOf(dir: string, seen = new Set<number>()): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await sizeOf(full, seen);
    else if (entry.isFile()) {
      const s = await stat(full);
      if (!seen.has(s.ino)) total += s.size;
      seen.add(s.ino);
    }
  }
  return total;
}

/** Median wall time of a command, after one unmeasured run. */
async function timed(cwd: string, file: string, args: string[]): Promise<number> {
  const once = async () => {
    const started = performance.now();
    await run(file, args, { cwd, env: userEnv() });
    return performance.now() - started;
  };
  await once();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i += 1) times.push(await once());
  return median(times);
}

export async function benchPackage(): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), "retort-bench-package-"));
  try {
    const [packed] = JSON.parse(
      execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], { cwd: REPO, env: userEnv(), encoding: "utf8" }),
    ) as { filename: string; size: number; unpackedSize: number; entryCount: number }[];
    const app = path.join(work, "app");
    await cp(path.join(REPO, "migrations"), path.join(app, "migrations"), { recursive: true });
    await writeFile(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true }));
    execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", path.join(work, packed!.filename)], {
      cwd: app,
      env: userEnv(),
    });
    const modules = path.join(app, "node_modules");
    const tree = execFileSync("npm", ["ls", "--all", "--parseable", "--omit=dev"], { cwd: app, env: userEnv(), encoding: "utf8" }).trim().split("\n").length - 1;
    const installed = await sizeOf(modules);
    const heavy = await Promise.all(
      [["@electric-sql"], ["@aws-sdk", "@smithy"], ["esbuild", "@esbuild"]].map(async (names) => {
        const seen = new Set<number>();
        let bytes = 0;
        for (const name of names) bytes += await sizeOf(path.join(modules, name), seen).catch(() => 0);
        return [names.join(" + "), bytes] as const;
      }),
    );
    const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
    const npxHeads = ["--no", "--", "retort", "heads"];
    const rows = [
      ["tarball", `${(packed!.size / 1e3).toFixed(0)} kB (${mb(packed!.unpackedSize)} unpacked, ${packed!.entryCount} files)`],
      ["installed with its dependencies", `${mb(installed)} in ${tree} packages`],
      ...heavy.map(([name, bytes]) => [`  of which ${name}`, mb(bytes)]),
      ["npx retort heads, installed", `${(await timed(app, "npx", npxHeads)).toFixed(0)} ms`],
      ["  the retort process alone (node_modules/.bin/retort)", `${(await timed(app, path.join(modules, ".bin", "retort"), ["heads"])).toFixed(0)} ms`],
      ["npx retort heads, this repository", `${(await timed(REPO, "npx", npxHeads)).toFixed(0)} ms`],
      ["  the retort process alone (bin/retort.js)", `${(await timed(REPO, process.execPath, [path.join(REPO, "bin", "retort.js"), "heads"])).toFixed(0)} ms`],
    ];
    printTable(`The package retort-migrate: size, and \`heads\` on the ${(await readdir(path.join(app, "migrations"))).length} example migrations (median of ${RUNS})`, ["measure", "value"], rows);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchPackage();
