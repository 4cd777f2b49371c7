// The seed's recovery stories and the runner's bad inputs, run against every target database:
// PGlite, a real PostgreSQL server, and the local Data API endpoint in front of it.
import { describe, expect, it } from "vitest";
import { introspect } from "../../lib/dialect/postgres/introspect.ts";
import type { Operations } from "../../lib/ops/operations.ts";
import { DirectorySource } from "../../lib/revision/loader.ts";
import type { Context } from "../../lib/runner/context.ts";
import { databaseContext } from "../../lib/runner/database.ts";
import { stamp } from "../../lib/runner/stamp.ts";
import { current, status } from "../../lib/runner/status.ts";
import { downgrade, safeUpgrade, upgrade } from "../../lib/runner/upgrade.ts";
import { CountingExecutor } from "../../lib/sql/counting-executor.ts";
import { testDatabases } from "../support/databases.ts";
import { type InlineMigration, memorySource } from "../support/memory-source.ts";
import { useScenarios } from "../support/scenarios.ts";

const users: InlineMigration = {
  revision: "a00000000001",
  revises: null,
  message: "create users",
  async upgrade(op) {
    await op.safeCreateTable("users", {
      columns: [
        { name: "id", type: "bigint", primaryKey: true },
        { name: "name", type: "text", nullable: false },
      ],
    });
  },
  async downgrade(op) {
    await op.safeDropTable("users");
  },
};

const email: InlineMigration = {
  revision: "a00000000002",
  revises: "a00000000001",
  message: "add email to users",
  async upgrade(op) {
    await op.addColumn("users", { name: "email", type: "varchar(100)" });
    await op.createIndex("ix_users_email", "users", ["email"], { unique: true });
  },
  async downgrade(op) {
    await op.dropIndex("ix_users_email");
    await op.dropColumn("users", "email");
  },
};

for (const target of await testDatabases({ dataApi: true })) {
  describe(`on ${target.name}`, () => {
    const db = useScenarios(target, "scenario");
    const { scenario } = db;
    const snapshot = (ctx: { schema: string }) => introspect(db.executor, [ctx.schema]);

    it("story 1: a column someone added by hand: upgrade fails and changes nothing, safe-upgrade skips it", async () => {
      const ctx = await scenario([users, email]);
      await safeUpgrade(ctx, { target: users.revision });
      await db.executor.query(`ALTER TABLE ${ctx.schema}.users ADD COLUMN email varchar(100)`);
      const before = await snapshot(ctx);

      const strict = await upgrade(ctx);
      expect(strict.results.map((r) => r.status)).toEqual(["failed"]);
      expect(strict.error?.message).toMatch(
        /^upgrade of a00000000002 \(migrations\/20260101_a00000000002.ts: add email to users\) failed: .*column "email" of relation "users" already exists/,
      );
      expect(strict.error?.message).toContain("run `retort safe-upgrade` to skip what exists, or `retort stamp a00000000002`");
      expect(strict.error).toMatchObject({ revision: email.revision, file: "migrations/20260101_a00000000002.ts" });
      expect(await snapshot(ctx)).toEqual(before);
      expect(await current(ctx)).toEqual({ heads: [users.revision] });

      const safe = await safeUpgrade(ctx);
      expect(safe.error).toBeUndefined();
      expect(safe.results[0]!.operations).toEqual([
        { operation: 'addColumn "users"."email"', status: "skipped", reason: expect.stringContaining('"email" already exists') },
        { operation: 'createIndex "ix_users_email" on "users"', status: "applied" },
      ]);
      expect(safe.skippedOperations).toBe(1);
      expect(await current(ctx)).toEqual({ heads: [email.revision] });

      const again = await safeUpgrade(ctx);
      expect(again).toMatchObject({ applied: 0, results: [], fromHeads: [email.revision], toHeads: [email.revision] });
    });

    it("story 2: downgrade -1 then safe-upgrade returns to the same schema", async () => {
      const ctx = await scenario([users, email]);
      await safeUpgrade(ctx);
      const upgraded = await snapshot(ctx);
      const down = await downgrade(ctx, { target: "-1" });
      expect(down.results.map((r) => [r.revision, r.status])).toEqual([[email.revision, "applied"]]);
      expect(await current(ctx)).toEqual({ heads: [users.revision] });
      expect(await snapshot(ctx)).not.toEqual(upgraded);
      await safeUpgrade(ctx);
      expect(await snapshot(ctx)).toEqual(upgraded);
    });

    it("story 3: stamp heads on a database built by hand, then nothing is pending", async () => {
      const ctx = await scenario([users, email]);
      await db.executor.query(`CREATE TABLE ${ctx.schema}.users (id bigint primary key, name text not null, email varchar(100))`);
      expect((await status(ctx)).pending.map((p) => p.revision)).toEqual([users.revision, email.revision]);
      expect(await stamp(ctx, { target: "heads" })).toEqual({ fromHeads: [], toHeads: [email.revision], purged: false });
      const after = await status(ctx);
      expect(after).toMatchObject({ pending: [], drift: [], unknown: [], upToDate: true, databaseHeads: [email.revision] });
    });

    it("story 4: a migration that fails half way leaves schema and version table as they were", async () => {
      const ctx = await scenario([
        users,
        {
          revision: "a00000000003",
          revises: users.revision,
          async upgrade(op) {
            await op.addColumn("users", { name: "age", type: "integer" });
            await op.insertRows("users", [{ id: 1, name: "ada" }]);
            await op.execute("CREATE TABLE broken (x nosuchtype)");
          },
          async downgrade() {},
        },
      ]);
      await safeUpgrade(ctx, { target: users.revision });
      const before = await snapshot(ctx);
      const result = await safeUpgrade(ctx);
      expect(result.results[0]).toMatchObject({ revision: "a00000000003", status: "failed" });
      expect(result.error?.message).toMatch(/type "nosuchtype" does not exist; nothing of this revision was applied/);
      expect(await snapshot(ctx)).toEqual(before);
      expect((await db.executor.query(`SELECT count(*)::int AS n FROM ${ctx.schema}.users`)).rows).toEqual([{ n: 0 }]);
      expect(await current(ctx)).toEqual({ heads: [users.revision] });
    });

    it("migrations of pure DDL share one call; when one of them fails, those before it still apply", async () => {
      const ctx = await scenario([
        users,
        email,
        { revision: "a00000000008", revises: email.revision, async upgrade(op) { await op.execute("CREATE TABLE broken (x nosuchtype)"); }, async downgrade() {} },
      ]);
      db.counting.reset();
      const result = await safeUpgrade(ctx);
      expect(result.results.map((r) => r.status)).toEqual(["applied", "applied", "failed"]);
      expect(result.error?.message).toMatch(/^upgrade of a00000000008 .*type "nosuchtype" does not exist; nothing of this revision was applied/);
      // read (on a new database, then the writers still at work), introspect, the group
      // (refused), then each member alone.
      expect(db.counting.calls.map((c) => c.kind)).toEqual(["query", "query", "query", "query", "query", "query", "query"]);
      expect(await current(ctx)).toEqual({ heads: [email.revision] });

      db.counting.reset();
      const fixed = await safeUpgrade(ctx, { target: email.revision });
      expect(fixed.applied).toBe(0);
      expect(db.counting.count).toBe(1);
    });

    it("a transactional: false migration runs CREATE INDEX CONCURRENTLY statement by statement, and a retry converges", async () => {
      const concurrent: InlineMigration = {
        revision: "a00000000009",
        revises: users.revision,
        transactional: false,
        async upgrade(op) {
          await op.safeCreateIndex("ix_users_name", "users", ["name"], { concurrently: true });
          await op.execute("CREATE TABLE broken (x nosuchtype)");
        },
        async downgrade(op) {
          await op.safeDropIndex("ix_users_name", { concurrently: true });
        },
      };
      const ctx = await scenario([users, concurrent]);
      const failed = await safeUpgrade(ctx);
      expect(failed.error?.message).toContain("it is not transactional, so statements before the failure stay applied");
      expect((await snapshot(ctx)).tables.find((t) => t.name === "users")!.indexes.map((i) => i.name)).toContain("ix_users_name");
      expect(await current(ctx)).toEqual({ heads: [users.revision] });

      (ctx.source as ReturnType<typeof memorySource>).defs[1] = {
        ...concurrent,
        async upgrade(op) {
          await op.safeCreateIndex("ix_users_name", "users", ["name"], { concurrently: true });
        },
      };
      const retried = await safeUpgrade(ctx);
      expect(retried.error).toBeUndefined();
      expect(retried.results[0]!.operations).toEqual([
        expect.objectContaining({ status: "skipped", reason: expect.stringContaining("already exists") }),
      ]);
      expect(await current(ctx)).toEqual({ heads: [concurrent.revision] });
    });

    it("CREATE INDEX CONCURRENTLY as raw SQL in a transactional migration is refused with the fix", async () => {
      const ctx = await scenario([
        users,
        {
          revision: "a0000000000a",
          revises: users.revision,
          async upgrade(op) {
            // op.createIndex(..., { concurrently: true }) runs outside the transaction by itself;
            // raw SQL is the migration's own to mark.
            await op.execute(`CREATE INDEX CONCURRENTLY ix_users_name2 ON ${ctx.schema}.users (name)`);
          },
          async downgrade() {},
        },
      ]);
      const result = await safeUpgrade(ctx);
      expect(result.error?.message).toMatch(/cannot run inside a transaction; mark the migration `transactional: false`/);
    });

    it("raw DDL ending one migration is seen by the next in the same run: its safe operations do not skip what the SQL made", async () => {
      const ctx = await scenario([
        {
          revision: "a0000000000b",
          revises: null,
          async upgrade(op) {
            await op.execute(`CREATE TABLE ${ctx.schema}.made_by_sql (id bigint PRIMARY KEY, legacy text)`);
          },
          async downgrade() {},
        },
        {
          revision: "a0000000000c",
          revises: "a0000000000b",
          async upgrade(op) {
            await op.safeDropColumn("made_by_sql", "legacy");
            await op.safeAddColumn("made_by_sql", { name: "label", type: "text" });
          },
          async downgrade() {},
        },
      ]);
      const result = await safeUpgrade(ctx);
      expect(result.error).toBeUndefined();
      expect(result.results[1]!.operations.map((o) => o.status)).toEqual(["applied", "applied"]);
      const table = (await snapshot(ctx)).tables.find((t) => t.name === "made_by_sql");
      expect(table?.columns.map((c) => c.name)).toEqual(["id", "label"]);
    });

    it("a migration whose upgrade throws is reported against its revision, and what follows is not executed", async () => {
      const ctx = await scenario([
        users,
        { revision: "a00000000004", revises: users.revision, async upgrade() { throw new Error("bug in the migration"); }, async downgrade() {} },
        { ...email, revises: "a00000000004" },
      ]);
      const result = await safeUpgrade(ctx);
      expect(result.results.map((r) => r.status)).toEqual(["applied", "failed", "not-executed"]);
      expect(result.error?.message).toMatch(/^upgrade of a00000000004 .* failed: bug in the migration; nothing of this revision was applied/);
      expect(await current(ctx)).toEqual({ heads: [users.revision] });
    });

    it("a SQL syntax error names the revision and keeps PostgreSQL's message and SQLState", async () => {
      const ctx = await scenario([
        { revision: "a00000000005", revises: null, async upgrade(op) { await op.execute("CREATE TABLOE nope (id int)"); }, async downgrade() {} },
      ]);
      const result = await upgrade(ctx);
      expect(result.error?.message).toMatch(/^upgrade of a00000000005 .*failed: .*syntax error at or near "TABLOE"/);
      expect(await current(ctx)).toEqual({ heads: [] });
    });

    it("names that try to inject SQL are created exactly as written, and nothing else happens", async () => {
      const evil = 'users"; DROP TABLE users; --';
      const ctx = await scenario([
        users,
        {
          revision: "a00000000006",
          revises: users.revision,
          async upgrade(op) {
            await op.safeCreateTable(evil, { columns: [{ name: "x'); DROP TABLE users; --", type: "text", default: "'; DROP TABLE users; --" }] });
            await op.insertRows(evil, [{ "x'); DROP TABLE users; --": "Robert'); DROP TABLE users; --" }]);
          },
          async downgrade(op) {
            await op.safeDropTable(evil);
          },
        },
      ]);
      const result = await safeUpgrade(ctx);
      expect(result.error).toBeUndefined();
      const tables = (await snapshot(ctx)).tables.map((t) => t.name);
      expect(tables).toEqual(["users", evil].sort());
      const rows = await db.executor.query(`SELECT * FROM ${ctx.schema}."users""; DROP TABLE users; --"`);
      expect(rows.rows).toEqual([{ "x'); DROP TABLE users; --": "Robert'); DROP TABLE users; --" }]);
    });

    it("an unknown target and an unreachable target are refused before anything changes", async () => {
      const ctx = await scenario([users, email]);
      await expect(upgrade(ctx, { target: "bbbbbbbbbbbb" })).rejects.toThrow("Can't locate revision identified by 'bbbbbbbbbbbb'");
      await expect(downgrade(ctx, { target: email.revision })).rejects.toThrow(
        /Can't downgrade to a00000000002 .*: it is not applied \(database heads: none\); run `retort upgrade a00000000002`/,
      );
      expect(await current(ctx)).toEqual({ heads: [] });
    });

    it("status reports drift and revisions the code does not know; safe-upgrade refuses the latter", async () => {
      const ctx = await scenario([users, email]);
      await safeUpgrade(ctx);
      const source = ctx.source as ReturnType<typeof memorySource>;
      source.defs = [{ ...users, version: 2 }];
      const report = await status(ctx);
      expect(report.drift.map((d) => d.revision)).toEqual([users.revision]);
      expect(report.drift[0]!.appliedChecksum).not.toBe(report.drift[0]!.currentChecksum);
      expect(report.unknown).toEqual([email.revision]);
      expect(report.upToDate).toBe(false);
      await expect(safeUpgrade(ctx)).rejects.toThrow(
        /^The database is ahead of this code: it records revision\(s\) a00000000002 that no migration file defines/,
      );
      const allowed = await safeUpgrade(ctx, { allowUnknownRevisions: true });
      expect(allowed.applied).toBe(0);
    });

    it("safe-upgrade refuses a graph that check objects to, naming the problems", async () => {
      const ctx = await scenario([users, { ...email, revision: "a00000000007" }, email]);
      await expect(safeUpgrade(ctx)).rejects.toThrow(/safe-upgrade refused to start: `retort check` found 1 problem\(s\).*\n  multiple-heads: /);
      expect(await current(ctx)).toEqual({ heads: [] });
    });

    it("the example migrations upgrade, and a second run is a no-op", async () => {
      // The example's raw SQL names tables unqualified, so it gets a database of its own.
      const own = await target.open();
      const counting = new CountingExecutor(own);
      const ctx: Context = { source: new DirectorySource("migrations"), database: databaseContext(counting) };
      const first = await safeUpgrade(ctx);
      expect(first.error).toBeUndefined();
      expect(first.applied).toBe(7);
      const calls = counting.count;
      // read (+ the writers still at work, on a new database) + introspect + one DO block for the
      // six DDL migrations + BEGIN/insert/DO/COMMIT for the data migration
      expect(calls).toBe(8);
      counting.reset();
      const second = await safeUpgrade(ctx);
      expect(second.applied).toBe(0);
      expect(counting.count).toBe(1);
      await own.close();
    });
  });
}

// Keeps the type of op in scope for the inline migrations above.
export type { Operations };
