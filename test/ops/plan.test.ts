// The planner, without a database: for every operation, in the state where the safe form runs and
// in the state where it skips, under safe-upgrade and under upgrade; and what the snapshot looks
// like afterwards.
import { describe, expect, it } from "vitest";
import { postgres } from "../../lib/dialect/postgres/index.ts";
import { findColumn, findIndex, findTable, type SchemaSnapshot, type TableSnapshot } from "../../lib/schema/snapshot.ts";
import * as build from "../../lib/ops/build.ts";
import type { Operation } from "../../lib/schema/operation.ts";
import { planOperation, type Plan, type RunMode } from "../../lib/ops/plan.ts";

const ctx: build.BuildContext = { defaultSchema: "public", dialect: postgres };

const users: TableSnapshot = {
  schema: "public",
  name: "users",
  columns: [
    { name: "id", type: "bigint", nullable: false, default: null, identity: "always", generated: null },
    { name: "email", type: "character varying(100)", nullable: true, default: null, identity: null, generated: null },
    { name: "age", type: "integer", nullable: true, default: "0", identity: null, generated: null },
  ],
  constraints: [
    { kind: "check", name: "ck_age", expression: "(age >= 0)", validated: true },
    { kind: "unique", name: "uq_users_email", columns: ["email"] },
    { kind: "primaryKey", name: "users_pkey", columns: ["id"] },
  ],
  indexes: [
    { name: "ix_users_age", columns: ["age"], unique: false, method: "btree", where: null, constraint: false, valid: true },
    { name: "uq_users_email", columns: ["email"], unique: true, method: "btree", where: null, constraint: true, valid: true },
    { name: "users_pkey", columns: ["id"], unique: true, method: "btree", where: null, constraint: true, valid: true },
  ],
};

const orders: TableSnapshot = {
  schema: "public",
  name: "orders",
  columns: [
    { name: "id", type: "bigint", nullable: false, default: null, identity: null, generated: null },
    { name: "user_id", type: "bigint", nullable: true, default: null, identity: null, generated: null },
  ],
  constraints: [
    {
      kind: "foreignKey",
      name: "fk_orders_user",
      columns: ["user_id"],
      references: { schema: "public", table: "users", columns: ["id"] },
      onDelete: "cascade",
      onUpdate: "no action",
      validated: true,
    },
  ],
  indexes: [],
};

const base: SchemaSnapshot = deepFreeze({ schemas: ["app", "public"], tables: [orders, users] });

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function withTable(snapshot: SchemaSnapshot, name: string, change: (t: TableSnapshot) => TableSnapshot | null): SchemaSnapshot {
  return {
    ...snapshot,
    tables: snapshot.tables.flatMap((t) => {
      if (t.name !== name) return [t];
      const next = change(t);
      return next ? [next] : [];
    }),
  };
}

const plan = (op: Operation, snapshot: SchemaSnapshot, mode: RunMode): Plan =>
  planOperation(op, snapshot, { mode, defaultSchema: "public", dialect: postgres });

const sqlOf = (p: Plan): string[] => {
  if (p.kind !== "apply") throw new Error(`expected apply, got skip: ${p.reason}`);
  return p.statements.map((s) => s.sql);
};

interface Case {
  name: string;
  /** Builds the op; `safe` selects the safe form. */
  op: (safe: boolean) => Operation;
  /** State where the safe form skips (the object exists; for drops, it is gone). */
  skipState: SchemaSnapshot;
  /** State where every form runs. */
  applyState: SchemaSnapshot;
  reason: string;
  /** Statement of the plain form under upgrade. */
  strictSql: string;
  /** Statement of the safe form, and of the plain form under safe-upgrade. */
  safeSql: string;
}

const withoutUsers = withTable(base, "users", () => null);
const withoutEmail = withTable(base, "users", (t) => ({
  ...t,
  columns: t.columns.filter((c) => c.name !== "email"),
}));
const withoutIndex = withTable(base, "users", (t) => ({ ...t, indexes: t.indexes.filter((i) => i.name !== "ix_users_age") }));
const withoutConstraint = (name: string) =>
  base.tables.some((t) => t.constraints.some((c) => c.name === name))
    ? {
        ...base,
        tables: base.tables.map((t) => ({ ...t, constraints: t.constraints.filter((c) => c.name !== name) })),
      }
    : base;

const cases: Case[] = [
  {
    name: "createTable",
    op: (safe) => build.buildCreateTable(ctx, "users", { columns: [{ name: "id", type: "bigint" }] }, safe),
    skipState: base,
    applyState: withoutUsers,
    reason: 'table "users" already exists',
    strictSql: 'CREATE TABLE "public"."users" (\n  "id" bigint\n)',
    safeSql: 'CREATE TABLE IF NOT EXISTS "public"."users" (\n  "id" bigint\n)',
  },
  {
    name: "dropTable",
    op: (safe) => build.buildDropTable(ctx, "users", { cascade: true }, safe),
    skipState: withoutUsers,
    applyState: base,
    reason: 'table "users" does not exist',
    strictSql: 'DROP TABLE "public"."users" CASCADE',
    safeSql: 'DROP TABLE IF EXISTS "public"."users" CASCADE',
  },
  {
    name: "addColumn",
    op: (safe) => build.buildAddColumn(ctx, "users", { name: "email", type: "text" }, safe),
    skipState: base,
    applyState: withoutEmail,
    reason: 'column "users"."email" already exists',
    strictSql: 'ALTER TABLE "public"."users" ADD COLUMN "email" text',
    safeSql: 'ALTER TABLE "public"."users" ADD COLUMN IF NOT EXISTS "email" text',
  },
  {
    name: "dropColumn",
    op: (safe) => build.buildDropColumn(ctx, "users", "email", undefined, safe),
    skipState: withoutEmail,
    applyState: base,
    reason: 'column "users"."email" does not exist',
    strictSql: 'ALTER TABLE "public"."users" DROP COLUMN "email"',
    safeSql: 'ALTER TABLE "public"."users" DROP COLUMN IF EXISTS "email"',
  },
  {
    name: "createIndex",
    op: (safe) => build.buildCreateIndex(ctx, "ix_users_age", "users", ["age"], undefined, safe),
    skipState: base,
    applyState: withoutIndex,
    reason: 'index "ix_users_age" already exists',
    strictSql: 'CREATE INDEX "ix_users_age" ON "public"."users" ("age")',
    safeSql: 'CREATE INDEX IF NOT EXISTS "ix_users_age" ON "public"."users" ("age")',
  },
  {
    name: "dropIndex",
    op: (safe) => build.buildDropIndex(ctx, "ix_users_age", undefined, safe),
    skipState: withoutIndex,
    applyState: base,
    reason: 'index "ix_users_age" does not exist',
    strictSql: 'DROP INDEX "public"."ix_users_age"',
    safeSql: 'DROP INDEX IF EXISTS "public"."ix_users_age"',
  },
  {
    name: "createForeignKey",
    op: (safe) => build.buildCreateForeignKey(ctx, "fk_orders_user", "orders", ["user_id"], "users", ["id"], { onDelete: "cascade" }, safe),
    skipState: base,
    applyState: withoutConstraint("fk_orders_user"),
    reason: 'constraint "fk_orders_user" on table "orders" already exists',
    strictSql:
      'ALTER TABLE "public"."orders" ADD CONSTRAINT "fk_orders_user" FOREIGN KEY ("user_id") REFERENCES "public"."users" ("id") ON DELETE CASCADE',
    safeSql:
      'ALTER TABLE "public"."orders" ADD CONSTRAINT "fk_orders_user" FOREIGN KEY ("user_id") REFERENCES "public"."users" ("id") ON DELETE CASCADE',
  },
  {
    name: "addUniqueConstraint",
    op: (safe) => build.buildAddUniqueConstraint(ctx, "uq_users_email", "users", ["email"], safe),
    skipState: base,
    applyState: withoutConstraint("uq_users_email"),
    reason: 'constraint "uq_users_email" on table "users" already exists',
    strictSql: 'ALTER TABLE "public"."users" ADD CONSTRAINT "uq_users_email" UNIQUE ("email")',
    safeSql: 'ALTER TABLE "public"."users" ADD CONSTRAINT "uq_users_email" UNIQUE ("email")',
  },
  {
    name: "addCheckConstraint",
    op: (safe) => build.buildAddCheckConstraint(ctx, "ck_age", "users", "age >= 0", undefined, safe),
    skipState: base,
    applyState: withoutConstraint("ck_age"),
    reason: 'constraint "ck_age" on table "users" already exists',
    strictSql: 'ALTER TABLE "public"."users" ADD CONSTRAINT "ck_age" CHECK (age >= 0)',
    safeSql: 'ALTER TABLE "public"."users" ADD CONSTRAINT "ck_age" CHECK (age >= 0)',
  },
  {
    name: "dropConstraint",
    op: (safe) => build.buildDropConstraint(ctx, "users", "ck_age", undefined, safe),
    skipState: withoutConstraint("ck_age"),
    applyState: base,
    reason: 'constraint "ck_age" on table "users" does not exist',
    strictSql: 'ALTER TABLE "public"."users" DROP CONSTRAINT "ck_age"',
    safeSql: 'ALTER TABLE "public"."users" DROP CONSTRAINT IF EXISTS "ck_age"',
  },
];

describe.each(cases)("$name", (c) => {
  describe("where the object is in the state the operation changes", () => {
    it("the plain form runs under upgrade", () => {
      expect(sqlOf(plan(c.op(false), c.applyState, "strict"))).toEqual([c.strictSql]);
    });
    it("the plain form runs under safe-upgrade, guarded as the safe form is", () => {
      expect(sqlOf(plan(c.op(false), c.applyState, "safe"))).toEqual([c.safeSql]);
    });
    it("the safe form runs under either mode", () => {
      expect(sqlOf(plan(c.op(true), c.applyState, "strict"))).toEqual([c.safeSql]);
      expect(sqlOf(plan(c.op(true), c.applyState, "safe"))).toEqual([c.safeSql]);
    });
    it("afterwards the snapshot is in the state the safe form skips", () => {
      const applied = plan(c.op(false), c.applyState, "strict");
      if (applied.kind !== "apply") throw new Error("expected apply");
      expect(plan(c.op(true), applied.snapshot, "strict")).toEqual({ kind: "skip", reason: c.reason });
    });
  });

  describe("where the object is already in the target state", () => {
    it("the safe form skips, naming the object", () => {
      expect(plan(c.op(true), c.skipState, "strict")).toEqual({ kind: "skip", reason: c.reason });
      expect(plan(c.op(true), c.skipState, "safe")).toEqual({ kind: "skip", reason: c.reason });
    });
    it("the plain form skips under safe-upgrade", () => {
      expect(plan(c.op(false), c.skipState, "safe")).toEqual({ kind: "skip", reason: c.reason });
    });
    it("the plain form is sent under upgrade, so the database refuses it with its own message", () => {
      expect(sqlOf(plan(c.op(false), c.skipState, "strict"))).toEqual([c.strictSql]);
    });
  });
});

describe("alterColumn", () => {
  const op = build.buildAlterColumn(ctx, "users", "email", { type: "varchar(100)", nullable: false });

  it("sends every change under upgrade", () => {
    expect(sqlOf(plan(op, base, "strict"))).toEqual([
      'ALTER TABLE "public"."users" ALTER COLUMN "email" TYPE varchar(100), ALTER COLUMN "email" SET NOT NULL',
    ]);
  });

  it("under safe-upgrade leaves out what the column already has", () => {
    expect(sqlOf(plan(op, base, "safe"))).toEqual(['ALTER TABLE "public"."users" ALTER COLUMN "email" SET NOT NULL']);
  });

  it("under safe-upgrade skips when nothing is left to change", () => {
    const done = build.buildAlterColumn(ctx, "users", "email", { type: "character varying(100)", nullable: true });
    expect(plan(done, base, "safe")).toEqual({
      kind: "skip",
      reason: 'column "users"."email" already has the requested type character varying(100), NULL',
    });
    const noDefault = build.buildAlterColumn(ctx, "users", "email", { default: null });
    expect(plan(noDefault, base, "safe")).toMatchObject({ kind: "skip" });
    // A default cannot be compared to PostgreSQL's rewrite of it, so setting one always runs.
    expect(plan(build.buildAlterColumn(ctx, "users", "age", { default: 0 }), base, "safe")).toMatchObject({ kind: "apply" });
  });

  it("does not hide a missing column", () => {
    expect(plan(build.buildAlterColumn(ctx, "users", "nope", { nullable: false }), base, "safe")).toMatchObject({ kind: "apply" });
  });

  it("updates the snapshot", () => {
    const p = plan(build.buildAlterColumn(ctx, "users", "age", { type: "bigint", nullable: false, default: null }), base, "strict");
    if (p.kind !== "apply") throw new Error("expected apply");
    expect(findColumn(findTable(p.snapshot, { schema: "public", name: "users" })!, "age")).toMatchObject({
      type: "bigint",
      nullable: false,
      default: null,
    });
  });
});

describe("renames", () => {
  const renamed = withTable(base, "users", (t) => ({ ...t, name: "people" }));

  it("renameTable runs when the old name exists", () => {
    expect(sqlOf(plan(build.buildRenameTable(ctx, "users", "people"), base, "safe"))).toEqual([
      'ALTER TABLE "public"."users" RENAME TO "people"',
    ]);
  });

  it("renameTable skips under safe-upgrade when only the new name exists, and is sent under upgrade", () => {
    const op = build.buildRenameTable(ctx, "users", "people");
    expect(plan(op, renamed, "safe")).toEqual({ kind: "skip", reason: 'table "users" was already renamed to "people"' });
    expect(plan(op, renamed, "strict")).toMatchObject({ kind: "apply" });
  });

  it("renameTable carries foreign keys that point at the table along", () => {
    const p = plan(build.buildRenameTable(ctx, "users", "people"), base, "strict");
    if (p.kind !== "apply") throw new Error("expected apply");
    const fk = findTable(p.snapshot, { schema: "public", name: "orders" })!.constraints[0]!;
    expect(fk).toMatchObject({ references: { schema: "public", table: "people", columns: ["id"] } });
  });

  it("renameColumn skips under safe-upgrade when already renamed, and renames keys, indexes and references", () => {
    const op = build.buildRenameColumn(ctx, "users", "id", "user_id");
    const p = plan(op, base, "safe");
    if (p.kind !== "apply") throw new Error("expected apply");
    const table = findTable(p.snapshot, { schema: "public", name: "users" })!;
    expect(table.columns.map((c) => c.name)).toEqual(["user_id", "email", "age"]);
    expect(table.constraints.find((c) => c.name === "users_pkey")).toMatchObject({ columns: ["user_id"] });
    expect(table.indexes.find((i) => i.name === "users_pkey")).toMatchObject({ columns: ["user_id"] });
    expect(findTable(p.snapshot, { schema: "public", name: "orders" })!.constraints[0]).toMatchObject({
      references: { columns: ["user_id"] },
    });
    expect(plan(op, p.snapshot, "safe")).toEqual({ kind: "skip", reason: 'column "users"."id" was already renamed to "user_id"' });
    expect(plan(op, p.snapshot, "strict")).toMatchObject({ kind: "apply" });
  });
});

describe("indexes", () => {
  it("names the other table when an index of that name belongs to it", () => {
    const op = build.buildCreateIndex(ctx, "ix_users_age", "orders", ["id"], undefined, true);
    expect(plan(op, base, "strict")).toEqual({ kind: "skip", reason: 'index "ix_users_age" already exists (on table "users")' });
  });

  it("rebuilds an invalid index a failed CREATE INDEX CONCURRENTLY left behind", () => {
    const broken = withTable(base, "users", (t) => ({
      ...t,
      indexes: t.indexes.map((i) => (i.name === "ix_users_age" ? { ...i, valid: false } : i)),
    }));
    const op = build.buildCreateIndex(ctx, "ix_users_age", "users", ["age"], { concurrently: true }, true);
    const p = plan(op, broken, "safe");
    expect(sqlOf(p)).toEqual([
      'DROP INDEX CONCURRENTLY IF EXISTS "public"."ix_users_age"',
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_users_age" ON "public"."users" ("age")',
    ]);
    // Asserted outright: a skip must fail here, not pass this check silently.
    expect(p.kind).toBe("apply");
    const { snapshot } = p as Extract<Plan, { kind: "apply" }>;
    expect(findIndex(snapshot, { schema: "public", name: "ix_users_age" })?.index.valid).toBe(true);
  });

  it("shows the schema of an index outside the default schema", () => {
    const op = build.buildDropIndex(ctx, "app.ix_gone", undefined, true);
    expect(plan(op, base, "safe")).toEqual({ kind: "skip", reason: 'index "app"."ix_gone" does not exist' });
  });
});

describe("snapshot effects", () => {
  const apply = (op: Operation, snapshot: SchemaSnapshot = base): SchemaSnapshot => {
    const p = plan(op, snapshot, "strict");
    if (p.kind !== "apply") throw new Error(`expected apply: ${p.reason}`);
    return p.snapshot;
  };

  it("createTable adds the table with its constraints and their indexes", () => {
    const next = apply(
      build.buildCreateTable(
        ctx,
        "app.items",
        {
          columns: [
            { name: "id", type: "serial", primaryKey: true },
            { name: "sku", type: "varchar(20)", unique: true, nullable: false },
            { name: "user_id", type: "int8", references: { table: "users", column: "id" } },
          ],
        },
        false,
      ),
    );
    expect(findTable(next, { schema: "app", name: "items" })).toEqual({
      schema: "app",
      name: "items",
      columns: [
        { name: "id", type: "integer", nullable: false, default: "nextval('app.items_id_seq'::regclass)", identity: null, generated: null },
        { name: "sku", type: "character varying(20)", nullable: false, default: null, identity: null, generated: null },
        { name: "user_id", type: "bigint", nullable: true, default: null, identity: null, generated: null },
      ],
      constraints: [
        { kind: "primaryKey", name: "items_pkey", columns: ["id"] },
        { kind: "unique", name: "items_sku_key", columns: ["sku"] },
        {
          kind: "foreignKey",
          name: "items_user_id_fkey",
          columns: ["user_id"],
          references: { schema: "public", table: "users", columns: ["id"] },
          onDelete: "no action",
          onUpdate: "no action",
          validated: true,
        },
      ],
      indexes: [
        { name: "items_pkey", columns: ["id"], unique: true, method: "btree", where: null, constraint: true, valid: true },
        { name: "items_sku_key", columns: ["sku"], unique: true, method: "btree", where: null, constraint: true, valid: true },
      ],
    });
    expect(next.tables.map((t) => `${t.schema}.${t.name}`)).toEqual(["app.items", "public.orders", "public.users"]);
  });

  it("does not add tables in schemas the snapshot does not describe", () => {
    const next = apply(build.buildCreateTable(ctx, "elsewhere.t", { columns: [] }, false));
    expect(next).toEqual(base);
  });

  it("dropTable with CASCADE also drops the foreign keys pointing at it", () => {
    const next = apply(build.buildDropTable(ctx, "users", { cascade: true }, false));
    expect(findTable(next, { schema: "public", name: "users" })).toBeUndefined();
    expect(findTable(next, { schema: "public", name: "orders" })!.constraints).toEqual([]);
    const plain = apply(build.buildDropTable(ctx, "users", undefined, false));
    expect(findTable(plain, { schema: "public", name: "orders" })!.constraints).toHaveLength(1);
  });

  it("dropColumn drops the keys and indexes on the column", () => {
    const next = apply(build.buildDropColumn(ctx, "users", "email", undefined, false));
    const table = findTable(next, { schema: "public", name: "users" })!;
    expect(table.constraints.map((c) => c.name)).toEqual(["ck_age", "users_pkey"]);
    expect(table.indexes.map((i) => i.name)).toEqual(["ix_users_age", "users_pkey"]);
  });

  it("dropConstraint drops the index backing a key", () => {
    const next = apply(build.buildDropConstraint(ctx, "users", "uq_users_email", undefined, false));
    expect(findIndex(next, { schema: "public", name: "uq_users_email" })).toBeUndefined();
  });

  it("dropConstraint with CASCADE drops the foreign keys relying on the key", () => {
    const next = apply(build.buildDropConstraint(ctx, "users", "users_pkey", { cascade: true }, false));
    expect(findTable(next, { schema: "public", name: "orders" })!.constraints).toEqual([]);
  });

  it("addColumn appends the column in table order", () => {
    const next = apply(build.buildAddColumn(ctx, "users", { name: "b", type: "bool", default: true }, false));
    expect(findTable(next, { schema: "public", name: "users" })!.columns.map((c) => [c.name, c.type, c.default])).toEqual([
      ["id", "bigint", null],
      ["email", "character varying(100)", null],
      ["age", "integer", "0"],
      ["b", "boolean", "true"],
    ]);
  });

  it("later operations of the same run see earlier ones", () => {
    let snapshot: SchemaSnapshot = base;
    const steps: Plan[] = [];
    for (const op of [
      build.buildCreateTable(ctx, "tags", { columns: [{ name: "id", type: "int" }] }, true),
      build.buildAddColumn(ctx, "tags", { name: "label", type: "text" }, true),
      build.buildAddColumn(ctx, "tags", { name: "label", type: "text" }, true),
      build.buildCreateIndex(ctx, "ix_tags_label", "tags", ["label"], undefined, true),
      build.buildCreateIndex(ctx, "ix_tags_label", "tags", ["label"], undefined, true),
      build.buildDropTable(ctx, "tags", undefined, true),
      build.buildDropIndex(ctx, "ix_tags_label", undefined, true),
    ]) {
      const p = plan(op, snapshot, "safe");
      steps.push(p);
      if (p.kind === "apply") snapshot = p.snapshot;
    }
    expect(steps.map((s) => (s.kind === "skip" ? s.reason : "apply"))).toEqual([
      "apply",
      "apply",
      'column "tags"."label" already exists',
      "apply",
      'index "ix_tags_label" already exists',
      "apply",
      'index "ix_tags_label" does not exist',
    ]);
    expect(snapshot).toEqual(base);
  });
});

describe("execute and insertRows", () => {
  it("execute always runs; DDL marks the snapshot stale, DML does not", () => {
    const ddl = plan(build.buildExecute("CREATE TABLE x (a int); UPDATE y SET a = 1", undefined, null), base, "safe");
    expect(ddl).toMatchObject({ kind: "apply", stale: true, snapshot: base });
    const dml = plan(build.buildExecute("UPDATE users SET age = :age", { age: 1 }, null), base, "safe");
    expect(dml).toEqual({
      kind: "apply",
      statements: [{ sql: "UPDATE users SET age = :age", params: { age: 1 } }],
      snapshot: base,
      stale: false,
    });
  });

  it("insertRows casts to the types the snapshot knows and goes ON CONFLICT DO NOTHING under safe-upgrade", () => {
    const op = build.buildInsertRows(ctx, "users", [{ id: 1, email: "a@x" }], false);
    expect(plan(op, base, "strict")).toMatchObject({
      kind: "apply",
      statements: [
        {
          sql: 'INSERT INTO "public"."users" ("id", "email") VALUES (CAST(:p0 AS bigint), CAST(:p1 AS character varying(100)))',
          params: { p0: 1, p1: "a@x" },
        },
      ],
    });
    expect(sqlOf(plan(op, base, "safe"))[0]).toMatch(/ON CONFLICT DO NOTHING$/);
    expect(sqlOf(plan(op, withoutUsers, "strict"))[0]).toBe('INSERT INTO "public"."users" ("id", "email") VALUES (:p0, :p1)');
  });

  it("insertRows of no rows is skipped", () => {
    expect(plan(build.buildInsertRows(ctx, "users", [], false), base, "strict")).toEqual({
      kind: "skip",
      reason: 'no rows to insert into table "users"',
    });
  });
});

describe("NOT VALID constraints and their validation", () => {
  const notValid = (name: string) =>
    deepFreeze({
      ...base,
      tables: base.tables.map((t) => ({
        ...t,
        constraints: t.constraints.map((c) => (c.name === name && (c.kind === "check" || c.kind === "foreignKey") ? { ...c, validated: false } : c)),
      })),
    });
  const constraintOf = (snapshot: SchemaSnapshot, table: string, name: string) =>
    findTable(snapshot, { schema: "public", name: table })!.constraints.find((c) => c.name === name);

  it("addCheckConstraint { notValid: true } renders NOT VALID and leaves the check unvalidated in the snapshot", () => {
    const op = build.buildAddCheckConstraint(ctx, "ck_email", "users", "email <> ''", { notValid: true }, true);
    const p = plan(op, base, "safe");
    expect(sqlOf(p)).toEqual([`ALTER TABLE "public"."users" ADD CONSTRAINT "ck_email" CHECK (email <> '') NOT VALID`]);
    // A NOT VALID constraint is added in the migration's transaction: its lock is brief.
    expect((p as Extract<Plan, { kind: "apply" }>).statements[0]!.transaction).toBeUndefined();
    expect(constraintOf((p as Extract<Plan, { kind: "apply" }>).snapshot, "users", "ck_email")).toEqual({
      kind: "check",
      name: "ck_email",
      expression: "email <> ''",
      validated: false,
    });
    // The safe form still skips a check of that name, validated or not.
    expect(plan(op, notValid("ck_age"), "safe")).toMatchObject({ kind: "apply" });
    expect(plan(build.buildAddCheckConstraint(ctx, "ck_age", "users", "age >= 0", { notValid: true }, true), notValid("ck_age"), "strict")).toEqual({
      kind: "skip",
      reason: 'constraint "ck_age" on table "users" already exists',
    });
  });

  it("createForeignKey { notValid: true } leaves the foreign key unvalidated in the snapshot", () => {
    const op = build.buildCreateForeignKey(ctx, "fk_orders_user", "orders", ["user_id"], "users", ["id"], { notValid: true }, true);
    const p = plan(op, withTable(base, "orders", (t) => ({ ...t, constraints: [] })), "safe");
    expect(sqlOf(p)[0]).toMatch(/NOT VALID$/);
    expect(constraintOf((p as Extract<Plan, { kind: "apply" }>).snapshot, "orders", "fk_orders_user")).toMatchObject({ validated: false });
  });

  describe.each([
    { what: "a check", table: "users", name: "ck_age" },
    { what: "a foreign key", table: "orders", name: "fk_orders_user" },
  ])("validateConstraint of $what", ({ table, name }) => {
    const sqlText = `ALTER TABLE "public"."${table}" VALIDATE CONSTRAINT "${name}"`;
    const reason = `constraint "${name}" on table "${table}" is already validated`;

    it("runs on a NOT VALID constraint, in a transaction of its own, and the snapshot has it validated", () => {
      for (const safe of [false, true]) {
        for (const mode of ["safe", "strict"] as const) {
          const p = plan(build.buildValidateConstraint(ctx, table, name, safe), notValid(name), mode);
          expect(sqlOf(p)).toEqual([sqlText]);
          const applied = p as Extract<Plan, { kind: "apply" }>;
          expect(applied.statements.map((s) => s.transaction)).toEqual(["own"]);
          expect(constraintOf(applied.snapshot, table, name)).toMatchObject({ validated: true });
          expect(plan(build.buildValidateConstraint(ctx, table, name, true), applied.snapshot, "strict")).toEqual({ kind: "skip", reason });
        }
      }
    });

    it("the safe form skips a validated constraint; the plain form does under safe-upgrade and is sent under upgrade", () => {
      expect(plan(build.buildValidateConstraint(ctx, table, name, true), base, "strict")).toEqual({ kind: "skip", reason });
      expect(plan(build.buildValidateConstraint(ctx, table, name, false), base, "safe")).toEqual({ kind: "skip", reason });
      expect(sqlOf(plan(build.buildValidateConstraint(ctx, table, name, false), base, "strict"))).toEqual([sqlText]);
    });
  });

  it("validateConstraint does not hide a missing constraint: the database reports it", () => {
    expect(sqlOf(plan(build.buildValidateConstraint(ctx, "users", "ck_nope", true), base, "safe"))).toEqual([
      'ALTER TABLE "public"."users" VALIDATE CONSTRAINT "ck_nope"',
    ]);
  });

  it("a primary key or unique constraint is always valid: the safe form skips it", () => {
    expect(plan(build.buildValidateConstraint(ctx, "users", "uq_users_email", true), base, "safe")).toMatchObject({ kind: "skip" });
  });
});

describe("setNotNull", () => {
  const check = "users_email_not_null_check";
  const ADD = `ALTER TABLE "public"."users" ADD CONSTRAINT "${check}" CHECK ("email" IS NOT NULL) NOT VALID`;
  const VALIDATE = `ALTER TABLE "public"."users" VALIDATE CONSTRAINT "${check}"`;
  const SET = 'ALTER TABLE "public"."users" ALTER COLUMN "email" SET NOT NULL';
  const DROP = `ALTER TABLE "public"."users" DROP CONSTRAINT IF EXISTS "${check}"`;
  const op = (safe: boolean) => build.buildSetNotNull(ctx, "users", "email", safe);

  /** users as a run stopped after `done` of the four steps (each commits on its own) left it. */
  const after = (done: number): SchemaSnapshot =>
    withTable(base, "users", (t) => ({
      ...t,
      columns: t.columns.map((c) => (c.name === "email" && done >= 3 ? { ...c, nullable: false } : c)),
      constraints:
        done >= 1 && done < 4
          ? [...t.constraints, { kind: "check", name: check, expression: "(email IS NOT NULL)", validated: done >= 2 }]
          : t.constraints,
    }));

  it("from a nullable column: adds the check NOT VALID, validates it, sets NOT NULL and drops the check, each in its own transaction", () => {
    for (const mode of ["safe", "strict"] as const) {
      for (const safe of [true, false]) {
        const p = plan(op(safe), base, mode);
        expect(sqlOf(p)).toEqual([ADD, VALIDATE, SET, DROP]);
        expect((p as Extract<Plan, { kind: "apply" }>).statements.map((s) => s.transaction)).toEqual(["own", "own", "own", "own"]);
      }
    }
  });

  it("after a run stopped between steps, goes on from the step it reached", () => {
    expect(sqlOf(plan(op(true), after(1), "safe"))).toEqual([VALIDATE, SET, DROP]);
    expect(sqlOf(plan(op(true), after(2), "safe"))).toEqual([SET, DROP]);
    expect(sqlOf(plan(op(true), after(3), "safe"))).toEqual([DROP]);
    // Under safe-upgrade the plain form does the same.
    expect(sqlOf(plan(op(false), after(1), "safe"))).toEqual([VALIDATE, SET, DROP]);
    for (const done of [1, 2, 3]) {
      const p = plan(op(true), after(done), "safe") as Extract<Plan, { kind: "apply" }>;
      expect(p.statements.every((s) => s.transaction === "own")).toBe(true);
      // Wherever it starts, it ends where all four steps end.
      expect(p.snapshot).toEqual(after(4));
    }
  });

  it("skips a column that is already NOT NULL, and says so", () => {
    const reason = 'column "users"."email" is already NOT NULL';
    expect(plan(op(true), after(4), "strict")).toEqual({ kind: "skip", reason });
    expect(plan(op(false), after(4), "safe")).toEqual({ kind: "skip", reason });
    // Under upgrade the plain form is sent as written: its steps are harmless on a NOT NULL column.
    expect(sqlOf(plan(op(false), after(4), "strict"))).toEqual([ADD, VALIDATE, SET, DROP]);
  });

  it("afterwards the snapshot has the column NOT NULL and no helper check", () => {
    const p = plan(op(true), base, "safe") as Extract<Plan, { kind: "apply" }>;
    const users = findTable(p.snapshot, { schema: "public", name: "users" })!;
    expect(findColumn(users, "email")?.nullable).toBe(false);
    expect(users.constraints.map((c) => c.name)).toEqual(["ck_age", "uq_users_email", "users_pkey"]);
    expect(plan(op(true), p.snapshot, "safe")).toMatchObject({ kind: "skip" });
  });

  it("does not hide a missing column or table: the database reports it", () => {
    expect(sqlOf(plan(build.buildSetNotNull(ctx, "users", "nope", true), base, "safe"))).toHaveLength(4);
    expect(sqlOf(plan(build.buildSetNotNull(ctx, "nope", "email", true), base, "safe"))).toHaveLength(4);
  });
});

describe("statements that cannot run in a transaction", () => {
  const transactions = (p: Plan) => (p as Extract<Plan, { kind: "apply" }>).statements.map((s) => s.transaction);

  it("createIndex and dropIndex CONCURRENTLY are marked to run outside any transaction", () => {
    expect(transactions(plan(build.buildCreateIndex(ctx, "ix_users_email", "users", ["email"], { concurrently: true }, true), base, "safe"))).toEqual(["none"]);
    expect(transactions(plan(build.buildDropIndex(ctx, "ix_users_age", { concurrently: true }, true), base, "safe"))).toEqual(["none"]);
  });

  it("the rebuild of an invalid index drops and creates it CONCURRENTLY, both outside any transaction", () => {
    const broken = withTable(base, "users", (t) => ({
      ...t,
      indexes: t.indexes.map((i) => (i.name === "ix_users_age" ? { ...i, valid: false } : i)),
    }));
    const p = plan(build.buildCreateIndex(ctx, "ix_users_age", "users", ["age"], { concurrently: true }, false), broken, "safe");
    expect(transactions(p)).toEqual(["none", "none"]);
    // Without CONCURRENTLY, the rebuild goes in the migration's transaction.
    const plain = plan(build.buildCreateIndex(ctx, "ix_users_age", "users", ["age"], undefined, true), broken, "safe");
    expect(sqlOf(plain)).toEqual([
      'DROP INDEX IF EXISTS "public"."ix_users_age"',
      'CREATE INDEX IF NOT EXISTS "ix_users_age" ON "public"."users" ("age")',
    ]);
    expect(transactions(plain)).toEqual([undefined, undefined]);
  });

  it("other statements are not marked: they go in the migration's transaction", () => {
    expect(transactions(plan(build.buildCreateIndex(ctx, "ix_users_email", "users", ["email"], undefined, true), base, "safe"))).toEqual([undefined]);
    expect(transactions(plan(build.buildExecute("CREATE INDEX CONCURRENTLY ix ON users (email)", undefined, null), base, "safe"))).toEqual([undefined]);
  });
});
