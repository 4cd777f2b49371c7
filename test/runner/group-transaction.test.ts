// Consecutive migrations share one transaction (lib/runner/group-transaction.ts): what that costs in calls,
// and that a failure anywhere in it still ends with exactly the migrations before the failing
// one applied, the failing one reported with its own error, and the rest not executed. Run on
// PGlite, PostgreSQL and the Data API in front of PostgreSQL; then the Data API's own failure, a
// COMMIT whose outcome the client cannot know.
import { describe, expect, it } from "vitest";
import { startDataApiEndpoint } from "../../lib/local/data-api-endpoint.ts";
import type { Context } from "../../lib/runner/context.ts";
import { databaseContext } from "../../lib/runner/database.ts";
import { current } from "../../lib/runner/status.ts";
import { safeUpgrade, upgrade } from "../../lib/runner/upgrade.ts";
import { DataApiExecutor } from "../../lib/sql/data-api-executor.ts";
import { PgliteExecutor } from "../../lib/sql/pglite-executor.ts";
import { ARNS, sdkClient } from "../local/harness.ts";
import { testDatabases } from "../support/databases.ts";
import { type InlineMigration, memorySource } from "../support/memory-source.ts";
import { useScenarios } from "../support/scenarios.ts";

const rev = (n: number) => `b0000000000${n}`;

const users: InlineMigration = {
  revision: rev(1),
  revises: null,
  async upgrade(op) {
    await op.createTable("users", {
      columns: [
        { name: "id", type: "bigint", primaryKey: true },
        { name: "name", type: "text", nullable: false },
      ],
    });
  },
  async downgrade(op) {
    await op.dropTable("users");
  },
};

/** Bound values: the group opens its transaction here. */
const seed: InlineMigration = {
  revision: rev(2),
  revises: rev(1),
  async upgrade(op) {
    await op.insertRows("users", [{ id: 1, name: "ada" }]);
  },
  async downgrade(op) {
    await op.execute("DELETE FROM users WHERE id = :id", { id: 1 });
  },
};

const email: InlineMigration = {
  revision: rev(3),
  revises: rev(2),
  async upgrade(op) {
    await op.addColumn("users", { name: "email", type: "text" });
  },
  async downgrade(op) {
    await op.dropColumn("users", "email");
  },
};

/** Comes after the failing one in every scenario: never executed. */
const last = (revises: string): InlineMigration => ({
  revision: rev(9),
  revises,
  async upgrade(op) {
    await op.addColumn("users", { name: "last", type: "text" });
  },
  async downgrade(op) {
    await op.dropColumn("users", "last");
  },
});

for (const target of await testDatabases({ dataApi: true })) {
  describe(`on ${target.name}`, () => {
    const db = useScenarios(target, "batch");
    const { scenario } = db;
    const columns = async (ctx: { schema: string }) =>
      (
        await db.executor.query<{ c: string }>(
          `SELECT column_name AS c FROM information_schema.columns WHERE table_schema = '${ctx.schema}' AND table_name = 'users' ORDER BY ordinal_position`,
        )
      ).rows.map((r) => r.c);
    const names = async (ctx: { schema: string }) =>
      (await db.executor.query<{ name: string }>(`SELECT name FROM ${ctx.schema}.users ORDER BY id`)).rows.map((r) => r.name);

    it("three migrations, one with bound values, cost one transaction: BEGIN, DDL, INSERT, DDL with the version update, COMMIT", async () => {
      const ctx = await scenario([users, seed, email]);
      db.counting.reset();
      const result = await safeUpgrade(ctx);
      expect(result.results.map((r) => r.status)).toEqual(["applied", "applied", "applied"]);
      // read (on a new database, then the writers still at work), introspect, then the group.
      expect(db.counting.calls.map((c) => c.kind)).toEqual(["query", "query", "query", "begin", "query", "query", "query", "commit"]);
      expect(db.counting.calls[5]!.sql).toMatch(/^INSERT INTO/);
      expect(await current(ctx)).toEqual({ heads: [email.revision] });
      expect(await names(ctx)).toEqual(["ada"]);
    });

    it("--transaction-per-migration commits each migration with its own version update", async () => {
      const ctx = await scenario([users, seed, email]);
      db.counting.reset();
      const result = await safeUpgrade(ctx, { transactionPerMigration: true });
      expect(result.applied).toBe(3);
      // The seed's transaction opens with the serialisation and heads check on their own: a DO
      // block cannot carry the INSERT's bound values.
      expect(db.counting.calls.map((c) => c.kind)).toEqual(["query", "query", "query", "query", "begin", "query", "query", "query", "commit", "query"]);
      expect(await current(ctx)).toEqual({ heads: [email.revision] });
    });

    it("a database context set to transactionPerMigration (the Lambda's setting) does the same, unless the command says otherwise", async () => {
      const perMigration = await scenario([users, seed, email]);
      perMigration.database = { ...perMigration.database!, transactionPerMigration: true };
      db.counting.reset();
      await safeUpgrade(perMigration);
      // The seed's transaction opens with the serialisation and heads check on their own: a DO
      // block cannot carry the INSERT's bound values.
      expect(db.counting.calls.map((c) => c.kind)).toEqual(["query", "query", "query", "query", "begin", "query", "query", "query", "commit", "query"]);

      const overridden = await scenario([users, seed, email]);
      overridden.database = { ...overridden.database!, transactionPerMigration: true };
      db.counting.reset();
      await safeUpgrade(overridden, { transactionPerMigration: false });
      expect(db.counting.calls.map((c) => c.kind)).toEqual(["query", "query", "query", "begin", "query", "query", "query", "commit"]);
      expect(await current(overridden)).toEqual({ heads: [email.revision] });
    });

    it("a statement refused late in the group: the migrations before it apply, it is reported, the rest is not executed", async () => {
      const broken: InlineMigration = {
        revision: rev(4),
        revises: rev(3),
        async upgrade(op) {
          await op.execute("CREATE TABLE broken (x nosuchtype)");
        },
        async downgrade() {},
      };
      const ctx = await scenario([users, seed, email, broken, last(rev(4))]);
      const result = await upgrade(ctx);
      expect(result.results.map((r) => r.status)).toEqual(["applied", "applied", "applied", "failed", "not-executed"]);
      expect(result.error).toMatchObject({ revision: rev(4) });
      expect(result.error?.message).toMatch(/^upgrade of b00000000004 .*type "nosuchtype" does not exist; nothing of this revision was applied/);
      expect(result.applied).toBe(3);
      expect(result.toHeads).toEqual([rev(3)]);
      expect(await current(ctx)).toEqual({ heads: [rev(3)] });
      expect(await columns(ctx)).toEqual(["id", "name", "email"]);
      // The seed ran twice (the group, rolled back, then alone) and its row is there once.
      expect(await names(ctx)).toEqual(["ada"]);
    });

    it("a bound-value statement that fails is reported against its own migration, though it was sent ahead without waiting", async () => {
      const ctx = await scenario([users, seed, email]);
      const nullName: InlineMigration = {
        revision: rev(4),
        revises: rev(3),
        async upgrade(op) {
          await op.execute(`INSERT INTO ${ctx.schema}.users (id, name) VALUES (:id, :name)`, { id: 2, name: null });
        },
        async downgrade() {},
      };
      ctx.source = memorySource([users, seed, email, nullName, last(rev(4))]);
      const result = await safeUpgrade(ctx);
      expect(result.results.map((r) => r.status)).toEqual(["applied", "applied", "applied", "failed", "not-executed"]);
      expect(result.error?.message).toMatch(/^upgrade of b00000000004 .*null value in column "name"/);
      expect(await current(ctx)).toEqual({ heads: [rev(3)] });
      expect(await names(ctx)).toEqual(["ada"]);
    });

    it("a migration that throws after the group has sent statements: the ones before it apply, its own statements do not", async () => {
      const ctx = await scenario([users, seed, email]);
      const throws: InlineMigration = {
        revision: rev(4),
        revises: rev(3),
        async upgrade(op) {
          await op.execute(`UPDATE ${ctx.schema}.users SET name = :name`, { name: "changed" });
          throw new Error("bug in the migration");
        },
        async downgrade() {},
      };
      ctx.source = memorySource([users, seed, email, throws, last(rev(4))]);
      const result = await safeUpgrade(ctx);
      expect(result.results.map((r) => r.status)).toEqual(["applied", "applied", "applied", "failed", "not-executed"]);
      expect(result.error?.message).toMatch(/^upgrade of b00000000004 .* failed: bug in the migration; nothing of this revision was applied/);
      expect(await names(ctx)).toEqual(["ada"]);
      expect(await current(ctx)).toEqual({ heads: [rev(3)] });
    });

    it("a read inside a migration sees what the migrations before it in the group did", async () => {
      const ctx = await scenario([users, seed, email]);
      const reads: InlineMigration = {
        revision: rev(4),
        revises: rev(3),
        async upgrade(op) {
          const { rows } = await op.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${ctx.schema}.users WHERE email IS NULL`);
          await op.execute(`UPDATE ${ctx.schema}.users SET email = :email`, { email: `${rows[0]!.n} without email` });
        },
        async downgrade() {},
      };
      ctx.source = memorySource([users, seed, email, reads]);
      const result = await safeUpgrade(ctx);
      expect(result.error).toBeUndefined();
      expect((await db.executor.query(`SELECT email FROM ${ctx.schema}.users`)).rows).toEqual([{ email: "1 without email" }]);
    });

    it("a non-transactional migration ends the group before it and runs on its own", async () => {
      const concurrently: InlineMigration = {
        revision: rev(4),
        revises: rev(3),
        transactional: false,
        async upgrade(op) {
          await op.safeCreateIndex("ix_users_name", "users", ["name"], { concurrently: true });
        },
        async downgrade() {},
      };
      const ctx = await scenario([users, seed, email, concurrently, last(rev(4))]);
      db.counting.reset();
      const result = await safeUpgrade(ctx);
      expect(result.results.map((r) => r.status)).toEqual(["applied", "applied", "applied", "applied", "applied"]);
      const kinds = db.counting.calls.map((c) => c.kind);
      // read (and the writers still at work), introspect, the first group, the fence claim and
      // the index, its version update, the last migration.
      expect(kinds).toEqual(["query", "query", "query", "begin", "query", "query", "query", "commit", "query", "query", "query", "query"]);
      expect(db.counting.calls[8]!.sql).toMatch(/^DO \$retort_0\$\nBEGIN\nPERFORM pg_advisory_xact_lock/);
      // Labelled, so a later run finds it in pg_stat_activity should it outlive this one.
      expect(db.counting.calls[9]!.sql).toMatch(/^\/\* retort writes \w+\.retort_version [0-9a-f]+ \*\/ CREATE INDEX CONCURRENTLY IF NOT EXISTS/);
      expect(await current(ctx)).toEqual({ heads: [rev(9)] });
    });

    /** A transactional migration (the default) with an index built CONCURRENTLY between two columns. */
    const indexedConcurrently: InlineMigration = {
      revision: rev(4),
      revises: rev(3),
      async upgrade(op) {
        await op.addColumn("users", { name: "nick", type: "text" });
        await op.safeCreateIndex("ix_users_name", "users", ["name"], { concurrently: true });
        await op.addColumn("users", { name: "late", type: "text" });
      },
      async downgrade() {},
    };
    const indexes = async (ctx: { schema: string }) =>
      (
        await db.executor.query<{ name: string; valid: boolean }>(
          `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '${ctx.schema}' AND NOT i.indisprimary ORDER BY 1`,
        )
      ).rows;

    it("CONCURRENTLY in a transactional migration: the migrations before it commit without it, what it sent before the index commits first, the index runs outside any transaction, its version record last", async () => {
      const ctx = await scenario([users, seed, email, indexedConcurrently, last(rev(4))]);
      db.counting.reset();
      const result = await safeUpgrade(ctx);
      expect(result.error).toBeUndefined();
      expect(result.results.map((r) => r.status)).toEqual(["applied", "applied", "applied", "applied", "applied"]);
      const calls = db.counting.calls;
      const index = calls.findIndex((c) => /CREATE INDEX CONCURRENTLY/.test(c.sql));
      expect(calls[index]!.inTransaction).toBe(false);
      // The first try of the group (users' DDL, then the seed's INSERT; email's DDL still queued)
      // found the index and was rolled back; the three commit as a group, then the index's migration commits its first column on its own.
      expect(calls.slice(0, index).map((c) => c.kind)).toEqual([
        "query", "query", "query", "begin", "query", "query", "rollback",
        "begin", "query", "query", "query", "commit",
        "query", "query",
      ]);
      expect(calls[index - 2]!.sql).toMatch(/ADD COLUMN IF NOT EXISTS "nick"/);
      // The fence claim, alone just before the index.
      expect(calls[index - 1]!.sql).toMatch(/^DO \$retort_0\$\nBEGIN\nPERFORM pg_advisory_xact_lock/);
      // The later column and the version record each one autocommitted call; then the last migration.
      expect(calls.slice(index + 1).map((c) => [c.kind, c.inTransaction])).toEqual([
        ["query", false],
        ["query", false],
        ["query", false],
      ]);
      expect(calls[index + 1]!.sql).toMatch(/ADD COLUMN IF NOT EXISTS "late"/);
      expect(calls[index + 2]!.sql).toMatch(/retort_version/);
      expect(await indexes(ctx)).toEqual([{ name: "ix_users_name", valid: true }]);
      expect(await columns(ctx)).toEqual(["id", "name", "email", "nick", "late", "last"]);
      expect(await current(ctx)).toEqual({ heads: [rev(9)] });

      db.counting.reset();
      expect((await safeUpgrade(ctx)).applied).toBe(0);
      expect(db.counting.count).toBe(1);
    });

    it("safeSetNotNull in a transactional migration commits each of its steps on its own, and a NULL found by the validation leaves the steps before it for safe-upgrade to go on from", async () => {
      const notNull: InlineMigration = {
        revision: rev(4),
        revises: rev(3),
        async upgrade(op) {
          await op.safeSetNotNull("users", "email");
        },
        async downgrade() {},
      };
      const ctx = await scenario([users, seed, email, notNull]);
      await safeUpgrade(ctx, { target: rev(3) });
      db.counting.reset();
      const failed = await safeUpgrade(ctx);
      expect(failed.results.map((r) => r.status)).toEqual(["failed"]);
      expect(failed.error).toMatchObject({ revision: rev(4), sqlState: "23514" });
      expect(failed.error?.message).toContain("a statement of it commits on its own, so what it committed before the failure stays applied");
      // The check went in on its own (committed); its validation failed on its own.
      expect(db.counting.calls.filter((c) => c.inTransaction)).toEqual([]);
      const checks = async () =>
        (
          await db.executor.query<{ name: string; validated: boolean }>(
            `SELECT conname AS name, convalidated AS validated FROM pg_constraint WHERE conrelid = '${ctx.schema}.users'::regclass AND contype = 'c'`,
          )
        ).rows;
      expect(await checks()).toEqual([{ name: "users_email_not_null_check", validated: false }]);
      expect(await current(ctx)).toEqual({ heads: [rev(3)] });

      await db.executor.query(`UPDATE ${ctx.schema}.users SET email = 'ada@example.com'`);
      db.counting.reset();
      const converged = await safeUpgrade(ctx);
      expect(converged.error).toBeUndefined();
      // Validate, SET NOT NULL, drop the check, each one call, then the version record.
      expect(db.counting.calls.slice(2).map((c) => [c.kind, c.inTransaction])).toEqual([
        ["query", false],
        ["query", false],
        ["query", false],
        ["query", false],
      ]);
      expect(await checks()).toEqual([]);
      const nullable = await db.executor.query<{ n: string }>(
        `SELECT is_nullable AS n FROM information_schema.columns WHERE table_schema = '${ctx.schema}' AND table_name = 'users' AND column_name = 'email'`,
      );
      expect(nullable.rows).toEqual([{ n: "NO" }]);
      expect(await current(ctx)).toEqual({ heads: [rev(4)] });
    });
  });
}

describe("through the Data API, a COMMIT whose outcome the client cannot know", () => {
  it("reports every migration of the group as unknown, and the next run converges", async () => {
    const backend = await PgliteExecutor.open();
    const endpoint = await startDataApiEndpoint({ backend, ...ARNS });
    const client = sdkClient(endpoint.url);
    const executor = new DataApiExecutor({ ...ARNS, database: "retort", client });
    try {
      const ctx: Context = { source: memorySource([users, seed, email]), database: databaseContext(executor) };
      // The commit runs, then the answer is a 500: the client cannot tell it committed.
      endpoint.faults.inject({ on: "CommitTransaction", error: "5xx", afterExecuting: true });
      const result = await safeUpgrade(ctx);
      // The three committed together or not at all: all three are unknown, none failed.
      expect(result.results.map((r) => r.status)).toEqual(["unknown", "unknown", "unknown"]);
      expect(result.error).toMatchObject({ outcome: "unknown", revision: "b00000000003" });
      expect(result.error?.message).toMatch(/^upgrade of b00000000001 \(.*\) to b00000000003 \(.*\): the outcome is unknown: /);
      expect(result.error?.message).toMatch(/run `retort status` once it has finished/);

      const again = await safeUpgrade(ctx);
      expect(again.error).toBeUndefined();
      expect(await current(ctx)).toEqual({ heads: [email.revision] });
    } finally {
      await executor.close();
      client.destroy();
      await endpoint.close();
      await backend.close();
    }
  });
});
