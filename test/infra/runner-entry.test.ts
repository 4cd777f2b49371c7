// The runner's generated entry: a file that states its metadata and imports nothing but
// "retort-migrate" is carried as that metadata and its module compiled to CommonJS, as a string,
// and the bundle (esbuild, as NodejsFunction runs it) compiles and runs that string only when the
// migration's upgrade first runs, naming the file in stack traces; every other file is imported
// statically, as before.
import { execFile } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REQUIRE_SHIM } from "../../infra/migration-runner.ts";
import { BUNDLE_TARGET, compileBodies, PACKAGE_RUNTIME_EXPORTS, renderEntry, renderMigrations, splitPrelude, writeRunnerEntry } from "../../infra/runner-entry.ts";
import { ownFile, PACKAGE_NAME } from "../../lib/own-files.ts";
import { type DirectoryManifest, readManifest } from "../../lib/revision/bundle.ts";
import { root } from "../support/cli.ts";

const run = promisify(execFile);

// Inside the repository, so the files' "retort-migrate" resolves as a user's does.
const scratch = path.join(root, ".retort/test-scratch", `runner-entry-${process.pid}`);
const migrations = path.join(scratch, "migrations");
const posix = (p: string) => p.split(path.sep).join("/");

/** A self-contained migration with a side effect at the top of its module, so running its body is observable. */
const STRING = `import { defineMigration } from "retort-migrate";

(globalThis as any).__retortStringBody = ((globalThis as any).__retortStringBody ?? 0) + 1;

export default defineMigration({
  revision: "aaaaaaaaaaa1",
  revises: null,
  message: "string",
  createdAt: "2026-01-01T00:00:00Z",
  async upgrade(op) {
    (globalThis as any).__retortStringUpgraded = true;
  },
  async downgrade(op) {},
});
`;

/** A literal with a spread: its fields cannot be read from the text. */
const SPREAD = `import { defineMigration } from "retort-migrate";

(globalThis as any).__retortEagerBody = ((globalThis as any).__retortEagerBody ?? 0) + 1;

const common = { message: "spread", createdAt: "2026-01-02T00:00:00Z" };

export default defineMigration({
  ...common,
  revision: "aaaaaaaaaaa2",
  revises: "aaaaaaaaaaa1",
  async upgrade(op) {},
  async downgrade(op) {},
});
`;

/** Readable, but it imports a helper of the project's: imported statically, the helper bundled once. */
const HELPER = `import { defineMigration } from "retort-migrate";
import { tableName } from "../helpers.ts";

export default defineMigration({
  revision: "aaaaaaaaaaa3",
  revises: "aaaaaaaaaaa2",
  message: "helper",
  createdAt: "2026-01-03T00:00:00Z",
  async upgrade(op) {
    (globalThis as any).__retortHelperTable = tableName;
  },
  async downgrade(op) {},
});
`;

/** A body that throws as it loads. */
const THROWS = `import { defineMigration } from "retort-migrate";

if (!(globalThis as any).__retortNeverSet) throw new TypeError("boom at load");

export default defineMigration({
  revision: "aaaaaaaaaaa4",
  revises: "aaaaaaaaaaa3",
  message: "throws",
  createdAt: "2026-01-04T00:00:00Z",
  async upgrade(op) {},
  async downgrade(op) {},
});
`;

/** An upgrade that throws. */
const FAILS = `import { defineMigration, RetortError } from "retort-migrate";

export default defineMigration({
  revision: "aaaaaaaaaaa5",
  revises: "aaaaaaaaaaa4",
  message: "fails",
  createdAt: "2026-01-05T00:00:00Z",
  async upgrade(op) {
    (globalThis as any).__retortRetortError = typeof RetortError;
    throw new Error("upgrade failed");
  },
  async downgrade(op) {},
});
`;

const FILES = {
  "20260101_string.ts": STRING,
  "20260102_spread.ts": SPREAD,
  "20260103_helper.ts": HELPER,
  "20260104_throws.ts": THROWS,
  "20260105_fails.ts": FAILS,
};

/** What MigrationRunner gives NodejsFunction (infra/migration-runner.ts), as esbuild options. */
async function bundleLikeTheConstruct(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: BUNDLE_TARGET,
    minify: true,
    keepNames: true,
    external: ["@aws-sdk/client-lambda", "esbuild"],
    mainFields: ["module", "main"],
    banner: { js: REQUIRE_SHIM },
    alias: { [PACKAGE_NAME]: ownFile("index") },
    outfile,
    logLevel: "silent",
    absWorkingDir: root,
  });
}

/** Runs `script` (an ES module) in a fresh Node process; its last line of output, parsed. */
async function probe(script: string): Promise<any> {
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
    cwd: os.tmpdir(),
    env: { PATH: process.env["PATH"], POWERTOOLS_LOG_LEVEL: "SILENT", AWS_REGION: "us-east-1" },
  });
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

/**
 * A module exporting `source`, the BundledSource over a manifest's migrations rendered as the
 * runner's entry renders them, bundled as the construct bundles it: its path.
 */
async function bundledSource(manifest: DirectoryManifest, name: string): Promise<string> {
  const { imports, declarations, migrations: expression, packageExports } = renderMigrations(manifest);
  const entry = path.join(scratch, `${name}.ts`);
  await writeFile(
    entry,
    [
      `import { BundledSource } from ${JSON.stringify(posix(path.join(root, "lib/revision/bundle.ts")))};`,
      ...imports,
      ...declarations,
      `export const source = new BundledSource(${expression}, { packageExports: ${packageExports} });`,
      "",
    ].join("\n"),
  );
  const outfile = path.join(scratch, name, "index.mjs");
  await bundleLikeTheConstruct(entry, outfile);
  return outfile;
}

beforeAll(async () => {
  await mkdir(migrations, { recursive: true });
  await writeFile(path.join(scratch, "helpers.ts"), `export const tableName = "from_helper";\n`);
  for (const [name, text] of Object.entries(FILES)) await writeFile(path.join(migrations, name), text);
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** The rows of the entry's manifest, parsed as the bundle parses them. */
function manifestRows(text: string): unknown[][] {
  const literal = /^const manifest = JSON\.parse\((`[\s\S]*?`)\);$/m.exec(text)![1]!;
  // A template literal with no substitutions: its value is its text with the escapes undone.
  return JSON.parse(literal.slice(1, -1).replace(/\\([\\`$])/g, "$1")) as unknown[][];
}

/** The entry's bodies array: a string per migration carried so (without its prelude), 0 for one imported. */
function bodies(text: string): Array<string | 0> {
  return JSON.parse(/^const bodies = (\[[\s\S]*?\n\]);$/m.exec(text)![1]!) as Array<string | 0>;
}

/** The entry's preludes: esbuild's helpers, once each. */
function preludes(text: string): string[] {
  return JSON.parse(/^const preludes = (\[.*\]);$/m.exec(text)![1]!) as string[];
}

const specifier = (name: string) => JSON.stringify(posix(path.join(migrations, name)));

describe("renderEntry", () => {
  it("carries a self-contained readable file as its metadata and its module compiled to a string, with no import of it", () => {
    const manifest = readManifest(migrations);
    expect(manifest.stated[0]?.selfContained).toBe(true);
    const text = renderEntry(manifest);
    expect(text).not.toContain(specifier("20260101_string.ts"));
    expect(manifestRows(text)[0]).toEqual([
      "migrations/20260101_string.ts",
      manifest.migrations[0]!.checksum,
      { revision: "aaaaaaaaaaa1", revises: null, message: "string", createdAt: "2026-01-01T00:00:00Z" },
      { upgrade: true, downgrade: true },
      0,
    ]);
    // CommonJS, minified, "retort-migrate" left to the body's require; esbuild's helpers held once.
    const body = `${preludes(text)[0]}${bodies(text)[0]}`;
    expect(body).toBe(compileBodies(manifest)[0]);
    expect(body).toContain('require("retort-migrate")');
    expect(body).toContain("module.exports=");
    expect(body).toContain("__retortStringBody");
    expect(body).not.toContain("\n");
    expect(preludes(text)).toHaveLength(1);
    expect(preludes(text)[0]).toMatch(/^"use strict";var __defProp=/);
    expect(manifestRows(text).map((row) => row[4])).toEqual([0, undefined, undefined, 0, 0]);
    // Retort's runtime exports, by name, for the strings' require.
    expect(text).toContain(`import { ${PACKAGE_RUNTIME_EXPORTS.join(", ")} } from ${JSON.stringify(posix(ownFile("index")))};`);
    expect(text).toContain(`packageExports: { ${PACKAGE_RUNTIME_EXPORTS.join(", ")} }`);
  });

  it("imports a file whose metadata cannot be read statically, and one that imports a helper", () => {
    const manifest = readManifest(migrations);
    expect(manifest.stated[1]).toBeUndefined();
    expect(manifest.stated[2]).toMatchObject({ selfContained: false });
    const text = renderEntry(manifest);
    expect(text).toContain(`import * as m1 from ${specifier("20260102_spread.ts")};`);
    expect(text).toContain(`import * as m2 from ${specifier("20260103_helper.ts")};`);
    expect(text).toContain("const modules = { 1: m1, 2: m2 };");
    expect(manifestRows(text).slice(1, 3)).toEqual([
      ["migrations/20260102_spread.ts", manifest.migrations[1]!.checksum],
      ["migrations/20260103_helper.ts", manifest.migrations[2]!.checksum],
    ]);
    expect(bodies(text).map((b) => typeof b)).toEqual(["string", "number", "number", "string", "string"]);
  });

  it("imports every file statically with bodies: eager, and retort's exports not at all", () => {
    const text = renderEntry(readManifest(migrations), { bodies: "eager" });
    for (let i = 0; i < 5; i++) expect(text).toContain(`import * as m${i} from`);
    expect(manifestRows(text).map((row) => row.length)).toEqual([2, 2, 2, 2, 2]);
    expect(bodies(text)).toEqual([0, 0, 0, 0, 0]);
    expect(preludes(text)).toEqual([]);
    expect(text).not.toContain("packageExports");
    expect(text).not.toContain(JSON.stringify(posix(ownFile("index"))));
  });

  it("imports a self-contained file esbuild cannot compile to CommonJS, and carries the others as strings", async () => {
    const dir = path.join(scratch, "await", "migrations");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "20260101_string.ts"), STRING);
    await writeFile(
      path.join(dir, "20260102_await.ts"),
      STRING.replace("aaaaaaaaaaa1", "aaaaaaaaaaa6").replace("revises: null", 'revises: "aaaaaaaaaaa1"').replace("(globalThis", "await Promise.resolve();\n(globalThis"),
    );
    const manifest = readManifest(dir);
    expect(manifest.stated.map((s) => s?.selfContained)).toEqual([true, true]);
    expect(compileBodies(manifest).map((b) => typeof b)).toEqual(["string", "undefined"]);
    expect(renderEntry(manifest)).toContain(`import * as m1 from ${JSON.stringify(posix(path.join(dir, "20260102_await.ts")))};`);
  });

  it("splits a body where esbuild's helpers end, and keeps one it cannot split whole", () => {
    const body = compileBodies(readManifest(migrations))[0]!;
    const { prelude, rest } = splitPrelude(body);
    expect(prelude + rest).toBe(body);
    expect(rest).toMatch(/^var [\w$]+_exports=\{\};/);
    expect(splitPrelude("module.exports = 1;")).toEqual({ prelude: "", rest: "module.exports = 1;" });
  });

  it("gives the same text, and the same file, for the same migrations", () => {
    expect(renderEntry(readManifest(migrations))).toBe(renderEntry(readManifest(migrations)));
    const first = writeRunnerEntry(migrations, root);
    const second = writeRunnerEntry(migrations, root);
    expect(second.entry).toBe(first.entry);
    expect(first.manifest.hash).toBe(readManifest(migrations).hash);
  });

  it("keeps a message's backslashes, backticks and ${ as written", () => {
    const manifest = readManifest(migrations);
    const message = 'a `tick`, ${no} \\ "quote"\nline';
    const stated = manifest.stated.map((s, i) => (i === 0 ? { ...s!, fields: { ...s!.fields, message } } : s));
    expect((manifestRows(renderEntry({ ...manifest, stated }))[0]![2] as { message: string }).message).toBe(message);
  });

  it("requires of retort-migrate only what its index exports at run time", async () => {
    const index = (await import("../../lib/index.ts")) as Record<string, unknown>;
    for (const name of PACKAGE_RUNTIME_EXPORTS) expect(typeof index[name], name).toBe("function");
  });
});

describe("the bundled entry", () => {
  it("runs no string migration's body at cold start or for check", { timeout: 60_000 }, async () => {
    const { entry } = writeRunnerEntry(migrations, root);
    const outfile = path.join(scratch, "runner", "index.mjs");
    await bundleLikeTheConstruct(entry, outfile);
    // The bodies are in the bundle: nothing is read from disk at run time.
    expect(await readFile(outfile, "utf8")).toContain("__retortStringBody");
    const result = await probe(`
      const m = await import(${JSON.stringify(outfile)});
      const afterImport = { string: globalThis.__retortStringBody ?? 0, eager: globalThis.__retortEagerBody ?? 0 };
      process.env.RETORT_CLUSTER_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:probe";
      process.env.RETORT_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:probe-AbCdEf";
      process.env.RETORT_DATABASE = "probe";
      const context = { awsRequestId: "probe", functionName: "probe", getRemainingTimeInMillis: () => 60000 };
      const check = await m.manual({ command: "check" }, context);
      const again = await m.manual({ command: "check" }, context);
      console.log(JSON.stringify({ afterImport, check, again: again.ok, afterCheck: globalThis.__retortStringBody ?? 0 }));
    `);
    expect(result.afterImport).toEqual({ string: 0, eager: 1 });
    expect(result.check).toMatchObject({ ok: true, revisions: 5, heads: ["aaaaaaaaaaa5"], problems: [] });
    expect(result.again).toBe(true);
    expect(result.afterCheck).toBe(0);
  });

  it("runs a string migration's body when its upgrade first runs, once, and names its file when it fails", { timeout: 60_000 }, async () => {
    const outfile = await bundledSource(readManifest(migrations), "source");
    const result = await probe(`
      const { source } = await import(${JSON.stringify(outfile)});
      const seen = [globalThis.__retortStringBody ?? 0];
      const { migrations, problems } = await source.load();
      seen.push(globalThis.__retortStringBody ?? 0);
      const byRevision = (list, r) => list.find((m) => m.revision === "aaaaaaaaaaa" + r);
      const first = byRevision(migrations, 1);
      await first.upgrade({});
      seen.push(globalThis.__retortStringBody ?? 0);
      await first.downgrade({});
      await byRevision((await source.load()).migrations, 1).upgrade({});
      seen.push(globalThis.__retortStringBody ?? 0);
      await byRevision(migrations, 3).upgrade({});
      const outcome = async (m) => m.upgrade({}).then(() => undefined, (e) => ({ name: e.name, message: e.message, stack: e.stack, file: e.file }));
      const failed = await outcome(byRevision(migrations, 5));
      const threw = await outcome(byRevision(migrations, 4));
      const threwAgain = await outcome(byRevision((await source.load()).migrations, 4));
      console.log(JSON.stringify({
        seen, problems, upgraded: globalThis.__retortStringUpgraded === true, message: first.message,
        helper: globalThis.__retortHelperTable, retortError: globalThis.__retortRetortError, failed, threw, threwAgain,
      }));
    `);
    expect(result).toMatchObject({ seen: [0, 0, 1, 1], problems: [], upgraded: true, message: "string", helper: "from_helper", retortError: "function" });
    // The error thrown in the body, its stack naming the migration's file.
    expect(result.failed).toMatchObject({ name: "Error", message: "upgrade failed" });
    expect(result.failed.stack).toMatch(/\n\s+at .*upgrade \(migrations\/20260105_fails\.ts:\d+:\d+\)/);
    // A body that throws as it loads fails that migration's upgrade, every time; the others ran.
    expect(result.threw).toMatchObject({ name: "InvalidFileError", file: "migrations/20260104_throws.ts" });
    expect(result.threw.message).toContain("migrations/20260104_throws.ts: cannot be loaded (TypeError: boom at load)");
    expect(result.threwAgain).toEqual(result.threw);
  });

  it("refuses to run a body whose code states other metadata than the entry carries", { timeout: 60_000 }, async () => {
    const manifest = readManifest(migrations);
    // The entry says "stated"; the file's code (compiled from the file) says "string".
    const stated = manifest.stated.map((s, i) => (i === 0 ? { ...s!, fields: { ...s!.fields, message: "stated" } } : s));
    const outfile = await bundledSource({ ...manifest, stated }, "mismatch");
    const result = await probe(`
      const { source } = await import(${JSON.stringify(outfile)});
      const { migrations } = await source.load();
      const error = await migrations[0].upgrade({}).then(() => undefined, (e) => ({ name: e.name, message: e.message, file: e.file }));
      console.log(JSON.stringify({ message: migrations[0].message, error, upgraded: globalThis.__retortStringUpgraded === true }));
    `);
    expect(result.message).toBe("stated");
    expect(result.error).toMatchObject({ name: "InvalidFileError", file: "migrations/20260101_string.ts" });
    expect(result.error.message).toContain("gives `message` a different value when it runs than its text states");
    expect(result.upgraded).toBe(false);
  });
});
