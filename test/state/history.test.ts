// One behaviour suite for every History adapter: DynamoDB (dynalite), a table in the target
// database (PGlite and PostgreSQL) and memory. Runs come back newest first, a run's revisions in
// order, and "abandoned" is only ever said of a run that had not ended.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { itemKey, keys } from "../../lib/state/dynamo-table.ts";
import { DatabaseHistory } from "../../lib/state/database-history.ts";
import { DynamoHistory } from "../../lib/state/dynamo-history.ts";
import { type History, InMemoryHistory, type RevisionRecord, type RunRecord, RunStatus } from "../../lib/state/history.ts";
import type { LockInfo } from "../../lib/state/lock.ts";
import type { SqlExecutor } from "../../lib/sql/executor.ts";
import { testDatabases } from "../support/databases.ts";
import { startLocalLockTable, type LocalLockTable } from "../../lib/local/dynamodb-table.ts";
import { postgres } from "../../lib/dialect/postgres/index.ts";

interface Adapter {
  name: string;
  open(): Promise<{ history: History; close(): Promise<void> }>;
}

let dynamo: LocalLockTable | undefined;
const adapters: Adapter[] = [
  { name: "memory", open: async () => ({ history: new InMemoryHistory(), close: async () => {} }) },
  {
    name: "DynamoDB",
    async open() {
      dynamo ??= await startLocalLockTable();
      return { history: new DynamoHistory({ table: dynamo.table, client: dynamo.client, retainDays: 30 }), close: async () => {} };
    },
  },
  ...(await testDatabases({ dataApi: true })).map((db) => ({
    name: `a table in ${db.name}`,
    async open() {
      const executor: SqlExecutor = await db.open();
      return { history: new DatabaseHistory(executor, "audit", postgres), close: () => executor.close() };
    },
  })),
];
afterAll(() => dynamo?.close());

let targets = 0;
const run = (target: string, token: number, extra: Partial<RunRecord> = {}): RunRecord => ({
  runId: `run-${target}-${token}`,
  target,
  command: "safe-upgrade",
  targetRevision: "heads",
  status: RunStatus.Started,
  token,
  host: "build-7",
  pid: 4242,
  actor: "deployer",
  requestId: `req-${token}`,
  stackId: "arn:aws:cloudformation:us-east-1:123456789012:stack/app/1",
  startedAt: new Date(Date.parse("2026-11-24T10:00:00Z") + token * 1000).toISOString(),
  ...extra,
});
const revision = (runId: string, seq: number, id: string, extra: Partial<RevisionRecord> = {}): RevisionRecord => ({
  runId,
  seq,
  at: "2026-11-24T10:05:00.000Z",
  revision: id,
  direction: "upgrade",
  status: "applied",
  message: `migration ${id}`,
  file: `migrations/20261124_${id}.ts`,
  checksum: "c".repeat(64),
  durationMs: 12 * seq,
  skipped: seq === 2 ? ['addColumn "users"."email": column "email" of "users" already exists'] : [],
  ...extra,
});
const leaseOf = (r: RunRecord): LockInfo => ({
  key: r.target,
  holder: { command: r.command, host: r.host, pid: r.pid, runId: r.runId },
  since: r.startedAt,
  expiresAt: r.startedAt,
  token: r.token,
});

for (const adapter of adapters) {
  describe(`history: ${adapter.name}`, () => {
    let history: History;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ history, close } = await adapter.open());
    });
    afterAll(() => close());
    const target = () => `postgres://db.example:5432/app_${++targets}`;
    /** The runs as recorded; the run number a database history adds is checked on its own below. */
    const listed = async (t: string) => (await history.runs(t)).map(({ number: _n, ...r }) => r);

    it("records a run from start to finish with its revisions, and reads them back", async () => {
      const t = target();
      const r = run(t, 1);
      await history.start(r);
      expect(await listed(t)).toEqual([r]);
      const revisions = [revision(r.runId, 1, "a00000000001"), revision(r.runId, 2, "a00000000002")];
      const outcome = {
        status: RunStatus.Succeeded,
        finishedAt: "2026-11-24T10:05:01.000Z",
        durationMs: 1500,
        fromHeads: [],
        toHeads: ["a00000000002"],
        applied: 2,
        skippedOperations: 1,
      };
      await history.finish(r, outcome, revisions);
      const [stored] = await listed(t);
      expect(stored).toEqual({ ...r, ...outcome });
      expect(await history.revisions(stored!)).toEqual(revisions);
    });

    it("keeps a revision's lock retries (who held the lock, each try's lock_timeout) and the run's count of them", async () => {
      const t = target();
      const r = run(t, 1);
      await history.start(r);
      const blocker = {
        pid: 4711,
        state: "idle in transaction",
        applicationName: "long report",
        xactStart: "2026-11-24T10:00:00.000Z",
        stateChange: "2026-11-24T10:00:01.000Z",
        query: "SELECT count(*) FROM accounts",
        waiting: false,
      };
      const retried = revision(r.runId, 1, "e00000000001", {
        lockRetries: [
          { attempt: 1, lockTimeoutMs: 5000, at: "2026-11-24T10:01:00.000Z", blockers: [blocker], retryInMs: 0, grouped: 3 },
          { attempt: 2, lockTimeoutMs: 5000, at: "2026-11-24T10:01:06.000Z", blockers: [blocker], retryInMs: 1234 },
          { attempt: 3, lockTimeoutMs: 7500, at: "2026-11-24T10:01:15.000Z", blockers: [] },
        ],
      });
      // A record as older versions wrote it, without any: read back without the field.
      const plain = revision(r.runId, 2, "e00000000002");
      await history.finish(r, { status: RunStatus.Failed, error: "lock", lockRetries: 3 }, [retried, plain]);
      const [stored] = await history.runs(t);
      expect(stored).toMatchObject({ status: "failed", lockRetries: 3 });
      const read = await history.revisions(stored!);
      expect(read).toEqual([retried, plain]);
      expect(read[1]).not.toHaveProperty("lockRetries");
    });

    it("returns the newest runs first, as many as asked, and only the target's", async () => {
      const t = target();
      for (const token of [1, 2, 3, 4, 5]) await history.start(run(t, token));
      await history.start(run(target(), 9));
      expect((await history.runs(t, { limit: 3 })).map((r) => r.token)).toEqual([5, 4, 3]);
      expect((await history.runs(t)).map((r) => r.token)).toEqual([5, 4, 3, 2, 1]);
    });

    it("a failed run keeps its error and the revision that failed", async () => {
      const t = target();
      const r = run(t, 1);
      await history.start(r);
      const failed = revision(r.runId, 1, "b00000000001", { status: "failed", error: "upgrade of b00000000001 failed: boom" });
      await history.finish(r, { status: RunStatus.Failed, error: "upgrade of b00000000001 failed: boom", applied: 0 }, [failed]);
      const [stored] = await history.runs(t);
      expect(stored).toMatchObject({ status: "failed", error: "upgrade of b00000000001 failed: boom", applied: 0 });
      expect(await history.revisions(stored!)).toEqual([failed]);
    });

    it("marks a run that died holding the lock abandoned, once; the run's own ending still lands", async () => {
      const t = target();
      const dead = run(t, 1);
      await history.start(dead);
      const by = { description: "safe-upgrade run run-2", token: 2, at: "2026-11-24T10:10:00.000Z" };
      expect(await history.abandon(leaseOf(dead), by)).toBe(true);
      expect(await history.abandon(leaseOf(dead), by)).toBe(false);
      expect((await history.runs(t))[0]).toMatchObject({ status: "abandoned", abandoned: { at: by.at, by: by.description, token: 2 } });
      // The paused runner wakes up, is fenced out, and records that too.
      await history.finish(dead, { status: RunStatus.Failed, error: "fenced out" }, []);
      expect((await history.runs(t))[0]).toMatchObject({ status: "failed", error: "fenced out", abandoned: { token: 2 } });
    });

    it("a run that died before recording its start is recorded from its lease", async () => {
      const t = target();
      // What a lease knows of its run: no request, stack, actor or target.
      const { requestId: _r, stackId: _s, actor: _a, targetRevision: _t, ...ghost } = run(t, 3);
      expect(await history.abandon(leaseOf(ghost), { description: "retort unlock --force", token: 4, at: "2026-11-24T11:00:00.000Z" })).toBe(true);
      expect(await listed(t)).toEqual([
        { ...ghost, status: "abandoned", abandoned: { at: "2026-11-24T11:00:00.000Z", by: "retort unlock --force", token: 4 } },
      ]);
    });

    it("a finished run is never called abandoned", async () => {
      const t = target();
      const r = run(t, 1);
      await history.start(r);
      await history.finish(r, { status: RunStatus.Succeeded, applied: 0 }, []);
      expect(await history.abandon(leaseOf(r), { description: "x", token: 2, at: "2026-11-24T12:00:00.000Z" })).toBe(false);
      expect((await history.runs(t))[0]?.status).toBe("succeeded");
    });

    it("a run spread over several invocations records each revision once, in the order they ran", async () => {
      const t = target();
      const r = run(t, 1, { command: "downgrade" });
      await history.start(r);
      const first = revision(r.runId, 1, "c00000000003", { direction: "downgrade", at: "2026-11-24T10:01:00.000Z" });
      const second = revision(r.runId, 1, "c00000000002", { direction: "downgrade", at: "2026-11-24T10:02:00.000Z" });
      await history.finish(r, { status: RunStatus.Succeeded, applied: 1 }, [first]);
      await history.finish(r, { status: RunStatus.Succeeded, applied: 1 }, [second]);
      expect(await history.revisions(r)).toEqual([first, second]);
    });
  });
}

describe("history in the database", () => {
  it("numbers runs 1, 2, 3 in the order they started, whatever their tokens; finishing or abandoning a run keeps its number", async () => {
    const [db] = await testDatabases();
    const executor = await db!.open();
    try {
      const history = new DatabaseHistory(executor, "numbers", postgres);
      const t = "pglite:/srv/app";
      // Three processes, each with an in-process lock whose first token is 1.
      const runs = [1, 2, 3].map((i) => run(t, 1, { runId: `process-${i}`, startedAt: `2026-11-24T10:0${i}:00.000Z` }));
      for (const r of runs) {
        await history.start(r);
        await history.finish(r, { status: RunStatus.Succeeded, applied: 0 }, []);
      }
      expect(await history.abandon(leaseOf(runs[2]!), { description: "x", token: 2, at: "2026-11-24T12:00:00.000Z" })).toBe(false);
      const listed = await history.runs(t);
      expect(listed.map((r) => [r.number, r.runId])).toEqual([
        [3, "process-3"],
        [2, "process-2"],
        [1, "process-1"],
      ]);
    } finally {
      await executor.close();
    }
  });
});

describe("history in a database whose table predates run numbers", () => {
  it("gets the column and the sequence on the next write; its older runs come after the numbered ones", async () => {
    const [db] = await testDatabases();
    const executor = await db!.open();
    try {
      await executor.query(`CREATE SCHEMA old`);
      await executor.query(
        `CREATE TABLE old.retort_history (run_id text NOT NULL, item text NOT NULL, target text NOT NULL,
         started_at timestamptz NOT NULL, record jsonb NOT NULL, PRIMARY KEY (run_id, item))`,
      );
      const t = "pglite:/srv/old";
      const before = run(t, 1, { runId: "before" });
      await executor.query(`INSERT INTO old.retort_history VALUES ('before', 'run', :t, :at::timestamptz, :record::jsonb)`, {
        t,
        at: before.startedAt,
        record: JSON.stringify(before),
      });
      const history = new DatabaseHistory(executor, "old", postgres);
      await history.start(run(t, 1, { runId: "after", startedAt: "2026-11-25T00:00:00.000Z" }));
      expect((await history.runs(t)).map((r) => [r.runId, r.number])).toEqual([
        ["after", 1],
        ["before", undefined],
      ]);
    } finally {
      await executor.close();
    }
  });
});

describe("history in DynamoDB", () => {
  it("one Query returns a target's newest runs (the key design), with a ttl for optional expiry", async () => {
    dynamo ??= await startLocalLockTable();
    const history = new DynamoHistory({ table: dynamo.table, client: dynamo.client, retainDays: 30 });
    const t = `data-api-cluster/app_${++targets}`;
    for (const token of [1, 2, 3]) await history.start(run(t, token));
    dynamo.calls.reset();
    expect((await history.runs(t, { limit: 2 })).map((r) => r.token)).toEqual([3, 2]);
    expect(dynamo.calls.byOperation).toEqual({ Query: 1 });
    const { Item } = await dynamo.client.send(new GetItemCommand({ TableName: dynamo.table, Key: itemKey(t, keys.run(1)) }));
    const ttl = Number(Item?.["ttl"]?.N);
    expect(ttl).toBeGreaterThan(Date.now() / 1000 + 29 * 86_400);
  });
});
