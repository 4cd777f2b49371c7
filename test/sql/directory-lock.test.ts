// DirectoryLock on its own, in one process: exclusion among many acquirers, the takeover of an
// abandoned lock by several at once, a lock file still being written, and release that never
// removes a successor's lock.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DirectoryLock, DirectoryLockedError } from "../../lib/sql/directory-lock.ts";

let dir: string;
let dataDir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "retort-dirlock-"));
  dataDir = path.join(dir, "db");
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The pid of a process that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout.trim());
}

async function abandonedLock(): Promise<void> {
  const holder = { pid: deadPid(), host: os.hostname(), command: "retort upgrade", since: "2026-01-01T00:00:00.000Z", nonce: "dead" };
  await writeFile(`${dataDir}.lock`, JSON.stringify(holder));
}

/** Many acquirers, each holding the lock for a moment; counts how many held it at once. */
async function contend(n: number): Promise<number> {
  let inside = 0;
  let most = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      const lock = await DirectoryLock.acquire(dataDir, { waitMs: 20_000, command: "test" });
      inside += 1;
      most = Math.max(most, inside);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inside -= 1;
      await lock.release();
    }),
  );
  return most;
}

describe("DirectoryLock", () => {
  it("lets one holder in at a time, and the file is gone when the last one releases", async () => {
    expect(await contend(12)).toBe(1);
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
  });

  it("an abandoned lock (its process is gone) is taken over once, even by several acquirers at the same moment", async () => {
    await abandonedLock();
    expect(await contend(12)).toBe(1);
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
  });

  it("a live holder refuses at once with its pid, host and command, and after waitMs when asked to wait", async () => {
    const held = await DirectoryLock.acquire(dataDir, { command: "retort local" });
    await expect(DirectoryLock.acquire(dataDir)).rejects.toThrow(
      new RegExp(`in use by process ${process.pid} on ${os.hostname()} \\(retort local\\), since ${held.holder.since}`),
    );
    const started = Date.now();
    const error = await DirectoryLock.acquire(dataDir, { waitMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DirectoryLockedError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await held.release();
    await (await DirectoryLock.acquire(dataDir)).release();
  });

  it("a lock file without content is waited for, and taken over once it is older than the grace period", async () => {
    await writeFile(`${dataDir}.lock`, "");
    await expect(DirectoryLock.acquire(dataDir)).rejects.toThrow("in use by a process that is still writing the lock file");
    const old = new Date(Date.now() - 60_000);
    await utimes(`${dataDir}.lock`, old, old);
    await (await DirectoryLock.acquire(dataDir)).release();
  });

  it("release removes only its own lock file, never a successor's", async () => {
    const first = await DirectoryLock.acquire(dataDir);
    const successor = { ...first.holder, nonce: "successor" };
    await writeFile(`${dataDir}.lock`, JSON.stringify(successor));
    await first.release();
    expect(JSON.parse(await readFile(`${dataDir}.lock`, "utf8"))).toMatchObject({ nonce: "successor" });
  });
});
