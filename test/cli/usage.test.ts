// Options the database would refuse later are usage errors (exit 2) before anything is opened,
// and no error leaves the process hanging. Every run has a deadline: a hang fails the test
// instead of stalling the suite.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bin, type CliRun, root } from "../support/cli.ts";

const DEADLINE_MS = 20_000;
const scratch = path.join(root, ".retort/test-scratch", `usage-${process.pid}`);
const dataDir = (name: string) => path.join(scratch, name);

afterAll(() => rm(scratch, { recursive: true, force: true }));

/** Runs node with `args` in the repository's root; code is "hung" when it outlives the deadline. */
function node(args: string[]): Promise<Omit<CliRun, "code"> & { code: number | "hung" }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: root, env: { ...process.env, NO_COLOR: "1" }, timeout: DEADLINE_MS }, (error, stdout, stderr) => {
      const hung = error !== null && (error as { killed?: boolean }).killed === true;
      resolve({ code: hung ? "hung" : error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

const retort = (...args: string[]) => node([bin, ...args, "--dir", "test/fixtures/good"]);

describe.concurrent("usage errors, before anything is opened", () => {
  it.each([
    ["pglite", `pglite://${dataDir("long-schema")}`],
    ["postgres", "postgres://nobody@127.0.0.1:1/nowhere"],
  ])("a --schema of 64 bytes exits 2 on %s, naming the limit", { timeout: DEADLINE_MS + 5_000 }, async (_, db) => {
    const run = await retort("status", "--db", db, "--schema", "s".repeat(64));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`Invalid target schema (--schema, schema): identifier "${"s".repeat(64)}" is 64 bytes long`);
    expect(run.stderr).toContain("give a name of 1 to 63 bytes");
    expect(existsSync(dataDir("long-schema"))).toBe(false);
  });

  it("a 63-byte --schema is taken", { timeout: DEADLINE_MS + 5_000 }, async () => {
    const run = await retort("current", "--db", `pglite://${dataDir("63-bytes")}`, "--schema", "s".repeat(63), "--json");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ heads: [] });
  });

  it("an empty --schema exits 2 instead of meaning public", { timeout: DEADLINE_MS + 5_000 }, async () => {
    const run = await retort("current", "--db", `pglite://${dataDir("empty-schema")}`, "--schema", "");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("an identifier cannot be empty");
    expect(existsSync(dataDir("empty-schema"))).toBe(false);
  });

  it.each(["0", "1ms", "1.9s", "25h"])("--lease %s exits 2, saying the range", { timeout: DEADLINE_MS + 5_000 }, async (lease) => {
    const run = await retort("upgrade", "--db", `pglite://${dataDir(`lease-${lease}`)}`, "--lease", lease);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Invalid lease \(--lease, leaseMs\): \d+ ms; a lease is from 2s to 24h/);
    expect(existsSync(dataDir(`lease-${lease}`))).toBe(false);
  });

  it("--lease 2s is taken", { timeout: DEADLINE_MS + 5_000 }, async () => {
    const run = await retort("upgrade", "--db", `pglite://${dataDir("lease-2s")}`, "--lease", "2s", "--json");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ applied: 2 });
  });

  // /proc: mkdir answers ENOENT under a parent that exists, where Node's recursive mkdir loops forever.
  it.runIf(existsSync("/proc/self"))
    .each(["/proc/x", "/proc/x/y"])("--db pglite://%s fails at once with exit 2, naming the directory", { timeout: DEADLINE_MS + 5_000 }, async (dir) => {
      const started = Date.now();
      const run = await retort("status", "--db", `pglite://${dir}`);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`Invalid database URL "pglite://${dir}": the directory ${dir} cannot be used: `);
      expect(run.stderr).toContain("name a directory this user can create and write, or an existing PGlite database");
      expect(Date.now() - started).toBeLessThan(10_000);
    });
});

describe("a failure after the database opened", () => {
  // An open PGlite keeps PostgreSQL's emulated timers, and the process, alive: without the close
  // the process printed its error and, most runs, never exited.
  it("lets the process exit", { timeout: DEADLINE_MS + 5_000 }, async () => {
    const script = `
      import { openDatabase } from "./lib/runner/database.ts";
      import { DirectorySource, loadingNow } from "./lib/revision/loader.ts";
      loadingNow(new DirectorySource("test/fixtures/good"));
      await openDatabase(${JSON.stringify(`pglite://${dataDir("after-open")}`)}, { versionSchema: "s".repeat(64) })
        .catch((error) => console.log(error.message));`;
    const run = await node(["--import", "tsx", "--input-type=module", "-e", script]);
    expect(run.stdout).toContain("is 64 bytes long");
    expect(run.code).toBe(0);
  });
});
