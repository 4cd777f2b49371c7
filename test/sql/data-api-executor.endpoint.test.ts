// DataApiExecutor -> real SDK client -> local Data API endpoint -> PGlite: values and errors as
// the port promises them, transactions, and the retry policy under injected faults (resuming and
// throttling retried anywhere, 5xx retried only outside a transaction, unknown outcomes inside a
// transaction surfaced and rolled back, retries that give up with the last error).

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startDataApiEndpoint, type DataApiEndpoint } from "../../lib/local/data-api-endpoint.ts";
import { DataApiError, DataApiExecutor, type DataApiExecutorOptions } from "../../lib/sql/data-api-executor.ts";
import { ConnectionError, MultipleStatementsError, SqlError, TransactionUsageError } from "../../lib/sql/errors.ts";
import { PgliteExecutor } from "../../lib/sql/pglite-executor.ts";
import { ARNS, SLOW, sdkClient, slowBackend } from "../local/harness.ts";

let backend: PgliteExecutor;
let endpoint: DataApiEndpoint;
const clients: Array<{ destroy(): void }> = [];
const delays: number[] = [];

/** An executor on the shared endpoint; sleeps are recorded, not waited. */
function executor(options: Partial<DataApiExecutorOptions> = {}): DataApiExecutor {
  const client = sdkClient(endpoint.url);
  clients.push(client);
  return new DataApiExecutor({
    ...ARNS,
    database: "retort",
    client,
    retry: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 },
    sleep: async (ms) => {
      delays.push(ms);
    },
    ...options,
  });
}

/** The operations the endpoint answered since `from`, with their HTTP status. */
function callsSince(from: number): string[] {
  return endpoint.calls.slice(from).map((c) => `${c.operation} ${c.status}`);
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

beforeAll(async () => {
  backend = await PgliteExecutor.open();
  endpoint = await startDataApiEndpoint({ backend: slowBackend(backend, 100), ...ARNS, database: "retort" });
  await backend.query("CREATE TABLE items (id int4 PRIMARY KEY, name text NOT NULL, at timestamptz)");
});

afterEach(async () => {
  endpoint.faults.clear();
  delays.length = 0;
  await backend.query("DELETE FROM items");
  vi.unstubAllEnvs();
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await endpoint?.close();
  await backend?.close();
});

describe("values and errors", () => {
  it("returns the rows the other adapters return for the same statements", async () => {
    const db = executor();
    const statements = [
      "SELECT 1::int2 AS a, 2::int4 AS b, 9007199254740993::int8 AS c, 12::int8 AS d, 1.5::float4 AS e",
      "SELECT 'NaN'::float8 AS a, 12.300::numeric AS b, true AS c, 'x'::varchar AS d, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS e",
      `SELECT '{"b": 1, "a": [true]}'::jsonb AS a, '{"b":1}'::json AS b, '\\x00ff'::bytea AS c`,
      "SELECT '2024-05-01'::date AS a, '10:00:01.5'::time AS b, '2024-05-01 10:00:00.123456'::timestamp AS c",
      "SELECT '2024-05-01 10:00:00.5+02'::timestamptz AS a, '10:00:00+00'::timetz AS b, '1 day 02:00:00'::interval AS c",
      "SELECT '{1,NULL,3}'::int4[] AS a, '{{a,b},{c,d}}'::text[] AS b, '{}'::int8[] AS c, '{t,f}'::bool[] AS d",
      "SELECT NULL::text AS a, NULL::int4 AS b, '127.0.0.1'::inet AS c",
    ];
    for (const sql of statements) {
      const direct = await backend.query(sql);
      const viaApi = await db.query(sql);
      expect(viaApi.rows, sql).toEqual(direct.rows);
      expect(viaApi.columns, sql).toEqual(direct.columns);
      expect(viaApi.rowCount, sql).toBe(direct.rowCount);
    }
  });

  it("binds the port's parameter values", async () => {
    const db = executor();
    const at = new Date("2024-05-01T10:00:00.123Z");
    await db.query("INSERT INTO items (id, name, at) VALUES (:id, :name, :at)", { id: 1, name: "one", at });
    const { rows } = await db.query("SELECT id, name, at FROM items WHERE id = :id AND name = :name", { id: 1, name: "one" });
    expect(rows).toEqual([{ id: 1, name: "one", at: "2024-05-01 10:00:00.123+00" }]);
    const big = await db.query("SELECT :n::int8 AS n, :doc::jsonb ->> 'k' AS k, :b::bytea AS b", {
      n: 9223372036854775807n,
      doc: { k: "v" },
      b: new Uint8Array([7]),
    });
    expect(big.rows).toEqual([{ n: "9223372036854775807", k: "v", b: new Uint8Array([7]) }]);
  });

  it("counts affected rows", async () => {
    const db = executor();
    expect((await db.query("INSERT INTO items (id, name) VALUES (1, 'a'), (2, 'b')")).rowCount).toBe(2);
    expect((await db.query("UPDATE items SET name = 'c'")).rowCount).toBe(2);
    expect((await db.query("SELECT * FROM items")).rowCount).toBe(2);
  });

  it("throws SqlError with the SQLState and the message the backend gives", async () => {
    const db = executor();
    await db.query("INSERT INTO items (id, name) VALUES (1, 'a')");
    const direct = await rejection(backend.query("INSERT INTO items (id, name) VALUES (1, 'b')"));
    const viaApi = await rejection(db.query("INSERT INTO items (id, name) VALUES (1, 'b')"));
    expect(viaApi).toBeInstanceOf(SqlError);
    expect((viaApi as SqlError).sqlState).toBe("23505");
    expect(viaApi.message).toBe(direct.message);
    const exists = await rejection(db.query("CREATE TABLE items (x int)"));
    expect(exists).toMatchObject({ sqlState: "42P07", message: 'relation "items" already exists' });
  });

  it("refuses several statements before making a call", async () => {
    const db = executor();
    const before = endpoint.calls.length;
    await expect(db.query("SELECT 1; SELECT 2")).rejects.toBeInstanceOf(MultipleStatementsError);
    expect(endpoint.calls.length).toBe(before);
  });

  it("sends DDL, and statements that ask for it, with continueAfterTimeout", async () => {
    const db = executor();
    const before = endpoint.calls.length;
    await db.query("CREATE TABLE IF NOT EXISTS ddl_probe (x int)");
    await db.query("SELECT 1");
    await db.query("UPDATE items SET name = name", {}, { continueAfterTimeout: true });
    expect(endpoint.calls.slice(before).map((c) => c.continueAfterTimeout ?? false)).toEqual([true, false, true]);
  });

  it("names the secret ARN when the secret is refused", async () => {
    const secretArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:typo-123456";
    const error = await rejection(executor({ secretArn }).query("SELECT 1"));
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toContain(secretArn);
    expect(error.message).toContain("SecretsErrorException");
    expect(error.message).toMatch(/secretsmanager:GetSecretValue/);
  });

  it("names the cluster ARN when the cluster is refused", async () => {
    const resourceArn = "arn:aws:rds:us-east-1:123456789012:cluster:nope";
    const error = await rejection(executor({ resourceArn }).transaction(async () => undefined));
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toContain(resourceArn);
    expect(error.message).toMatch(/Data API \(HTTP endpoint\) is enabled/);
  });

  it("builds its own client from the SDK's environment variables", async () => {
    vi.stubEnv("AWS_ENDPOINT_URL_RDS_DATA", endpoint.url);
    vi.stubEnv("AWS_REGION", "eu-west-1");
    vi.stubEnv("AWS_ACCESS_KEY_ID", "local");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "local");
    const db = new DataApiExecutor({ ...ARNS, database: "retort", sleep: async () => undefined, retry: { maxAttempts: 3 } });
    try {
      expect((await db.query("SELECT 41 + 1 AS answer")).rows).toEqual([{ answer: 42 }]);
      // The SDK's own retries are off: one DatabaseResumingException is one call, retried by us.
      const before = endpoint.calls.length;
      endpoint.faults.inject({ on: "Execute", error: "resuming" });
      await db.query("SELECT 1");
      expect(callsSince(before)).toEqual(["Execute 400", "Execute 200"]);
    } finally {
      await db.close();
    }
  });
});

describe("transactions", () => {
  it("commits what the callback did and returns its value", async () => {
    const db = executor();
    const before = endpoint.calls.length;
    const value = await db.transaction(async (tx) => {
      await tx.query("INSERT INTO items (id, name) VALUES (1, 'a')");
      return (await tx.query("SELECT count(*)::int4 AS n FROM items")).rows[0];
    });
    expect(value).toEqual({ n: 1 });
    expect(callsSince(before)).toEqual(["BeginTransaction 200", "Execute 200", "Execute 200", "CommitTransaction 200"]);
    expect((await backend.query("SELECT count(*)::int4 AS n FROM items")).rows).toEqual([{ n: 1 }]);
  });

  it("rolls back and rethrows when the callback throws", async () => {
    const db = executor();
    const boom = new Error("boom");
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO items (id, name) VALUES (1, 'a')");
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect((await backend.query("SELECT count(*)::int4 AS n FROM items")).rows).toEqual([{ n: 0 }]);
    expect(endpoint.openTransactionCount()).toBe(0);
  });

  it("sends statements one after another even when the callback does not wait", async () => {
    const db = executor();
    await db.transaction(async (tx) => {
      await Promise.all([
        tx.query(`INSERT INTO items (id, name) VALUES (1, 'slow') ${SLOW}`),
        tx.query("INSERT INTO items (id, name) VALUES (2, 'fast')"),
      ]);
    });
    expect((await backend.query("SELECT name FROM items ORDER BY id")).rows).toEqual([{ name: "slow" }, { name: "fast" }]);
  });

  it("fails later statements with 25P02 after one failed, as PostgreSQL does, and does not commit", async () => {
    const db = executor();
    const before = endpoint.calls.length;
    const error = await rejection(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO items (id, name) VALUES (1, 'a')");
        await tx.query("INSERT INTO items (id, name) VALUES (1, 'a')").catch(() => undefined);
        await tx.query("SELECT 1");
      }),
    );
    expect(error).toMatchObject({ sqlState: "25P02" });
    expect(callsSince(before)).toEqual([
      "BeginTransaction 200",
      "Execute 200",
      "Execute 400",
      // The service already ended the transaction; the rollback finds nothing, which is fine.
      "RollbackTransaction 404",
    ]);
    expect((await backend.query("SELECT count(*)::int4 AS n FROM items")).rows).toEqual([{ n: 0 }]);
  });

  it("refuses nested transactions and the executor inside a callback", async () => {
    const db = executor();
    await expect(db.transaction(() => db.transaction(async () => 1))).rejects.toBeInstanceOf(TransactionUsageError);
    await expect(db.transaction(() => db.query("SELECT 1"))).rejects.toBeInstanceOf(TransactionUsageError);
  });
});

describe("retries", () => {
  it("retries DatabaseResumingException with growing delays, then succeeds", async () => {
    const db = executor();
    endpoint.faults.inject({ on: "Execute", error: "resuming", times: 3 });
    const before = endpoint.calls.length;
    expect((await db.query("SELECT 7 AS n")).rows).toEqual([{ n: 7 }]);
    expect(callsSince(before)).toEqual(["Execute 400", "Execute 400", "Execute 400", "Execute 200"]);
    expect(delays).toHaveLength(3);
    expect(delays[0]).toBeGreaterThanOrEqual(50);
    expect(delays[0]).toBeLessThanOrEqual(100);
    expect(delays[2]).toBeGreaterThanOrEqual(200);
  });

  it("retries a BeginTransaction that finds the cluster resuming", async () => {
    const db = executor();
    endpoint.faults.inject({ on: "BeginTransaction", error: "resuming", times: 2 });
    await db.transaction((tx) => tx.query("INSERT INTO items (id, name) VALUES (1, 'a')"));
    expect((await backend.query("SELECT count(*)::int4 AS n FROM items")).rows).toEqual([{ n: 1 }]);
  });

  it("retries resuming and throttling inside a transaction: the statement did not run", async () => {
    const db = executor();
    endpoint.faults.inject({ on: "Execute", error: "throttle" });
    endpoint.faults.inject({ on: "Execute", error: "resuming", nth: 3 });
    await db.transaction(async (tx) => {
      await tx.query("INSERT INTO items (id, name) VALUES (1, 'a')");
      await tx.query("INSERT INTO items (id, name) VALUES (2, 'b')");
    });
    expect((await backend.query("SELECT count(*)::int4 AS n FROM items")).rows).toEqual([{ n: 2 }]);
    expect(delays).toHaveLength(2);
  });

  it("retries 5xx outside a transaction", async () => {
    const db = executor();
    endpoint.faults.inject({ on: "Execute", error: "5xx", status: 503 });
    endpoint.faults.inject({ on: "Execute", error: "5xx", status: 504, nth: 2 });
    const before = endpoint.calls.length;
    await db.query("INSERT INTO items (id, name) VALUES (1, 'a')");
    expect(callsSince(before)).toEqual(["Execute 503", "Execute 504", "Execute 200"]);
  });

  it("does not retry a 5xx inside a transaction when the statement ran: it fails and rolls back", async () => {
    const db = executor();
    endpoint.faults.inject({ on: "Execute", error: "5xx", afterExecuting: true, nth: 2 });
    const before = endpoint.calls.length;
    const error = await rejection(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO items (id, name) VALUES (1, 'a')");
        await tx.query("INSERT INTO items (id, name) VALUES (2, 'b')");
        await tx.query("INSERT INTO items (id, name) VALUES (3, 'c')");
      }),
    );
    expect(error).toBeInstanceOf(DataApiError);
    expect(error).toMatchObject({ outcomeUnknown: true, exceptionName: "InternalServerErrorException" });
    expect(error.message).toMatch(/whether the statement ran is unknown, so it was not retried/);
    expect(callsSince(before)).toEqual([
      "BeginTransaction 200",
      "Execute 200",
      "Execute 500",
      "RollbackTransaction 200",
    ]);
    expect((await backend.query("SELECT count(*)::int4 AS n FROM items")).rows).toEqual([{ n: 0 }]);
  });

  it("does not retry a statement timeout inside a transaction", async () => {
    const db = executor();
    endpoint.faults.inject({ on: "Execute", error: "timeout", afterExecuting: true });
    const before = endpoint.calls.length;
    const error = await rejection(db.transaction((tx) => tx.query("INSERT INTO items (id, name) VALUES (1, 'a')")));
    expect(error).toMatchObject({ name: "DataApiError", outcomeUnknown: true, exceptionName: "StatementTimeoutException" });
    expect(error.message).toMatch(/45 s limit/);
    expect(callsSince(before)).toEqual(["BeginTransaction 200", "Execute 400", "RollbackTransaction 200"]);
    expect((await backend.query("SELECT count(*)::int4 AS n FROM items")).rows).toEqual([{ n: 0 }]);
  });

  it("does not retry a statement timeout outside a transaction either", async () => {
    const db = executor();
    endpoint.faults.inject({ on: "Execute", error: "timeout" });
    const before = endpoint.calls.length;
    await expect(db.query("SELECT 1")).rejects.toMatchObject({ exceptionName: "StatementTimeoutException" });
    expect(callsSince(before)).toEqual(["Execute 400"]);
  });

  it("does not retry a COMMIT whose outcome is unknown", async () => {
    const db = executor();
    endpoint.faults.inject({ on: "CommitTransaction", error: "5xx", afterExecuting: true });
    const before = endpoint.calls.length;
    const error = await rejection(db.transaction((tx) => tx.query("INSERT INTO items (id, name) VALUES (1, 'a')")));
    expect(error).toMatchObject({ outcomeUnknown: true, operation: "CommitTransaction" });
    expect(error.message).toMatch(/whether the transaction committed is unknown/);
    expect(callsSince(before)).toEqual(["BeginTransaction 200", "Execute 200", "CommitTransaction 500"]);
    // It did commit: the caller was told it could not know.
    expect((await backend.query("SELECT count(*)::int4 AS n FROM items")).rows).toEqual([{ n: 1 }]);
  });

  it("gives up after maxAttempts with the last error", async () => {
    const db = executor({ retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 20 } });
    endpoint.faults.inject({ on: "Execute", error: "resuming", times: Infinity });
    const before = endpoint.calls.length;
    const error = await rejection(db.query("SELECT 1"));
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toMatch(/still resuming from auto-pause after 4 attempts/);
    expect((error.cause as Error).name).toBe("DatabaseResumingException");
    expect(callsSince(before)).toHaveLength(4);
    expect(delays).toHaveLength(3);

    endpoint.faults.clear();
    endpoint.faults.inject({ on: "Execute", error: "resuming", times: 2 });
    endpoint.faults.inject({ on: "Execute", error: "5xx", status: 503, nth: 3, times: Infinity });
    const last = await rejection(db.query("SELECT 1"));
    expect(last.message).toMatch(/failed 4 time\(s\).*last error: ServiceUnavailableError/);
  });

  it("recovers from a hung call outside a transaction", async () => {
    const client = sdkClient(endpoint.url, 150);
    clients.push(client);
    const db = executor({ client });
    endpoint.faults.inject({ on: "Execute", error: "hang" });
    expect((await db.query("SELECT 1 AS n")).rows).toEqual([{ n: 1 }]);
    expect(delays).toHaveLength(1);
  });
});
