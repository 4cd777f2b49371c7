// A runner killed with a Data API transaction open leaves that transaction holding its locks until
// the service ends it (3 minutes without a call). A later run's statement waits on those locks
// until its call passes the 45 s limit, and used to be told to "make the statement faster". The
// executor now looks up, in one read, which session holds the lock the statement waits for and
// says so. Through the local endpoint (a short statement timeout, the statement running on as the
// service lets it with continueAfterTimeout) with the real SDK client, over the embedded
// PostgreSQL server: real sessions, real pg_locks.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataApiError, isOutcomeUnknown, StatementBlockedError } from "../../lib/sql/errors.ts";
import { PgExecutor } from "../../lib/sql/pg-executor.ts";
import type { SqlExecutor } from "../../lib/sql/executor.ts";
import { dataApiOverPostgres, type DataApiOverPostgres } from "../local/harness.ts";

let stack: DataApiOverPostgres;
const TABLES = ["by_data_api", "by_connection", "queued", "lookup_fails", "cancelled"];

beforeAll(async () => {
  stack = await dataApiOverPostgres({
    statementTimeoutMs: 500,
    requestTimeoutMs: 10_000,
    async setUp(url) {
      const db = new PgExecutor(url);
      try {
        for (const table of TABLES) await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
      } finally {
        await db.close();
      }
    },
  });
}, 120_000);

afterAll(() => stack?.close());

/** Session A, standing in for the killed runner: a transaction holding a lock on `table` until release(). */
interface HeldLock {
  pid: number;
  release(): Promise<void>;
}

async function holdLock(executor: SqlExecutor, table: string, mode = "ACCESS EXCLUSIVE"): Promise<HeldLock> {
  let locked!: (pid: number) => void;
  let failed!: (error: unknown) => void;
  const pid = new Promise<number>((resolve, reject) => {
    locked = resolve;
    failed = reject;
  });
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const done = executor.transaction(async (tx) => {
    const { rows } = await tx.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    // Its last statement, as pg_stat_activity shows it while the transaction sits idle.
    await tx.query(`LOCK TABLE ${table} IN ${mode} MODE`);
    locked(rows[0]!.pid);
    await released;
  });
  done.catch(failed);
  return {
    pid: await pid,
    async release() {
      release();
      await done;
    },
  };
}

/** Waits until a session running a statement that starts with `start` waits for a lock. */
async function waitingFor(db: SqlExecutor, start: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    const { rows } = await db.query(
      "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND left(query, length(:start)) = :start",
      { start },
    );
    if (rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no session waits for a lock running ${start}`);
}

/** What `promise` rejects with (each test then asserts it is the error it expects). */
function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => new Error("expected a rejection"),
    (error: unknown) => error as Error,
  );
}

/** The Execute calls the endpoint answered since `from`, with their HTTP status. */
function executesSince(from: number): string[] {
  return stack.endpoint.calls
    .slice(from)
    .filter((c) => c.operation === "Execute")
    .map((c) => `${c.sql?.trimStart().split(/\s+/).slice(0, 2).join(" ")} ${c.status}`);
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/;

describe("a statement that times out waiting for a lock", () => {
  it("names the Data API transaction holding it, its 3-minute expiry and pg_terminate_backend", async () => {
    const holder = await holdLock(stack.executor(), "by_data_api");
    try {
      const error = await rejection(
        stack.executor().transaction((tx) => tx.query("ALTER TABLE by_data_api ADD COLUMN note text")),
      );
      expect(error).toBeInstanceOf(StatementBlockedError);
      expect(error).toBeInstanceOf(DataApiError);
      expect(error).toMatchObject({ exceptionName: "StatementTimeoutException", outcomeUnknown: true });
      expect(isOutcomeUnknown(error)).toBe(true);
      expect(error.message).toMatch(/^ExecuteStatement inside transaction \S+ ran into the Data API's 45 s limit/);
      expect(error.message).toContain(`waiting for a lock held by another session: pid ${holder.pid} (idle in transaction since `);
      expect(error.message).toContain("LOCK TABLE by_data_api IN ACCESS EXCLUSIVE MODE");
      expect(error.message).toMatch(/ends it after 3 minutes without a call: run again after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
      expect(error.message).toContain(`SELECT pg_terminate_backend(${holder.pid})`);
      expect(error.message).not.toMatch(/make the statement faster/i);

      const blockers = (error as StatementBlockedError).blockers;
      expect(blockers).toEqual([
        {
          pid: holder.pid,
          state: "idle in transaction",
          applicationName: expect.any(String),
          xactStart: expect.stringMatching(ISO),
          stateChange: expect.stringMatching(ISO),
          query: "LOCK TABLE by_data_api IN ACCESS EXCLUSIVE MODE",
          waiting: false,
        },
      ]);
      // Structured for --json: plain data that survives JSON.
      expect(JSON.parse(JSON.stringify(error)).blockers).toEqual(blockers);
    } finally {
      await holder.release();
    }
  });

  it("finds a statement by its text up to the first parameter; names the holder's application_name", async () => {
    const url = new URL(stack.url);
    url.searchParams.set("application_name", "killed-runner");
    const direct = new PgExecutor(url.toString());
    const holder = await holdLock(direct, "by_connection");
    try {
      const error = await rejection(
        stack.executor().query("SELECT * FROM by_connection WHERE id = :id", { id: 1 }, { continueAfterTimeout: true }),
      );
      expect(error).toBeInstanceOf(StatementBlockedError);
      expect(error.message).toMatch(/^ExecuteStatement ran into the Data API's 45 s limit/);
      expect(error.message).toContain(`pid ${holder.pid} (idle in transaction since `);
      expect(error.message).toContain('application_name "killed-runner"');
      expect(error.message).toContain(`SELECT pg_terminate_backend(${holder.pid})`);
      expect(error.message).not.toMatch(/make the statement faster/i);
      expect((error as StatementBlockedError).blockers).toMatchObject([
        { pid: holder.pid, state: "idle in transaction", applicationName: "killed-runner", waiting: false },
      ]);
    } finally {
      await holder.release();
      await direct.close();
    }
  });

  it("follows the queue: a read behind a waiting ALTER is shown the transaction the ALTER waits for", async () => {
    // The holder only reads (ACCESS SHARE, which a read does not conflict with); the ALTER queued
    // behind it wants ACCESS EXCLUSIVE; the read queues behind the ALTER.
    const holder = await holdLock(stack.executor(), "queued", "ACCESS SHARE");
    const other = new PgExecutor(stack.url);
    const alter = other.query("ALTER TABLE queued ADD COLUMN note text");
    try {
      await waitingFor(other, "ALTER TABLE queued");
      const error = await rejection(stack.executor().query("SELECT * FROM queued", {}, { continueAfterTimeout: true }));
      expect(error).toBeInstanceOf(StatementBlockedError);
      const blockers = (error as StatementBlockedError).blockers;
      expect(blockers).toMatchObject([
        { pid: holder.pid, state: "idle in transaction", query: "LOCK TABLE queued IN ACCESS SHARE MODE", waiting: false },
        { state: "active", query: "ALTER TABLE queued ADD COLUMN note text", waiting: true },
      ]);
      expect(error.message).toContain(`pid ${blockers[1]!.pid} (active since `);
      expect(error.message).toContain("itself waiting for a lock), running: ALTER TABLE queued ADD COLUMN note text");
      // Only the holder is to be ended; the ALTER goes on once it is.
      expect(error.message).toContain(`or end it now with SELECT pg_terminate_backend(${holder.pid}). `);
    } finally {
      await holder.release();
      await alter;
      await other.close();
    }
  });
});

describe("what keeps today's answer", () => {
  it("a statement that is simply slow is still told to be made faster", async () => {
    const before = stack.endpoint.calls.length;
    const error = await rejection(stack.executor().query("CREATE TABLE slower AS SELECT 1 AS x FROM pg_sleep(1.5)"));
    expect(error).not.toBeInstanceOf(StatementBlockedError);
    expect(error).toMatchObject({ name: "DataApiError", exceptionName: "StatementTimeoutException" });
    expect(error.message).toBe(
      "ExecuteStatement ran into the Data API's 45 s limit per call (StatementTimeoutException). The statement may " +
        "still be running on the database, so it was not retried. Send long DDL with continueAfterTimeout, or make " +
        "the statement faster.",
    );
    // It was looked up (DDL runs on after its call), and nothing was waiting for a lock.
    expect(executesSince(before)).toEqual(["CREATE TABLE 400", "WITH RECURSIVE 200"]);
  });

  it("the look-up failing leaves the original error", async () => {
    const holder = await holdLock(stack.executor(), "lookup_fails");
    try {
      const before = stack.endpoint.calls.length;
      // The first Execute is the statement (it times out), the second the look-up.
      stack.endpoint.faults.inject({ on: "Execute", nth: 2, error: "5xx" });
      const error = await rejection(stack.executor().query("ALTER TABLE lookup_fails ADD COLUMN note text"));
      expect(error).not.toBeInstanceOf(StatementBlockedError);
      expect(error).toMatchObject({ name: "DataApiError", exceptionName: "StatementTimeoutException" });
      expect(error.message).toMatch(/Send long DDL with continueAfterTimeout, or make the statement faster\.$/);
      expect(executesSince(before)).toEqual(["ALTER TABLE 400", "WITH RECURSIVE 500"]);
    } finally {
      stack.endpoint.faults.clear();
      await holder.release();
    }
  });

  it("a statement sent without continueAfterTimeout is not looked up: the service has cancelled it", async () => {
    const holder = await holdLock(stack.executor(), "cancelled");
    try {
      const before = stack.endpoint.calls.length;
      const error = await rejection(stack.executor().query("SELECT * FROM cancelled"));
      expect(error).not.toBeInstanceOf(StatementBlockedError);
      expect(error.message).toMatch(/make the statement faster\.$/);
      expect(executesSince(before)).toEqual(["SELECT * 400"]);
    } finally {
      await holder.release();
    }
  });
});
