// Runs recorded in the database's history table without a lock table (the CLI's default): each
// process's in-process lock starts its fencing tokens at 1, so every run was shown as `#1`. Runs
// must be numbered in order across processes, and none may overwrite another's record.
import path from "node:path";
import { rm } from "node:fs/promises";
import { afterAll, describe, expect, it } from "vitest";
import { retort, root } from "../support/cli.ts";

const scratch = path.join(root, ".retort/test-scratch", `run-numbers-${process.pid}`);
const db = `pglite://${path.relative(root, scratch)}`;

afterAll(() => rm(scratch, { recursive: true, force: true }));

describe("run history in the database", () => {
  it("numbers runs of separate processes 1, 2, 3, newest first, each with its own record", async () => {
    for (const args of [["safe-upgrade", "31cdefda761a"], ["safe-upgrade"], ["downgrade", "-1"]]) {
      const run = await retort(...args, "--db", db);
      expect(run.code, run.stderr).toBe(0);
    }
    const listed = await retort("history", "--runs", "--db", db, "--json");
    const { runs } = JSON.parse(listed.stdout) as { runs: { number?: number; runId: string; command: string; targetRevision?: string; applied: number }[] };
    expect(runs.map((r) => [r.number, r.command, r.targetRevision, r.applied])).toEqual([
      [3, "downgrade", "-1", 1],
      [2, "safe-upgrade", "heads", 6],
      [1, "safe-upgrade", "31cdefda761a", 1],
    ]);
    expect(new Set(runs.map((r) => r.runId)).size).toBe(3);

    const human = await retort("history", "--runs", "--db", db);
    expect(human.stdout.split("\n").filter((line) => line.startsWith("#")).map((line) => line.split(" ")[0])).toEqual(["#3", "#2", "#1"]);
  }, 120_000);
});
