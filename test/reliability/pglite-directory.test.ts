// The embedded database's directory under several processes (issue: two processes on one
// pglite:// directory corrupted it; kill -9 during its creation left it unopenable). Real `retort`
// processes on real directories: one holds the directory while others are refused or queue, a
// killed holder's lock is taken over, two upgrades at once leave one correct database, and a
// creation killed at any moment leaves a directory that opens.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { bin, retort, root } from "../support/cli.ts";

// Inside the repository, so generated migrations import "retort-migrate" as users' do.
const scratch = path.join(root, ".retort/test-scratch", `pglite-dir-${process.pid}`);
const rel = (p: string) => path.relative(root, p);

/** `retort local` on a directory: it has the database open until it is stopped. */
async function holder(dataDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bin, "local", "--db", `pglite://${rel(dataDir)}`], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  const lines = createInterface({ input: child.stdout! });
  const [url] = (await once(lines, "line")) as [string];
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  return child;
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill(signal);
  await exited;
}

/** `count` migrations in a chain, each creating a table. */
async function chain(dir: string, count: number): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const ids = Array.from({ length: count }, (_, i) => (0xa00000000000 + i).toString(16));
  await Promise.all(
    ids.map((id, i) =>
      writeFile(
        path.join(dir, `20260101_t${String(i).padStart(4, "0")}.ts`),
        `import { defineMigration } from "retort-migrate";
export default defineMigration({
  revision: "${id}",
  revises: ${i === 0 ? "null" : `"${ids[i - 1]}"`},
  message: "table ${i}",
  createdAt: "2026-01-01T00:00:00Z",
  async upgrade(op) {
    await op.createTable("t${i}", { columns: [{ name: "id", type: "bigint", primaryKey: true }] });
  },
  async downgrade(op) {
    await op.dropTable("t${i}");
  },
});
`,
      ),
    ),
  );
  return ids;
}

afterAll(() => rm(scratch, { recursive: true, force: true }));

describe("one process at a time on a pglite:// directory", () => {
  it("a second process is refused at once, naming the holder; --wait queues behind it; a clean stop frees it", async () => {
    const dataDir = path.join(scratch, "held");
    const local = await holder(dataDir);
    try {
      const refused = await retort("current", "--db", `pglite://${rel(dataDir)}`);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`is in use by process ${local.pid} on ${os.hostname()} (retort local), since `);
      expect(refused.stderr).toContain("pass --wait <duration> to queue behind it");

      const started = Date.now();
      const waited = await retort("safe-upgrade", "--db", `pglite://${rel(dataDir)}`, "--wait", "1500ms");
      expect(waited.code).toBe(1);
      expect(waited.stderr).toMatch(/in use by process \d+ .*; waited [12] s/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    } finally {
      await stop(local, "SIGTERM");
    }
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
    expect(await retort("current", "--db", `pglite://${rel(dataDir)}`, "--json")).toMatchObject({ code: 0, stdout: '{"heads":[]}\n' });
  }, 60_000);

  it("the lock of a process killed with SIGKILL is taken over by the next process", async () => {
    const dataDir = path.join(scratch, "killed");
    const local = await holder(dataDir);
    await stop(local, "SIGKILL");
    expect(existsSync(`${dataDir}.lock`)).toBe(true);
    expect(await retort("current", "--db", `pglite://${rel(dataDir)}`, "--json")).toMatchObject({ code: 0, stdout: '{"heads":[]}\n' });
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
  }, 60_000);

  it("two upgrades at once on a new directory: one applies every revision, the other waits and finds nothing to do", async () => {
    const dir = path.join(scratch, "chain");
    const ids = await chain(dir, 60);
    const db = `pglite://${rel(path.join(scratch, "race"))}`;
    const runs = await Promise.all([0, 1].map(() => retort("upgrade", "--dir", rel(dir), "--db", db, "--wait", "60s", "--json")));
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const applied = runs.map((run) => (JSON.parse(run.stdout) as { applied: number }).applied).sort((a, b) => a - b);
    expect(applied).toEqual([0, 60]);
    const status = JSON.parse((await retort("status", "--dir", rel(dir), "--db", db, "--json")).stdout);
    expect(status).toMatchObject({ databaseHeads: [ids.at(-1)], upToDate: true });
    // The database is whole: every revision's table is there, and it takes a full downgrade.
    const down = JSON.parse((await retort("downgrade", "base", "--dir", rel(dir), "--db", db, "--json")).stdout);
    expect(down).toMatchObject({ applied: 60, toHeads: [] });
  }, 180_000);
});

describe("creating a pglite:// directory", () => {
  it("a process killed at any moment of the creation leaves a directory that the next process opens", async () => {
    for (const delay of [300, 1000, 1700, 2400]) {
      const dataDir = path.join(scratch, `fresh-${delay}`);
      // A temporary directory of its own: no cached template, so the creation runs initdb (seconds).
      const tmp = path.join(scratch, `tmp-${delay}`);
      await mkdir(tmp, { recursive: true });
      const child = spawn(process.execPath, [bin, "current", "--db", `pglite://${rel(dataDir)}`], {
        cwd: root,
        stdio: "ignore",
        env: { ...process.env, TMPDIR: tmp },
      });
      await new Promise((resolve) => setTimeout(resolve, delay));
      await stop(child, "SIGKILL");
      // What the kill left: no directory, or a whole database (its control file written last).
      expect(!existsSync(dataDir) || existsSync(path.join(dataDir, "global", "pg_control")), `killed after ${delay} ms`).toBe(true);
      // The next process has the cached template: only the killed one had to run initdb.
      const next = await retort("current", "--db", `pglite://${rel(dataDir)}`, "--json");
      expect(next, `killed after ${delay} ms`).toMatchObject({ code: 0, stdout: '{"heads":[]}\n' });
      // No staging directory is left behind once a creation has succeeded.
      expect((await readdir(scratch)).filter((name) => name.startsWith(`fresh-${delay}.creating-`))).toEqual([]);
    }
  }, 180_000);

  it("a directory an older version left half-created is recognised, with the way to recover", async () => {
    const dataDir = path.join(scratch, "half");
    await mkdir(path.join(dataDir, "base", "1"), { recursive: true });
    await writeFile(path.join(dataDir, "PG_VERSION"), "17\n");
    const run = await retort("current", "--db", `pglite://${rel(dataDir)}`);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${dataDir} is a half-created PGlite database`);
    expect(run.stderr).toContain(`rm -rf "${dataDir}"`);
    expect(existsSync(path.join(dataDir, "PG_VERSION"))).toBe(true); // nothing is deleted for the user
    await rm(dataDir, { recursive: true });
    expect((await retort("current", "--db", `pglite://${rel(dataDir)}`)).code).toBe(0);
  }, 60_000);
});
