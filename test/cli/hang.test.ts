// A migration that never finishes: the CLI stops it at its time limit, exits 1 naming it, rolls it
// back and records the run as failed; neither a promise nobody resolves (which once made Node exit
// 13 with no output) nor a live timer (which once kept it running for ever) changes that.
import { rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { retort, root } from "../support/cli.ts";

const scratch = path.join(root, ".retort/test-scratch", `hang-${process.pid}`);
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe.concurrent("a migration that never finishes", () => {
  it.each([
    ["keeps a live timer", "test/fixtures/hang", "ddddddddddd2", ["ddddddddddd1"]],
    ["awaits a promise nobody resolves", "test/fixtures/hang-quiet", "ddddddddddd3", []],
  ])("%s: exit 1 at --migration-timeout, naming it; what came before is applied and the run is failed", { timeout: 60_000 }, async (_, dir, hangs, before) => {
    const db = `pglite://${path.relative(root, path.join(scratch, path.basename(dir)))}`;
    const started = performance.now();
    const run = await retort("safe-upgrade", "--dir", dir, "--db", db, "--migration-timeout", "2s", "--json");
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(run.code, run.stderr).toBe(1);
    const body = JSON.parse(run.stdout);
    expect(body.error).toMatchObject({ revision: hangs });
    expect(body.error.message).toContain("did not finish within its time limit of 2 s (--migration-timeout)");
    expect(body.results.map((r: { status: string }) => r.status)).toEqual([...before.map(() => "applied"), "failed"]);
    const runs = JSON.parse((await retort("history", "--runs", "--json", "--dir", dir, "--db", db)).stdout);
    expect(runs.runs[0]).toMatchObject({ command: "safe-upgrade", status: "failed", toHeads: before });
  });

  it("--migration-timeout below a second is bad usage", async () => {
    const run = await retort("safe-upgrade", "--dir", "test/fixtures/hang", "--db", "pglite://memory", "--migration-timeout", "500ms");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--migration-timeout");
  });
});
