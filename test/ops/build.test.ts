// Building operation data from what a migration wrote: names resolved, constraints named,
// mistakes refused before anything reaches the database.
import { describe, expect, it } from "vitest";
import { postgres } from "../../lib/dialect/postgres/index.ts";
import * as build from "../../lib/ops/build.ts";
import { isSafeForm } from "../../lib/schema/operation.ts";

const ctx: build.BuildContext = { defaultSchema: "public", dialect: postgres };

describe("createTable", () => {
  it("resolves names and hoists column constraints into named table constraints", () => {
    const op = build.buildCreateTable(
      ctx,
      "app.orders",
      {
        columns: [
          { name: "id", type: "bigint", primaryKey: true, identity: true },
          { name: "user_id", type: "bigint", references: { table: "users", column: "id", onDelete: "cascade" } },
          { name: "code", type: "text", unique: true },
        ],
      },
      false,
    );
    expect(op).toEqual({
      kind: "createTable",
      table: { schema: "app", name: "orders" },
      columns: [
        { name: "id", type: "bigint", nullable: false, identity: "byDefault" },
        { name: "user_id", type: "bigint", nullable: true, identity: null },
        { name: "code", type: "text", nullable: true, identity: null },
      ],
      constraints: [
        { kind: "primaryKey", name: "orders_pkey", columns: ["id"] },
        {
          kind: "foreignKey",
          name: "orders_user_id_fkey",
          columns: ["user_id"],
          references: { table: { schema: "public", name: "users" }, columns: ["id"] },
          onDelete: "cascade",
          onUpdate: "no action",
          notValid: false,
        },
        { kind: "unique", name: "orders_code_key", columns: ["code"] },
      ],
      ifNotExists: false,
    });
    expect(JSON.parse(JSON.stringify(op))).toEqual(op);
  });

  it("numbers generated names on a clash and never takes an explicit one", () => {
    const op = build.buildCreateTable(
      ctx,
      "t",
      {
        columns: [{ name: "a", type: "int", unique: true }],
        unique: [["a"], { name: "t_a_key1", columns: ["a"] }],
      },
      false,
    );
    expect(op.constraints.map((c) => c.name)).toEqual(["t_a_key", "t_a_key2", "t_a_key1"]);
  });

  it("makes primary key columns NOT NULL, as PostgreSQL does", () => {
    const op = build.buildCreateTable(ctx, "t", { columns: [{ name: "a", type: "int", nullable: true }], primaryKey: ["a"] }, false);
    expect(op.columns[0]!.nullable).toBe(false);
  });

  it.each([
    [{ columns: [{ name: "a", type: "int" }, { name: "a", type: "text" }] }, /defines column "a" twice/],
    [{ columns: [{ name: "a", type: "int" }], primaryKey: ["b"] }, /names column "b", which table "t" does not define/],
    [{ columns: [{ name: "a", type: "int", primaryKey: true }], primaryKey: ["a"] }, /both on a column and in primaryKey/],
    [
      { columns: [{ name: "a", type: "int", primaryKey: true }, { name: "b", type: "int", primaryKey: true }] },
      /marks 2 columns primaryKey; list them in primaryKey/,
    ],
    [{ columns: [{ name: "a", type: "int; DROP TABLE x" }] }, /column "a": type .* contains ";"/],
    [{ columns: [{ name: "a", type: "int", default: new Date("x") }] }, /invalid Date/],
    [{ columns: [{ name: "a", type: "int", identity: "always", default: 1 }] }, /both an identity and a default/],
    [
      { columns: [{ name: "a", type: "int", references: { table: "u", column: "id", onDelete: "explode" as never } }] },
      /onDelete of column "a" is "explode"; expected one of "no action", "restrict", "cascade", "set null", "set default"/,
    ],
    [
      { columns: [{ name: "a", type: "int" }], foreignKeys: [{ columns: ["a"], references: { table: "u", columns: ["x", "y"] } }] },
      /has 1 columns but references 2/,
    ],
    [{ columns: [{ name: "a", type: "int" }], unique: [{ name: "u", columns: ["a"] }], checks: [{ name: "u", expression: "a > 0" }] }, /"u" is used twice/],
  ])("refuses %#", (definition, message) => {
    expect(() => build.buildCreateTable(ctx, "t", definition as never, false)).toThrow(message);
  });
});

describe("the other builders", () => {
  it("puts an index in its table's schema and refuses another one", () => {
    expect(build.buildCreateIndex(ctx, "ix", "app.t", ["a"], undefined, true).index).toEqual({ schema: "app", name: "ix" });
    expect(build.buildCreateIndex(ctx, "app.ix", "app.t", ["a"], undefined, true).index).toEqual({ schema: "app", name: "ix" });
    expect(() => build.buildCreateIndex(ctx, "other.ix", "app.t", ["a"], undefined, true)).toThrow(
      /index "ix" cannot be in schema "other": PostgreSQL creates it in the schema of its table \("app"\)/,
    );
    expect(() => build.buildCreateIndex(ctx, "ix", "t", [], undefined, true)).toThrow(/at least one column/);
  });

  it("renames within a schema only", () => {
    expect(build.buildRenameTable(ctx, "app.a", "b")).toEqual({ kind: "renameTable", table: { schema: "app", name: "a" }, to: "b" });
    expect(build.buildRenameTable(ctx, "app.a", "app.b").to).toBe("b");
    expect(() => build.buildRenameTable(ctx, "app.a", "other.b")).toThrow(/renaming keeps the schema/);
  });

  it("alterColumn needs something to change, and a type for using", () => {
    expect(() => build.buildAlterColumn(ctx, "t", "a", {})).toThrow(/nothing to change on column "a" of "t"/);
    expect(() => build.buildAlterColumn(ctx, "t", "a", { using: "a::int" })).toThrow(/needs a type/);
    expect(build.buildAlterColumn(ctx, "t", "a", { default: null })).toEqual({
      kind: "alterColumn",
      table: { schema: "public", name: "t" },
      column: "a",
      default: null,
    });
  });

  it("foreign keys need as many referenced columns as columns", () => {
    expect(() => build.buildCreateForeignKey(ctx, "fk", "t", ["a", "b"], "u", ["id"], undefined, false)).toThrow(
      /foreign key "fk" has 2 columns but references 1/,
    );
  });

  it("insertRows checks rows and column names", () => {
    expect(() => build.buildInsertRows(ctx, "t", [null as never], false)).toThrow(/row 0 is not an object/);
    expect(() => build.buildInsertRows(ctx, "t", [{ ["x".repeat(64)]: 1 }], false)).toThrow(/would truncate/);
  });

  it("addCheckConstraint takes { notValid }, off by default", () => {
    expect(build.buildAddCheckConstraint(ctx, "ck", "t", "a > 0", { notValid: true }, true)).toMatchObject({ notValid: true, ifNotExists: true });
    expect(build.buildAddCheckConstraint(ctx, "ck", "t", "a > 0", undefined, false)).toMatchObject({ notValid: false });
    expect(() => build.buildAddCheckConstraint(ctx, "ck", "t", "a > 0", "NOT VALID" as never, false)).toThrow(/options of check "ck" must be an object/);
  });

  it("validateConstraint names its table and constraint", () => {
    expect(build.buildValidateConstraint(ctx, "app.orders", "fk_orders_user", true)).toEqual({
      kind: "validateConstraint",
      table: { schema: "app", name: "orders" },
      name: "fk_orders_user",
      ifNotValidated: true,
    });
    expect(() => build.buildValidateConstraint(ctx, "orders", "x".repeat(64), false)).toThrow(/would truncate/);
  });

  it("setNotNull names its helper check <table>_<column>_not_null_check, shortened as PostgreSQL shortens names", () => {
    expect(build.buildSetNotNull(ctx, "users", "Email", false)).toEqual({
      kind: "setNotNull",
      table: { schema: "public", name: "users" },
      column: "Email",
      check: { name: "users_Email_not_null_check", expression: '"Email" IS NOT NULL' },
      ifNullable: false,
    });
    const long = build.buildSetNotNull(ctx, "t".repeat(40), "c".repeat(40), true);
    expect(long.check.name).toBe(`${"t".repeat(24)}_${"c".repeat(23)}_not_null_check`);
    expect(long.check.name).toHaveLength(63);
  });

  it("knows which operations were written in their safe form", () => {
    expect(isSafeForm(build.buildValidateConstraint(ctx, "t", "ck", true))).toBe(true);
    expect(isSafeForm(build.buildValidateConstraint(ctx, "t", "ck", false))).toBe(false);
    expect(isSafeForm(build.buildSetNotNull(ctx, "t", "c", true))).toBe(true);
    expect(isSafeForm(build.buildSetNotNull(ctx, "t", "c", false))).toBe(false);
    expect(isSafeForm(build.buildDropTable(ctx, "t", undefined, true))).toBe(true);
    expect(isSafeForm(build.buildDropTable(ctx, "t", undefined, false))).toBe(false);
    expect(isSafeForm(build.buildExecute("SELECT 1", undefined, { kind: "predicate" }))).toBe(true);
    expect(isSafeForm(build.buildRenameColumn(ctx, "t", "a", "b"))).toBe(false);
  });
});
