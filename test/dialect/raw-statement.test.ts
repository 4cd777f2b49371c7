// Reading raw SQL for lint: what a statement does to which table, the cost of a type change, and
// which defaults are volatile.
import { describe, expect, it } from "vitest";
import { expressionText, readStatement } from "../../lib/dialect/postgres/raw-statement.ts";
import { typeChange } from "../../lib/dialect/postgres/type-change.ts";
import { volatileCall } from "../../lib/dialect/postgres/volatility.ts";

const t = (name: string, schema = "public") => ({ schema, name });

describe("readStatement", () => {
  it.each([
    ["DELETE FROM users", [{ kind: "delete", table: t("users"), where: false }]],
    ["delete from only app.users u where u.id = 1;", [{ kind: "delete", table: t("users", "app"), where: true }]],
    ["UPDATE users SET n = (SELECT max(x) FROM y WHERE y.a = 1)", [{ kind: "update", table: t("users"), where: false }]],
    ['TRUNCATE "Users", orders', [{ kind: "truncate", tables: [t("Users"), t("orders")] }]],
    ["INSERT INTO m (a) SELECT a FROM p ON CONFLICT DO NOTHING", [{ kind: "insertSelect", table: t("m"), where: false }]],
    ["INSERT INTO m (a) VALUES (1)", []],
    ["CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix ON ONLY app.t USING btree (a)", [{ kind: "createIndex", index: "ix", table: t("t", "app"), concurrently: true }]],
    ["create index on t (a)", [{ kind: "createIndex", index: null, table: t("t"), concurrently: false }]],
    ["CREATE TABLE IF NOT EXISTS audit (at timestamptz)", [{ kind: "createTable", table: t("audit") }]],
    ["DROP TABLE IF EXISTS a, b CASCADE", [{ kind: "dropTable", tables: [t("a"), t("b")] }]],
    [
      "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users (id) NOT VALID, ADD CONSTRAINT ck CHECK ((\"Qty\" > 0)), VALIDATE CONSTRAINT other",
      [
        { kind: "addConstraint", table: t("orders"), name: "fk", constraint: "foreignKey", notValid: true, expression: null },
        { kind: "addConstraint", table: t("orders"), name: "ck", constraint: "check", notValid: false, expression: "Qty > 0" },
        { kind: "validateConstraint", table: t("orders"), name: "other" },
      ],
    ],
    [
      "ALTER TABLE IF EXISTS users DROP COLUMN IF EXISTS email, ALTER COLUMN id SET DATA TYPE bigint, ALTER name SET NOT NULL, ADD COLUMN x int, DROP CONSTRAINT c",
      [
        { kind: "dropColumn", table: t("users"), column: "email" },
        { kind: "alterColumnType", table: t("users"), column: "id" },
        { kind: "setNotNull", table: t("users"), column: "name" },
        { kind: "addColumn", table: t("users"), column: "x" },
      ],
    ],
    ["SELECT 1", []],
    ["-- DELETE FROM users\nSELECT 'DELETE FROM users'", []],
    // PostgreSQL folds only A-Z: this table is "tÀble", and a DO body is one literal whatever its tag.
    ["ALTER TABLE TÀBLE ADD COLUMN x int", [{ kind: "addColumn", table: t("tÀble"), column: "x" }]],
    ["DELETE FROM café$$ WHERE x = 1", [{ kind: "delete", table: t("café$$"), where: true }]],
  ])("%s", (sql, facts) => {
    expect(readStatement(sql, "public")).toEqual(facts);
  });

  it("compares check expressions whatever their spelling", () => {
    expect(expressionText('("Name" IS NOT NULL)')).toBe("Name is not null");
    expect(expressionText("name is   not null")).toBe("name is not null");
  });
});

describe("typeChange", () => {
  it.each([
    ["varchar(100)", "varchar(200)", { rewrite: false, narrowing: false }],
    ["varchar(100)", "text", { rewrite: false, narrowing: false }],
    ["character varying(100)", "varchar(50)", { rewrite: true, narrowing: true }],
    ["text", "varchar(10)", { rewrite: true, narrowing: true }],
    ["integer", "bigint", { rewrite: true, narrowing: false }],
    ["bigint", "int", { rewrite: true, narrowing: true }],
    ["numeric(10,2)", "numeric(12,2)", { rewrite: false, narrowing: false }],
    ["numeric(10,2)", "numeric(10,1)", { rewrite: true, narrowing: true }],
    ["integer", "numeric(12,0)", { rewrite: true, narrowing: false }],
    ["timestamptz", "date", { rewrite: true, narrowing: true }],
    ["text", "integer", { rewrite: true, narrowing: true }],
    ["integer", "text", { rewrite: true, narrowing: false }],
    ["timestamp(3) with time zone", "timestamptz", { rewrite: true, narrowing: false }],
  ])("%s -> %s", (from, to, expected) => {
    expect(typeChange(from, to)).toEqual(expected);
  });

  it("an unchanged type with USING still rewrites", () => {
    expect(typeChange("text", "text", true)).toEqual({ rewrite: true, narrowing: false });
  });
});

describe("volatileCall", () => {
  it.each([
    ["gen_random_uuid()", "gen_random_uuid"],
    ["md5(random()::text)", "random"],
    ["my_function(1)", "my_function"],
    ["now()", undefined],
    ["CURRENT_TIMESTAMP", undefined],
    ["'a'::text", undefined],
    ["pg_catalog.now()", undefined],
  ])("%s", (sql, expected) => {
    expect(volatileCall(sql)).toBe(expected);
  });
});
