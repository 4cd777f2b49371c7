// Rendering operations to PostgreSQL: exact statement text for every operation, names that need
// quoting, and injection attempts through names and default values.
import { describe, expect, it } from "vitest";
import { postgres } from "../../lib/dialect/postgres/index.ts";
import { MAX_PARAMS_PER_INSERT, render } from "../../lib/dialect/postgres/render.ts";
import * as build from "../../lib/ops/build.ts";

const ctx: build.BuildContext = { defaultSchema: "public", dialect: postgres };
const sql = (op: Parameters<typeof render>[0]) => render(op).map((s) => s.sql);

describe("createTable", () => {
  it("names every constraint and qualifies every name", () => {
    const op = build.buildCreateTable(
      ctx,
      "users",
      {
        columns: [
          { name: "id", type: "bigint", primaryKey: true, identity: "always" },
          { name: "email", type: "varchar(320)", nullable: false, unique: true },
          { name: "org_id", type: "integer", references: { table: "app.orgs", column: "id", onDelete: "cascade" } },
          { name: "created_at", type: "timestamptz", default: { sql: "now()" } },
          { name: "status", type: "text", default: "new", check: "status <> ''" },
        ],
      },
      false,
    );
    expect(sql(op)).toEqual([
      'CREATE TABLE "public"."users" (\n' +
        '  "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,\n' +
        '  "email" varchar(320) NOT NULL,\n' +
        '  "org_id" integer,\n' +
        '  "created_at" timestamptz DEFAULT (now()),\n' +
        "  \"status\" text DEFAULT 'new',\n" +
        '  CONSTRAINT "users_pkey" PRIMARY KEY ("id"),\n' +
        '  CONSTRAINT "users_email_key" UNIQUE ("email"),\n' +
        '  CONSTRAINT "users_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "app"."orgs" ("id") ON DELETE CASCADE,\n' +
        "  CONSTRAINT \"users_status_check\" CHECK (status <> '')\n" +
        ")",
    ]);
  });

  it("renders table-level keys, checks and foreign keys, IF NOT EXISTS for the safe form", () => {
    const op = build.buildCreateTable(
      ctx,
      { schema: "app", name: "Members" },
      {
        columns: [
          { name: "org", type: "int" },
          { name: "user", type: "int" },
          { name: "role", type: "text", nullable: false },
        ],
        primaryKey: ["org", "user"],
        unique: [{ name: "uq_role", columns: ["org", "role"] }],
        checks: ["role in ('a', 'b')"],
        foreignKeys: [
          { columns: ["org"], references: { table: "app.orgs", columns: ["id"] }, onDelete: "restrict", onUpdate: "set null" },
        ],
      },
      true,
    );
    expect(sql(op)[0]).toBe(
      'CREATE TABLE IF NOT EXISTS "app"."Members" (\n' +
        '  "org" int NOT NULL,\n' +
        '  "user" int NOT NULL,\n' +
        '  "role" text NOT NULL,\n' +
        '  CONSTRAINT "Members_pkey" PRIMARY KEY ("org", "user"),\n' +
        '  CONSTRAINT "uq_role" UNIQUE ("org", "role"),\n' +
        "  CONSTRAINT \"Members_check\" CHECK (role in ('a', 'b')),\n" +
        '  CONSTRAINT "Members_org_fkey" FOREIGN KEY ("org") REFERENCES "app"."orgs" ("id") ON DELETE RESTRICT ON UPDATE SET NULL\n' +
        ")",
    );
  });

  it("creates a table named like an injection attempt as exactly that name", () => {
    const op = build.buildCreateTable(
      ctx,
      'users"; DROP TABLE x; --',
      { columns: [{ name: 'col"; DROP TABLE y; --', type: "text", default: "'); DROP TABLE z; --" }] },
      false,
    );
    expect(sql(op)).toEqual([
      'CREATE TABLE "public"."users""; DROP TABLE x; --" (\n' +
        '  "col""; DROP TABLE y; --" text DEFAULT \'\'\'); DROP TABLE z; --\'\n' +
        ")",
    ]);
  });

  it("renders literal defaults through renderLiteral only", () => {
    const op = build.buildCreateTable(
      ctx,
      "t",
      {
        columns: [
          { name: "a", type: "integer", default: -1 },
          { name: "b", type: "boolean", default: false },
          { name: "c", type: "jsonb", default: { json: { k: "v" } } },
          { name: "d", type: "text", default: null },
          { name: "e", type: "text", default: "back\\slash" },
        ],
      },
      false,
    );
    expect(sql(op)[0]).toContain(`"a" integer DEFAULT -1,`);
    expect(sql(op)[0]).toContain(`"b" boolean DEFAULT false,`);
    expect(sql(op)[0]).toContain(`"c" jsonb DEFAULT '{"k":"v"}',`);
    expect(sql(op)[0]).toContain(`"d" text DEFAULT NULL,`);
    expect(sql(op)[0]).toContain(`"e" text DEFAULT E'back\\\\slash'`);
  });
});

describe("the other operations", () => {
  it("dropTable", () => {
    expect(sql(build.buildDropTable(ctx, "app.Users", undefined, false))).toEqual(['DROP TABLE "app"."Users"']);
    expect(sql(build.buildDropTable(ctx, "users", { cascade: true }, true))).toEqual([
      'DROP TABLE IF EXISTS "public"."users" CASCADE',
    ]);
  });

  it("addColumn carries the column's constraints inline", () => {
    const op = build.buildAddColumn(
      ctx,
      "orders",
      { name: "user_id", type: "bigint", nullable: false, default: 0, references: { table: "users", column: "id" }, unique: true },
      true,
    );
    expect(sql(op)).toEqual([
      'ALTER TABLE "public"."orders" ADD COLUMN IF NOT EXISTS "user_id" bigint NOT NULL DEFAULT 0 ' +
        'CONSTRAINT "orders_user_id_key" UNIQUE CONSTRAINT "orders_user_id_fkey" REFERENCES "public"."users" ("id")',
    ]);
  });

  it("dropColumn", () => {
    expect(sql(build.buildDropColumn(ctx, "users", "Email", undefined, false))).toEqual([
      'ALTER TABLE "public"."users" DROP COLUMN "Email"',
    ]);
    expect(sql(build.buildDropColumn(ctx, "users", "email", { cascade: true }, true))).toEqual([
      'ALTER TABLE "public"."users" DROP COLUMN IF EXISTS "email" CASCADE',
    ]);
  });

  it("alterColumn combines its changes into one ALTER TABLE, dropping the old default first", () => {
    const op = build.buildAlterColumn(ctx, "users", "age", { type: "integer", using: "age::integer", nullable: false, default: null });
    expect(sql(op)).toEqual([
      'ALTER TABLE "public"."users" ALTER COLUMN "age" DROP DEFAULT, ALTER COLUMN "age" TYPE integer USING (age::integer), ' +
        'ALTER COLUMN "age" SET NOT NULL',
    ]);
    expect(sql(build.buildAlterColumn(ctx, "users", "age", { nullable: true, default: 18 }))).toEqual([
      'ALTER TABLE "public"."users" ALTER COLUMN "age" DROP NOT NULL, ALTER COLUMN "age" SET DEFAULT 18',
    ]);
  });

  it("renames", () => {
    expect(sql(build.buildRenameTable(ctx, "app.old", "New"))).toEqual(['ALTER TABLE "app"."old" RENAME TO "New"']);
    expect(sql(build.buildRenameColumn(ctx, "users", "a", "select"))).toEqual([
      'ALTER TABLE "public"."users" RENAME COLUMN "a" TO "select"',
    ]);
  });

  it("createIndex with expressions, a predicate, a method and CONCURRENTLY", () => {
    const op = build.buildCreateIndex(
      ctx,
      "ix_users_email",
      "app.users",
      ["org", { sql: "lower(email)" }],
      { unique: true, where: "deleted_at IS NULL", concurrently: true, using: "btree" },
      true,
    );
    expect(op.index).toEqual({ schema: "app", name: "ix_users_email" });
    expect(sql(op)).toEqual([
      'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "ix_users_email" ON "app"."users" USING "btree" ' +
        '("org", (lower(email))) WHERE (deleted_at IS NULL)',
    ]);
    expect(sql(build.buildCreateIndex(ctx, "ix", "users", ["a"], undefined, false))).toEqual([
      'CREATE INDEX "ix" ON "public"."users" ("a")',
    ]);
  });

  it("dropIndex", () => {
    expect(sql(build.buildDropIndex(ctx, "app.ix", { concurrently: true }, true))).toEqual([
      'DROP INDEX CONCURRENTLY IF EXISTS "app"."ix"',
    ]);
    expect(sql(build.buildDropIndex(ctx, "ix", undefined, false))).toEqual(['DROP INDEX "public"."ix"']);
  });

  it("constraints", () => {
    expect(
      sql(build.buildCreateForeignKey(ctx, "fk", "orders", ["user_id"], "app.users", ["id"], { onDelete: "set default", notValid: true }, false)),
    ).toEqual([
      'ALTER TABLE "public"."orders" ADD CONSTRAINT "fk" FOREIGN KEY ("user_id") REFERENCES "app"."users" ("id") ON DELETE SET DEFAULT NOT VALID',
    ]);
    expect(sql(build.buildAddUniqueConstraint(ctx, "uq", "users", ["a", "b"], true))).toEqual([
      'ALTER TABLE "public"."users" ADD CONSTRAINT "uq" UNIQUE ("a", "b")',
    ]);
    expect(sql(build.buildAddCheckConstraint(ctx, "ck", "users", "a > 0", undefined, false))).toEqual([
      'ALTER TABLE "public"."users" ADD CONSTRAINT "ck" CHECK (a > 0)',
    ]);
    expect(sql(build.buildAddCheckConstraint(ctx, "ck", "users", "a > 0", { notValid: true }, true))).toEqual([
      'ALTER TABLE "public"."users" ADD CONSTRAINT "ck" CHECK (a > 0) NOT VALID',
    ]);
    expect(sql(build.buildValidateConstraint(ctx, "app.orders", 'fk"; --', true))).toEqual([
      'ALTER TABLE "app"."orders" VALIDATE CONSTRAINT "fk""; --"',
    ]);
    expect(sql(build.buildDropConstraint(ctx, "users", "ck", { cascade: true }, true))).toEqual([
      'ALTER TABLE "public"."users" DROP CONSTRAINT IF EXISTS "ck" CASCADE',
    ]);
  });

  it("setNotNull: a NOT VALID check, its validation, SET NOT NULL, and the check dropped again", () => {
    expect(sql(build.buildSetNotNull(ctx, "app.users", "E-mail", false))).toEqual([
      'ALTER TABLE "app"."users" ADD CONSTRAINT "users_E-mail_not_null_check" CHECK ("E-mail" IS NOT NULL) NOT VALID',
      'ALTER TABLE "app"."users" VALIDATE CONSTRAINT "users_E-mail_not_null_check"',
      'ALTER TABLE "app"."users" ALTER COLUMN "E-mail" SET NOT NULL',
      'ALTER TABLE "app"."users" DROP CONSTRAINT IF EXISTS "users_E-mail_not_null_check"',
    ]);
  });

  it("execute splits statements and binds only the parameters each one names", () => {
    const op = build.buildExecute("UPDATE t SET a = :a WHERE b = ':not_a_param'; CREATE INDEX ix ON t (a);", { a: 1, unused: 2 }, null);
    expect(render(op)).toEqual([
      { sql: "UPDATE t SET a = :a WHERE b = ':not_a_param'", params: { a: 1 } },
      { sql: "CREATE INDEX ix ON t (a)" },
    ]);
  });
});

describe("insertRows", () => {
  it("binds every value and fills missing keys with DEFAULT", () => {
    const op = build.buildInsertRows(ctx, "users", [{ id: 1, email: "a@x" }, { id: 2, name: "'); DROP TABLE x; --" }], false);
    expect(render(op)).toEqual([
      {
        sql: 'INSERT INTO "public"."users" ("id", "email", "name") VALUES (:p0, :p1, DEFAULT), (:p2, DEFAULT, :p3)',
        params: { p0: 1, p1: "a@x", p2: 2, p3: "'); DROP TABLE x; --" },
      },
    ]);
  });

  it("casts to the column types the snapshot knows, and adds ON CONFLICT DO NOTHING for the safe form", () => {
    const op = build.buildInsertRows(ctx, "users", [{ id: "0b0f…", doc: { a: 1 } }], true);
    const [statement] = render(op, { columnTypes: new Map([["id", "uuid"], ["doc", "jsonb"]]) });
    expect(statement!.sql).toBe(
      'INSERT INTO "public"."users" ("id", "doc") VALUES (CAST(:p0 AS uuid), CAST(:p1 AS jsonb)) ON CONFLICT DO NOTHING',
    );
  });

  it("splits very large inserts to stay under the parameter limit", () => {
    const rows = Array.from({ length: MAX_PARAMS_PER_INSERT / 2 + 1 }, (_, i) => ({ a: i, b: i }));
    const statements = render(build.buildInsertRows(ctx, "t", rows, false));
    expect(statements).toHaveLength(2);
    expect(Object.keys(statements[0]!.params!)).toHaveLength(MAX_PARAMS_PER_INSERT);
    expect(Object.keys(statements[1]!.params!)).toHaveLength(2);
  });

  it("inserts rows without columns as DEFAULT VALUES", () => {
    expect(sql(build.buildInsertRows(ctx, "t", [{}, {}], false))).toEqual([
      'INSERT INTO "public"."t" DEFAULT VALUES',
      'INSERT INTO "public"."t" DEFAULT VALUES',
    ]);
  });
});
