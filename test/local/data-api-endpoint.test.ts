// The local Data API endpoint, driven by the real @aws-sdk/client-rds-data client over HTTP, on
// each backend (PGlite in memory and a scratch PostgreSQL database): field types both ways,
// metadata, formattedRecords, row counts, BatchExecute, the service's errors, transactions and
// their failure modes, identity checks and fault injection.

import {
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RollbackTransactionCommand,
  type ExecuteStatementCommandInput,
  type RDSDataClient,
} from "@aws-sdk/client-rds-data";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DataApiEndpoint, DataApiEndpointOptions } from "../../lib/local/data-api-endpoint.ts";
import type { QueryOptions, SqlExecutor, SqlParams, SqlSession } from "../../lib/sql/executor.ts";
import { ARNS, EndpointFixture, SLOW, backends, failure, sdkClient } from "./harness.ts";

describe.each(backends.map((b) => [b.name, b] as const))("local Data API over %s", (_name, factory) => {
  const fixture = new EndpointFixture(factory, 300);
  let executor: SqlExecutor;
  let endpoint: DataApiEndpoint;
  let client: RDSDataClient;

  const exec = (sql: string, more: Partial<ExecuteStatementCommandInput> = {}) =>
    client.send(new ExecuteStatementCommand({ ...ARNS, sql, ...more }));
  const begin = async (c = client) => (await c.send(new BeginTransactionCommand({ ...ARNS }))).transactionId!;

  /** Another endpoint over the same backend, with its own options. */
  const endpointWith = (options: Omit<DataApiEndpointOptions, "backend">, over?: SqlExecutor) => fixture.endpointWith(options, over);

  beforeAll(async () => {
    ({ executor, endpoint, client } = await fixture.open());
    await executor.query(
      `CREATE TABLE kinds (
        id int4 PRIMARY KEY, small int2, big int8, real4 float4, dbl float8, num numeric(12, 3),
        flag bool, label text, code varchar(10), uid uuid, doc jsonb, raw bytea, day date,
        at timestamp, atz timestamptz, tags text[], nums int4[]
      )`,
    );
    await executor.query("CREATE TABLE items (id int4 PRIMARY KEY, name text NOT NULL)");
  });

  afterEach(async () => {
    await fixture.afterEach();
    await executor.query("DELETE FROM items");
  });

  afterAll(() => fixture.close());

  describe("Execute", () => {
    it("binds typed parameters and returns typed fields with column metadata", async () => {
      const inserted = await exec(
        `INSERT INTO kinds VALUES (:id, :small, :big, :real4, :dbl, :num, :flag, :label, :code, :uid, :doc,
           :raw, :day, :at, :atz, '{"a b",NULL}', '{{1,2},{3,4}}')`,
        {
          parameters: [
            { name: "id", value: { longValue: 1 } },
            { name: "small", value: { longValue: -2 } },
            { name: "big", value: { longValue: 9007199254740991 } },
            { name: "real4", value: { doubleValue: 1.5 } },
            { name: "dbl", value: { doubleValue: -0.25 } },
            { name: "num", value: { stringValue: "12345.678" }, typeHint: "DECIMAL" },
            { name: "flag", value: { booleanValue: true } },
            { name: "label", value: { stringValue: "héllo" } },
            { name: "code", value: { isNull: true } },
            { name: "uid", value: { stringValue: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" }, typeHint: "UUID" },
            { name: "doc", value: { stringValue: '{"k": [1, 2]}' }, typeHint: "JSON" },
            { name: "raw", value: { blobValue: new Uint8Array([0, 1, 254, 255]) } },
            { name: "day", value: { stringValue: "2024-02-29" }, typeHint: "DATE" },
            { name: "at", value: { stringValue: "2024-05-01 10:00:00.123" }, typeHint: "TIMESTAMP" },
            { name: "atz", value: { stringValue: "2024-05-01 10:00:00" }, typeHint: "TIMESTAMP" },
            { name: "unused", value: { stringValue: "ignored like the service does" } },
          ],
        },
      );
      expect(inserted.numberOfRecordsUpdated).toBe(1);

      const out = await exec("SELECT * FROM kinds WHERE id = :id", {
        parameters: [{ name: "id", value: { longValue: 1 } }],
        includeResultMetadata: true,
      });
      expect(out.numberOfRecordsUpdated).toBe(0);
      expect(out.columnMetadata?.map((c) => c.typeName)).toEqual([
        "int4", "int2", "int8", "float4", "float8", "numeric", "bool", "text", "varchar", "uuid", "jsonb",
        "bytea", "date", "timestamp", "timestamptz", "_text", "_int4",
      ]);
      expect(out.columnMetadata?.[0]).toMatchObject({ name: "id", label: "id", type: 4 });
      const [row] = out.records!;
      expect(row).toEqual([
        { longValue: 1 },
        { longValue: -2 },
        { longValue: 9007199254740991 },
        { doubleValue: 1.5 },
        { doubleValue: -0.25 },
        { stringValue: "12345.678" },
        { booleanValue: true },
        { stringValue: "héllo" },
        { isNull: true },
        { stringValue: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" },
        { stringValue: '{"k": [1, 2]}' },
        { blobValue: new Uint8Array([0, 1, 254, 255]) },
        { stringValue: "2024-02-29" },
        { stringValue: "2024-05-01 10:00:00.123" },
        // timestamptz comes back in UTC without an offset, as the service sends it.
        { stringValue: "2024-05-01 10:00:00" },
        { arrayValue: { stringValues: ["a b", null] } },
        { arrayValue: { arrayValues: [{ longValues: [1, 2] }, { longValues: [3, 4] }] } },
      ]);
    });

    it("returns int8 beyond 2^53 as text when asked with longReturnType STRING", async () => {
      const out = await exec("SELECT 9223372036854775807::int8 AS big, 5::int4 AS small", {
        resultSetOptions: { longReturnType: "STRING" },
      });
      expect(out.records?.[0]).toEqual([{ stringValue: "9223372036854775807" }, { stringValue: "5" }]);
    });

    it("returns formattedRecords as a JSON string when formatRecordsAs is JSON", async () => {
      await exec("INSERT INTO items VALUES (1, 'one'), (2, 'two')");
      const out = await exec("SELECT id, name, NULL::text AS nothing FROM items ORDER BY id", { formatRecordsAs: "JSON" });
      expect(out.records).toBeUndefined();
      expect(JSON.parse(out.formattedRecords!)).toEqual([
        { id: 1, name: "one", nothing: null },
        { id: 2, name: "two", nothing: null },
      ]);
    });

    it("reports rows affected by INSERT, UPDATE and DELETE, and 0 for DDL", async () => {
      expect((await exec("INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')")).numberOfRecordsUpdated).toBe(3);
      expect((await exec("UPDATE items SET name = 'x' WHERE id > 1")).numberOfRecordsUpdated).toBe(2);
      expect((await exec("DELETE FROM items")).numberOfRecordsUpdated).toBe(3);
      expect((await exec("CREATE TABLE IF NOT EXISTS ddl_probe (x int)")).numberOfRecordsUpdated).toBe(0);
    });

    it("binds strings as varchar, so a uuid column needs typeHint UUID, as on the service", async () => {
      const error = await failure(
        exec("INSERT INTO kinds (id, uid) VALUES (2, :uid)", {
          parameters: [{ name: "uid", value: { stringValue: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" } }],
        }),
      );
      expect(error.name).toBe("DatabaseErrorException");
      expect(error.message).toMatch(/column "uid" is of type uuid but expression is of type character varying/);
      expect(error.message).toMatch(/; SQLState: 42804$/);
    });

    it("answers SQL errors with DatabaseErrorException carrying the text and SQLState", async () => {
      const error = await failure(exec("CREATE TABLE items (id int)"));
      expect(error.name).toBe("DatabaseErrorException");
      expect(error.$metadata?.httpStatusCode).toBe(400);
      expect(error.message).toBe('ERROR: relation "items" already exists; SQLState: 42P07');

      await exec("INSERT INTO items VALUES (1, 'a')");
      const duplicate = await failure(exec("INSERT INTO items VALUES (1, 'b')"));
      expect(duplicate.message).toMatch(/^ERROR: duplicate key value violates unique constraint "items_pkey"\n {2}Detail: Key \(id\)=\(1\) already exists\.; SQLState: 23505$/);
    });

    it("refuses two statements in one call", async () => {
      const error = await failure(exec("INSERT INTO items VALUES (1, 'a'); INSERT INTO items VALUES (2, 'b')"));
      expect(error.name).toBe("ValidationException");
      expect(error.message).toBe("Multistatements aren't supported.");
      expect((await exec("SELECT count(*)::int4 AS n FROM items")).records?.[0]).toEqual([{ longValue: 0 }]);
      // A trailing semicolon, semicolons in literals and comments are still one statement.
      await exec("SELECT ';' AS a, $$;$$ AS b -- ;\n;");
    });

    it("refuses a parameter the SQL names but the call does not send", async () => {
      const error = await failure(exec("SELECT :missing::int4 AS x"));
      expect(error.name).toBe("ValidationException");
      expect(error.message).toMatch(/:missing/);
    });

    it("refuses another database as the service does", async () => {
      const error = await failure(exec("SELECT 1", { database: "elsewhere" }));
      expect(error.name).toBe("DatabaseErrorException");
      expect(error.message).toBe('ERROR: database "elsewhere" does not exist; SQLState: 3D000');
      await exec("SELECT 1", { database: "retort" });
    });

    it("answers StatementTimeoutException when a call outlives the statement timeout", async () => {
      const { client: c } = await endpointWith({ statementTimeoutMs: 30 });
      const error = await failure(c.send(new ExecuteStatementCommand({ ...ARNS, sql: `SELECT 1 ${SLOW}` })));
      expect(error.name).toBe("StatementTimeoutException");
    });

    it("refuses result sets over the response size limit", async () => {
      const { client: c } = await endpointWith({ maxResponseBytes: 1000 });
      const error = await failure(
        c.send(new ExecuteStatementCommand({ ...ARNS, sql: "SELECT repeat('x', 2000) AS big" })),
      );
      expect(error.message).toMatch(/response size limit/);
    });
  });

  describe("BatchExecute", () => {
    it("runs the statement once per parameter set", async () => {
      const out = await client.send(
        new BatchExecuteStatementCommand({
          ...ARNS,
          sql: "INSERT INTO items VALUES (:id, :name)",
          parameterSets: [1, 2, 3].map((id) => [
            { name: "id", value: { longValue: id } },
            { name: "name", value: { stringValue: `n${id}` } },
          ]),
        }),
      );
      expect(out.updateResults).toHaveLength(3);
      expect((await exec("SELECT count(*)::int4 FROM items")).records?.[0]).toEqual([{ longValue: 3 }]);
    });

    it("applies all sets or none outside a transaction", async () => {
      const error = await failure(
        client.send(
          new BatchExecuteStatementCommand({
            ...ARNS,
            sql: "INSERT INTO items VALUES (:id, 'x')",
            parameterSets: [[{ name: "id", value: { longValue: 1 } }], [{ name: "id", value: { longValue: 1 } }]],
          }),
        ),
      );
      expect(error.message).toMatch(/SQLState: 23505/);
      expect((await exec("SELECT count(*)::int4 FROM items")).records?.[0]).toEqual([{ longValue: 0 }]);
    });

    it("runs inside a transaction", async () => {
      const transactionId = await begin();
      await client.send(
        new BatchExecuteStatementCommand({
          ...ARNS,
          transactionId,
          sql: "INSERT INTO items VALUES (:id, 'x')",
          parameterSets: [[{ name: "id", value: { longValue: 1 } }], [{ name: "id", value: { longValue: 2 } }]],
        }),
      );
      await client.send(new RollbackTransactionCommand({ ...ARNS, transactionId }));
      expect((await exec("SELECT count(*)::int4 FROM items")).records?.[0]).toEqual([{ longValue: 0 }]);
    });
  });

  describe("transactions", () => {
    it("commits", async () => {
      const transactionId = await begin();
      expect(transactionId.length).toBeGreaterThan(20);
      await exec("INSERT INTO items VALUES (1, 'a')", { transactionId });
      const seen = await exec("SELECT count(*)::int4 FROM items", { transactionId });
      expect(seen.records?.[0]).toEqual([{ longValue: 1 }]);
      const done = await client.send(new CommitTransactionCommand({ ...ARNS, transactionId }));
      expect(done.transactionStatus).toBe("Transaction Committed");
      expect((await exec("SELECT count(*)::int4 FROM items")).records?.[0]).toEqual([{ longValue: 1 }]);
      expect(endpoint.openTransactionCount()).toBe(0);
    });

    it("rolls back, DDL included", async () => {
      const transactionId = await begin();
      await exec("INSERT INTO items VALUES (1, 'a')", { transactionId });
      await exec("CREATE TABLE rolled_back (x int)", { transactionId });
      const done = await client.send(new RollbackTransactionCommand({ ...ARNS, transactionId }));
      expect(done.transactionStatus).toBe("Rollback Complete");
      expect((await exec("SELECT count(*)::int4 FROM items")).records?.[0]).toEqual([{ longValue: 0 }]);
      expect((await exec("SELECT to_regclass('rolled_back')::text AS t")).records?.[0]).toEqual([{ isNull: true }]);
    });

    it("does not know an invented or finished transaction id", async () => {
      const unknown = await failure(exec("SELECT 1", { transactionId: "not-a-transaction" }));
      expect(unknown.name).toBe("TransactionNotFoundException");
      expect(unknown.$metadata?.httpStatusCode).toBe(404);
      expect(unknown.message).toMatch(/^Transaction not-a-transaction isn't found/);

      const transactionId = await begin();
      await client.send(new CommitTransactionCommand({ ...ARNS, transactionId }));
      const again = await failure(client.send(new CommitTransactionCommand({ ...ARNS, transactionId })));
      expect(again.name).toBe("TransactionNotFoundException");
      expect(again.message).toMatch(/committed/);
    });

    it("ends a transaction whose statement failed", async () => {
      const transactionId = await begin();
      await exec("INSERT INTO items VALUES (1, 'a')", { transactionId });
      const error = await failure(exec("INSERT INTO items VALUES (1, 'again')", { transactionId }));
      expect(error.message).toMatch(/SQLState: 23505/);
      const after = await failure(exec("SELECT 1", { transactionId }));
      expect(after.name).toBe("TransactionNotFoundException");
      expect(after.message).toMatch(/aborted due to an error from a previous call/);
      expect((await exec("SELECT count(*)::int4 FROM items")).records?.[0]).toEqual([{ longValue: 0 }]);
    });

    it("refuses a second call while one is running in the same transaction", async () => {
      // The first statement is held on the backend until the second call has been answered, so
      // the two overlap however slowly either request travels (no sleep to win a race).
      const held = heldBackend(fixture.backend.executor);
      const { client: c } = await endpointWith({}, held.backend);
      const send = (sql: string, transactionId: string) =>
        c.send(new ExecuteStatementCommand({ ...ARNS, sql, transactionId }));
      const transactionId = await begin(c);
      const slow = send(`INSERT INTO items VALUES (1, 'slow') ${HOLD}`, transactionId);
      await held.reached;
      const parallel = await failure(send("SELECT 1", transactionId));
      expect(parallel.name).toBe("DatabaseErrorException");
      expect(parallel.message).toMatch(/^Transaction is still running a query/);
      held.release();
      expect((await slow).numberOfRecordsUpdated).toBe(1);
      // The transaction itself is unharmed.
      await c.send(new CommitTransactionCommand({ ...ARNS, transactionId }));
      expect((await exec("SELECT count(*)::int4 FROM items")).records?.[0]).toEqual([{ longValue: 1 }]);
    });

    it("rolls back a transaction left idle past the timeout", async () => {
      const { endpoint: e, client: c } = await endpointWith({ transactionTimeoutMs: 100 });
      const transactionId = await begin(c);
      await c.send(new ExecuteStatementCommand({ ...ARNS, transactionId, sql: "INSERT INTO items VALUES (1, 'a')" }));
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(e.openTransactionCount()).toBe(0);
      const error = await failure(c.send(new ExecuteStatementCommand({ ...ARNS, transactionId, sql: "SELECT 1" })));
      expect(error.name).toBe("TransactionNotFoundException");
      expect(error.message).toMatch(/expired/);
      expect((await exec("SELECT count(*)::int4 FROM items")).records?.[0]).toEqual([{ longValue: 0 }]);
    });

    it("keeps a transaction alive while calls keep using it", async () => {
      const { client: c } = await endpointWith({ transactionTimeoutMs: 1_000 });
      const transactionId = await begin(c);
      // 5 x 250 ms outlives the 1 s timeout; each call restarts the idle clock. Each gap leaves
      // 750 ms for the call itself, so a slow machine does not expire it.
      for (let i = 0; i < 5; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        await c.send(new ExecuteStatementCommand({ ...ARNS, transactionId, sql: "SELECT 1" }));
      }
      await c.send(new CommitTransactionCommand({ ...ARNS, transactionId }));
    });
  });

  describe("identity", () => {
    it("refuses another secret with SecretsErrorException naming it", async () => {
      const secretArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:wrong-XyZ";
      const error = await failure(client.send(new ExecuteStatementCommand({ ...ARNS, secretArn, sql: "SELECT 1" })));
      expect(error.name).toBe("SecretsErrorException");
      expect(error.message).toContain(secretArn);
    });

    it("refuses another cluster with HttpEndpointNotEnabledException", async () => {
      const resourceArn = "arn:aws:rds:us-east-1:123456789012:cluster:other";
      const error = await failure(client.send(new BeginTransactionCommand({ ...ARNS, resourceArn })));
      expect(error.name).toBe("HttpEndpointNotEnabledException");
      expect(error.message).toContain(resourceArn);
    });

    it("accepts any ARNs when none are configured", async () => {
      const { client: c } = await endpointWith({});
      const out = await c.send(
        new ExecuteStatementCommand({ resourceArn: "arn:aws:rds:xx:1:cluster:a", secretArn: "arn:aws:secretsmanager:xx:1:secret:b", sql: "SELECT 1" }),
      );
      expect(out.records).toEqual([[{ longValue: 1 }]]);
    });
  });

  describe("faults", () => {
    it("fails the nth matching call with DatabaseResumingException, then recovers", async () => {
      const fault = endpoint.faults.inject({ on: "Execute", nth: 2, error: "resuming" });
      await exec("SELECT 1");
      const error = await failure(exec("SELECT 1"));
      expect(error.name).toBe("DatabaseResumingException");
      expect(error.message).toMatch(/resuming after being auto-paused/);
      await exec("SELECT 1");
      expect(fault.fired).toBe(1);
      expect(fault.seen).toBe(3);
    });

    it("answers 500, 503 and 504 as the service's server faults", async () => {
      endpoint.faults.inject({ on: "any", error: "5xx" });
      endpoint.faults.inject({ on: "any", error: "5xx", status: 503, nth: 2 });
      endpoint.faults.inject({ on: "any", error: "5xx", status: 504, nth: 3 });
      const errors = [await failure(exec("SELECT 1")), await failure(exec("SELECT 1")), await failure(begin())];
      expect(errors.map((e) => [e.name, e.$metadata?.httpStatusCode])).toEqual([
        ["InternalServerErrorException", 500],
        ["ServiceUnavailableError", 503],
        ["DatabaseUnavailableException", 504],
      ]);
    });

    it("throttles with HTTP 429", async () => {
      endpoint.faults.inject({ on: "BeginTransaction", error: "throttle", times: 2 });
      expect((await failure(begin())).$metadata?.httpStatusCode).toBe(429);
      expect((await failure(begin())).name).toBe("ThrottlingException");
      const transactionId = await begin();
      await client.send(new RollbackTransactionCommand({ ...ARNS, transactionId }));
    });

    it("runs the statement and then fails the call with afterExecuting", async () => {
      endpoint.faults.inject({ on: "Execute", error: "5xx", afterExecuting: true });
      const error = await failure(exec("INSERT INTO items VALUES (1, 'ran anyway')"));
      expect(error.name).toBe("InternalServerErrorException");
      expect((await exec("SELECT name FROM items")).records).toEqual([[{ stringValue: "ran anyway" }]]);
    });

    it("answers StatementTimeoutException without running the statement", async () => {
      endpoint.faults.inject({ on: "Execute", error: "timeout" });
      const error = await failure(exec("INSERT INTO items VALUES (1, 'never')"));
      expect(error.name).toBe("StatementTimeoutException");
      expect((await exec("SELECT count(*)::int4 FROM items")).records?.[0]).toEqual([{ longValue: 0 }]);
    });

    it("hangs until the client gives up", async () => {
      const { endpoint: e } = await endpointWith({});
      const impatient = sdkClient(e.url, 200);
      e.faults.inject({ on: "Execute", error: "hang" });
      const error = await failure(impatient.send(new ExecuteStatementCommand({ ...ARNS, sql: "SELECT 1" })));
      expect(error.name).toMatch(/TimeoutError|RequestTimeout/);
      impatient.destroy();
    });

    it("records every call", async () => {
      const before = endpoint.calls.length;
      endpoint.faults.inject({ on: "Execute", error: "resuming" });
      await failure(exec("SELECT 2"));
      await exec("SELECT 3");
      expect(endpoint.calls.slice(before)).toEqual([
        { operation: "Execute", sql: "SELECT 2", status: 400, errorType: "DatabaseResumingException", fault: "resuming" },
        { operation: "Execute", sql: "SELECT 3", status: 200 },
      ]);
    });
  });
});

/** Statements containing this marker wait on the backend until the test releases them. */
const HOLD = "/* hold */";

/**
 * `inner` with statements marked HOLD held inside transactions before they run: `reached`
 * resolves once one has arrived (the endpoint has claimed its transaction by then), `release`
 * lets it run. Everything else goes straight to `inner`.
 */
function heldBackend(inner: SqlExecutor): { backend: SqlExecutor; reached: Promise<void>; release(): void } {
  let arrived!: () => void;
  const reached = new Promise<void>((resolve) => (arrived = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const held = (tx: SqlSession): SqlSession => ({
    async query<Row>(sql: string, params?: SqlParams, options?: QueryOptions) {
      if (sql.includes(HOLD)) {
        arrived();
        await released;
      }
      return tx.query<Row>(sql, params, options);
    },
  });
  const backend = new Proxy(inner, {
    get(target, key) {
      if (key === "transaction") return <T>(fn: (tx: SqlSession) => Promise<T>) => target.transaction((tx) => fn(held(tx)));
      const value: unknown = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { backend, reached, release };
}
