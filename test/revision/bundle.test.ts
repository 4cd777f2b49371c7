// BundledSource over both kinds of entry the runner's entry generates: a module imported with the
// bundle, and metadata from the manifest with the module as CommonJS text, compiled and run when
// the migration first runs (and refused then if its code states other metadata). importBundle
// makes eager entries from a directory, through tsx.
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileBodies } from "../../infra/runner-entry.ts";
import { BadFilenameError, InvalidFileError } from "../../lib/revision/errors.ts";
import {
  type BundledMigration,
  BundledSource,
  importBundle,
  manifestHash,
  type PackageExports,
  readManifest,
  type StringBundledMigration,
} from "../../lib/revision/bundle.ts";
import { defineMigration } from "../../lib/revision/migration.ts";
import type { Operations } from "../../lib/ops/operations.ts";
import { root } from "../support/cli.ts";

const FILE = "migrations/20260101_a.ts";
const fields = { revision: "aaaaaaaaaaaa", revises: null, message: "a", createdAt: "2026-01-01T00:00:00Z" };
const noOp = {} as Operations;

/**
 * The CommonJS text of a module whose default export is `definition` (JavaScript source), as
 * esbuild compiles `export default defineMigration(...)`, after `prelude`.
 */
const body = (definition: string, prelude = "") =>
  `"use strict";${prelude}
Object.defineProperty(exports, "__esModule", { value: true });
exports.default = require("retort-migrate").defineMigration(${definition});`;

const DEFINITION = `{ ...${JSON.stringify(fields)}, async upgrade(op) { op.ran.push("up"); }, async downgrade(op) { op.ran.push("down"); } }`;

/** retort's runtime exports, counting how many times a body asked for them (ran). */
function counted(): PackageExports & { runs: number } {
  const exports = {
    runs: 0,
    get defineMigration() {
      exports.runs += 1;
      return defineMigration;
    },
  };
  return exports;
}

function stringEntry(text: string, overrides: Partial<StringBundledMigration> = {}): StringBundledMigration {
  return { file: FILE, checksum: "c".repeat(64), metadata: fields, functions: { upgrade: true, downgrade: true }, body: text, ...overrides };
}

const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e);

describe("BundledSource, a string entry", () => {
  it("gives the manifest's metadata without running the body", async () => {
    const exports = counted();
    const entry = stringEntry(body(DEFINITION));
    const { migrations, problems } = await new BundledSource([entry], { packageExports: exports }).load();
    expect(problems).toEqual([]);
    expect(migrations[0]).toMatchObject({ ...fields, revises: [], file: FILE, checksum: entry.checksum, transactional: true });
    expect(exports.runs).toBe(0);
  });

  it("runs the body when its upgrade first runs, once, and runs the module's upgrade", async () => {
    const exports = counted();
    const source = new BundledSource([stringEntry(body(DEFINITION))], { packageExports: exports });
    const op = { ran: [] as string[] } as unknown as Operations & { ran: string[] };
    const [migration] = (await source.load()).migrations;
    await migration!.upgrade(op);
    await migration!.downgrade(op);
    await (await source.load()).migrations[0]!.upgrade(op);
    expect(op.ran).toEqual(["up", "down", "up"]);
    expect(exports.runs).toBe(1);
  });

  it("builds the migrations once, and gives each load() arrays of its own", async () => {
    const source = new BundledSource([stringEntry(body(DEFINITION)), stringEntry(body(DEFINITION), { metadata: { ...fields, revision: "nope" } })]);
    const first = await source.load();
    first.migrations.pop();
    first.problems.pop();
    const second = await source.load();
    expect(second.migrations).toHaveLength(1);
    expect(second.problems).toHaveLength(1);
    expect(second.migrations[0]).toBe((await source.load()).migrations[0]);
  });

  it("refuses to run code that states other metadata than the manifest, naming the file", async () => {
    const entry = stringEntry(body(DEFINITION.replace('"message":"a"', '"message":"b"')));
    const [migration] = (await new BundledSource([entry], { packageExports: { defineMigration } }).load()).migrations;
    const error = await rejection(Promise.resolve(migration!.upgrade(noOp)));
    expect(error).toBeInstanceOf(InvalidFileError);
    expect(error).toMatchObject({ file: FILE, revisions: ["aaaaaaaaaaaa"] });
    expect((error as Error).message).toContain("gives `message` a different value when it runs than its text states");
  });

  it("reports a body that throws as it loads as a problem of its file when it runs, every time", async () => {
    const exports = counted();
    const source = new BundledSource([stringEntry(body(DEFINITION, `if (require("retort-migrate").defineMigration) throw new TypeError("boom");`))], { packageExports: exports });
    const expected = new InvalidFileError(FILE, "cannot be loaded (TypeError: boom)");
    await expect((await source.load()).migrations[0]!.upgrade(noOp)).rejects.toThrow(expected);
    await expect((await source.load()).migrations[0]!.downgrade(noOp)).rejects.toThrow(expected);
    expect(exports.runs).toBe(1);
  });

  it("reports a body that does not compile when it runs", async () => {
    const [migration] = (await new BundledSource([stringEntry("exports.default = {")], { packageExports: { defineMigration } }).load()).migrations;
    await expect(migration!.upgrade(noOp)).rejects.toThrow(/migrations\/20260101_a\.ts: cannot be loaded \(SyntaxError: /);
  });

  it("names the file in the stack of an error its code throws", async () => {
    const failing = DEFINITION.replace('op.ran.push("up");', 'throw new Error("upgrade failed");');
    const [migration] = (await new BundledSource([stringEntry(body(failing))], { packageExports: { defineMigration } }).load()).migrations;
    const error = (await rejection(Promise.resolve(migration!.upgrade(noOp)))) as Error;
    expect(error.message).toBe("upgrade failed");
    expect(error.stack).toMatch(/\n\s+at .*migrations\/20260101_a\.ts:\d+:\d+/);
  });

  it("gives the body's require only retort-migrate, and says so", async () => {
    const other = stringEntry(body(DEFINITION, `require("./helpers.ts");`));
    const [migration] = (await new BundledSource([other], { packageExports: { defineMigration } }).load()).migrations;
    await expect(migration!.upgrade(noOp)).rejects.toThrow('cannot be loaded (Error: a bundled migration can require only "retort-migrate", not "./helpers.ts")');
    const [unprovided] = (await new BundledSource([stringEntry(body(DEFINITION))]).load()).migrations;
    await expect(unprovided!.upgrade(noOp)).rejects.toThrow(/no exports of "retort-migrate" were given to the bundled migrations/);
  });

  it("takes a CommonJS module's exports as its default export", async () => {
    const op = { ran: [] as string[] } as unknown as Operations & { ran: string[] };
    const [migration] = (await new BundledSource([stringEntry(`module.exports = ${DEFINITION};`)]).load()).migrations;
    await migration!.upgrade(op);
    expect(op.ran).toEqual(["up"]);
  });

  it("reports invalid metadata and a bad file name at load, as for a module, without running a body", async () => {
    const exports = counted();
    const bad = stringEntry(body(DEFINITION), { metadata: { ...fields, revision: "nope" } });
    const misnamed = stringEntry(body(DEFINITION), { file: "migrations/a.ts", metadata: { ...fields, revision: "bbbbbbbbbbbb" } });
    const { migrations, problems } = await new BundledSource([bad, misnamed], { packageExports: exports }).load();
    expect(migrations.map((m) => m.revision)).toEqual(["bbbbbbbbbbbb"]);
    expect(problems[0]).toBeInstanceOf(InvalidFileError);
    expect(problems[0]!.message).toContain('revision "nope" is not 12 lowercase hex digits');
    expect(problems[1]).toBeInstanceOf(BadFilenameError);
    expect(exports.runs).toBe(0);
  });

  it("refuses a migration whose text defines no upgrade", async () => {
    const entry = stringEntry(body(DEFINITION), { functions: { upgrade: false, downgrade: true } });
    const { problems } = await new BundledSource([entry]).load();
    expect(problems[0]!.message).toContain("`upgrade` is missing");
  });

  it("has the manifest an eager entry of the same file has", () => {
    const string = stringEntry(body(DEFINITION));
    const eager: BundledMigration = { file: string.file, checksum: string.checksum, module: { default: {} } };
    const a = new BundledSource([string]);
    const b = new BundledSource([eager]);
    expect(a.manifest).toEqual(b.manifest);
    expect(a.manifest).toEqual({ hash: manifestHash([{ file: FILE, checksum: string.checksum }]), migrations: [{ file: FILE, checksum: string.checksum }] });
    expect(a.location).toBe(b.location);
  });
});

describe("a directory's migrations", () => {
  // Inside the repository, so the files' "retort-migrate" resolves.
  const scratch = path.join(root, ".retort/test-scratch", `bundle-${process.pid}`);
  const dir = path.join(scratch, "migrations");
  const marker = "__retortImportBundleBody";

  beforeAll(async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(
      path.join(dir, "20260101_string.ts"),
      `import { defineMigration } from "retort-migrate";

(globalThis as any).${marker} = ((globalThis as any).${marker} ?? 0) + 1;

export default defineMigration({
  revision: "cccccccccccc",
  revises: null,
  message: "string",
  async upgrade(op) {
    (globalThis as any).${marker}Upgraded = true;
  },
  async downgrade(op) {},
});
`,
    );
    await writeFile(
      path.join(dir, "20260102_spread.ts"),
      `import { defineMigration } from "retort-migrate";

const common = { message: "spread" };

export default defineMigration({
  ...common,
  revision: "dddddddddddd",
  revises: "cccccccccccc",
  async upgrade(op) {},
  async downgrade(op) {},
});
`,
    );
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it("as the entry carries them: a string compiled by esbuild, run when its upgrade runs", async () => {
    const manifest = readManifest(dir);
    const bodies = compileBodies(manifest);
    expect(bodies.map((b) => typeof b)).toEqual(["string", "undefined"]);
    const entry = stringEntry(bodies[0]!, { ...manifest.migrations[0]!, metadata: manifest.stated[0]!.fields });
    const g = globalThis as Record<string, unknown>;
    const [migration] = (await new BundledSource([entry], { packageExports: { defineMigration } }).load()).migrations;
    expect(migration).toMatchObject({ revision: "cccccccccccc", message: "string", file: "migrations/20260101_string.ts" });
    expect(g[marker]).toBeUndefined();
    await migration!.upgrade(noOp);
    expect(g[marker]).toBe(1);
    expect(g[`${marker}Upgraded`]).toBe(true);
  });

  it("imported by importBundle, every module now", async () => {
    const bundled = await importBundle(dir);
    expect(bundled.map((b) => "module" in b)).toEqual([true, true]);
    expect(bundled.map(({ file, checksum }) => ({ file, checksum }))).toEqual(readManifest(dir).migrations);
    const { migrations, problems } = await new BundledSource(bundled).load();
    expect(problems).toEqual([]);
    expect(migrations.map((m) => [m.revision, m.message])).toEqual([
      ["cccccccccccc", "string"],
      ["dddddddddddd", "spread"],
    ]);
  });
});
