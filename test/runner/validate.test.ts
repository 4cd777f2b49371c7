// `validate` on a scratch PGlite: each way a migration can fail the walk (not reversible, not
// idempotent, failing, leaving something behind that only a second upgrade notices), reported
// against the right revision and object, and the example migrations passing.
import { describe, expect, it } from "vitest";
import { findTable } from "../../lib/schema/snapshot.ts";
import { DirectorySource } from "../../lib/revision/loader.ts";
import { validate } from "../../lib/runner/validate.ts";
import { type InlineMigration, memorySource } from "../support/memory-source.ts";

const users: InlineMigration = {
  revision: "d00000000001",
  revises: null,
  message: "create users",
  async upgrade(op) {
    await op.safeCreateTable("users", {
      columns: [
        { name: "id", type: "bigint", primaryKey: true },
        { name: "name", type: "text" },
      ],
    });
    await op.safeCreateIndex("ix_users_name", "users", ["name"]);
  },
  async downgrade(op) {
    await op.safeDropTable("users");
  },
};

const child = (revision: string, revises: string | string[], body: Partial<InlineMigration>): InlineMigration => ({
  revision,
  revises,
  message: `migration ${revision}`,
  async upgrade() {},
  async downgrade() {},
  ...body,
});

describe("validate", { timeout: 120_000 }, () => {
  it("passes the example migrations, walking the branch and the merge in plan order", async () => {
    const result = await validate({ source: new DirectorySource("migrations") });
    expect(result.ok).toBe(true);
    expect(result.problems).toEqual([]);
    expect(result.database).toBe("PGlite (in memory)");
    expect(result.results.map((r) => [r.revision, r.status])).toEqual([
      ["31cdefda761a", "ok"],
      ["65d09593c4bd", "ok"],
      ["1e9421695434", "ok"],
      ["e776a7d428ce", "ok"],
      ["f3096560a20d", "ok"],
      ["4ba16a683121", "ok"],
      ["4b53418e238e", "ok"],
    ]);
    // Raw SQL cannot be skipped: it ran again, and changed nothing.
    expect(result.results[6]!.reapplied).toEqual(["execute INSERT INTO memberships (user_id, project_id, role) SELEC..."]);
    expect(result.results[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it("not reversible: names each object the downgrade leaves behind or takes away", async () => {
    const email = child("d00000000002", users.revision, {
      async upgrade(op) {
        await op.addColumn("users", { name: "email", type: "text" });
      },
      async downgrade(op) {
        // Forgets the column, and drops an index that was there before.
        await op.dropIndex("ix_users_name");
      },
    });
    const result = await validate({ source: memorySource([users, email]) });
    expect(result.ok).toBe(false);
    const entry = result.results[1]!;
    expect(entry).toMatchObject({ revision: "d00000000002", status: "not-reversible" });
    expect(entry.findings).toHaveLength(1);
    expect(entry.findings[0]!.step).toBe("downgrade");
    expect(entry.findings[0]!.differences).toEqual([
      { kind: "added", object: "column", name: "users.email", table: "users", message: "column users.email still present after downgrade" },
      { kind: "removed", object: "index", name: "ix_users_name", table: "users", message: "index ix_users_name on users missing after downgrade" },
    ]);
  });

  it("not idempotent: raw SQL that fails when run again", async () => {
    const raw = child("d00000000002", users.revision, {
      async upgrade(op) {
        await op.execute("CREATE TABLE audit (at timestamptz)");
      },
      async downgrade(op) {
        await op.safeDropTable("audit");
      },
    });
    const result = await validate({ source: memorySource([users, raw]) });
    expect(result.results[1]).toMatchObject({ status: "not-idempotent" });
    expect(result.results[1]!.findings[0]).toMatchObject({ step: "upgrade-again" });
    expect(result.results[1]!.findings[0]!.message).toMatch(
      /^running the upgrade again \(safe-upgrade\) failed: upgrade of d00000000002 .*relation "audit" already exists/,
    );
  });

  it("not idempotent: raw SQL that succeeds again but adds the rows a second time", async () => {
    const seed = child("d00000000002", users.revision, {
      async upgrade(op) {
        await op.safeCreateTable("roles", { columns: [{ name: "name", type: "text" }] });
        await op.execute("INSERT INTO roles (name) VALUES ('admin')");
      },
      async downgrade(op) {
        await op.safeDropTable("roles");
      },
    });
    const result = await validate({ source: memorySource([users, seed]) });
    expect(result.results[1]).toMatchObject({ status: "not-idempotent" });
    expect(result.results[1]!.findings[0]!.message).toBe(
      "running the upgrade again (safe-upgrade) changed the database: rows of table roles changed when the upgrade ran again",
    );
  });

  it("failed: reports the database's error; what depends on it is not run, other branches still are", async () => {
    const broken = child("d00000000002", users.revision, {
      async upgrade(op) {
        await op.createIndex("ix_nope", "nope", ["x"]);
      },
    });
    const after = child("d00000000003", broken.revision, {});
    const sibling = child("d00000000004", users.revision, {
      async upgrade(op) {
        await op.addColumn("users", { name: "age", type: "int" });
      },
      async downgrade(op) {
        await op.dropColumn("users", "age");
      },
    });
    const merge = child("d00000000005", [after.revision, sibling.revision], {});
    const result = await validate({ source: memorySource([users, broken, after, sibling, merge]) });
    const byRevision = Object.fromEntries(result.results.map((r) => [r.revision, r]));
    expect(byRevision[broken.revision]!.status).toBe("failed");
    expect(byRevision[broken.revision]!.findings[0]).toMatchObject({ step: "upgrade" });
    expect(byRevision[broken.revision]!.findings[0]!.message).toMatch(
      /^upgrade of d00000000002 \(migrations\/20260101_d00000000002.ts: migration d00000000002\) failed: relation "public\.nope" does not exist; nothing of this revision was applied/,
    );
    expect(byRevision[after.revision]).toMatchObject({ status: "not-run", blockedBy: broken.revision });
    expect(byRevision[merge.revision]).toMatchObject({ status: "not-run", blockedBy: broken.revision });
    expect(byRevision[sibling.revision]).toMatchObject({ status: "ok" });
    expect(result.ok).toBe(false);
  });

  it("not reversible: a second upgrade finds what the downgrade left that snapshots do not show", async () => {
    const mood = child("d00000000002", users.revision, {
      async upgrade(op) {
        // The guard looks at the table, not at the type: after the downgrade it runs again.
        await op.safeExecute("CREATE TYPE mood AS ENUM ('calm', 'busy')", {
          guard: { when: (snapshot) => !findTable(snapshot, { schema: "public", name: "people" }) },
        });
        await op.safeCreateTable("people", { columns: [{ name: "mood", type: "mood" }] });
      },
      async downgrade(op) {
        await op.safeDropTable("people");
      },
    });
    const result = await validate({ source: memorySource([users, mood]) });
    expect(result.results[1]).toMatchObject({ status: "not-reversible" });
    expect(result.results[1]!.findings[0]).toMatchObject({ step: "upgrade-after-downgrade" });
    expect(result.results[1]!.findings[0]!.message).toMatch(/^upgrading again after the downgrade failed.*type "mood" already exists/);
  });

  it("a revision marked irreversible is reported as such, not as a failure; its re-run is still checked", async () => {
    const oneWay = child("d00000000002", users.revision, {
      irreversible: true,
      async upgrade(op) {
        await op.execute("UPDATE users SET name = lower(name)");
      },
    });
    const result = await validate({ source: memorySource([users, oneWay]) });
    expect(result.ok).toBe(true);
    expect(result.results.map((r) => r.status)).toEqual(["ok", "irreversible"]);
  });

  it("--from validates only the revisions after it, and check's problems fail validate", async () => {
    const second = child("d00000000002", users.revision, {});
    const other = child("d00000000003", users.revision, {});
    const result = await validate({ source: memorySource([users, second, other]) }, { from: users.revision });
    expect(result.from).toEqual([users.revision]);
    expect(result.results.map((r) => [r.revision, r.status])).toEqual([
      ["d00000000002", "ok"],
      ["d00000000003", "ok"],
    ]);
    expect(result.problems.map((p) => p.code)).toEqual(["multiple-heads"]);
    expect(result.ok).toBe(false);
  });
});
