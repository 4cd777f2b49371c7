// `retort diff`: the heads' schema (built on a scratch PGlite) against a database and against a
// SQL schema file. The same schema is no difference (retort's own tables do not count); a column
// added by hand, an index dropped by hand and a changed type are each named; a bad reference is a
// usage error naming the file and the statement.
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../lib/runner/database.ts";
import { diff } from "../../lib/runner/diff.ts";
import { UsageError } from "../../lib/runner/revision.ts";
import { safeUpgrade } from "../../lib/runner/upgrade.ts";
import { type InlineMigration, memorySource } from "../support/memory-source.ts";

const root = path.resolve(import.meta.dirname, "../..");
const scratch = path.join(root, ".retort/test-scratch", `diff-${process.pid}`);

const migrations: InlineMigration[] = [
  {
    revision: "d1ff00000001",
    revises: null,
    async upgrade(op) {
      await op.createTable("users", {
        columns: [
          { name: "id", type: "bigint", primaryKey: true },
          { name: "email", type: "text", nullable: false },
          { name: "name", type: "text" },
        ],
      });
    },
    async downgrade(op) {
      await op.dropTable("users");
    },
  },
  {
    revision: "d1ff00000002",
    revises: "d1ff00000001",
    async upgrade(op) {
      await op.createIndex("ix_users_email", "users", ["email"], { unique: true });
    },
    async downgrade(op) {
      await op.dropIndex("ix_users_email");
    },
  },
];

const SCHEMA_SQL = `
CREATE TABLE users (
  id bigint PRIMARY KEY,
  email text NOT NULL,
  name text
);
CREATE UNIQUE INDEX ix_users_email ON users (email);
`;

describe("retort diff", () => {
  const url = `pglite://${path.join(scratch, "db")}`;
  beforeAll(async () => {
    await mkdir(scratch, { recursive: true });
    const db = await openDatabase(url);
    try {
      expect((await safeUpgrade({ source: memorySource(migrations), database: db })).error).toBeUndefined();
    } finally {
      await db.close();
    }
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  const ctx = () => ({ source: memorySource(migrations) });

  it("a database at the heads has the heads' schema: no difference, retort's own tables aside", { timeout: 60_000 }, async () => {
    const result = await diff(ctx(), { from: url });
    expect(result).toMatchObject({ heads: ["d1ff00000002"], reference: url, same: true, differences: [] });
  });

  it("names what was changed by hand: a column added, an index dropped, a type changed", { timeout: 60_000 }, async () => {
    const db = await openDatabase(url);
    try {
      await db.executor.query("ALTER TABLE users ADD COLUMN nickname text");
      await db.executor.query("DROP INDEX ix_users_email");
      await db.executor.query("ALTER TABLE users ALTER COLUMN name TYPE varchar(80)");
    } finally {
      await db.close();
    }
    const result = await diff(ctx(), { from: url });
    expect(result.same).toBe(false);
    expect(result.differences.map((d) => d.message)).toEqual([
      "column users.name differs in the reference: type character varying(80) (expected text)",
      "column users.nickname is in the reference only",
      "index ix_users_email on users is missing from the reference",
    ]);
    expect(result.differences[1]).toMatchObject({ kind: "added", object: "column", name: "users.nickname", table: "users" });
  });

  it("--from-sql: a schema file applied to a scratch database", { timeout: 60_000 }, async () => {
    const same = path.join(scratch, "schema.sql");
    await writeFile(same, SCHEMA_SQL);
    expect(await diff(ctx(), { fromSql: same })).toMatchObject({ same: true, reference: same });

    const more = path.join(scratch, "more.sql");
    await writeFile(more, `${SCHEMA_SQL}\nCREATE TABLE teams (id int PRIMARY KEY);\n`);
    const result = await diff(ctx(), { fromSql: more });
    expect(result.differences.map((d) => d.message)).toEqual(["table teams is in the reference only"]);
  });

  it("compares enum types (values in order), sequences no column owns, views, deferrable foreign keys and included index columns; a serial's own sequence is its column's", { timeout: 60_000 }, async () => {
    const withTypes: InlineMigration = {
      revision: "d1ff00000003",
      revises: "d1ff00000002",
      async upgrade(op) {
        await op.execute("CREATE TYPE mood AS ENUM ('sad', 'ok')");
        await op.execute("CREATE VIEW named_users AS SELECT id, name FROM users WHERE name IS NOT NULL");
        await op.execute("CREATE TABLE tickets (id serial PRIMARY KEY)");
        await op.execute("CREATE TABLE teams (id int PRIMARY KEY, lead bigint REFERENCES users (id))");
        await op.execute("CREATE INDEX ix_teams_lead ON teams (lead)");
      },
      async downgrade(op) {
        await op.execute("DROP TABLE teams");
        await op.execute("DROP TABLE tickets");
        await op.execute("DROP VIEW named_users");
        await op.execute("DROP TYPE mood");
      },
    };
    const reference = path.join(scratch, "types.sql");
    await writeFile(
      reference,
      `${SCHEMA_SQL}
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE VIEW named_users AS SELECT id, email FROM users;
CREATE TABLE tickets (id serial PRIMARY KEY);
CREATE SEQUENCE invoice_numbers START 1000;
CREATE TABLE teams (id int PRIMARY KEY, lead bigint REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED);
CREATE INDEX ix_teams_lead ON teams (lead) INCLUDE (id);
`,
    );
    const result = await diff({ source: memorySource([...migrations, withTypes]) }, { fromSql: reference });
    expect(result.differences.map((d) => d.message)).toEqual([
      "constraint teams_lead_fkey on teams differs in the reference: deferrable initially deferred (expected none)",
      "index ix_teams_lead on teams differs in the reference: include id (expected none)",
      "enum type mood differs in the reference: values sad, ok, happy (expected sad, ok)",
      "sequence invoice_numbers is in the reference only",
      expect.stringMatching(/^view named_users differs in the reference: definition .*email.* \(expected .*name.*\)$/s),
    ]);
  });

  it("refuses a bad reference as a usage error naming it, before the heads are built", async () => {
    await expect(diff(ctx(), {})).rejects.toThrow(UsageError);
    await expect(diff(ctx(), { from: url, fromSql: "x.sql" })).rejects.toThrow(/give --from <database URL> or --from-sql <file>/);
    await expect(diff(ctx(), { fromSql: path.join(scratch, "nope.sql") })).rejects.toThrow(/--from-sql .*nope\.sql: cannot read it \(ENOENT\)/);
    await expect(diff(ctx(), { from: `pglite://${path.join(scratch, "no-db")}` })).rejects.toThrow(/there is no database in .*no-db/);
    const broken = path.join(scratch, "broken.sql");
    await writeFile(broken, "CREATE TABLE a (id int);\nCREATE TABLOE b (id int);\n");
    await expect(diff(ctx(), { fromSql: broken })).rejects.toThrow(/broken\.sql: statement 2 of 2 failed: syntax error at or near "TABLOE"\n {2}CREATE TABLOE b/);
  });
});
