// The schema diff: what differs between two snapshots, object by object, and how it is worded.
import { describe, expect, it } from "vitest";
import { describeDifference, diffSnapshots, type SchemaDifference } from "../../lib/schema/diff.ts";
import { introspect } from "../../lib/dialect/postgres/introspect.ts";
import type { ColumnSnapshot, SchemaSnapshot, TableSnapshot } from "../../lib/schema/snapshot.ts";
import { PgliteExecutor } from "../../lib/sql/pglite-executor.ts";

const col = (name: string, type = "text", extra: Partial<ColumnSnapshot> = {}): ColumnSnapshot => ({
  name,
  type,
  nullable: true,
  default: null,
  identity: null,
  generated: null,
  ...extra,
});

const users = (extra: Partial<TableSnapshot> = {}): TableSnapshot => ({
  schema: "public",
  name: "users",
  columns: [col("id", "bigint", { nullable: false }), col("name")],
  constraints: [{ kind: "primaryKey", name: "users_pkey", columns: ["id"] }],
  indexes: [
    { name: "users_pkey", columns: ["id"], unique: true, method: "btree", where: null, constraint: true, valid: true },
  ],
  ...extra,
});

const snap = (tables: TableSnapshot[], schemas = ["public"]): SchemaSnapshot => ({ schemas, tables });

const downgrade = {
  added: "still present after downgrade",
  removed: "missing after downgrade",
  changed: "changed after downgrade",
};
const lines = (diffs: SchemaDifference[]) => diffs.map((d) => describeDifference(d, downgrade));

describe("diffSnapshots", () => {
  it("finds nothing between equal snapshots", () => {
    expect(diffSnapshots(snap([users()]), snap([users()]))).toEqual([]);
  });

  it("names a column left behind and one that went missing", () => {
    const before = users();
    const after = users({ columns: [col("id", "bigint", { nullable: false }), col("email", "character varying(100)")] });
    const diffs = diffSnapshots(snap([before]), snap([after]));
    expect(diffs).toEqual([
      { kind: "added", object: "column", name: "users.email", table: "users" },
      { kind: "removed", object: "column", name: "users.name", table: "users" },
    ]);
    expect(lines(diffs)).toEqual([
      "column users.email still present after downgrade",
      "column users.name missing after downgrade",
    ]);
  });

  it("reports a whole table once, not once per column", () => {
    const orders: TableSnapshot = { schema: "public", name: "orders", columns: [col("id")], constraints: [], indexes: [] };
    expect(lines(diffSnapshots(snap([users()]), snap([orders, users()])))).toEqual(["table orders still present after downgrade"]);
    expect(lines(diffSnapshots(snap([orders, users()]), snap([users()])))).toEqual(["table orders missing after downgrade"]);
  });

  it("says which properties of a column changed, with both values", () => {
    const after = users({ columns: [col("id", "integer", { nullable: false }), col("name", "text", { default: "'x'::text" })] });
    expect(lines(diffSnapshots(snap([users()]), snap([after])))).toEqual([
      "column users.id changed after downgrade: type integer (expected bigint)",
      "column users.name changed after downgrade: default 'x'::text (expected none)",
    ]);
  });

  it("reports an index without also reporting the index of a constraint", () => {
    const ix = { name: "ix_users_name", columns: ["name"], unique: false, method: "btree", where: null, constraint: false, valid: true };
    const withIndex = users({ indexes: [...users().indexes, ix] });
    expect(lines(diffSnapshots(snap([users()]), snap([withIndex])))).toEqual(["index ix_users_name on users still present after downgrade"]);
    const noPk = users({ constraints: [], indexes: [] });
    expect(lines(diffSnapshots(snap([users()]), snap([noPk])))).toEqual(["constraint users_pkey on users missing after downgrade"]);
  });

  it("reports constraint changes (a foreign key's action, validation)", () => {
    const fk = (onDelete: "cascade" | "no action", validated = true) =>
      users({
        constraints: [
          ...users().constraints,
          {
            kind: "foreignKey",
            name: "fk_users_self",
            columns: ["id"],
            references: { schema: "public", table: "users", columns: ["id"] },
            onDelete,
            onUpdate: "no action",
            validated,
          },
        ],
      });
    expect(lines(diffSnapshots(snap([fk("cascade")]), snap([fk("no action", false)])))).toEqual([
      "constraint fk_users_self on users changed after downgrade: onDelete no action (expected cascade), validated false (expected true)",
    ]);
  });

  it("reports a check left NOT VALID and an index left INVALID (a failed concurrent build)", () => {
    const table = (validated: boolean, valid: boolean) =>
      users({
        constraints: [...users().constraints, { kind: "check", name: "ck_name", expression: "(name <> ''::text)", validated }],
        indexes: [
          ...users().indexes,
          { name: "ix_users_name", columns: ["name"], unique: false, method: "btree", where: null, constraint: false, valid },
        ],
      });
    expect(lines(diffSnapshots(snap([table(true, true)]), snap([table(false, false)])))).toEqual([
      "constraint ck_name on users changed after downgrade: validated false (expected true)",
      "index ix_users_name on users changed after downgrade: valid false (expected true)",
    ]);
  });

  it("reports a column order that differs, and schemas that appear or disappear", () => {
    const swapped = users({ columns: [col("name"), col("id", "bigint", { nullable: false })] });
    expect(lines(diffSnapshots(snap([users()]), snap([swapped])))).toEqual([
      "table users changed after downgrade: column order name, id (expected id, name)",
    ]);
    const app: TableSnapshot = { ...users(), schema: "app" };
    expect(lines(diffSnapshots(snap([users()]), snap([users(), app], ["app", "public"])))).toEqual([
      "schema app still present after downgrade",
    ]);
  });

  it("names relations outside the default schema with their schema, and quotes odd names", () => {
    const a: TableSnapshot = { schema: "app", name: "Orders", columns: [col("id")], constraints: [], indexes: [] };
    const b: TableSnapshot = { ...a, columns: [col("id"), col("Total")] };
    expect(lines(diffSnapshots(snap([a], ["app"]), snap([b], ["app"])))).toEqual([
      'column app."Orders"."Total" still present after downgrade',
    ]);
  });

  it("agrees with introspection: a real ALTER shows up as exactly that change", async () => {
    const db = await PgliteExecutor.open();
    try {
      await db.query("CREATE TABLE users (id bigint PRIMARY KEY, email text)");
      const before = await introspect(db, ["public"]);
      expect(diffSnapshots(before, await introspect(db, ["public"]))).toEqual([]);
      await db.query("CREATE INDEX ix_users_email ON users (email)");
      await db.query("ALTER TABLE users ALTER COLUMN email SET NOT NULL");
      expect(lines(diffSnapshots(before, await introspect(db, ["public"])))).toEqual([
        "column users.email changed after downgrade: nullable false (expected true)",
        "index ix_users_email on users still present after downgrade",
      ]);
    } finally {
      await db.close();
    }
  });
});
