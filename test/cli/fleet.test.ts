// `retort fleet upgrade` and `retort fleet status` over 20 tenant schemas in one embedded
// PostgreSQL database, one of them broken (a hand-made `projects` table without the column a later
// migration indexes): the other 19 reach the heads, each in its own schema (raw SQL's unqualified
// names included), the summary names the broken one with its error, the exit code follows
// --tolerate, and once it is fixed a re-run converges touching only that tenant. Bad target lists
// are refused before anything runs, naming the file and the target.
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateTableCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { startLocalLockTable } from "../../lib/local/dynamodb-table.ts";
import { retort, retortWith, root } from "../support/cli.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";

const dir = "test/fixtures/fleet";
const HEAD = "f1ee70000003";
const scratch = path.join(root, ".retort/test-scratch", `fleet-${process.pid}`);
const tenants = Array.from({ length: 20 }, (_, i) => String(i + 1).padStart(2, "0"));

describe("retort fleet over 20 tenant schemas", () => {
  let database: TestDatabase;
  let client: pg.Client;
  let targets: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    for (const t of tenants) await client.query(`CREATE SCHEMA tenant_${t}`);
    // Made by hand in tenant 07, without the owner_id the index migration needs.
    await client.query("CREATE TABLE tenant_07.projects (id bigint PRIMARY KEY, name text)");
    await mkdir(scratch, { recursive: true });
    targets = path.join(scratch, "targets.json");
    await writeFile(targets, JSON.stringify({ targets: tenants.map((t) => ({ name: `tenant-${t}`, db: database.url, schema: `tenant_${t}` })) }));
  });
  afterAll(async () => {
    await client?.end();
    await database?.drop();
    await rm(scratch, { recursive: true, force: true });
  });

  const tables = async (schema: string) =>
    (await client.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", [schema])).rows.map((r) => r.t);

  it("upgrades the 19 good tenants, names the broken one, and exits 1 when nothing is tolerated", { timeout: 120_000 }, async () => {
    const run = await retort("fleet", "upgrade", "--targets", targets, "--dir", dir, "--db", "unused", "--concurrency", "4", "--json").catch((e) => e);
    // --db is not a fleet option: the targets name their databases.
    expect(run.code).toBe(2);

    const first = await retort("fleet", "upgrade", "--targets", targets, "--dir", dir, "--concurrency", "4", "--json");
    expect(first.code, first.stderr).toBe(1);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({ command: "fleet upgrade", targets: 20, upgraded: 19, upToDate: 0, failed: 1, tolerate: 0, ok: false });
    const broken = summary.results.find((r: { name: string }) => r.name === "tenant-07");
    expect(broken).toMatchObject({ status: "failed", schema: "tenant_07", fromHeads: [], error: { code: "sql-error", revision: "f1ee70000002" } });
    expect(broken.error.message).toContain('column "owner_id" does not exist');
    for (const r of summary.results.filter((x: { name: string }) => x.name !== "tenant-07")) {
      expect(r).toMatchObject({ status: "upgraded", fromHeads: [], toHeads: [HEAD], applied: 3 });
    }
    // Each tenant's objects and retort's tables in its own schema, raw SQL's unqualified name too.
    expect(await tables("tenant_03")).toEqual(expect.arrayContaining(["audit", "projects", "retort_revisions", "retort_version"]));
    expect(await tables("public")).toEqual([]);
    // The broken tenant applied its first migration (the safe form skipped the existing table).
    expect(await tables("tenant_07")).toContain("retort_version");

    const current = await retort("current", "--schema", "tenant_07", "--db", database.url, "--dir", dir);
    expect(current.stdout.trim()).toBe("f1ee70000001");
    expect((await retort("current", "--schema", "tenant_03", "--db", database.url, "--dir", dir)).stdout.trim()).toBe(HEAD);
  });

  it("prints a line per target and the failure with what to do; --tolerate 5% lets one of 20 fail", { timeout: 120_000 }, async () => {
    const strict = await retort("fleet", "upgrade", "--targets", targets, "--dir", dir);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/failed +tenant-07 \(tenant_07\): sql-error: upgrade of f1ee70000002/);
    expect(strict.stdout).toMatch(/up to date +tenant-01 \(tenant_01\): f1ee70000003/);
    expect(strict.stdout).toContain("20 targets in ");
    expect(strict.stdout).toContain("0 upgraded, 19 up to date, 1 failed (tolerated: 0%)");
    expect(strict.stderr).toContain("1 of 20 targets failed, more than the 0% tolerated: tenant-07 (sql-error)");

    const tolerant = await retort("fleet", "upgrade", "--targets", targets, "--dir", dir, "--tolerate", "5%", "--json");
    expect(tolerant.code, tolerant.stderr).toBe(0);
    expect(JSON.parse(tolerant.stdout)).toMatchObject({ failed: 1, tolerate: 0.05, ok: true });
  });

  it("fleet status says which are behind; after the fix a re-run converges touching only that tenant", { timeout: 120_000 }, async () => {
    const before = await retort("fleet", "status", "--targets", targets, "--dir", dir, "--json");
    expect(before.code, before.stderr).toBe(0);
    const status = JSON.parse(before.stdout);
    expect(status).toMatchObject({ command: "fleet status", codeHeads: [HEAD], targets: 20, upToDate: 19 });
    expect(status.results.find((r: { name: string }) => r.name === "tenant-07")).toMatchObject({ state: "behind", pending: 2, databaseHeads: ["f1ee70000001"], locked: false });

    await client.query("ALTER TABLE tenant_07.projects ADD COLUMN owner_id bigint");
    const fixed = await retort("fleet", "upgrade", "--targets", targets, "--dir", dir, "--concurrency", "8", "--json");
    expect(fixed.code, fixed.stderr).toBe(0);
    const summary = JSON.parse(fixed.stdout);
    expect(summary).toMatchObject({ upgraded: 1, upToDate: 19, failed: 0, ok: true });
    expect(summary.results.find((r: { name: string }) => r.name === "tenant-07")).toMatchObject({ status: "upgraded", fromHeads: ["f1ee70000001"], toHeads: [HEAD], applied: 2 });

    const after = JSON.parse((await retort("fleet", "status", "--targets", targets, "--dir", dir, "--json")).stdout);
    expect(after.upToDate).toBe(20);
    // Every target's runs are in its own history.
    const history = await retort("history", "--runs", "--schema", "tenant_07", "--db", database.url, "--dir", dir, "--json");
    expect(JSON.parse(history.stdout).runs.length).toBeGreaterThanOrEqual(2);
  });

  it("reads the targets from a DynamoDB table (dynamodb://<table>), with the locks and history in a lock table", { timeout: 120_000 }, async () => {
    const dynamo = await startLocalLockTable();
    try {
      await dynamo.client.send(
        new CreateTableCommand({
          TableName: "tenants",
          AttributeDefinitions: [{ AttributeName: "name", AttributeType: "S" }],
          KeySchema: [{ AttributeName: "name", KeyType: "HASH" }],
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
      for (const t of ["01", "02", "03"]) {
        await dynamo.client.send(new PutItemCommand({ TableName: "tenants", Item: { name: { S: `tenant-${t}` }, db: { S: database.url }, schema: { S: `tenant_${t}` } } }));
      }
      const env = { ...dynamo.env, RETORT_LOCK_TABLE: dynamo.table };
      const status = await retortWith(env, "fleet", "status", "--targets", "dynamodb://tenants", "--dir", dir, "--json");
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout).results.map((r: { name: string; state: string }) => [r.name, r.state]).sort()).toEqual([
        ["tenant-01", "up-to-date"],
        ["tenant-02", "up-to-date"],
        ["tenant-03", "up-to-date"],
      ]);
      const upgrade = await retortWith(env, "fleet", "upgrade", "--targets", "dynamodb://tenants", "--dir", dir, "--json");
      expect(upgrade.code, upgrade.stderr).toBe(0);
      expect(JSON.parse(upgrade.stdout)).toMatchObject({ targets: 3, upToDate: 3, failed: 0 });
      // Each target's run is in the lock table's history, under the target's own key.
      const history = await retortWith(env, "history", "--runs", "--schema", "tenant_02", "--db", database.url, "--dir", dir, "--json");
      expect(JSON.parse(history.stdout).target).toMatch(/\?schema=tenant_02$/);
      expect(JSON.parse(history.stdout).runs).toEqual([expect.objectContaining({ command: "safe-upgrade", status: "succeeded" })]);

      await dynamo.client.send(new PutItemCommand({ TableName: "tenants", Item: { name: { S: "bad" }, db: { S: database.url }, tier: { S: "gold" } } }));
      const bad = await retortWith(env, "fleet", "status", "--targets", "dynamodb://tenants", "--dir", dir);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("DynamoDB table tenants: target");
      expect(bad.stderr).toContain('has "tier", which a target does not take');
    } finally {
      await dynamo.close();
    }
  });

  it("refuses a bad list before running anything, naming the file and the target", async () => {
    const write = async (name: string, body: unknown) => {
      const file = path.join(scratch, name);
      await writeFile(file, typeof body === "string" ? body : JSON.stringify(body));
      return file;
    };
    const cases: [string, unknown, string][] = [
      ["dup.json", [{ name: "a", db: "pglite://memory" }, { name: "a", db: "pglite://memory" }], 'targets 1 and 2 are both named "a"'],
      ["unknown.json", [{ name: "a", db: "pglite://memory", scheme: "x" }], 'target 1 has "scheme", which a target does not take'],
      ["no-db.json", [{ name: "a" }], 'target 1 ("a"): "db" must be a database URL'],
      ["bad-url.json", [{ name: "a", db: "mysql://x" }], 'target 1 ("a"): Invalid database URL'],
      ["schema.json", [{ name: "a", db: "pglite://memory", schema: "s".repeat(64) }], 'target 1 ("a"): "schema": identifier'],
      ["empty.json", [], "the list of targets is empty"],
      ["text.json", "not json", "not JSON"],
      ["object.json", { tenants: [] }, 'expected a JSON array of targets or { "targets": [...] }'],
    ];
    for (const [name, body, message] of cases) {
      const file = await write(name, body);
      const run = await retort("fleet", "upgrade", "--targets", file, "--dir", dir);
      expect(run.code, `${name}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toContain(file);
      expect(run.stderr).toContain(message);
    }
    const missing = await retort("fleet", "status", "--targets", path.join(scratch, "nope.json"), "--dir", dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read");
    expect(missing.stderr).toContain("dynamodb://<table>");
  });
});
