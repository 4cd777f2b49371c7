// The deploy hook driven as CloudFormation and the CDK Provider framework drive it (Create,
// Update, Update during a rollback with the older code, Delete, isComplete polling), against the
// local Data API endpoint in front of PostgreSQL and dynalite. Each scenario asserts what the
// database holds afterwards and that the lock is free.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ENV, OUTCOMES } from "../../functions/constants.ts";
import { createDynamoClient } from "../../lib/state/dynamo-client.ts";
import { createLockTable } from "../../lib/state/dynamo-table.ts";
import { MAX_REASON } from "../../functions/deploy-hook.ts";
import type { Invoker } from "../../functions/deploy-hook.ts";
import { cfn, handlersFor, lambdaContext, type LocalAws, provide, RESPONSE_LIMIT, RESPONSE_URL, STACK_ID, startLocalAws, TABLE, tableMigration, type TestMigration } from "./harness.ts";

const users = tableMigration("b00000000001", null, "users");
const projects = tableMigration("b00000000002", "b00000000001", "projects");
const email: TestMigration = {
  revision: "b00000000003",
  revises: "b00000000002",
  message: "add email to users",
  async upgrade(op) {
    await op.safeAddColumn("users", { name: "email", type: "varchar(100)" });
  },
  async downgrade(op) {
    await op.safeDropColumn("users", "email");
  },
};
const broken: TestMigration = {
  revision: "b00000000004",
  revises: "b00000000003",
  message: "index a column that does not exist",
  async upgrade(op) {
    await op.execute("CREATE INDEX ix_users_nickname ON users (nickname)");
  },
  async downgrade(op) {
    await op.execute("DROP INDEX IF EXISTS ix_users_nickname");
  },
};

/** A migration whose one statement creates `table` and takes `seconds` on the database. */
const sleeping = (revision: string, revises: string, table: string, seconds: number): TestMigration => ({
  revision,
  revises,
  message: `${seconds} seconds`,
  async upgrade(op) {
    await op.execute(`CREATE TABLE ${table} AS SELECT 1 AS x FROM pg_sleep(${seconds})`);
  },
  async downgrade(op) {
    await op.safeDropTable(table);
  },
});

const oldCode = [users, projects];
const newCode = [users, projects, email];

let local: LocalAws;
beforeEach(async () => {
  local = await startLocalAws();
});
afterEach(() => local.close());

const heads = () => local.heads();
async function columns(table: string): Promise<string[]> {
  const result = await local.db.query<{ column_name: string }>(
    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = :table ORDER BY ordinal_position",
    { table },
  );
  return result.rows.map((r) => r.column_name);
}
const lockIsFree = async () => expect(await local.lock.current(local.lockKey)).toBeNull();
const fits = (response: object) => expect(Buffer.byteLength(JSON.stringify(response))).toBeLessThan(RESPONSE_LIMIT);

describe("the deploy hook", () => {
  it("Create applies the bundled migrations and reports the heads", async () => {
    const { handlers, hash } = handlersFor(local, newCode);
    const { response } = await provide(handlers, cfn.create({ manifestHash: hash }));
    expect(response.Status).toBe("SUCCESS");
    expect(response.PhysicalResourceId).toBe(`retort:${local.lockKey}`);
    expect(response.Data).toMatchObject({ Outcome: OUTCOMES.upgraded, FromHeads: "", ToHeads: email.revision });
    expect(await heads()).toEqual([email.revision]);
    expect(await columns("users")).toEqual(["id", "email"]);
    await lockIsFree();
    fits(response);
  });

  it("Update with new migrations applies only those; an Update with nothing pending changes nothing", async () => {
    const old = handlersFor(local, oldCode);
    const created = await provide(old.handlers, cfn.create({ manifestHash: old.hash }));
    expect(await heads()).toEqual([projects.revision]);

    const next = handlersFor(local, newCode);
    const physicalId = created.response.PhysicalResourceId;
    const { response } = await provide(next.handlers, cfn.update(physicalId, { manifestHash: next.hash }, { manifestHash: old.hash }));
    expect(response).toMatchObject({ Status: "SUCCESS", PhysicalResourceId: physicalId });
    expect(response.Data).toMatchObject({ Outcome: OUTCOMES.upgraded, FromHeads: projects.revision, ToHeads: email.revision });
    expect(await columns("users")).toEqual(["id", "email"]);

    const calls = local.dataApi.calls.length;
    const again = await provide(next.handlers, cfn.update(physicalId, { manifestHash: next.hash }, { manifestHash: next.hash }));
    // Nothing was pending: the outcome says so instead of "upgraded".
    expect(again.response.Data).toMatchObject({ Outcome: OUTCOMES.upToDate, FromHeads: email.revision, ToHeads: email.revision });
    // status read, then one read per run: no DDL was sent.
    expect(local.dataApi.calls.slice(calls).every((c) => !/ALTER|CREATE|DROP/i.test(c.sql ?? ""))).toBe(true);
    await lockIsFree();
  });

  it("Update during a rollback (old properties, old code) reports the database ahead and leaves the schema", async () => {
    const next = handlersFor(local, newCode);
    const created = await provide(next.handlers, cfn.create({ manifestHash: next.hash }));
    const old = handlersFor(local, oldCode);
    // CloudFormation swaps the properties: the old template's are now the resource's.
    const rollback = cfn.update(created.response.PhysicalResourceId, { manifestHash: old.hash }, { manifestHash: next.hash });
    const { response } = await provide(old.handlers, rollback);
    expect(response.Status).toBe("SUCCESS");
    expect(response.Data?.["Outcome"]).toBe(OUTCOMES.databaseAhead);
    expect(response.Data?.["Message"]).toMatch(/^database ahead of this code: it records revision\(s\) b00000000003 /);
    expect(response.Data?.["Message"]).toContain('start the rollback state machine with {"target": "b00000000002"}');
    expect(await heads()).toEqual([email.revision]);
    expect(await columns("users")).toEqual(["id", "email"]);
    await lockIsFree();
    fits(response);
  });

  it("with onRollback 'downgrade', the older hook asks the newer runner version to downgrade to its head", async () => {
    const next = handlersFor(local, newCode);
    const versionArn = "arn:aws:lambda:us-east-1:123456789012:function:retort-runner:7";
    await provide(next.handlers, cfn.create({ manifestHash: next.hash, onRollback: "downgrade", runnerVersionArn: versionArn }));
    const invoked: { arn: string; payload: unknown }[] = [];
    // What Lambda Invoke of that version does: run the newer code's manual handler.
    const invoke: Invoker = async (arn, payload) => {
      invoked.push({ arn, payload });
      return next.handlers.manual(payload, lambdaContext());
    };
    const old = handlersFor(local, oldCode, { invoke });
    const rollback = cfn.update(
      "retort:x",
      { manifestHash: old.hash, onRollback: "downgrade", runnerVersionArn: "arn:aws:lambda:us-east-1:123456789012:function:retort-runner:6" },
      { manifestHash: next.hash, onRollback: "downgrade", runnerVersionArn: versionArn },
    );
    const { response } = await provide(old.handlers, rollback);
    expect(response.Status).toBe("SUCCESS");
    expect(invoked).toEqual([{ arn: versionArn, payload: { command: "downgrade", target: projects.revision } }]);
    expect(response.Data).toMatchObject({ Outcome: OUTCOMES.downgraded, ToHeads: projects.revision });
    expect(await heads()).toEqual([projects.revision]);
    expect(await columns("users")).toEqual(["id"]);
    await lockIsFree();
  });

  it("Delete drops nothing", async () => {
    const { handlers, hash } = handlersFor(local, newCode);
    const created = await provide(handlers, cfn.create({ manifestHash: hash }));
    const calls = local.dataApi.calls.length;
    const { response } = await provide(handlers, cfn.delete(created.response.PhysicalResourceId, { manifestHash: hash }));
    expect(response).toMatchObject({ Status: "SUCCESS", PhysicalResourceId: created.response.PhysicalResourceId });
    expect(response.Data?.["Outcome"]).toBe(OUTCOMES.retained);
    expect(local.dataApi.calls.length).toBe(calls);
    expect(await heads()).toEqual([email.revision]);
    expect(await columns("projects")).toEqual(["id"]);
  });

  it("a failing migration fails the deploy on the first poll with the database's message, the revision and the file", async () => {
    const { handlers, hash, logs } = handlersFor(local, [...newCode, broken]);
    const { response, polls } = await provide(handlers, cfn.create({ manifestHash: hash }));
    expect(response.Status).toBe("FAILED");
    expect(polls).toBe(1);
    expect(response.Reason).toMatch(/^safe-upgrade failed at revision b00000000004 \(migrations\/20260104_m_b00000000004\.ts\): /);
    expect(response.Reason).toContain('column "nickname" does not exist');
    expect(response.Reason.split("\n")[0]!.length).toBeLessThanOrEqual(MAX_REASON);
    fits(response);
    // The revisions before it are applied; the failing one left nothing behind.
    expect(await heads()).toEqual([email.revision]);
    await lockIsFree();
    // The pre-signed response URL never reaches a log line.
    expect(logs.text()).not.toContain("SECRETsignature");
    expect(logs.text()).not.toContain(RESPONSE_URL);
  });

  it("an upgrade longer than one invocation continues across isComplete polls", async () => {
    // Each invocation has 1.2 s beyond the 2 s it keeps to answer in, and each revision takes
    // 700 ms: one revision per poll (a second one does not fit in what is left).
    const slow = newCode.map((m) => ({
      ...m,
      async upgrade(op: Parameters<TestMigration["upgrade"]>[0]) {
        await new Promise((resolve) => setTimeout(resolve, 700));
        await m.upgrade(op);
      },
    }));
    const { handlers, hash } = handlersFor(local, slow);
    const { response, polls } = await provide(handlers, cfn.create({ manifestHash: hash }), {
      context: () => lambdaContext({ budgetMs: 3_200 }),
    });
    expect(response.Status).toBe("SUCCESS");
    expect(polls).toBeGreaterThanOrEqual(3);
    expect(await heads()).toEqual([email.revision]);
    await lockIsFree();
  });

  it("Create over a database that is ahead of the code fails without touching it", async () => {
    const next = handlersFor(local, newCode);
    await provide(next.handlers, cfn.create({ manifestHash: next.hash }));
    const old = handlersFor(local, oldCode);
    const { response } = await provide(old.handlers, cfn.create({ manifestHash: old.hash }));
    expect(response.Status).toBe("FAILED");
    expect(response.Reason).toMatch(/^database ahead of this code: it records revision\(s\) b00000000003/);
    expect(await heads()).toEqual([email.revision]);
    await lockIsFree();
  });

  it("refuses properties from another synth than the bundled code", async () => {
    const { handlers } = handlersFor(local, newCode);
    const { response } = await provide(handlers, cfn.create({ manifestHash: "0".repeat(64) }));
    expect(response.Status).toBe("FAILED");
    expect(response.Reason).toContain("does not match the migrations bundled in this runner");
    expect(local.dataApi.calls).toEqual([]);
  });

  it("an event with a RequestType CloudFormation does not send fails in one line and changes nothing", async () => {
    const { handlers, hash } = handlersFor(local, newCode);
    const { response } = await provide(handlers, { ...cfn.create({ manifestHash: hash }), RequestType: "Upsert" } as never);
    expect(response.Status).toBe("FAILED");
    // The message is the Reason's first line (the framework adds the log group and a stack).
    expect(response.Reason.split("\n")[0]).toBe('RequestType "Upsert" is not one CloudFormation sends (Create, Update or Delete); nothing was changed');
    expect(local.dataApi.calls).toEqual([]);
    await lockIsFree();
  });

  it("logs carry the request id, the stack id and the fencing token", async () => {
    const { handlers, hash, logs } = handlersFor(local, newCode);
    await provide(handlers, cfn.create({ manifestHash: hash }));
    const applied = logs.lines.find((l) => l["message"] === "deploy hook applied");
    expect(applied).toMatchObject({ stackId: expect.stringContaining("stack/app/"), function_request_id: expect.any(String) });
    expect(applied?.["fencingToken"]).toEqual(expect.any(Number));
  });
});

describe("the deploy hook and retort's own lock", () => {
  /** The lease a timed-out isComplete invocation leaves behind: nobody renews it. */
  const deadInvocationLease = (leaseMs: number) =>
    local.lock.acquire(
      local.lockKey,
      { command: "safe-upgrade", host: "169.254.10.1", pid: 8, requestId: "0f1e2d3c-dead-4bad-8bad-000000000001", stackId: STACK_ID },
      { leaseMs },
    );

  it("a rollback ('downgrade') that finds a dead invocation's lease keeps polling until it expires, then downgrades", async () => {
    const next = handlersFor(local, newCode);
    const versionArn = "arn:aws:lambda:us-east-1:123456789012:function:retort-runner:7";
    await provide(next.handlers, cfn.create({ manifestHash: next.hash, onRollback: "downgrade", runnerVersionArn: versionArn }));
    const lease = await deadInvocationLease(2_000);
    (lease as { detach?: () => void }).detach?.();
    const invoke: Invoker = async (_arn, payload) => next.handlers.manual(payload, lambdaContext());
    const old = handlersFor(local, oldCode, { invoke });
    const rollback = cfn.update(
      "retort:x",
      { manifestHash: old.hash, onRollback: "downgrade", runnerVersionArn: "arn:aws:lambda:us-east-1:123456789012:function:retort-runner:6" },
      { manifestHash: next.hash, onRollback: "downgrade", runnerVersionArn: versionArn },
    );
    const { response, polls } = await provide(old.handlers, rollback, { pollIntervalMs: 250 });
    expect(response.Reason).toBe("SUCCESS");
    expect(polls).toBeGreaterThan(1);
    expect(await heads()).toEqual([projects.revision]);
    const waiting = old.logs.lines.filter((l) => l["message"] === "deploy hook waits for the migration lock");
    expect(waiting.length).toBeGreaterThan(0);
    expect(String(waiting[0]!["detail"])).toContain("Lambda request 0f1e2d3c-dead-4bad-8bad-000000000001");
    await lockIsFree();
  });

  it("an ordinary deploy waits for a held lock the same way, then applies", async () => {
    const lease = await deadInvocationLease(1_500);
    (lease as { detach?: () => void }).detach?.();
    const { handlers, hash } = handlersFor(local, newCode);
    const { response, polls } = await provide(handlers, cfn.create({ manifestHash: hash }), { pollIntervalMs: 250 });
    expect(response.Reason).toBe("SUCCESS");
    expect(polls).toBeGreaterThan(1);
    expect(await heads()).toEqual([email.revision]);
  });

  it("when the lock is still held as the deploy's time runs out, it fails in one line naming the holder, having changed nothing", async () => {
    const lease = await deadInvocationLease(60_000);
    const { handlers, hash } = handlersFor(local, newCode, { env: () => ({ ...local.env, [ENV.deployLockWait]: "1" }) });
    const { response } = await provide(handlers, cfn.create({ manifestHash: hash }), { pollIntervalMs: 300 });
    expect(response.Status).toBe("FAILED");
    const reason = response.Reason.split("\n")[0]!;
    expect(reason).toMatch(/^The migration lock for arn:aws:rds:\S+ is still held by safe-upgrade \(Lambda request 0f1e2d3c-dead-4bad-8bad-000000000001/);
    expect(reason).toContain("this deploy waited");
    expect(reason).not.toContain("--wait");
    expect((await local.db.query("SELECT to_regclass('retort_version') AS t")).rows).toEqual([{ t: null }]);
    await lease.release();
  });
});

describe("the deploy hook and a statement that outlives its Data API call", () => {
  it("keeps polling while the statement runs on, then finds it committed and completes", async () => {
    await local.close();
    local = await startLocalAws({ statementTimeoutMs: 500 });
    const slow = sleeping("b00000000009", "b00000000001", "filled", 2.5);
    const { handlers, hash, logs } = handlersFor(local, [users, slow]);
    const { response, polls } = await provide(handlers, cfn.create({ manifestHash: hash }), { pollIntervalMs: 300 });
    expect(response.Reason).toBe("SUCCESS");
    expect(polls).toBeGreaterThan(2);
    expect(response.Data).toMatchObject({ Outcome: OUTCOMES.upgraded, ToHeads: slow.revision });
    const waits = logs.lines.map((l) => String(l["message"])).filter((m) => m.startsWith("deploy hook waits for"));
    expect(waits).toContain("deploy hook waits for a statement whose outcome is unknown");
    expect(waits).toContain("deploy hook waits for a statement still running");
    expect((await local.db.query("SELECT count(*)::int AS n FROM filled")).rows).toEqual([{ n: 1 }]);
    await lockIsFree();
  });
});

describe("the deploy hook and a revision longer than an invocation", () => {
  // Each invocation has 12 s; the hook stops its own work 5 s before the end.
  const twelveSeconds = () => lambdaContext({ budgetMs: 12_000 });
  const running = async (text: string) =>
    (await local.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE :q AND pid <> pg_backend_pid()", { q: `%${text}%` })).rows[0]!.n;

  it("a transactional revision that does not fit in a whole invocation fails, naming it, rolled back and stopped", async () => {
    const long = sleeping("b0000000000a", "b00000000001", "backfilled", 30);
    const { handlers, hash } = handlersFor(local, [users, long]);
    const started = Date.now();
    const { response } = await provide(handlers, cfn.create({ manifestHash: hash }), { context: twelveSeconds, pollIntervalMs: 200 });
    expect(response.Status).toBe("FAILED");
    expect(Date.now() - started).toBeLessThan(30_000);
    const reason = response.Reason.split("\n")[0]!;
    expect(reason).toMatch(/revision b0000000000a \(migrations\/20260102_m_b0000000000a\.ts\)/);
    expect(reason).toMatch(/ran for \d+ s/);
    expect(reason).toContain("timeout");
    expect(reason).toContain("transactional: false");
    expect(reason).not.toContain("AbortError");
    expect(await heads()).toEqual([users.revision]);
    expect((await local.db.query("SELECT to_regclass('backfilled') AS t")).rows).toEqual([{ t: null }]);
    expect(await running("pg_sleep(30)")).toBe(0);
    await lockIsFree();
  }, 60_000);

  it("an invocation whose time runs out all the same names the revision it was applying, never a bare AbortError", async () => {
    // A Data API call that never answers: nothing the run can cancel, so it outlasts the invocation.
    const stuck: TestMigration = {
      revision: "b0000000000f",
      revises: "b00000000001",
      message: "waits for a call that never answers",
      async upgrade(op) {
        await op.safeCreateTable("stuck", { columns: [{ name: "id", type: "int" }] });
        local.dataApi.faults.inject({ on: "any", error: "hang", delayMs: 5_000, times: Infinity });
        await op.execute("SELECT 1");
      },
      async downgrade(op) {
        await op.safeDropTable("stuck");
      },
    };
    const { handlers, hash } = handlersFor(local, [users, stuck]);
    const { response } = await provide(handlers, cfn.create({ manifestHash: hash }), {
      context: () => lambdaContext({ budgetMs: 3_000 }),
      maxPolls: 1,
    });
    expect(response.Status).toBe("FAILED");
    expect(response.Reason).not.toContain("AbortError");
    expect(response.Reason.split("\n")[0]).toMatch(/ran out of time while applying revision b0000000000f \(migrations\/20260102_m_b0000000000f\.ts\)/);
    // The stopped run is rolled back once the call gives up; nothing of it commits.
    local.dataApi.faults.clear();
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect((await local.db.query("SELECT to_regclass('stuck') AS t")).rows).toEqual([{ t: null }]);
    await lockIsFree();
  }, 30_000);

  it("a transactional revision that does not fit in what is left of an invocation runs again on the next poll", async () => {
    // 6 s per invocation, 4 s of it to work: 1.5 s, then 3 s do not fit in one, each fits alone.
    const shorter = sleeping("b0000000000b", "b00000000001", "shorter", 1.5);
    const longer = sleeping("b0000000000e", "b0000000000b", "longer", 3);
    const { handlers, hash, logs } = handlersFor(local, [users, shorter, longer]);
    const { response, polls } = await provide(handlers, cfn.create({ manifestHash: hash }), {
      context: () => lambdaContext({ budgetMs: 6_000 }),
      pollIntervalMs: 200,
    });
    expect(response.Reason).toBe("SUCCESS");
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(logs.text()).toContain("stopped at this invocation's deadline runs again on the next poll");
    expect(await heads()).toEqual([longer.revision]);
    await lockIsFree();
  }, 60_000);

  it("a non-transactional revision's statement runs on across polls; the hook waits for it, then records it", async () => {
    const prepare: TestMigration = {
      revision: "b0000000000c",
      revises: "b00000000001",
      message: "a table whose index is slow to build",
      async upgrade(op) {
        await op.execute("CREATE FUNCTION slow_key(x int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN x; END $$");
        await op.execute("CREATE TABLE measured AS SELECT g AS x FROM generate_series(1, 16) g");
      },
      async downgrade(op) {
        await op.safeDropTable("measured");
      },
    };
    const index: TestMigration = {
      revision: "b0000000000d",
      revises: "b0000000000c",
      message: "index it concurrently",
      transactional: false,
      async upgrade(op) {
        await op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_measured_slow ON measured ((slow_key(x)))");
      },
      async downgrade(op) {
        await op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_measured_slow");
      },
    };
    const { handlers, hash, logs } = handlersFor(local, [users, prepare, index]);
    const { response, polls } = await provide(handlers, cfn.create({ manifestHash: hash }), { context: twelveSeconds, pollIntervalMs: 500 });
    expect(response.Reason).toBe("SUCCESS");
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(logs.text()).toContain("deploy hook waits for a statement still running");
    expect(await heads()).toEqual([index.revision]);
    const valid = await local.db.query("SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'ix_measured_slow'::regclass");
    expect(valid.rows).toEqual([{ valid: true }]);
    await lockIsFree();
  }, 90_000);
});

describe("two stacks with their own lock tables against one database", () => {
  const OTHER = "retort-test-locks-other";
  const otherStack = async () => {
    const client = createDynamoClient();
    await createLockTable(client, OTHER);
    client.destroy();
    return { ...local.env, [ENV.table]: OTHER };
  };

  it("a stack whose table has issued fewer tokens is not fenced out, now or on any later deploy", async () => {
    // Stack A's table has handed out a few tokens before it migrates.
    for (let i = 0; i < 3; i += 1) {
      const lease = await local.lock.acquire(local.lockKey, { command: "test", host: "h", pid: 1 });
      await lease.release();
    }
    const a = handlersFor(local, oldCode);
    expect((await provide(a.handlers, cfn.create({ manifestHash: a.hash }))).response.Status).toBe("SUCCESS");
    // Stack B, alone, with its own (younger) table.
    const env = await otherStack();
    const b = handlersFor(local, newCode, { env: () => env });
    const first = await provide(b.handlers, cfn.create({ manifestHash: b.hash }));
    expect(first.response.Reason).toBe("SUCCESS");
    expect(await heads()).toEqual([email.revision]);
    // And later, alone again.
    const later = handlersFor(local, [...newCode, tableMigration("b00000000005", "b00000000003", "later")], { env: () => env });
    const second = await provide(later.handlers, cfn.update(first.response.PhysicalResourceId, { manifestHash: later.hash }, { manifestHash: b.hash }));
    expect(second.response.Reason).toBe("SUCCESS");
    expect(await heads()).toEqual(["b00000000005"]);
  });

  it("a runner that finds the other stack's runner at work refuses, naming the other lock table", async () => {
    const slowProjects: TestMigration = {
      ...projects,
      async upgrade(op) {
        await op.execute("SELECT pg_sleep(1.5)");
        await projects.upgrade(op);
      },
    };
    const a = handlersFor(local, [users]);
    const created = await provide(a.handlers, cfn.create({ manifestHash: a.hash }));
    const a2 = handlersFor(local, [users, slowProjects]);
    const env = await otherStack();
    const b = handlersFor(local, [users, slowProjects], { env: () => env });
    const deploying = provide(a2.handlers, cfn.update(created.response.PhysicalResourceId, { manifestHash: a2.hash }, { manifestHash: a.hash }));
    await new Promise((resolve) => setTimeout(resolve, 700));
    const refused = await b.handlers.manual({ command: "safe-upgrade" }, lambdaContext()).catch((e: unknown) => e as Error);
    expect((await deploying).response.Status).toBe("SUCCESS");
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toContain("SELECT pg_sleep(1.5)");
    expect((refused as Error).message).toMatch(new RegExp(`also migrated under another lock table: DynamoDB table ${TABLE} \\(fencing token \\d+, last wrote `));
    expect((refused as Error).message).toContain("the same lock table (the MigrationRunner's `table` prop, or --lock-table)");
    expect(await heads()).toEqual([projects.revision]);
  });
});
