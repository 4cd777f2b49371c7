// Introspection: every object kind in one round trip (for a schema that fits one page), system
// schemas and retort's own tables left out, a deterministic, serialisable snapshot, and pages.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { introspect, introspectionQuery } from "../../lib/dialect/postgres/introspect.ts";
import { findTable, type SchemaSnapshot, type TableSnapshot } from "../../lib/schema/snapshot.ts";
import type { SqlExecutor } from "../../lib/sql/executor.ts";
import { CountingSession, testDatabases } from "../support/databases.ts";

const SCHEMA = `
CREATE SCHEMA app;
CREATE SCHEMA "Odd ""Schema""";
CREATE TYPE app.mood AS ENUM ('ok', 'sad');
CREATE TABLE app.orgs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  slug varchar(40) NOT NULL,
  CONSTRAINT orgs_slug_key UNIQUE (slug)
);
CREATE TABLE public."Users" (
  id serial PRIMARY KEY,
  org_id bigint REFERENCES app.orgs (id) ON DELETE CASCADE ON UPDATE SET NULL,
  "E-mail" text NOT NULL,
  score numeric(10, 2) DEFAULT 0 CHECK (score >= 0),
  tags text[] DEFAULT '{}',
  mood app.mood,
  created_at timestamptz NOT NULL DEFAULT now(),
  doubled integer GENERATED ALWAYS AS (id * 2) STORED,
  during tstzrange,
  CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&)
);
CREATE UNIQUE INDEX ix_users_email ON public."Users" (lower("E-mail")) WHERE created_at > '2020-01-01';
CREATE INDEX ix_users_org_created ON public."Users" USING btree (org_id, created_at);
CREATE INDEX ix_users_tags ON public."Users" USING gin (tags);
CREATE TABLE public.memberships (
  org_id bigint NOT NULL,
  user_id integer NOT NULL,
  PRIMARY KEY (org_id, user_id)
);
ALTER TABLE public.memberships ADD CONSTRAINT fk_user FOREIGN KEY (user_id) REFERENCES public."Users" (id) NOT VALID;
ALTER TABLE app.orgs ADD CONSTRAINT slug_lower CHECK (slug = lower(slug)) NOT VALID;
CREATE TABLE "Odd ""Schema""".a (x int);
CREATE TABLE public.retort_version (version_num text PRIMARY KEY);
CREATE TABLE app.retort_history (id int);
CREATE VIEW public.v_users AS SELECT id FROM public."Users";
CREATE SEQUENCE public.some_seq;
`;

function table(snapshot: SchemaSnapshot, schema: string, name: string): TableSnapshot {
  const found = findTable(snapshot, { schema, name });
  if (!found) throw new Error(`no table ${schema}.${name} in the snapshot`);
  return found;
}

describe.each(await testDatabases())("introspection on $name", (database) => {
  let db: SqlExecutor;
  let snapshot: SchemaSnapshot;
  let calls: number;

  beforeAll(async () => {
    db = await database.open();
    for (const statement of SCHEMA.split(";\n").map((s) => s.trim()).filter(Boolean)) await db.query(statement);
    const counting = new CountingSession(db);
    snapshot = await introspect(counting, ["public", "app", 'Odd "Schema"', "missing", "pg_catalog", "information_schema"]);
    calls = counting.count;
  });
  afterAll(async () => {
    await db?.close();
  });

  it("reads everything in one round trip with the schema list bound as a parameter", () => {
    expect(calls).toBe(1);
    const query = introspectionQuery(["public"]);
    expect(query.sql).not.toContain("public");
    expect(query.params).toMatchObject({ schemas: '["public"]' });
  });

  it("lists the schemas it describes, never the system ones", () => {
    expect(snapshot.schemas).toEqual(["Odd \"Schema\"", "app", "missing", "public"]);
    expect(snapshot.tables.map((t) => `${t.schema}.${t.name}`)).toEqual([
      'Odd "Schema".a',
      "app.orgs",
      "public.Users",
      "public.memberships",
    ]);
  });

  it("leaves out retort's own tables, views and sequences", () => {
    const names = snapshot.tables.map((t) => t.name);
    expect(names).not.toContain("retort_version");
    expect(names).not.toContain("retort_history");
    expect(names).not.toContain("v_users");
  });

  it("describes columns in table order with format_type's type names", () => {
    const users = table(snapshot, "public", "Users");
    expect(users.columns).toEqual([
      { name: "id", type: "integer", nullable: false, default: `nextval('"Users_id_seq"'::regclass)`, identity: null, generated: null },
      { name: "org_id", type: "bigint", nullable: true, default: null, identity: null, generated: null },
      { name: "E-mail", type: "text", nullable: false, default: null, identity: null, generated: null },
      { name: "score", type: "numeric(10,2)", nullable: true, default: "0", identity: null, generated: null },
      { name: "tags", type: "text[]", nullable: true, default: "'{}'::text[]", identity: null, generated: null },
      { name: "mood", type: "app.mood", nullable: true, default: null, identity: null, generated: null },
      { name: "created_at", type: "timestamp with time zone", nullable: false, default: "now()", identity: null, generated: null },
      { name: "doubled", type: "integer", nullable: true, default: null, identity: null, generated: "(id * 2)" },
      { name: "during", type: "tstzrange", nullable: true, default: null, identity: null, generated: null },
    ]);
    expect(table(snapshot, "app", "orgs").columns[0]).toMatchObject({ name: "id", identity: "always", nullable: false, default: null });
  });

  it("describes every kind of constraint, sorted by name", () => {
    const users = table(snapshot, "public", "Users");
    expect(users.constraints).toEqual([
      {
        kind: "foreignKey",
        name: "Users_org_id_fkey",
        columns: ["org_id"],
        references: { schema: "app", table: "orgs", columns: ["id"] },
        onDelete: "cascade",
        onUpdate: "set null",
        validated: true,
      },
      { kind: "primaryKey", name: "Users_pkey", columns: ["id"] },
      { kind: "check", name: "Users_score_check", expression: "(score >= (0)::numeric)", validated: true },
      { kind: "exclusion", name: "no_overlap", definition: "EXCLUDE USING gist (during WITH &&)" },
    ]);
    expect(table(snapshot, "public", "memberships").constraints).toEqual([
      {
        kind: "foreignKey",
        name: "fk_user",
        columns: ["user_id"],
        references: { schema: "public", table: "Users", columns: ["id"] },
        onDelete: "no action",
        onUpdate: "no action",
        validated: false,
      },
      { kind: "primaryKey", name: "memberships_pkey", columns: ["org_id", "user_id"] },
    ]);
    expect(table(snapshot, "app", "orgs").constraints).toEqual([
      { kind: "primaryKey", name: "orgs_pkey", columns: ["id"] },
      { kind: "unique", name: "orgs_slug_key", columns: ["slug"] },
      { kind: "check", name: "slug_lower", expression: "((slug)::text = lower((slug)::text))", validated: false },
    ]);
  });

  it("describes indexes: columns, expressions, method, uniqueness, predicate, backing constraint", () => {
    const users = table(snapshot, "public", "Users");
    expect(users.indexes).toEqual([
      { name: "Users_pkey", columns: ["id"], unique: true, method: "btree", where: null, constraint: true, valid: true },
      {
        name: "ix_users_email",
        columns: [{ expression: 'lower("E-mail")' }],
        unique: true,
        method: "btree",
        where: "created_at > '2020-01-01 00:00:00+00'::timestamp with time zone",
        constraint: false,
        valid: true,
      },
      { name: "ix_users_org_created", columns: ["org_id", "created_at"], unique: false, method: "btree", where: null, constraint: false, valid: true },
      { name: "ix_users_tags", columns: ["tags"], unique: false, method: "gin", where: null, constraint: false, valid: true },
      { name: "no_overlap", columns: ["during"], unique: false, method: "gist", where: null, constraint: true, valid: true },
    ]);
  });

  it("is plain data: JSON round-trips it unchanged, and a second read is deep-equal", async () => {
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    const again = await introspect(db, ["missing", "public", "app", 'Odd "Schema"']);
    expect(again).toEqual(snapshot);
  });

  it("reads the same snapshot in pages: by table count, and by bytes with at least one table a page", async () => {
    const schemas = ["public", "app", 'Odd "Schema"'];
    for (const bounds of [{ tables: 1, bytes: 1 << 20 }, { tables: 2, bytes: 1 << 20 }, { tables: 1000, bytes: 1 }]) {
      const counting = new CountingSession(db);
      expect(await introspect(counting, schemas, bounds)).toEqual(await introspect(db, schemas));
      // Four tables: four pages of one, or two of two (the last page knows it is the last).
      expect(counting.count, JSON.stringify(bounds)).toBe(bounds.tables === 2 ? 2 : 4);
    }
  });

  it("tells an INVALID index (left by a failed CREATE INDEX CONCURRENTLY) from a valid one", async () => {
    await db.query("CREATE SCHEMA broken");
    try {
      await db.query("CREATE TABLE broken.t (n int)");
      await db.query("INSERT INTO broken.t VALUES (1), (1)");
      await db.query("CREATE INDEX CONCURRENTLY ix_ok ON broken.t (n)");
      await expect(db.query("CREATE UNIQUE INDEX CONCURRENTLY ix_dup ON broken.t (n)")).rejects.toThrow(/could not create unique index "ix_dup"/);
      const t = table(await introspect(db, ["broken"]), "broken", "t");
      expect(t.indexes.map((i) => [i.name, i.unique, i.valid])).toEqual([
        ["ix_dup", true, false],
        ["ix_ok", false, true],
      ]);
    } finally {
      await db.query("DROP SCHEMA broken CASCADE");
    }
  });

  it("describes an empty or missing schema as having no tables", async () => {
    expect(await introspect(db, ["nothing_here"])).toEqual({ schemas: ["nothing_here"], tables: [] });
    expect(await introspect(db, [])).toEqual({ schemas: [], tables: [] });
  });
});
