// The lock and history commands through the real `retort` executable: `lock-table create`,
// `status` showing the holder, a fail-fast conflict naming it, `unlock --force`, and
// `history --runs` from DynamoDB (on PostgreSQL) and, with no lock table, from the embedded
// database itself (offline).
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lockKeyFor } from "../../lib/runner/database.ts";
import { parseDatabaseUrl } from "../../lib/sql/connect.ts";
import { type DynamoLease, DynamoLock } from "../../lib/state/dynamo-lock.ts";
import { currentHolder } from "../../lib/state/lock.ts";
import { startLocalLockTable, type LocalLockTable } from "../../lib/local/dynamodb-table.ts";
import { createTestDatabase, lockKeyOf } from "../support/postgres.ts";

const root = path.resolve(fileURLToPath(import.meta.url), "../../..");
const bin = path.join(root, "bin/retort.js");
const fixtures = "test/fixtures/good";

let dynamo: LocalLockTable;
let scratch: string;
beforeAll(async () => {
  dynamo = await startLocalLockTable();
  scratch = await mkdtemp(path.join(os.tmpdir(), "retort-lock-cli-"));
});
afterAll(async () => {
  await dynamo.close();
  await rm(scratch, { recursive: true, force: true });
});

function retort(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { RETORT_LOCK_TABLE: _t, RETORT_DB: _d, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, env: { ...inherited, ...dynamo.env, NO_COLOR: "1" } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("lock and history commands", () => {
  it("lock-table create makes the table once, then says it exists", { timeout: 60_000 }, async () => {
    expect(await retort("lock-table", "create", "--lock-table", "retort-cli")).toMatchObject({ code: 0, stdout: "created DynamoDB table retort-cli\n" });
    const again = await retort("lock-table", "create", "--lock-table", "retort-cli", "--json");
    expect(JSON.parse(again.stdout)).toEqual({ kind: "exists", table: "retort-cli" });
    expect((await retort("lock-table", "create")).code).toBe(2);
  });

  it("without a lock table the history lives in the database: offline, `history --runs` reads it", { timeout: 120_000 }, async () => {
    const db = `pglite://${path.join(scratch, "offline")}`;
    expect((await retort("safe-upgrade", "--dir", fixtures, "--db", db)).code).toBe(0);
    const runs = await retort("history", "--runs", "-v", "--json", "--db", db);
    expect(runs.code).toBe(0);
    const body = JSON.parse(runs.stdout);
    expect(body).toMatchObject({ target: lockKeyFor(parseDatabaseUrl(db), root), history: "table public.retort_history in the target database" });
    expect(body.runs).toEqual([
      expect.objectContaining({
        command: "safe-upgrade",
        status: "succeeded",
        fromHeads: [],
        toHeads: ["aaaaaaaaaaa2"],
        applied: 2,
        revisions: [
          expect.objectContaining({ revision: "aaaaaaaaaaa1", status: "applied" }),
          expect.objectContaining({ revision: "aaaaaaaaaaa2", status: "applied" }),
        ],
      }),
    ]);
    // A downgrade reverts: its line says so.
    expect((await retort("downgrade", "-1", "--dir", fixtures, "--db", db)).code).toBe(0);
    const human = (await retort("history", "--runs", "--db", db)).stdout;
    expect(human).toMatch(/#2 .* downgrade {2}succeeded aaaaaaaaaaa2 -> aaaaaaaaaaa1, 1 reverted, 0 skipped/);
    expect(human).toMatch(/#1 .* safe-upgrade {2}succeeded \(base\) -> aaaaaaaaaaa2, 2 applied, 0 skipped/);
  });

  it("status shows the holder, a second runner fails fast naming it, unlock --force breaks it and fences it out", { timeout: 120_000 }, async () => {
    const database = await createTestDatabase();
    const db = database.url;
    const key = await lockKeyOf(db);
    const lock = new DynamoLock({ table: dynamo.table, client: dynamo.client, heartbeatMs: 3_600_000 });
    const held = (await lock.acquire(key, currentHolder("safe-upgrade", { requestId: "req-42", stackId: "app-stack" }), {
      leaseMs: 600_000,
    })) as DynamoLease;
    const common = ["--dir", fixtures, "--db", db, "--lock-table", dynamo.table];

    const status = await retort("status", ...common, "--json");
    expect(JSON.parse(status.stdout).lock).toEqual(held.info);
    const human = await retort("status", ...common);
    expect(human.stdout).toMatch(/lock +held by safe-upgrade \(Lambda request req-42, .*stack app-stack\) since .* fencing token 1/);

    const refused = await retort("safe-upgrade", ...common);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`error: The migration lock for ${key} is held by safe-upgrade (Lambda request req-42`);
    expect(refused.stderr).toContain("`retort unlock --force`");
    // --json: the error's stable code and the holder as data, not a bare {"code": "error"}.
    const refusedJson = await retort("safe-upgrade", ...common, "--json");
    expect(refusedJson.code).toBe(1);
    expect(JSON.parse(refusedJson.stdout).error).toMatchObject({ code: "lock-held", holder: held.info });

    expect((await retort("unlock", ...common)).code).toBe(2);
    const unlocked = await retort("unlock", "--force", ...common, "--json");
    expect(JSON.parse(unlocked.stdout)).toEqual({ key, broken: held.info, token: 2, lock: `DynamoDB table ${dynamo.table}`, abandoned: true });
    await held.renewNow();
    expect(() => held.assertHeld()).toThrow(/broken with `retort unlock --force`/);

    const upgraded = await retort("safe-upgrade", ...common, "--wait", "10s", "--json");
    expect(upgraded.code).toBe(0);
    expect(JSON.parse(upgraded.stdout)).toMatchObject({ applied: 2, run: { token: 3 } });

    const runs = JSON.parse((await retort("history", "--runs", "--limit", "5", "--json", "--db", db, "--lock-table", dynamo.table)).stdout);
    expect(runs.runs.map((r: { token: number; status: string }) => [r.token, r.status])).toEqual([
      [3, "succeeded"],
      [1, "abandoned"],
    ]);
    expect(runs.runs[1]).toMatchObject({ requestId: "req-42", stackId: "app-stack", abandoned: { by: "retort unlock --force", token: 2 } });
    await database.drop();
  });

  it("a duration that cannot be read is bad usage", { timeout: 60_000 }, async () => {
    const run = await retort("safe-upgrade", "--wait", "soon", "--db", "pglite://memory");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("expected a duration such as 500ms, 30s, 5m or 1h");
  });
});
