// `retort revision --autogenerate`: the corpus. Each case is one kind of schema change: the heads
// build `base` (one migration running the SQL), the reference is `base` then `change` (a SQL file),
// and autogenerate writes the migration and proves it on scratch PGlites: applied on top of the
// heads it leaves no difference with the reference, and validate's checks of it pass (run again,
// downgrade back to the heads' schema object by object, upgrade again). The written file is read
// too: the operation it chose, and the comments it must carry (renames, lint reasons, why SQL).
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autogenerate } from "../../lib/runner/autogenerate.ts";
import { openDatabase } from "../../lib/runner/database.ts";
import { UsageError } from "../../lib/runner/revision.ts";
import { type InlineMigration, memorySource } from "../support/memory-source.ts";

const root = path.resolve(import.meta.dirname, "../..");
const scratch = path.join(root, ".retort/test-scratch", `autogenerate-${process.pid}`);

function heads(base: string): InlineMigration[] {
  return [
    {
      revision: "a070000000b1",
      revises: null,
      async upgrade(op) {
        if (base) await op.execute(base);
      },
      async downgrade() {},
    },
  ];
}

interface Case {
  name: string;
  base: string;
  change: string;
  renames?: string[];
  /** What the written upgrade must contain. */
  writes?: Array<string | RegExp>;
}

const USERS = "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text);";

const CASES: Case[] = [
  // tables
  { name: "add a table", base: "", change: "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(200) NOT NULL, created_at timestamptz NOT NULL DEFAULT now());", writes: ['op.safeCreateTable("users"'] },
  { name: "drop a table", base: USERS, change: "DROP TABLE users;", writes: ["drop-table (retort lint)", 'op.safeDropTable("users")'] },
  { name: "add a table in another schema", base: "", change: "CREATE SCHEMA app; CREATE TABLE app.orders (id bigint PRIMARY KEY);", writes: ["CREATE SCHEMA IF NOT EXISTS", '"app.orders"'] },
  { name: "drop a schema and its table", base: "CREATE SCHEMA app; CREATE TABLE app.orders (id bigint PRIMARY KEY);", change: "DROP SCHEMA app CASCADE;", writes: ["DROP SCHEMA IF EXISTS"] },
  { name: "rename a table (--rename)", base: USERS, change: "ALTER TABLE users RENAME TO accounts;", renames: ["users=accounts"], writes: ['op.renameTable("users", "accounts")'] },
  { name: "a table with a composite primary key and a unique constraint", base: "", change: "CREATE TABLE memberships (org bigint, member bigint, role text, PRIMARY KEY (org, member), CONSTRAINT uq_role UNIQUE (org, role));" },
  { name: "a table with a serial key", base: "", change: "CREATE TABLE events (id serial PRIMARY KEY, body jsonb);", writes: ['type: "serial"'] },
  { name: "a table with an identity column", base: "", change: "CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body jsonb);", writes: ['identity: "always"'] },
  { name: "a table with a generated column", base: "", change: "CREATE TABLE boxes (w int, h int, area int GENERATED ALWAYS AS (w * h) STORED);", writes: ["GENERATED ALWAYS AS"] },
  { name: "a quoted table and column name", base: "", change: 'CREATE TABLE "Order Items" ("Item Id" bigint PRIMARY KEY, "Qty" int);', writes: ['{ schema: "public", name: "Order Items" }'] },
  // columns
  { name: "add a nullable column", base: USERS, change: "ALTER TABLE users ADD COLUMN nickname text;", writes: ['op.safeAddColumn("users", { name: "nickname", type: "text" })'] },
  { name: "add a NOT NULL column with a default", base: USERS, change: "ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true;", writes: ["nullable: false", 'default: { sql: "true" }'] },
  { name: "drop a column", base: USERS, change: "ALTER TABLE users DROP COLUMN name;", writes: ["drop-column (retort lint)", 'op.safeDropColumn("users", "name")'] },
  { name: "rename a column (--rename)", base: USERS, change: "ALTER TABLE users RENAME COLUMN name TO full_name;", renames: ["users.name=full_name"], writes: ['op.renameColumn("users", "name", "full_name")'] },
  { name: "a column that may be a rename is a drop and an add, with the hint", base: USERS, change: "ALTER TABLE users RENAME COLUMN name TO full_name;", writes: ["--rename users.name=full_name", 'op.safeDropColumn("users", "name")'] },
  { name: "change a column's type (widening)", base: "CREATE TABLE t (id bigint PRIMARY KEY, code varchar(10));", change: "ALTER TABLE t ALTER COLUMN code TYPE varchar(50);", writes: ['type: "character varying(50)"'] },
  { name: "change a column's type needing USING", base: "CREATE TABLE t (id bigint PRIMARY KEY, amount text);", change: "ALTER TABLE t ALTER COLUMN amount TYPE numeric(12,2) USING amount::numeric;", writes: ['using: "\\"amount\\"::numeric(12,2)"'] },
  { name: "make a column NOT NULL", base: USERS, change: "ALTER TABLE users ALTER COLUMN name SET NOT NULL;", writes: ['op.safeSetNotNull("users", "name")'] },
  { name: "make a column nullable", base: USERS, change: "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;", writes: ["nullable: true"] },
  { name: "add a default", base: USERS, change: "ALTER TABLE users ALTER COLUMN name SET DEFAULT 'anonymous';", writes: ["default: { sql: \"'anonymous'::text\" }"] },
  { name: "change a default", base: "CREATE TABLE t (id bigint PRIMARY KEY, status text DEFAULT 'new');", change: "ALTER TABLE t ALTER COLUMN status SET DEFAULT 'open';" },
  { name: "drop a default", base: "CREATE TABLE t (id bigint PRIMARY KEY, status text DEFAULT 'new');", change: "ALTER TABLE t ALTER COLUMN status DROP DEFAULT;", writes: ["default: null"] },
  { name: "make a column an identity", base: "CREATE TABLE t (id bigint NOT NULL, v text);", change: "ALTER TABLE t ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;", writes: ["ADD GENERATED BY DEFAULT AS IDENTITY"] },
  { name: "change a generated column's expression", base: "CREATE TABLE boxes (w int, h int, area int GENERATED ALWAYS AS (w * h) STORED);", change: "ALTER TABLE boxes DROP COLUMN area; ALTER TABLE boxes ADD COLUMN area int GENERATED ALWAYS AS (w * h * 2) STORED;" },
  // constraints
  { name: "add a check constraint", base: USERS, change: "ALTER TABLE users ADD CONSTRAINT ck_email CHECK (position('@' in email) > 1);", writes: ['op.safeAddCheckConstraint("ck_email"'] },
  { name: "drop a check constraint", base: USERS + " ALTER TABLE users ADD CONSTRAINT ck_name CHECK (length(name) > 0);", change: "ALTER TABLE users DROP CONSTRAINT ck_name;", writes: ['op.safeDropConstraint("users", "ck_name")'] },
  { name: "change a check constraint", base: USERS + " ALTER TABLE users ADD CONSTRAINT ck_name CHECK (length(name) > 0);", change: "ALTER TABLE users DROP CONSTRAINT ck_name; ALTER TABLE users ADD CONSTRAINT ck_name CHECK (length(name) > 2);" },
  { name: "a check constraint NOT VALID", base: USERS, change: "ALTER TABLE users ADD CONSTRAINT ck_name CHECK (name <> '') NOT VALID;", writes: ["notValid: true"] },
  { name: "add a unique constraint", base: USERS, change: "ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE (email);", writes: ['op.safeAddUniqueConstraint("uq_users_email"'] },
  { name: "add a primary key to a table without one", base: "CREATE TABLE t (id bigint NOT NULL, v text);", change: "ALTER TABLE t ADD PRIMARY KEY (id);", writes: ["PRIMARY KEY"] },
  { name: "add a foreign key with ON DELETE", base: USERS + " CREATE TABLE posts (id bigint PRIMARY KEY, author bigint);", change: "ALTER TABLE posts ADD CONSTRAINT fk_posts_author FOREIGN KEY (author) REFERENCES users (id) ON DELETE CASCADE;", writes: ['onDelete: "cascade"'] },
  { name: "drop a foreign key", base: USERS + " CREATE TABLE posts (id bigint PRIMARY KEY, author bigint REFERENCES users (id));", change: "ALTER TABLE posts DROP CONSTRAINT posts_author_fkey;" },
  { name: "change a foreign key's actions", base: USERS + " CREATE TABLE posts (id bigint PRIMARY KEY, author bigint REFERENCES users (id));", change: "ALTER TABLE posts DROP CONSTRAINT posts_author_fkey; ALTER TABLE posts ADD CONSTRAINT posts_author_fkey FOREIGN KEY (author) REFERENCES users (id) ON DELETE SET NULL ON UPDATE CASCADE;" },
  { name: "a deferrable foreign key", base: USERS + " CREATE TABLE posts (id bigint PRIMARY KEY, author bigint);", change: "ALTER TABLE posts ADD CONSTRAINT fk_author FOREIGN KEY (author) REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED;", writes: ["DEFERRABLE INITIALLY DEFERRED"] },
  { name: "new tables referencing each other", base: "", change: "CREATE TABLE a (id bigint PRIMARY KEY, b_id bigint); CREATE TABLE b (id bigint PRIMARY KEY, a_id bigint REFERENCES a (id)); ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b (id);" },
  { name: "an exclusion constraint", base: "CREATE TABLE rooms (id bigint PRIMARY KEY, during tsrange);", change: "ALTER TABLE rooms ADD CONSTRAINT ex_rooms EXCLUDE USING gist (during WITH &&);", writes: ["EXCLUDE USING gist"] },
  // indexes
  { name: "add an index", base: USERS, change: "CREATE INDEX ix_users_name ON users (name);", writes: ['op.safeCreateIndex("ix_users_name", "users", ["name"])'] },
  { name: "drop an index", base: USERS + " CREATE INDEX ix_users_name ON users (name);", change: "DROP INDEX ix_users_name;", writes: ['op.safeDropIndex("ix_users_name")'] },
  { name: "a unique partial index", base: USERS, change: "CREATE UNIQUE INDEX ux_users_email ON users (email) WHERE name IS NOT NULL;", writes: ["unique: true", "where:"] },
  { name: "an expression index", base: USERS, change: "CREATE INDEX ix_users_lower_email ON users (lower(email));", writes: ['{ sql: "lower(email)" }'] },
  { name: "an index with another method", base: "CREATE TABLE docs (id bigint PRIMARY KEY, body jsonb);", change: "CREATE INDEX ix_docs_body ON docs USING gin (body);", writes: ['using: "gin"'] },
  { name: "an index with INCLUDE columns", base: USERS, change: "CREATE INDEX ix_users_email_incl ON users (email) INCLUDE (name);", writes: ["INCLUDE"] },
  { name: "change an index (unique)", base: USERS + " CREATE INDEX ix_users_email ON users (email);", change: "DROP INDEX ix_users_email; CREATE UNIQUE INDEX ix_users_email ON users (email);" },
  // enum types, sequences, views
  { name: "add an enum type and a column using it", base: USERS, change: "CREATE TYPE mood AS ENUM ('happy', 'sad'); ALTER TABLE users ADD COLUMN mood mood DEFAULT 'happy';", writes: ["CREATE TYPE"] },
  { name: "add enum values", base: "CREATE TYPE mood AS ENUM ('happy', 'sad'); " + USERS + " ALTER TABLE users ADD COLUMN mood mood;", change: "ALTER TYPE mood ADD VALUE 'ok' AFTER 'happy'; ALTER TYPE mood ADD VALUE 'angry';", writes: ["ADD VALUE IF NOT EXISTS 'ok' AFTER 'happy'", "transactional: false"] },
  { name: "remove an enum value", base: "CREATE TYPE mood AS ENUM ('happy', 'ok', 'sad'); " + USERS + " ALTER TABLE users ADD COLUMN mood mood DEFAULT 'ok';", change: "ALTER TABLE users ALTER COLUMN mood SET DEFAULT 'happy'; ALTER TYPE mood RENAME TO mood_old; CREATE TYPE mood AS ENUM ('happy', 'sad'); ALTER TABLE users ALTER COLUMN mood DROP DEFAULT; ALTER TABLE users ALTER COLUMN mood TYPE mood USING mood::text::mood; ALTER TABLE users ALTER COLUMN mood SET DEFAULT 'happy'; DROP TYPE mood_old;" },
  { name: "drop an enum type", base: "CREATE TYPE mood AS ENUM ('happy', 'sad');", change: "DROP TYPE mood;", writes: ["DROP TYPE IF EXISTS"] },
  { name: "add a sequence", base: "", change: "CREATE SEQUENCE invoice_numbers START 1000 INCREMENT 10;", writes: ["CREATE SEQUENCE IF NOT EXISTS"] },
  { name: "change a sequence", base: "CREATE SEQUENCE invoice_numbers;", change: "ALTER SEQUENCE invoice_numbers INCREMENT 5 MAXVALUE 99999;" },
  { name: "a column default from a sequence", base: "CREATE SEQUENCE invoice_numbers;", change: "CREATE TABLE invoices (number bigint NOT NULL DEFAULT nextval('invoice_numbers'), total numeric);", writes: ["nextval("] },
  { name: "add a view", base: USERS, change: "CREATE VIEW named_users AS SELECT id, name FROM users WHERE name IS NOT NULL;", writes: ["CREATE VIEW"] },
  { name: "change a view", base: USERS + " CREATE VIEW named_users AS SELECT id, name FROM users;", change: "CREATE OR REPLACE VIEW named_users AS SELECT id, name FROM users WHERE name IS NOT NULL;" },
  { name: "drop a column a changed view used", base: USERS + " CREATE VIEW v AS SELECT id, name FROM users;", change: "DROP VIEW v; ALTER TABLE users DROP COLUMN name; CREATE VIEW v AS SELECT id FROM users;" },
  { name: "two new views, one reading the other (created base first)", base: USERS, change: "CREATE VIEW a_named AS SELECT id, name FROM users WHERE name IS NOT NULL; CREATE VIEW z_count AS SELECT count(*) AS n FROM a_named;" },
  { name: "two views dropped, one reading the other (dropped reader first)", base: USERS + " CREATE VIEW a_named AS SELECT id, name FROM users; CREATE VIEW z_count AS SELECT count(*) AS n FROM a_named;", change: "DROP VIEW z_count; DROP VIEW a_named;" },
  { name: "a materialized view", base: USERS, change: "CREATE MATERIALIZED VIEW user_count AS SELECT count(*) AS n FROM users;", writes: ["MATERIALIZED VIEW"] },
];

describe("retort revision --autogenerate: the corpus", () => {
  beforeAll(() => mkdir(scratch, { recursive: true }));
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it("has at least 40 cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  for (const [n, c] of CASES.entries()) {
    it(`${c.name}: written, applied, no difference left; downgraded to the heads' schema`, { timeout: 120_000 }, async () => {
      const dir = path.join(scratch, `case-${n}`);
      await mkdir(path.join(dir, "migrations"), { recursive: true });
      const reference = path.join(dir, "reference.sql");
      await writeFile(reference, `${c.base}\n${c.change}\n`);
      const result = await autogenerate(
        { source: memorySource(heads(c.base)), directory: path.join(dir, "migrations") },
        { message: c.name, fromSql: reference, ...(c.renames ? { renames: c.renames } : {}) },
      );
      expect(result.written, "a migration is written").not.toBeNull();
      const text = await readFile(path.resolve(result.written!.file), "utf8");
      expect({ leftOver: result.verification?.leftOver.map((d) => d.message), findings: result.verification?.findings, file: text }).toMatchObject({
        leftOver: [],
        findings: [],
      });
      expect(result.verification?.ok).toBe(true);
      for (const w of c.writes ?? []) {
        if (typeof w === "string") expect(text).toContain(w);
        else expect(text).toMatch(w);
      }
    });
  }
});

describe("retort revision --autogenerate: bad input and nothing to do", () => {
  beforeAll(() => mkdir(scratch, { recursive: true }));

  const ctx = (dir: string) => ({ source: memorySource(heads(USERS)), directory: dir });

  it("writes nothing when the reference has the heads' schema", { timeout: 60_000 }, async () => {
    const dir = path.join(scratch, "same");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "ref.sql"), USERS);
    const result = await autogenerate(ctx(dir), { message: "nothing", fromSql: path.join(dir, "ref.sql") });
    expect(result).toMatchObject({ written: null, verification: null });
  });

  it("reads the reference from a database (--from), only reading it", { timeout: 60_000 }, async () => {
    const dir = path.join(scratch, "from-database");
    await mkdir(dir, { recursive: true });
    const url = `pglite://${path.join(dir, "db")}`;
    const db = await openDatabase(url);
    try {
      await db.executor.query(USERS);
      await db.executor.query("ALTER TABLE users ADD COLUMN nickname varchar(40)");
    } finally {
      await db.close();
    }
    const result = await autogenerate(ctx(dir), { message: "nickname", from: url });
    expect(result.verification).toMatchObject({ ok: true, leftOver: [], findings: [] });
    expect(await readFile(path.resolve(result.written!.file), "utf8")).toContain('await op.safeAddColumn("users", { name: "nickname", type: "character varying(40)" });');
  });

  it("a --rename naming nothing is a usage error naming it, and nothing is written", { timeout: 60_000 }, async () => {
    const dir = path.join(scratch, "bad-rename");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "ref.sql"), "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, full_name text);");
    const run = (rename: string) => autogenerate(ctx(dir), { message: "rename", fromSql: path.join(dir, "ref.sql"), renames: [rename] });
    await expect(run("users.nome=full_name")).rejects.toThrow(/--rename users.nome=full_name: table users has no column nome in the heads' schema/);
    await expect(run("users.name=fullname")).rejects.toThrow(/table users has no column fullname in the reference/);
    await expect(run("people=users")).rejects.toThrow(/there is no table people in the heads' schema/);
    await expect(run("users.name")).rejects.toThrow(UsageError);
    expect((await import("node:fs")).readdirSync(dir)).toEqual(["ref.sql"]);
  });

  it("needs exactly one reference and a message", async () => {
    await expect(autogenerate(ctx(scratch), { message: "x" })).rejects.toThrow(/give --from <database URL> or --from-sql <file>/);
    await expect(autogenerate(ctx(scratch), { message: " ", fromSql: "x.sql" })).rejects.toThrow(/A message is required/);
  });
});
