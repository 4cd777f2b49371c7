// The dry run (a migration against a snapshot, without a database), which `--sql` prints and
// `retort lint` reads: the zero-downtime operations render their statements, and the simulated
// schema follows them (a NOT VALID constraint becomes valid once validated; a column made NOT NULL
// step by step ends NOT NULL with no helper check left).
import { describe, expect, it } from "vitest";
import { postgres } from "../../lib/dialect/postgres/index.ts";
import { dryRun, type DryRunMigration } from "../../lib/ops/dry-run.ts";
import type { Operations } from "../../lib/ops/operations.ts";
import { findTable, type SchemaSnapshot } from "../../lib/schema/snapshot.ts";

const options = { dialect: postgres, defaultSchema: "public", mode: "safe" as const };

function migration(upgrade: (op: Operations) => Promise<void>): DryRunMigration {
  return { revision: "e00000000001", file: "migrations/20260101_e.ts", upgrade, downgrade: async () => {} };
}

const start: SchemaSnapshot = {
  schemas: ["public"],
  tables: [
    {
      schema: "public",
      name: "users",
      columns: [
        { name: "id", type: "bigint", nullable: false, default: null, identity: null, generated: null },
        { name: "email", type: "text", nullable: true, default: null, identity: null, generated: null },
      ],
      constraints: [{ kind: "primaryKey", name: "users_pkey", columns: ["id"] }],
      indexes: [{ name: "users_pkey", columns: ["id"], unique: true, method: "btree", where: null, constraint: true, valid: true }],
    },
  ],
};

describe("the dry run of the zero-downtime operations", () => {
  it("renders each statement and follows NOT VALID -> validated in the simulated schema", async () => {
    const added = await dryRun(
      migration(async (op) => {
        await op.safeAddCheckConstraint("ck_email", "users", "email <> ''", { notValid: true });
      }),
      "upgrade",
      start,
      options,
    );
    expect(added.statements).toEqual([`ALTER TABLE "public"."users" ADD CONSTRAINT "ck_email" CHECK (email <> '') NOT VALID`]);
    expect(findTable(added.snapshot, { schema: "public", name: "users" })!.constraints).toContainEqual(
      expect.objectContaining({ name: "ck_email", validated: false }),
    );

    // The next migration, from the schema the first left: the validation is planned, then known.
    const validated = await dryRun(
      migration(async (op) => {
        await op.safeValidateConstraint("users", "ck_email");
        await op.safeValidateConstraint("users", "ck_email");
      }),
      "upgrade",
      added.snapshot,
      options,
    );
    expect(validated.statements).toEqual(['ALTER TABLE "public"."users" VALIDATE CONSTRAINT "ck_email"']);
    expect(validated.results.map((r) => r.kind)).toEqual(["applied", "skipped"]);
    expect(findTable(validated.snapshot, { schema: "public", name: "users" })!.constraints).toContainEqual(
      expect.objectContaining({ name: "ck_email", validated: true }),
    );
  });

  it("renders setNotNull's four steps and a concurrent index, and ends with the column NOT NULL", async () => {
    const ran = await dryRun(
      migration(async (op) => {
        await op.safeSetNotNull("users", "email");
        await op.safeCreateIndex("ix_users_email", "users", ["email"], { concurrently: true });
        await op.safeSetNotNull("users", "email");
      }),
      "upgrade",
      start,
      options,
    );
    expect(ran.statements).toEqual([
      'ALTER TABLE "public"."users" ADD CONSTRAINT "users_email_not_null_check" CHECK ("email" IS NOT NULL) NOT VALID',
      'ALTER TABLE "public"."users" VALIDATE CONSTRAINT "users_email_not_null_check"',
      'ALTER TABLE "public"."users" ALTER COLUMN "email" SET NOT NULL',
      'ALTER TABLE "public"."users" DROP CONSTRAINT IF EXISTS "users_email_not_null_check"',
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_users_email" ON "public"."users" ("email")',
    ]);
    expect(ran.results.map((r) => (r.kind === "skipped" ? r.reason : r.operation.kind))).toEqual([
      "setNotNull",
      "createIndex",
      'column "users"."email" is already NOT NULL',
    ]);
    const users = findTable(ran.snapshot, { schema: "public", name: "users" })!;
    expect(users.columns.find((c) => c.name === "email")!.nullable).toBe(false);
    expect(users.constraints.map((c) => c.name)).toEqual(["users_pkey"]);
    expect(users.indexes.map((i) => [i.name, i.valid])).toEqual([
      ["ix_users_email", true],
      ["users_pkey", true],
    ]);
  });
});
