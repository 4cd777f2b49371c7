// Two runners that the lock does not serialise (separate processes without --lock-table, whose
// in-process locks know nothing of each other), with a slow commit: a third session holds SHARE
// on retort_revisions, so both runners' migration transactions wait at their last write. The
// database itself must serialise them: the revision runs once, one head is recorded, and the
// runner that lost says another runner got there first.
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { retort, root } from "../support/cli.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";

const dir = path.join(root, ".retort/test-scratch", `version-race-${process.pid}`);

const migration = (revision: string, revises: string | null, upgrade: string, downgrade: string) => `import { defineMigration } from "retort-migrate";
export default defineMigration({
  revision: "${revision}",
  revises: ${revises ? `"${revises}"` : "null"},
  message: "${revision}",
  createdAt: "2026-01-01T00:00:00Z",
  async upgrade(op) {
    ${upgrade}
  },
  async downgrade(op) {
    ${downgrade}
  },
});
`;

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, "20260101_base.ts"),
    migration("bbbbbbbbbbb1", null, 'await op.createTable("runs", { columns: [{ name: "n", type: "int" }] });', 'await op.dropTable("runs");'),
  );
  await writeFile(
    path.join(dir, "20260102_count.ts"),
    migration("bbbbbbbbbbb2", "bbbbbbbbbbb1", 'await op.execute("INSERT INTO runs (n) VALUES (1)");', 'await op.execute("DELETE FROM runs");'),
  );
  expect((await retort("upgrade", "bbbbbbbbbbb1", "--dir", path.relative(root, dir), "--db", database.url)).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("two runners the lock does not serialise", () => {
  it("with a slow commit, the revision runs once and one head is recorded; the other runner fails naming the conflict", async () => {
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    try {
      await blocker.query("BEGIN");
      await blocker.query("LOCK TABLE retort_revisions IN SHARE MODE");
      const runs = Promise.all([0, 1].map(() => retort("upgrade", "--dir", path.relative(root, dir), "--db", database.url, "--json")));
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      await blocker.query("COMMIT");
      const results = await runs;
      const codes = results.map((r) => r.code).sort();
      expect(codes, results.map((r) => r.stdout + r.stderr).join("\n")).toEqual([0, 1]);
      const lost = results.find((r) => r.code === 1)!;
      // It either planned before the winner took the database's writer lock (and finds the heads
      // moved), or read while the winner held it (and refuses to start beside it).
      expect(lost.stdout).toMatch(/another runner or a manual change got there first|another session is still writing the version table/);
      const inserted = await blocker.query<{ count: string }>("SELECT count(*) FROM runs");
      expect(inserted.rows[0]!.count).toBe("1");
      const heads = await blocker.query<{ version_num: string }>("SELECT version_num FROM retort_version");
      expect(heads.rows.map((r) => r.version_num)).toEqual(["bbbbbbbbbbb2"]);
    } finally {
      await blocker.end();
    }
  }, 120_000);
});
