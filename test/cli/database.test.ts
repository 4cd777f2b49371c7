// The database commands through the real `retort` executable, on an embedded PGlite directory:
// the stable --json shapes, exit codes, and that --sql never connects.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { ExecuteStatementCommand } from "@aws-sdk/client-rds-data";
import { ARNS, sdkClient } from "../local/harness.ts";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bin, retort, root } from "../support/cli.ts";
const scratch = path.join(root, ".retort/test-scratch", `db-${process.pid}`);
const db = `pglite://${path.relative(root, scratch)}/data`;

async function json(...args: string[]) {
  const run = await retort(...args, "--json");
  return { code: run.code, body: JSON.parse(run.stdout), stderr: run.stderr };
}

afterAll(() => rm(scratch, { recursive: true, force: true }));

describe("database commands on the example migrations", () => {
  it("safe-upgrade, status, current, downgrade and stamp keep their JSON contracts", async () => {
    const up = await json("safe-upgrade", "--db", db);
    expect(up.code).toBe(0);
    expect(up.body).toMatchObject({ command: "safe-upgrade", fromHeads: [], toHeads: ["4b53418e238e"], applied: 7 });

    const status = await json("status", "--db", db);
    expect(status.body).toMatchObject({
      codeHeads: ["4b53418e238e"],
      databaseHeads: ["4b53418e238e"],
      pending: [],
      drift: [],
      unknown: [],
    });
    expect(await json("current", "--db", db)).toMatchObject({ code: 0, body: { heads: ["4b53418e238e"] } });

    const down = await json("downgrade", "-1", "--db", db);
    expect(down.body).toMatchObject({ toHeads: ["4ba16a683121"], applied: 1 });
    const behind = await json("status", "--db", db);
    expect(behind.body.pending).toEqual([
      { revision: "4b53418e238e", message: "backfill owner memberships", file: "migrations/20261106_backfill_owner_memberships.ts" },
    ]);

    expect((await json("stamp", "heads", "--db", db)).body).toEqual({
      fromHeads: ["4ba16a683121"],
      toHeads: ["4b53418e238e"],
      purged: false,
    });
    const again = await retort("safe-upgrade", "--db", db);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("safe-upgrade: nothing to do; database at 4b53418e238e\n");
  });

  it("upgrade --sql prints the SQL without opening the database", async () => {
    const target = path.join(scratch, "never-created");
    const run = await retort("upgrade", "--sql", "--db", `pglite://${target}`);
    expect(run.code).toBe(0);
    // What a run sends: the first migration's DDL and its version-table record in one DO block.
    expect(run.stdout).toMatch(/^-- upgrade 31cdefda761a: create users \(migrations\/20261101_create_users.ts\)\nDO \$retort_0\$\nBEGIN\n/);
    expect(run.stdout).toContain('CREATE TABLE IF NOT EXISTS "public"."users"');
    expect(run.stdout).toContain("INSERT INTO memberships (user_id, project_id, role)");
    expect(run.stdout).toContain("SELECT owner_id, id, 'owner' FROM projects");
    expect(existsSync(target)).toBe(false);
  });

  it("a malformed --db is bad usage, named in the message", async () => {
    const run = await retort("status", "--db", "mysql://nope");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("mysql://nope");
  });

  it("an unknown target is refused with exit 1 and Alembic's words", async () => {
    const run = await json("upgrade", "ffff00000000", "--db", "pglite://memory");
    expect(run.code).toBe(1);
    expect(run.body.error).toMatchObject({ code: "unknown-revision" });
    expect(run.body.error.message).toContain("Can't locate revision identified by 'ffff00000000'");
  });
});

describe("retort local", () => {
  it("prints its endpoint URL first, serves the Data API to the real SDK, and stops on SIGTERM", async () => {
    const child = spawn(process.execPath, [bin, "local", "--db", "pglite://memory"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    try {
      const [first] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
      expect(first).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const client = sdkClient(first);
      const answer = await client.send(
        new ExecuteStatementCommand({ ...ARNS, database: "postgres", sql: "SELECT 40 + 2 AS answer", includeResultMetadata: true }),
      );
      expect(answer.records).toEqual([[{ longValue: 42 }]]);
      client.destroy();
    } finally {
      child.kill("SIGTERM");
    }
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
  });
});
