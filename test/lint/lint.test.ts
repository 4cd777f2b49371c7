// The lint engine around the rules: silencing with a reason, allows that name no rule or match
// nothing, --from, migrations that cannot be dry-run, and the example migrations.
import { describe, expect, it } from "vitest";
import { postgres } from "../../lib/dialect/postgres/index.ts";
import { DirectorySource } from "../../lib/revision/loader.ts";
import { lint } from "../../lib/runner/lint.ts";
import { type InlineMigration, memorySource } from "../support/memory-source.ts";

const users: InlineMigration = {
  revision: "c00000000001",
  revises: null,
  async upgrade(op) {
    await op.createTable("users", { columns: [{ name: "id", type: "bigint", primaryKey: true }, { name: "email", type: "text" }] });
  },
  async downgrade(op) {
    await op.dropTable("users");
  },
};

const dropEmail = (lintField?: InlineMigration["lint"]): InlineMigration => ({
  revision: "c00000000002",
  revises: users.revision,
  ...(lintField ? { lint: lintField } : {}),
  async upgrade(op) {
    await op.dropColumn("users", "email");
  },
  async downgrade(op) {
    await op.addColumn("users", { name: "email", type: "text" });
  },
});

describe("lint", () => {
  it("reports a finding with its code, revision, file, operation and the safer way; exit status follows ok", async () => {
    const result = await lint({ dialect: postgres, source: memorySource([users, dropEmail()]) });
    expect(result).toMatchObject({ ok: false, revisions: 2, rules: 14, allowed: [], problems: [] });
    expect(result.findings).toEqual([
      {
        code: "drop-column",
        category: "destructive",
        revision: "c00000000002",
        file: "migrations/20260101_c00000000002.ts",
        operation: 'dropColumn "users"."email"',
        message: "drops column users.email and its data",
        saferWay: expect.stringContaining("deploy code that no longer reads or writes users.email first"),
      },
    ]);
  });

  it("an allow with a reason silences that rule for that migration, and keeps the reason", async () => {
    const result = await lint({ dialect: postgres, source: memorySource([users, dropEmail({ allow: ["drop-column: replaced by email_v2 in c00000000001"] })]) });
    expect(result.ok).toBe(true);
    expect(result.findings).toEqual([]);
    expect(result.allowed).toEqual([expect.objectContaining({ code: "drop-column", reason: "replaced by email_v2 in c00000000001" })]);
  });

  it("an allow naming no rule is a problem (with a suggestion); one that matches nothing is reported as unused", async () => {
    const typo = await lint({ dialect: postgres, source: memorySource([users, dropEmail({ allow: ["drop-colum: typo"] })]) });
    expect(typo.ok).toBe(false);
    expect(typo.problems).toEqual([
      {
        revision: "c00000000002",
        file: "migrations/20260101_c00000000002.ts",
        message: 'lint.allow names rule "drop-colum", which does not exist (did you mean drop-column?); run `retort lint --rules` for the list',
      },
    ]);
    const stale = await lint({ dialect: postgres, source: memorySource([{ ...users, lint: { allow: ["drop-table: not any more"] } }]) });
    expect(stale.ok).toBe(true);
    expect(stale.unusedAllows).toEqual([{ revision: "c00000000001", file: "migrations/20260100_c00000000001.ts", code: "drop-table", reason: "not any more" }]);
  });

  it("--from lints only what comes after, knowing the schema there", async () => {
    const addIndex: InlineMigration = {
      revision: "c00000000003",
      revises: "c00000000002",
      async upgrade(op) {
        await op.createIndex("ix_users_id", "users", ["id"]);
      },
      async downgrade(op) {
        await op.dropIndex("ix_users_id");
      },
    };
    const result = await lint({ dialect: postgres, source: memorySource([users, dropEmail(), addIndex]) }, { from: "c00000000002" });
    expect(result.from).toEqual(["c00000000002"]);
    expect(result.revisions).toBe(1);
    expect(result.findings.map((f) => [f.code, f.revision])).toEqual([["index-without-concurrently", "c00000000003"]]);
  });

  it("a migration that throws in the dry run is a problem naming it, and the others are still linted", async () => {
    const broken: InlineMigration = {
      revision: "c00000000002",
      revises: users.revision,
      async upgrade(op) {
        await op.addColumn("users", { name: "nickname", type: "text; DROP TABLE users" });
      },
      async downgrade() {},
    };
    const result = await lint({ dialect: postgres, source: memorySource([users, broken]) });
    expect(result.ok).toBe(false);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]!.message).toMatch(/^its upgrade cannot be dry-run \(addColumn: .*\); run `retort validate`/);
  });

  it("raw DDL does not stop the dry run: later operations are still seen, and a table raw SQL creates counts as new", async () => {
    const logs: InlineMigration = {
      revision: "c00000000002",
      revises: users.revision,
      async upgrade(op) {
        await op.execute("CREATE TABLE IF NOT EXISTS logs (at timestamptz)");
        await op.createIndex("ix_logs_at", "logs", ["at"]);
        await op.createIndex("ix_users_email", "users", ["email"]);
      },
      async downgrade(op) {
        await op.execute("DROP TABLE IF EXISTS logs");
      },
    };
    const result = await lint({ dialect: postgres, source: memorySource([users, logs]) });
    expect(result.problems).toEqual([]);
    expect(result.findings.map((f) => [f.code, f.operation])).toEqual([["index-without-concurrently", 'createIndex "ix_users_email" on "users"']]);
  });

  it("the example migrations lint clean, with their three allows and reasons", async () => {
    const result = await lint({ dialect: postgres, source: new DirectorySource("migrations") });
    expect(result).toMatchObject({ ok: true, findings: [], problems: [], unusedAllows: [] });
    expect(result.allowed.map((a) => [a.code, a.revision])).toEqual([
      ["index-without-concurrently", "e776a7d428ce"],
      ["index-without-concurrently", "f3096560a20d"],
      ["long-statement", "4b53418e238e"],
    ]);
    expect(result.allowed.every((a) => a.reason.length > 20)).toBe(true);
  });
});
