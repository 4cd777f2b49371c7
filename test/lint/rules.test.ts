// One compliant and one non-compliant migration per lint rule, each linted through the real engine
// (dry run without a database), asserting the rule's own verdicts and the finding it reports:
// code, revision, operation and a message naming the object.
import { describe, expect, it } from "vitest";
import { postgres } from "../../lib/dialect/postgres/index.ts";
import { lintMigrations, type LintFinding } from "../../lib/lint/lint.ts";
import type { Compliance, LintRule } from "../../lib/lint/rule.ts";
import * as rules from "../../lib/lint/rules/index.ts";
import type { Operations } from "../../lib/ops/operations.ts";
import { RevisionMap } from "../../lib/revision/graph.ts";
import { type InlineMigration, toMigrations } from "../support/memory-source.ts";

/** users and orders exist before the migrations under test run. */
const base: InlineMigration = {
  revision: "b00000000001",
  revises: null,
  async upgrade(op) {
    await op.createTable("users", {
      columns: [
        { name: "id", type: "bigint", primaryKey: true },
        { name: "email", type: "varchar(100)" },
        { name: "name", type: "text" },
      ],
    });
    await op.createTable("orders", {
      columns: [
        { name: "id", type: "bigint", primaryKey: true },
        { name: "user_id", type: "bigint" },
      ],
    });
  },
  async downgrade(op) {
    await op.dropTable("orders");
    await op.dropTable("users");
  },
};

type Body = (op: Operations) => Promise<unknown>;
const undo: Body = (op) => op.safeDropIndex("ix_not_there");

/** Migration n (1-based after base), revising the one before it. */
function m(n: number, upgrade: Body, extra: Partial<InlineMigration> = {}): InlineMigration {
  const id = (k: number) => `b0000000000${k + 1}`;
  return { revision: id(n), revises: id(n - 1), upgrade: async (op) => void (await upgrade(op)), downgrade: async (op) => void (await undo(op)), ...extra };
}

interface Judged {
  verdicts: Compliance["kind"][];
  findings: LintFinding[];
}

/** Lints base + the migrations with only `rule`, recording what it answered (not-applicable left out). */
async function judge(rule: LintRule, ...migrations: InlineMigration[]): Promise<Judged> {
  const verdicts: Compliance["kind"][] = [];
  const spy: LintRule = {
    ...rule,
    check(subject) {
      const verdict = rule.check(subject);
      // The base migration only sets the scene.
      if (verdict.kind !== "not-applicable" && subject.migration.revision !== base.revision) verdicts.push(verdict.kind);
      return verdict;
    },
  };
  const result = await lintMigrations(new RevisionMap(toMigrations([base, ...migrations])), { rules: [spy], dialect: postgres });
  expect(result.problems).toEqual([]);
  return { verdicts, findings: result.findings.filter((f) => f.revision !== base.revision) };
}

async function compliant(rule: LintRule, ...migrations: InlineMigration[]): Promise<void> {
  const { verdicts, findings } = await judge(rule, ...migrations);
  expect(findings).toEqual([]);
  expect(verdicts).toContain("compliant");
  expect(verdicts).not.toContain("non-compliant");
}

async function nonCompliant(rule: LintRule, ...migrations: InlineMigration[]): Promise<LintFinding> {
  const { findings } = await judge(rule, ...migrations);
  expect(findings).toHaveLength(1);
  expect(findings[0]).toMatchObject({ code: rule.code, category: rule.category });
  expect(findings[0]!.saferWay.length).toBeGreaterThan(20);
  return findings[0]!;
}

describe("destructive", () => {
  it("drop-table: an existing table, not one the migration made itself", async () => {
    const f = await nonCompliant(rules.dropTable, m(1, (op) => op.dropTable("users", { cascade: true })));
    expect(f).toMatchObject({ revision: "b00000000002", operation: 'dropTable "users"', message: "drops table users and every row in it" });
    const raw = await nonCompliant(rules.dropTable, m(1, (op) => op.execute("DROP TABLE IF EXISTS orders")));
    expect(raw.message).toBe("drops table orders and every row in it");
    await compliant(
      rules.dropTable,
      m(1, async (op) => {
        await op.createTable("scratch", { columns: [{ name: "id", type: "int" }] });
        await op.dropTable("scratch");
      }),
    );
  });

  it("drop-column: an existing column, not one added by the same migration", async () => {
    const f = await nonCompliant(rules.dropColumn, m(1, (op) => op.safeDropColumn("users", "email")));
    expect(f).toMatchObject({ operation: 'dropColumn "users"."email"', message: "drops column users.email and its data" });
    expect(f.saferWay).toContain("users.email");
    await compliant(
      rules.dropColumn,
      m(1, async (op) => {
        await op.addColumn("users", { name: "tmp", type: "int" });
        await op.dropColumn("users", "tmp");
      }),
    );
  });

  it("narrow-type: varchar(100) -> varchar(50) may not fit; -> text always does", async () => {
    const f = await nonCompliant(rules.narrowType, m(1, (op) => op.alterColumn("users", "email", { type: "varchar(50)" })));
    expect(f.message).toBe(
      "changes users.email from character varying(100) to varchar(50): existing values may not fit, so the migration fails or values are cut",
    );
    await compliant(rules.narrowType, m(1, (op) => op.alterColumn("users", "email", { type: "text" })));
  });

  it("delete-all-rows: TRUNCATE and DELETE without WHERE, not a DELETE with one", async () => {
    const f = await nonCompliant(rules.deleteAllRows, m(1, (op) => op.execute("DELETE FROM users")));
    expect(f).toMatchObject({ operation: "execute DELETE FROM users", message: "DELETE without WHERE deletes every row of users" });
    const t = await nonCompliant(rules.deleteAllRows, m(1, (op) => op.execute('TRUNCATE TABLE "orders", users')));
    expect(t.message).toBe("TRUNCATE deletes every row of orders, users");
    await compliant(rules.deleteAllRows, m(1, (op) => op.execute("DELETE FROM users WHERE id = :id", { id: 1 })));
  });
});

describe("locking", () => {
  it("volatile-default: gen_random_uuid() or an identity rewrites an existing table; now() does not", async () => {
    const f = await nonCompliant(
      rules.volatileDefault,
      m(1, (op) => op.addColumn("users", { name: "token", type: "uuid", default: { sql: "gen_random_uuid()" } })),
    );
    expect(f.message).toMatch(/^adds users.token with the volatile default gen_random_uuid\(\): PostgreSQL rewrites the whole of users/);
    const identity = await nonCompliant(rules.volatileDefault, m(1, (op) => op.addColumn("orders", { name: "seq", type: "bigint", identity: true })));
    expect(identity.message).toMatch(/^adds orders.seq with an identity/);
    await compliant(
      rules.volatileDefault,
      m(1, (op) => op.addColumn("users", { name: "created_at", type: "timestamptz", nullable: false, default: { sql: "now()" } })),
    );
  });

  it("type-change-rewrite: bigint -> numeric rewrites; raising a varchar limit does not", async () => {
    const f = await nonCompliant(rules.typeChangeRewrite, m(1, (op) => op.alterColumn("users", "id", { type: "numeric" })));
    expect(f.message).toMatch(/^changes users.id from bigint to numeric: PostgreSQL rewrites users and its indexes/);
    await compliant(rules.typeChangeRewrite, m(1, (op) => op.alterColumn("users", "email", { type: "varchar(200)" })));
  });

  it("index-without-concurrently: on an existing table, unless CONCURRENTLY; a new table is fine", async () => {
    const f = await nonCompliant(rules.indexWithoutConcurrently, m(1, (op) => op.createIndex("ix_users_email", "users", ["email"])));
    expect(f).toMatchObject({
      operation: 'createIndex "ix_users_email" on "users"',
      message: "builds index ix_users_email on users without CONCURRENTLY: every write to users waits until the build ends",
    });
    expect(f.saferWay).toMatch(
      /^use op\.safeCreateIndex\("ix_users_email", "users", \["email"\], \{ concurrently: true \}\), which commits each step on its own/,
    );
    const options = await nonCompliant(
      rules.indexWithoutConcurrently,
      m(1, (op) => op.createIndex("ix_users_lower", "users", [{ sql: "lower(email)" }], { unique: true, where: "email IS NOT NULL" })),
    );
    expect(options.saferWay).toContain(
      'op.safeCreateIndex("ix_users_lower", "users", [{ sql: "lower(email)" }], { unique: true, where: "email IS NOT NULL", concurrently: true })',
    );
    const raw = await nonCompliant(rules.indexWithoutConcurrently, m(1, (op) => op.execute("CREATE INDEX ix_orders_user ON public.orders (user_id)")));
    expect(raw.message).toMatch(/^builds index ix_orders_user on orders without CONCURRENTLY/);
    expect(raw.saferWay).toMatch(/^use op\.safeCreateIndex\("ix_orders_user", "orders", \[\.\.\.\], \{ concurrently: true \}\)/);
    await compliant(
      rules.indexWithoutConcurrently,
      m(1, (op) => op.safeCreateIndex("ix_users_email", "users", ["email"], { concurrently: true }), { transactional: false }),
    );
    await compliant(
      rules.indexWithoutConcurrently,
      m(1, async (op) => {
        await op.createTable("events", { columns: [{ name: "at", type: "timestamptz" }] });
        await op.createIndex("ix_events_at", "events", ["at"]);
      }),
    );
  });

  it("constraint-without-not-valid: a validating foreign key or check on an existing table", async () => {
    const fk = await nonCompliant(
      rules.constraintWithoutNotValid,
      m(1, (op) => op.createForeignKey("fk_orders_user", "orders", ["user_id"], "users", ["id"])),
    );
    expect(fk.message).toBe("adds foreign key fk_orders_user on orders, checking every existing row while writes to orders wait");
    expect(fk.saferWay).toBe(
      'add it NOT VALID ({ notValid: true }), then validate it in a later migration: op.validateConstraint("orders", "fk_orders_user")',
    );
    const check = await nonCompliant(rules.constraintWithoutNotValid, m(1, (op) => op.addCheckConstraint("ck_users_email", "users", "email <> ''")));
    expect(check.message).toMatch(/^adds check ck_users_email on users, reading every row of users under an ACCESS EXCLUSIVE lock/);
    expect(check.saferWay).toBe(
      `add it NOT VALID: op.addCheckConstraint("ck_users_email", "users", "email <> ''", { notValid: true }), ` +
        'then validate it in a later migration: op.validateConstraint("users", "ck_users_email")',
    );
    const raw = await nonCompliant(
      rules.constraintWithoutNotValid,
      m(1, (op) => op.execute("ALTER TABLE app.orders ADD CONSTRAINT ck_orders_user CHECK (user_id > 0)")),
    );
    expect(raw.saferWay).toBe(
      "add it NOT VALID (op.addCheckConstraint(..., { notValid: true }), or NOT VALID in the SQL), " +
        'then validate it in a later migration: op.validateConstraint("app.orders", "ck_orders_user")',
    );
  });

  it("constraint-without-not-valid: op.addCheckConstraint { notValid: true } then op.validateConstraint in a later migration is compliant", async () => {
    const add = m(1, (op) => op.addCheckConstraint("ck_users_email", "users", "email <> ''", { notValid: true }));
    await compliant(rules.constraintWithoutNotValid, add, m(2, (op) => op.safeValidateConstraint("users", "ck_users_email")));
    const never = await nonCompliant(rules.constraintWithoutNotValid, add);
    expect(never.saferWay).toBe('add a later migration that runs op.validateConstraint("users", "ck_users_email")');
    const fk = m(1, (op) => op.safeCreateForeignKey("fk_orders_user", "orders", ["user_id"], "users", ["id"], { notValid: true }));
    await compliant(rules.constraintWithoutNotValid, fk, m(2, (op) => op.validateConstraint("orders", "fk_orders_user")));
    // In the same transactional migration, ADD's lock is held through the validation; outside a transaction it is not.
    const both = (op: Operations) =>
      op.addCheckConstraint("ck_users_email", "users", "email <> ''", { notValid: true }).then(() => op.validateConstraint("users", "ck_users_email"));
    const sameTx = await nonCompliant(rules.constraintWithoutNotValid, m(1, both));
    expect(sameTx.message).toMatch(/^validates check ck_users_email on users in the same transaction that adds it/);
    expect(sameTx.saferWay).toBe('move op.validateConstraint("users", "ck_users_email") to a later migration');
    await compliant(rules.constraintWithoutNotValid, m(1, both, { transactional: false }));
    // A validation before the constraint is added does not count.
    await nonCompliant(
      rules.constraintWithoutNotValid,
      m(1, (op) => op.safeValidateConstraint("users", "ck_users_email").then(() => op.addCheckConstraint("ck_users_email", "users", "email <> ''", { notValid: true }))),
    );
  });

  it("constraint-without-not-valid: NOT VALID then VALIDATE in a later migration is the way; never validating, or validating in the same transaction, is not", async () => {
    const addNotValid = m(1, (op) => op.createForeignKey("fk_orders_user", "orders", ["user_id"], "users", ["id"], { notValid: true }));
    const validate = m(2, (op) => op.execute("ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_user"));
    await compliant(rules.constraintWithoutNotValid, addNotValid, validate);
    const never = await nonCompliant(rules.constraintWithoutNotValid, addNotValid);
    expect(never.message).toBe("adds foreign key fk_orders_user on orders NOT VALID and no later migration validates it: existing rows stay unchecked");
    const sameTx = await nonCompliant(
      rules.constraintWithoutNotValid,
      m(1, async (op) => {
        await op.execute("ALTER TABLE orders ADD CONSTRAINT ck_orders_user CHECK (user_id > 0) NOT VALID");
        await op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_user");
      }),
    );
    expect(sameTx.message).toMatch(/^validates check ck_orders_user on orders in the same transaction that adds it/);
  });

  it("set-not-null-without-check: needs a validated CHECK (column IS NOT NULL) from an earlier migration", async () => {
    const f = await nonCompliant(rules.setNotNullWithoutCheck, m(1, (op) => op.alterColumn("users", "name", { nullable: false })));
    expect(f.message).toBe("sets users.name NOT NULL, reading every row of users under an ACCESS EXCLUSIVE lock (reads and writes wait)");
    expect(f.saferWay).toBe(
      'use op.safeSetNotNull("users", "name") instead, which commits each step on its own (what the migration did before it is committed first): ' +
        'it adds CHECK ("name" IS NOT NULL) NOT VALID, validates it while reads and writes go on, sets NOT NULL without a scan and drops the check',
    );
    const raw = await nonCompliant(rules.setNotNullWithoutCheck, m(1, (op) => op.execute("ALTER TABLE users ALTER COLUMN email SET NOT NULL")));
    expect(raw.saferWay).toMatch(/^use op\.safeSetNotNull\("users", "email"\) instead/);
    // The operation lint recommends is not a finding itself, plain or safe, in either kind of migration.
    for (const transactional of [true, false]) {
      const judged = await judge(
        rules.setNotNullWithoutCheck,
        m(1, (op) => op.safeSetNotNull("users", "name").then(() => op.setNotNull("users", "email")), { transactional }),
      );
      expect(judged).toEqual({ verdicts: [], findings: [] });
    }
    // A check added NOT VALID and validated by the operations, in earlier migrations, proves the column.
    await compliant(
      rules.setNotNullWithoutCheck,
      m(1, (op) => op.addCheckConstraint("users_name_present", "users", '"name" IS NOT NULL', { notValid: true })),
      m(2, (op) => op.validateConstraint("users", "users_name_present")),
      m(3, (op) => op.alterColumn("users", "name", { nullable: false })),
    );
    // Added but never validated, it proves nothing.
    await nonCompliant(
      rules.setNotNullWithoutCheck,
      m(1, (op) => op.addCheckConstraint("users_name_present", "users", '"name" IS NOT NULL', { notValid: true })),
      m(2, (op) => op.alterColumn("users", "name", { nullable: false })),
    );
    await compliant(
      rules.setNotNullWithoutCheck,
      m(1, (op) => op.safeExecute('ALTER TABLE users ADD CONSTRAINT users_name_not_null CHECK ("name" IS NOT NULL) NOT VALID', { guard: { when: () => true } })),
      m(2, (op) => op.safeExecute("ALTER TABLE users VALIDATE CONSTRAINT users_name_not_null", { guard: { when: () => true } })),
      m(3, (op) => op.alterColumn("users", "name", { nullable: false })),
    );
  });
});

describe("Data API", () => {
  it("long-statement: a whole-table write in a migration that holds a transaction; the same write on its own commits by itself", async () => {
    const update = (op: Operations) => op.execute("UPDATE users SET name = :name", { name: "x" });
    const f = await nonCompliant(rules.longStatement, m(1, update));
    expect(f.message).toMatch(/^UPDATE of every row of users, in a migration that holds a transaction open/);
    await compliant(rules.longStatement, m(1, update, { transactional: false }));
  });

  it("long-statement: a read of a whole table is cancelled at 45 s; a keyed read is fine", async () => {
    const f = await nonCompliant(rules.longStatement, m(1, (op) => op.query("SELECT id, email FROM users")));
    expect(f).toMatchObject({ operation: "query SELECT id, email FROM users" });
    expect(f.message).toMatch(/reads are sent without continueAfterTimeout/);
    await compliant(rules.longStatement, m(1, (op) => op.query("SELECT id FROM users WHERE id > :last ORDER BY id LIMIT 100", { last: 0 })));
  });

  it("long-statement: a WHERE inside a dollar-quoted literal is no WHERE, whatever the tag ($$, $étiquette$)", async () => {
    const read = (tag: string) => `SELECT id, ${tag} where clause ${tag} AS note FROM users`;
    await nonCompliant(rules.longStatement, m(1, (op) => op.query(read("$$"))));
    await nonCompliant(rules.longStatement, m(1, (op) => op.query(read("$étiquette$"))));
  });

  it("multi-statement-execute: one statement per op.execute", async () => {
    const f = await nonCompliant(
      rules.multiStatementExecute,
      m(1, (op) => op.execute("UPDATE users SET name = 'a' WHERE id = 1; UPDATE users SET name = 'b' WHERE id = 2")),
    );
    expect(f.message).toMatch(/^runs 2 statements from one string/);
    await compliant(rules.multiStatementExecute, m(1, (op) => op.execute("UPDATE users SET name = 'a' WHERE id = 1;")));
  });

  it("concurrently-in-transaction: raw CONCURRENTLY needs transactional: false; the operations' runs outside the transaction by itself", async () => {
    await compliant(
      rules.concurrentlyInTransaction,
      m(1, (op) => op.safeCreateIndex("ix_users_email", "users", ["email"], { concurrently: true })),
    );
    const raw = await nonCompliant(rules.concurrentlyInTransaction, m(1, (op) => op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_x")));
    expect(raw.message).toMatch(/^runs DROP INDEX CONCURRENTLY IF \.\.\. in a migration that runs in a transaction/);
    expect(raw.saferWay).toContain("op.safeDropIndex(name, { concurrently: true })");
    await compliant(
      rules.concurrentlyInTransaction,
      m(1, (op) => op.safeCreateIndex("ix_users_email", "users", ["email"], { concurrently: true }), { transactional: false }),
    );
  });
});

describe("hygiene", () => {
  it("empty-downgrade: an upgrade that changes something needs a downgrade, or irreversible: true", async () => {
    const add = (op: Operations) => op.addColumn("users", { name: "nickname", type: "text" });
    const f = await nonCompliant(rules.emptyDowngrade, m(1, add, { downgrade: async () => {} }));
    expect(f).toMatchObject({ operation: null });
    expect(f.message).toMatch(/^the upgrade makes 1 operation\(s\) but the downgrade none/);
    await compliant(rules.emptyDowngrade, m(1, add, { downgrade: async (op) => void (await op.dropColumn("users", "nickname")) }));
    const marked = await judge(rules.emptyDowngrade, m(1, add, { downgrade: async () => {}, irreversible: true }));
    expect(marked).toEqual({ verdicts: [], findings: [] });
  });

  it("unguarded-execute: raw SQL needs a guard unless it is idempotent by itself", async () => {
    const f = await nonCompliant(rules.unguardedExecute, m(1, (op) => op.execute("INSERT INTO users (id, email) VALUES (1, 'a@b.c')")));
    expect(f.operation).toBe("execute INSERT INTO users (id, email) VALUES (1, 'a@b.c')");
    await compliant(rules.unguardedExecute, m(1, (op) => op.execute("INSERT INTO users (id) VALUES (1) ON CONFLICT DO NOTHING")));
    await compliant(
      rules.unguardedExecute,
      m(1, (op) =>
        op.safeExecute("INSERT INTO users (id) VALUES (1)", { guard: { query: "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = 1)" } }),
      ),
    );
  });

  it("unguarded-execute: a function body is one literal whatever its dollar-quote tag ($$, $défini$)", async () => {
    // PostgreSQL takes letters from U+0080 up in a tag: split at the `;` inside, the second INSERT
    // would be taken for a statement of its own, without the OR REPLACE that makes it idempotent.
    const fn = (tag: string) =>
      `CREATE OR REPLACE FUNCTION seed() RETURNS void LANGUAGE sql AS ${tag} INSERT INTO users (id) VALUES (1); INSERT INTO users (id) VALUES (2) ${tag}`;
    await compliant(rules.unguardedExecute, m(1, (op) => op.execute(fn("$$"))));
    await compliant(rules.unguardedExecute, m(1, (op) => op.execute(fn("$défini$"))));
  });
});

it("every rule has a test above, a unique code and a category", () => {
  const codes = rules.RULES.map((r) => r.code);
  expect(new Set(codes).size).toBe(codes.length);
  expect(codes).toEqual([
    "drop-table",
    "drop-column",
    "narrow-type",
    "delete-all-rows",
    "volatile-default",
    "type-change-rewrite",
    "index-without-concurrently",
    "constraint-without-not-valid",
    "set-not-null-without-check",
    "long-statement",
    "multi-statement-execute",
    "concurrently-in-transaction",
    "empty-downgrade",
    "unguarded-execute",
  ]);
});
