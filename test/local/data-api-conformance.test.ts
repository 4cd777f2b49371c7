// The local Data API against the RDS Data API reference, operation by operation and field by
// field, through the real @aws-sdk/client-rds-data client on a random loopback port, over PGlite
// and over PostgreSQL: every parameter name form, value member and typeHint; result fields,
// arrayValue, columnMetadata, formattedRecords and resultSetOptions; BatchExecute's parameter
// sets; transactions; the request constraints; the exception names with the HTTP status the
// service model gives them; the two timeouts; and `retort local`'s flags for them. Where the
// service's behaviour is undocumented, the test pins the endpoint's conservative choice and says so.

import {
  AccessDeniedException,
  BadRequestException,
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  DatabaseErrorException,
  DatabaseNotFoundException,
  DatabaseResumingException,
  DatabaseUnavailableException,
  ExecuteStatementCommand,
  ForbiddenException,
  HttpEndpointNotEnabledException,
  InternalServerErrorException,
  InvalidResourceStateException,
  InvalidSecretException,
  NotFoundException,
  RDSDataServiceException,
  RollbackTransactionCommand,
  SecretsErrorException,
  ServiceUnavailableError,
  StatementTimeoutException,
  TransactionNotFoundException,
  UnsupportedResultException,
  type ExecuteStatementCommandInput,
  type RDSDataClient,
  type SqlParameter,
} from "@aws-sdk/client-rds-data";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDataApiEndpoint, type DataApiEndpoint, type DataApiEndpointOptions } from "../../lib/local/data-api-endpoint.ts";
import { EXCEPTION_STATUS } from "../../lib/local/data-api-wire.ts";
import type { SqlExecutor } from "../../lib/sql/executor.ts";
import { bin, retort, root } from "../support/cli.ts";
import { createTestDatabase } from "../support/postgres.ts";
import { ARNS, EndpointFixture, SLOW, backends, failure, sdkClient } from "./harness.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(backends.map((b) => [b.name, b] as const))("RDS Data API conformance over %s", (_name, factory) => {
  const fixture = new EndpointFixture(factory, 400);
  let executor: SqlExecutor;
  let endpoint: DataApiEndpoint;
  let client: RDSDataClient;
  let tables = 0;
  /** A table name no other test of this file uses. */
  const table = () => `conformance_t${++tables}`;

  const exec = (sql: string, more: Partial<ExecuteStatementCommandInput> = {}, c = client) =>
    c.send(new ExecuteStatementCommand({ ...ARNS, sql, ...more }));
  const begin = async (c = client) => (await c.send(new BeginTransactionCommand({ ...ARNS }))).transactionId!;
  /** The one row of a query, as typed fields. */
  const row = async (sql: string, parameters: SqlParameter[] = [], more: Partial<ExecuteStatementCommandInput> = {}) =>
    (await exec(sql, { parameters, ...more })).records?.[0];

  /** Another endpoint over the same backend, with its own options (and any ARNs). */
  const endpointWith = (options: Omit<DataApiEndpointOptions, "backend">) => fixture.endpointWith(options);

  beforeAll(async () => {
    ({ executor, endpoint, client } = await fixture.open());
  });

  afterEach(async () => {
    await fixture.afterEach();
    expect(endpoint.openTransactionCount()).toBe(0);
  });

  afterAll(() => fixture.close());

  describe("ExecuteStatement: parameter names", () => {
    it("binds numbered names :1, :2 (drizzle's aws-data-api driver counts from 1)", async () => {
      const out = await exec("SELECT :1::int4 + :2::int4 AS sum, :1::text AS again", {
        parameters: [
          { name: "1", value: { longValue: 40 } },
          { name: "2", value: { longValue: 2 } },
        ],
      });
      expect(out.records).toEqual([[{ longValue: 42 }, { stringValue: "40" }]]);
    });

    it("binds :0 (kysely-data-api counts from 0), in casts, IN lists, ARRAY[...] and LIMIT", async () => {
      const t = table();
      await exec(`CREATE TABLE ${t} (id int4, tags text[])`);
      await exec(`INSERT INTO ${t} VALUES (:0, cast(:1 as text[])), (:2, ARRAY[:3])`, {
        parameters: [
          { name: "0", value: { longValue: 1 } },
          { name: "1", value: { stringValue: "{a,b}" } },
          { name: "2", value: { longValue: 2 } },
          { name: "3", value: { stringValue: "c" } },
        ],
      });
      const out = await exec(`SELECT id, tags FROM ${t} WHERE id IN (:0,:1) ORDER BY id LIMIT :2`, {
        parameters: [
          { name: "0", value: { longValue: 1 } },
          { name: "1", value: { longValue: 2 } },
          { name: "2", value: { longValue: 10 } },
        ],
      });
      expect(out.records).toEqual([
        [{ longValue: 1 }, { arrayValue: { stringValues: ["a", "b"] } }],
        [{ longValue: 2 }, { arrayValue: { stringValues: ["c"] } }],
      ]);
    });

    it("leaves array slices alone: arr[1:2] is not a parameter", async () => {
      expect(await row("SELECT (ARRAY[10,20,30])[1:2] AS s, (ARRAY[10,20,30])[:1::int4] AS e", [{ name: "1", value: { longValue: 3 } }])).toEqual([
        { arrayValue: { longValues: [10, 20] } },
        { longValue: 30 },
      ]);
    });

    it("binds :name (letters, digits, _), reuses a name, ignores unused parameters and :name in literals", async () => {
      const out = await row("SELECT :a_1::int4 + :a_1::int4 AS twice, ':a_1' AS literal, \":B\" FROM (SELECT 1 AS \":B\") s -- :nope", [
        { name: "a_1", value: { longValue: 21 } },
        { name: "unused", value: { stringValue: "ignored" } },
      ]);
      expect(out).toEqual([{ longValue: 42 }, { stringValue: ":a_1" }, { longValue: 1 }]);
    });

    it("refuses a parameter the SQL names but the call does not send (ValidationException)", async () => {
      const error = await failure(exec("SELECT :missing::int4 AS x"));
      expect(error).toBeInstanceOf(RDSDataServiceException);
      expect(error.name).toBe("ValidationException");
      expect(error.$metadata?.httpStatusCode).toBe(400);
      expect(error.message).toMatch(/:missing/);
    });

    it("refuses a parameter without a name: the service has named parameters only", async () => {
      const error = await failure(exec("SELECT 1", { parameters: [{ value: { longValue: 1 } }] }));
      expect(error.name).toBe("ValidationException");
    });
  });

  describe("ExecuteStatement: value members", () => {
    const typeOf = async (value: SqlParameter["value"], typeHint?: SqlParameter["typeHint"]) =>
      (await row("SELECT pg_typeof(:v)::text AS t", [{ name: "v", value, ...(typeHint ? { typeHint } : {}) }]))?.[0]?.stringValue;

    it("binds longValue as int8, doubleValue as float8, booleanValue as bool, stringValue as varchar, blobValue as bytea", async () => {
      expect(await typeOf({ longValue: 1 })).toBe("bigint");
      expect(await typeOf({ doubleValue: 1.5 })).toBe("double precision");
      expect(await typeOf({ booleanValue: true })).toBe("boolean");
      expect(await typeOf({ stringValue: "x" })).toBe("character varying");
      expect(await typeOf({ blobValue: new Uint8Array([1]) })).toBe("bytea");
    });

    it("round-trips each member", async () => {
      expect(
        await row("SELECT :l AS l, :d AS d, :b AS b, :s AS s, :x AS x, :n::int4 AS n", [
          { name: "l", value: { longValue: -9007199254740991 } },
          { name: "d", value: { doubleValue: -0.125 } },
          { name: "b", value: { booleanValue: false } },
          { name: "s", value: { stringValue: "héllo 'quoted' ;" } },
          { name: "x", value: { blobValue: new Uint8Array([0, 255, 10]) } },
          { name: "n", value: { isNull: true } },
        ]),
      ).toEqual([
        { longValue: -9007199254740991 },
        { doubleValue: -0.125 },
        { booleanValue: false },
        { stringValue: "héllo 'quoted' ;" },
        { blobValue: new Uint8Array([0, 255, 10]) },
        { isNull: true },
      ]);
    });

    it("binds isNull as an untyped NULL, which takes the type its context gives it", async () => {
      const t = table();
      await exec(`CREATE TABLE ${t} (id int4, at timestamptz, doc jsonb)`);
      await exec(`INSERT INTO ${t} VALUES (1, :at, :doc)`, {
        parameters: [
          { name: "at", value: { isNull: true } },
          { name: "doc", value: { isNull: true } },
        ],
      });
      expect(await row(`SELECT at, doc FROM ${t}`)).toEqual([{ isNull: true }, { isNull: true }]);
    });

    it("refuses arrayValue: array parameters are not supported (send a string and cast it)", async () => {
      const error = await failure(exec("SELECT :a AS a", { parameters: [{ name: "a", value: { arrayValue: { longValues: [1, 2] } } }] }));
      expect(error.name).toBe("ValidationException");
      expect(error.message).toBe("Array parameters are not supported.");
      expect(await row("SELECT CAST(:a AS int4[]) AS a", [{ name: "a", value: { stringValue: "{1,2}" } }])).toEqual([
        { arrayValue: { longValues: [1, 2] } },
      ]);
    });

    it("refuses a longValue with a fraction", async () => {
      const error = await failure(exec("SELECT :a AS a", { parameters: [{ name: "a", value: { longValue: 1.5 } }] }));
      expect(error.name).toBe("ValidationException");
      expect(error.message).toMatch(/doubleValue/);
    });
  });

  describe("ExecuteStatement: typeHint", () => {
    const hinted = async (typeHint: SqlParameter["typeHint"], stringValue: string) =>
      row("SELECT pg_typeof(:v)::text AS t, :v::text AS v", [{ name: "v", value: { stringValue }, typeHint }]);

    it("DATE binds YYYY-MM-DD as date", async () => {
      expect(await hinted("DATE", "2024-02-29")).toEqual([{ stringValue: "date" }, { stringValue: "2024-02-29" }]);
    });

    it("TIME binds HH:MM:SS[.FFF] as time", async () => {
      expect(await hinted("TIME", "23:59:58.5")).toEqual([{ stringValue: "time without time zone" }, { stringValue: "23:59:58.5" }]);
    });

    it("TIMESTAMP binds YYYY-MM-DD HH:MM:SS[.FFF] as timestamp", async () => {
      expect(await hinted("TIMESTAMP", "2024-05-01 10:00:00.123")).toEqual([
        { stringValue: "timestamp without time zone" },
        { stringValue: "2024-05-01 10:00:00.123" },
      ]);
    });

    it("DECIMAL binds as numeric, exactly", async () => {
      expect(await hinted("DECIMAL", "12345678901234567890.0001")).toEqual([{ stringValue: "numeric" }, { stringValue: "12345678901234567890.0001" }]);
    });

    it("UUID binds as uuid, so a uuid column takes it (a plain string is varchar and does not)", async () => {
      const id = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
      expect(await hinted("UUID", id)).toEqual([{ stringValue: "uuid" }, { stringValue: id }]);
      const t = table();
      await exec(`CREATE TABLE ${t} (id uuid)`);
      const plain = await failure(exec(`INSERT INTO ${t} VALUES (:id)`, { parameters: [{ name: "id", value: { stringValue: id } }] }));
      expect(plain).toBeInstanceOf(DatabaseErrorException);
      expect(plain.message).toMatch(/is of type uuid but expression is of type character varying.*; SQLState: 42804$/s);
      await exec(`INSERT INTO ${t} VALUES (:id)`, { parameters: [{ name: "id", value: { stringValue: id }, typeHint: "UUID" }] });
    });

    it("JSON binds as json, so a jsonb column takes it", async () => {
      expect(await hinted("JSON", '{"a": [1, 2]}')).toEqual([{ stringValue: "json" }, { stringValue: '{"a": [1, 2]}' }]);
      const t = table();
      await exec(`CREATE TABLE ${t} (doc jsonb)`);
      await exec(`INSERT INTO ${t} VALUES (:doc)`, { parameters: [{ name: "doc", value: { stringValue: '{"k":"v"}' }, typeHint: "JSON" }] });
      expect(await row(`SELECT doc->>'k' AS k FROM ${t}`)).toEqual([{ stringValue: "v" }]);
    });

    it("refuses a date or time outside the documented format, and a typeHint outside the enum", async () => {
      const iso = await failure(hinted("TIMESTAMP", "2024-05-01T10:00:00Z"));
      expect(iso.name).toBe("ValidationException");
      expect(iso.message).toMatch(/YYYY-MM-DD HH:MM:SS\[\.FFF\]/);
      const bad = await failure(hinted("INTERVAL" as never, "1 day"));
      expect(bad.name).toBe("ValidationException");
      expect(bad.message).toMatch(/typeHint' failed to satisfy constraint: Member must satisfy enum value set: \[DATE, TIME, TIMESTAMP, DECIMAL, JSON, UUID\]/);
    });
  });

  describe("ExecuteStatement: results", () => {
    it("returns each supported type as its field member (timestamptz in UTC, without offset)", async () => {
      const out = await row(
        // Distinct names: rows reach the endpoint keyed by column name.
        `SELECT 1::int2, 2::int4, 9007199254740991::int8, 0.5::float4, 0.25::float8, 12.50::numeric, true,
                'txt'::text, 'vc'::varchar, 'ch'::char(3), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid,
                '{"a":1}'::json, '{"a": 1}'::jsonb, '\\x01ff'::bytea, '2024-02-29'::date, '10:00:00'::time,
                '2024-05-01 10:00:00'::timestamp, '2024-05-01 12:00:00+02'::timestamptz, '10.0.0.1'::inet`,
      );
      expect(out).toEqual([
        { longValue: 1 },
        { longValue: 2 },
        { longValue: 9007199254740991 },
        { doubleValue: 0.5 },
        { doubleValue: 0.25 },
        { stringValue: "12.50" },
        { booleanValue: true },
        { stringValue: "txt" },
        { stringValue: "vc" },
        { stringValue: "ch " },
        { stringValue: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" },
        { stringValue: '{"a":1}' },
        { stringValue: '{"a": 1}' },
        { blobValue: new Uint8Array([1, 255]) },
        { stringValue: "2024-02-29" },
        { stringValue: "10:00:00" },
        { stringValue: "2024-05-01 10:00:00" },
        { stringValue: "2024-05-01 10:00:00" },
        { stringValue: "10.0.0.1" },
      ]);
    });

    it("returns PostgreSQL arrays as arrayValue, by element type, NULLs kept", async () => {
      expect(
        await row(
          `SELECT ARRAY[1,NULL,3]::int4[] AS a, ARRAY[9007199254740991]::int8[] AS b, ARRAY[1.5]::float8[] AS c,
                  ARRAY[true,NULL] AS d, ARRAY['a',NULL,'']::text[] AS e, ARRAY[1.10]::numeric[] AS f,
                  ARRAY['2024-01-01']::date[] AS g, '{}'::int4[] AS h`,
        ),
      ).toEqual([
        { arrayValue: { longValues: [1, null, 3] } },
        { arrayValue: { longValues: [9007199254740991] } },
        { arrayValue: { doubleValues: [1.5] } },
        { arrayValue: { booleanValues: [true, null] } },
        { arrayValue: { stringValues: ["a", null, ""] } },
        { arrayValue: { stringValues: ["1.10"] } },
        { arrayValue: { stringValues: ["2024-01-01"] } },
        { arrayValue: { longValues: [] } },
      ]);
    });

    it("refuses monetary and geometric columns with UnsupportedResultException (cast them to text)", async () => {
      for (const sql of ["SELECT 1.5::money AS m", "SELECT point(1, 2) AS p", "SELECT ARRAY[1.5::money] AS ms"]) {
        const error = await failure(exec(sql));
        expect(error).toBeInstanceOf(UnsupportedResultException);
        expect(error.$metadata?.httpStatusCode).toBe(400);
        expect(error.message).toMatch(/^The result contains the unsupported data type \w+/);
      }
      expect(await row("SELECT 1.5::money::text AS m")).toEqual([{ stringValue: "$1.50" }]);
    });

    it("reports rows affected for DML and 0 for a query", async () => {
      const t = table();
      await exec(`CREATE TABLE ${t} (id int4)`);
      expect((await exec(`INSERT INTO ${t} VALUES (1), (2), (3)`)).numberOfRecordsUpdated).toBe(3);
      expect((await exec(`UPDATE ${t} SET id = id + 1 WHERE id > 1`)).numberOfRecordsUpdated).toBe(2);
      expect((await exec(`SELECT * FROM ${t}`)).numberOfRecordsUpdated).toBe(0);
      expect((await exec(`DELETE FROM ${t}`)).numberOfRecordsUpdated).toBe(3);
    });
  });

  describe("ExecuteStatement: includeResultMetadata", () => {
    it("returns columnMetadata for a query only when asked", async () => {
      const sql = "SELECT 1::int4 AS id, 'x'::text AS label, ARRAY[1]::int8[] AS ids";
      expect((await exec(sql)).columnMetadata).toBeUndefined();
      const out = await exec(sql, { includeResultMetadata: true });
      expect(out.columnMetadata?.map((c) => [c.name, c.label, c.typeName, c.type, c.arrayBaseColumnType])).toEqual([
        ["id", "id", "int4", 4, 0],
        ["label", "label", "text", 12, 0],
        ["ids", "ids", "_int8", 2003, -5],
      ]);
      // Zero rows still describe their columns.
      const none = await exec(`${sql} WHERE false`, { includeResultMetadata: true });
      expect(none.records).toEqual([]);
      expect(none.columnMetadata).toHaveLength(3);
    });

    it("returns neither records nor columnMetadata for a statement without a result set", async () => {
      const t = table();
      const ddl = await exec(`CREATE TABLE ${t} (id int4)`, { includeResultMetadata: true });
      expect(ddl.columnMetadata).toBeUndefined();
      const dml = await exec(`INSERT INTO ${t} VALUES (1)`, { includeResultMetadata: true });
      expect(dml).toMatchObject({ numberOfRecordsUpdated: 1 });
      expect(dml.columnMetadata).toBeUndefined();
      expect(dml.records).toBeUndefined();
      const returning = await exec(`INSERT INTO ${t} VALUES (2) RETURNING id`, { includeResultMetadata: true });
      expect(returning.records).toEqual([[{ longValue: 2 }]]);
      expect(returning.columnMetadata?.map((c) => c.name)).toEqual(["id"]);
    });
  });

  describe("ExecuteStatement: formatRecordsAs", () => {
    it("JSON returns formattedRecords (no records, no columnMetadata even with includeResultMetadata)", async () => {
      const out = await exec(
        `SELECT 17::int4 AS i, 10.5::float8 AS f, 1.10::numeric AS d, true AS b, NULL::text AS n, 'é"\\'::text AS s,
                '\\x68656c6c6f'::bytea AS blob, ARRAY[1,2]::int4[] AS a, '2024-05-01 10:00:00+00'::timestamptz AS at`,
        { formatRecordsAs: "JSON", includeResultMetadata: true },
      );
      expect(out.records).toBeUndefined();
      expect(out.columnMetadata).toBeUndefined();
      expect(out.numberOfRecordsUpdated).toBe(0);
      expect(JSON.parse(out.formattedRecords!)).toEqual([
        { i: 17, f: 10.5, d: "1.10", b: true, n: null, s: 'é"\\', blob: "aGVsbG8=", a: [1, 2], at: "2024-05-01 10:00:00" },
      ]);
    });

    it("JSON writes int8 beyond 2^53 digit for digit", async () => {
      const out = await exec("SELECT 9223372036854775807::int8 AS big", { formatRecordsAs: "JSON" });
      expect(out.formattedRecords).toBe('[{"big":9223372036854775807}]');
    });

    it("JSON refuses two columns of one name (JSON keys must be unique)", async () => {
      const error = await failure(exec("SELECT 1 AS x, 2 AS x", { formatRecordsAs: "JSON" }));
      expect(error).toBeInstanceOf(BadRequestException);
      expect(error.message).toMatch(/more than one column named "x"/);
    });

    it("JSON is ignored for a statement without a result set", async () => {
      const t = table();
      await exec(`CREATE TABLE ${t} (id int4)`);
      const out = await exec(`INSERT INTO ${t} VALUES (1)`, { formatRecordsAs: "JSON" });
      expect(out.numberOfRecordsUpdated).toBe(1);
      expect(out.formattedRecords).toBeUndefined();
    });

    it("NONE (the default) returns records; anything else is refused", async () => {
      expect((await exec("SELECT 1::int4 AS one", { formatRecordsAs: "NONE" })).records).toEqual([[{ longValue: 1 }]]);
      const error = await failure(exec("SELECT 1", { formatRecordsAs: "XML" as never }));
      expect(error.name).toBe("ValidationException");
      expect(error.message).toMatch(/formatRecordsAs' failed to satisfy constraint: Member must satisfy enum value set: \[NONE, JSON\]/);
    });

    it("JSON refuses formattedRecords over the 10 MB limit with BadRequestException", async () => {
      const { client: c } = await endpointWith({ maxFormattedRecordsBytes: 100 });
      const error = await failure(exec("SELECT repeat('x', 200) AS big", { formatRecordsAs: "JSON" }, c));
      expect(error).toBeInstanceOf(BadRequestException);
      expect(error.message).toMatch(/response size limit/);
    });
  });

  describe("ExecuteStatement: resultSetOptions", () => {
    const sql = "SELECT 42::int4 AS i, 9223372036854775807::int8 AS big, 12::numeric AS whole, 12.50::numeric(5,2) AS frac";

    it("longReturnType STRING returns integers as text (records and JSON); LONG is the default", async () => {
      expect(await row(sql, [], { resultSetOptions: { longReturnType: "LONG" } })).toEqual([
        { longValue: 42 },
        { longValue: 9223372036854775807 },
        { stringValue: "12" },
        { stringValue: "12.50" },
      ]);
      expect(await row(sql, [], { resultSetOptions: { longReturnType: "STRING" } })).toEqual([
        { stringValue: "42" },
        { stringValue: "9223372036854775807" },
        { stringValue: "12" },
        { stringValue: "12.50" },
      ]);
      const json = await exec(sql, { formatRecordsAs: "JSON", resultSetOptions: { longReturnType: "STRING" } });
      expect(JSON.parse(json.formattedRecords!)).toEqual([{ i: "42", big: "9223372036854775807", whole: "12", frac: "12.50" }]);
    });

    it("decimalReturnType DOUBLE_OR_LONG returns a decimal as a long when whole, a double otherwise (records and JSON)", async () => {
      expect(await row(sql, [], { resultSetOptions: { decimalReturnType: "DOUBLE_OR_LONG" } })).toEqual([
        { longValue: 42 },
        { longValue: 9223372036854775807 },
        { longValue: 12 },
        { doubleValue: 12.5 },
      ]);
      const json = await exec(sql, { formatRecordsAs: "JSON", resultSetOptions: { decimalReturnType: "DOUBLE_OR_LONG" } });
      expect(json.formattedRecords).toBe('[{"i":42,"big":9223372036854775807,"whole":12,"frac":12.5}]');
      // STRING is the default.
      expect((await row("SELECT 1.5::numeric AS d", [], { resultSetOptions: { decimalReturnType: "STRING" } }))).toEqual([{ stringValue: "1.5" }]);
    });

    it("decimalReturnType DOUBLE_OR_LONG returns a whole number beyond a long as a double (undocumented: the conservative answer)", async () => {
      expect(await row("SELECT 123456789012345678901234::numeric AS n", [], { resultSetOptions: { decimalReturnType: "DOUBLE_OR_LONG" } })).toEqual([
        { doubleValue: 1.2345678901234568e23 },
      ]);
    });

    it("refuses values outside the documented sets", async () => {
      const error = await failure(exec("SELECT 1", { resultSetOptions: { decimalReturnType: "FLOAT" as never } }));
      expect(error.name).toBe("ValidationException");
      expect(error.message).toMatch(/resultSetOptions.decimalReturnType' failed to satisfy constraint: Member must satisfy enum value set: \[STRING, DOUBLE_OR_LONG\]/);
      const other = await failure(exec("SELECT 1", { resultSetOptions: { longReturnType: "INT" as never } }));
      expect(other.message).toMatch(/\[STRING, LONG\]/);
    });
  });

  describe("ExecuteStatement: database, schema, sql and the request's constraints", () => {
    it("runs on the named database, and refuses another as the service does", async () => {
      await exec("SELECT 1", { database: "retort" });
      const error = await failure(exec("SELECT 1", { database: "elsewhere" }));
      expect(error).toBeInstanceOf(DatabaseErrorException);
      expect(error.message).toBe('ERROR: database "elsewhere" does not exist; SQLState: 3D000');
    });

    it("refuses the schema member on Execute, BatchExecute and BeginTransaction (ValidationException)", async () => {
      const calls = [
        exec("SELECT 1", { schema: "public" }),
        client.send(new BatchExecuteStatementCommand({ ...ARNS, schema: "public", sql: "SELECT 1", parameterSets: [[]] })),
        client.send(new BeginTransactionCommand({ ...ARNS, schema: "public" })),
      ];
      for (const call of calls) {
        const error = await failure(call);
        expect(error.name).toBe("ValidationException");
        expect(error.message).toBe("The schema parameter isn't supported");
      }
      expect(endpoint.openTransactionCount()).toBe(0);
    });

    it("refuses two statements in one call; one statement with a trailing ; is fine", async () => {
      const error = await failure(exec("SELECT 1; SELECT 2"));
      expect(error.name).toBe("ValidationException");
      expect(error.message).toBe("Multistatements aren't supported.");
      expect((await exec("SELECT ';' AS s; -- done")).records).toEqual([[{ stringValue: ";" }]]);
    });

    it("holds members to the model's lengths: ARNs 11 to 100, sql up to 65536, database 64, transactionId 192", async () => {
      const short = await failure(exec("SELECT 1", { resourceArn: "arn:x" }));
      expect(short.name).toBe("ValidationException");
      expect(short.message).toBe(
        "1 validation error detected: Value 'arn:x' at 'resourceArn' failed to satisfy constraint: Member must have length greater than or equal to 11",
      );
      const long = await failure(exec(`SELECT 1 -- ${"x".repeat(65_536)}`, { database: "d".repeat(65) }));
      expect(long.message).toMatch(/^2 validation errors detected: Value at 'sql' .*less than or equal to 65536; Value '.*' at 'database' .*less than or equal to 64$/);
      const id = await failure(exec("SELECT 1", { transactionId: "t".repeat(193) }));
      expect(id.message).toMatch(/at 'transactionId' failed to satisfy constraint: Member must have length less than or equal to 192/);
      // Exactly at the limit is fine.
      const prefix = "SELECT 1::int4 AS one --";
      expect((await exec(prefix + "x".repeat(65_536 - prefix.length))).records).toEqual([[{ longValue: 1 }]]);
    });

    it("refuses a request over 4 MiB", async () => {
      const error = await failure(exec("SELECT length(:big) AS n", { parameters: [{ name: "big", value: { stringValue: "x".repeat(4 * 1024 * 1024) } }] }));
      expect(error.name).toBe("ValidationException");
      expect(error.message).toMatch(/4 MiB limit/);
    });

    it("refuses records over the 1 MiB response limit (the exception is undocumented: BadRequestException)", async () => {
      const { client: c } = await endpointWith({ maxResponseBytes: 1000 });
      const error = await failure(exec("SELECT repeat('x', 2000) AS big", {}, c));
      expect(error).toBeInstanceOf(BadRequestException);
      expect(error.message).toMatch(/^Database returned more than the allowed response size limit/);
    });
  });

  describe("BatchExecuteStatement", () => {
    it("runs the statement once per parameter set; each update result has empty generatedFields (PostgreSQL)", async () => {
      const t = table();
      await exec(`CREATE TABLE ${t} (id serial PRIMARY KEY, name text, at date)`);
      const out = await client.send(
        new BatchExecuteStatementCommand({
          ...ARNS,
          database: "retort",
          sql: `INSERT INTO ${t} (name, at) VALUES (:name, :at) RETURNING id`,
          parameterSets: ["a", "b", "c"].map((name) => [
            { name: "name", value: { stringValue: name } },
            { name: "at", value: { stringValue: "2024-01-02" }, typeHint: "DATE" as const },
          ]),
        }),
      );
      expect(out.updateResults).toEqual([{ generatedFields: [] }, { generatedFields: [] }, { generatedFields: [] }]);
      expect((await exec(`SELECT name, at::text FROM ${t} ORDER BY id`)).records).toEqual([
        [{ stringValue: "a" }, { stringValue: "2024-01-02" }],
        [{ stringValue: "b" }, { stringValue: "2024-01-02" }],
        [{ stringValue: "c" }, { stringValue: "2024-01-02" }],
      ]);
    });

    it("runs a statement without parameters once per empty set, and not at all without sets", async () => {
      const t = table();
      await exec(`CREATE TABLE ${t} (id serial PRIMARY KEY)`);
      const sql = `INSERT INTO ${t} DEFAULT VALUES`;
      expect((await client.send(new BatchExecuteStatementCommand({ ...ARNS, sql, parameterSets: [[], []] }))).updateResults).toHaveLength(2);
      expect((await client.send(new BatchExecuteStatementCommand({ ...ARNS, sql }))).updateResults).toEqual([]);
      expect(await row(`SELECT count(*)::int4 FROM ${t}`)).toEqual([{ longValue: 2 }]);
    });

    it("binds numbered names and typeHints in every set, and refuses array parameters", async () => {
      const t = table();
      await exec(`CREATE TABLE ${t} (id int4, uid uuid)`);
      await client.send(
        new BatchExecuteStatementCommand({
          ...ARNS,
          sql: `INSERT INTO ${t} VALUES (:1, :2)`,
          parameterSets: [1, 2].map((n) => [
            { name: "1", value: { longValue: n } },
            { name: "2", value: { stringValue: `00000000-0000-0000-0000-00000000000${n}` }, typeHint: "UUID" as const },
          ]),
        }),
      );
      expect(await row(`SELECT count(*)::int4 FROM ${t}`)).toEqual([{ longValue: 2 }]);
      const error = await failure(
        client.send(
          new BatchExecuteStatementCommand({ ...ARNS, sql: `INSERT INTO ${t} (id) VALUES (:1)`, parameterSets: [[{ name: "1", value: { arrayValue: { longValues: [1] } } }]] }),
        ),
      );
      expect(error.message).toBe("Array parameters are not supported.");
    });

    it("runs inside a transaction", async () => {
      const t = table();
      await exec(`CREATE TABLE ${t} (id int4)`);
      const transactionId = await begin();
      await client.send(
        new BatchExecuteStatementCommand({ ...ARNS, transactionId, sql: `INSERT INTO ${t} VALUES (:id)`, parameterSets: [[{ name: "id", value: { longValue: 1 } }]] }),
      );
      expect(await row(`SELECT count(*)::int4 FROM ${t}`, [], { transactionId })).toEqual([{ longValue: 1 }]);
      await client.send(new RollbackTransactionCommand({ ...ARNS, transactionId }));
      expect(await row(`SELECT count(*)::int4 FROM ${t}`)).toEqual([{ longValue: 0 }]);
    });
  });

  describe("transactions", () => {
    it("BeginTransaction returns an id; CommitTransaction answers 'Transaction Committed' and keeps the changes", async () => {
      const t = table();
      await exec(`CREATE TABLE ${t} (id int4)`);
      const transactionId = await begin();
      expect(transactionId.length).toBeGreaterThan(20);
      expect(transactionId.length).toBeLessThanOrEqual(192);
      await exec(`INSERT INTO ${t} VALUES (1)`, { transactionId });
      const done = await client.send(new CommitTransactionCommand({ ...ARNS, transactionId }));
      expect(done.transactionStatus).toBe("Transaction Committed");
      expect(await row(`SELECT count(*)::int4 FROM ${t}`)).toEqual([{ longValue: 1 }]);
    });

    it("RollbackTransaction answers 'Rollback Complete' and drops the changes, DDL included", async () => {
      const t = table();
      const transactionId = await begin();
      await exec(`CREATE TABLE ${t} (id int4)`, { transactionId });
      const done = await client.send(new RollbackTransactionCommand({ ...ARNS, transactionId }));
      expect(done.transactionStatus).toBe("Rollback Complete");
      expect(await row(`SELECT to_regclass('${t}')::text`)).toEqual([{ isNull: true }]);
    });

    it("answers TransactionNotFoundException (404) for an unknown or finished transaction, saying why", async () => {
      const unknown = await failure(exec("SELECT 1", { transactionId: "not-a-transaction" }));
      expect(unknown).toBeInstanceOf(TransactionNotFoundException);
      expect(unknown.$metadata?.httpStatusCode).toBe(404);
      expect(unknown.message).toMatch(/^Transaction not-a-transaction isn't found\. /);
      const transactionId = await begin();
      await client.send(new RollbackTransactionCommand({ ...ARNS, transactionId }));
      const again = await failure(client.send(new CommitTransactionCommand({ ...ARNS, transactionId })));
      expect(again).toBeInstanceOf(TransactionNotFoundException);
      expect(again.message).toMatch(/One previous call resulted in a termination of your transaction/);
    });

    it("ends a transaction whose statement failed: later calls do not find it", async () => {
      const transactionId = await begin();
      await failure(exec("SELECT 1 / 0", { transactionId }));
      const after = await failure(exec("SELECT 1", { transactionId }));
      expect(after).toBeInstanceOf(TransactionNotFoundException);
      expect(after.message).toMatch(/aborted due to an error from a previous call/);
    });

    it("refuses a call while another runs in the same transaction: 'Transaction is still running a query'", async () => {
      const transactionId = await begin();
      const slow = exec(`SELECT 1 ${SLOW}`, { transactionId });
      await sleep(50);
      const parallel = await failure(exec("SELECT 2", { transactionId }));
      expect(parallel).toBeInstanceOf(DatabaseErrorException);
      expect(parallel.message).toMatch(/^Transaction is still running a query/);
      const commit = await failure(client.send(new CommitTransactionCommand({ ...ARNS, transactionId })));
      expect(commit.message).toMatch(/^Transaction is still running a query/);
      await slow;
      await client.send(new CommitTransactionCommand({ ...ARNS, transactionId }));
    });

    it("rolls back a transaction no call used for the idle timeout (transactionTimeoutMs)", async () => {
      const { endpoint: e, client: c } = await endpointWith({ transactionTimeoutMs: 150 });
      const t = table();
      await exec(`CREATE TABLE ${t} (id int4)`);
      const transactionId = await begin(c);
      await exec(`INSERT INTO ${t} VALUES (1)`, { transactionId }, c);
      await sleep(100);
      await exec("SELECT 1", { transactionId }, c); // restarts the clock
      await sleep(400);
      expect(e.openTransactionCount()).toBe(0);
      const error = await failure(exec("SELECT 1", { transactionId }, c));
      expect(error).toBeInstanceOf(TransactionNotFoundException);
      expect(error.message).toMatch(/Transaction may be expired: no call used it for 150 ms/);
      expect(await row(`SELECT count(*)::int4 FROM ${t}`)).toEqual([{ longValue: 0 }]);
    });

    it("rolls back a transaction at its maximum lifetime however busy (the service's 24 hours)", async () => {
      const { endpoint: e, client: c } = await endpointWith({ transactionMaxLifetimeMs: 300 });
      const transactionId = await begin(c);
      for (let i = 0; i < 3; i += 1) {
        await sleep(50);
        await exec("SELECT 1", { transactionId }, c);
      }
      await sleep(400);
      expect(e.openTransactionCount()).toBe(0);
      const late = await failure(c.send(new CommitTransactionCommand({ ...ARNS, transactionId })));
      expect(late).toBeInstanceOf(TransactionNotFoundException);
      expect(late.message).toMatch(/it was begun more than 300 ms ago/);
    });
  });

  describe("statement timeout (statementTimeoutMs)", () => {
    it("answers StatementTimeoutException (400, with dbConnectionId) when a call outlives it", async () => {
      const { client: c } = await endpointWith({ statementTimeoutMs: 50 });
      const error = await failure(exec(`SELECT 1 ${SLOW}`, {}, c));
      expect(error).toBeInstanceOf(StatementTimeoutException);
      expect(error.$metadata?.httpStatusCode).toBe(400);
      expect(error.dbConnectionId).toBe(0);
      await sleep(500);
    });

    it("with continueAfterTimeout the statement runs on after the answer (undocumented without it: the port cannot cancel)", async () => {
      const { endpoint: e, client: c } = await endpointWith({ statementTimeoutMs: 50 });
      const t = table();
      await exec(`CREATE TABLE ${t} (id int4)`);
      const error = await failure(exec(`INSERT INTO ${t} VALUES (1) ${SLOW}`, { continueAfterTimeout: true }, c));
      expect(error.name).toBe("StatementTimeoutException");
      expect(e.calls.at(-1)).toMatchObject({ continueAfterTimeout: true, errorType: "StatementTimeoutException" });
      await sleep(600);
      expect(await row(`SELECT count(*)::int4 FROM ${t}`)).toEqual([{ longValue: 1 }]);
    });

    it("refuses a timeout a timer cannot wait", async () => {
      await expect(startDataApiEndpoint({ backend: executor, statementTimeoutMs: 0 })).rejects.toThrow(/statementTimeoutMs must be a whole number/);
      await expect(startDataApiEndpoint({ backend: executor, transactionTimeoutMs: 2 ** 31 })).rejects.toThrow(/transactionTimeoutMs/);
    });
  });

  describe("exceptions", () => {
    // Every exception in the service model, with the SDK class the real client turns it into.
    const modeled = [
      [AccessDeniedException, "client"],
      [BadRequestException, "client"],
      [DatabaseErrorException, "client"],
      [DatabaseNotFoundException, "client"],
      [DatabaseResumingException, "client"],
      [DatabaseUnavailableException, "server"],
      [ForbiddenException, "client"],
      [HttpEndpointNotEnabledException, "client"],
      [InternalServerErrorException, "server"],
      [InvalidResourceStateException, "client"],
      [InvalidSecretException, "client"],
      [NotFoundException, "client"],
      [SecretsErrorException, "client"],
      [ServiceUnavailableError, "server"],
      [StatementTimeoutException, "client"],
      [TransactionNotFoundException, "client"],
      [UnsupportedResultException, "client"],
    ] as const;

    it.each(modeled.map(([type, fault]) => [type.name, type, fault] as const))(
      "%s travels with the model's HTTP status and reaches the SDK as its own class",
      async (name, type, fault) => {
        endpoint.faults.inject({ on: "Execute", error: "exception", exception: name as keyof typeof EXCEPTION_STATUS, message: `injected ${name}` });
        const error = await failure(exec("SELECT 1"));
        expect(error).toBeInstanceOf(type);
        expect(error.name).toBe(name);
        expect(error.$fault).toBe(fault);
        expect(error.$metadata?.httpStatusCode).toBe(EXCEPTION_STATUS[name as keyof typeof EXCEPTION_STATUS]);
        expect(error.message).toBe(`injected ${name}`);
      },
    );

    it("answers the errors the service has without a model class (ValidationException, ThrottlingException) by name", async () => {
      endpoint.faults.inject({ on: "BeginTransaction", error: "throttle" });
      const throttled = await failure(begin());
      expect(throttled.name).toBe("ThrottlingException");
      expect(throttled.$metadata?.httpStatusCode).toBe(429);
      const invalid = await failure(exec("SELECT 1; SELECT 2"));
      expect(invalid.name).toBe("ValidationException");
      expect(invalid.$metadata?.httpStatusCode).toBe(400);
    });

    it("DatabaseResumingException: the statement did not run", async () => {
      const t = table();
      await exec(`CREATE TABLE ${t} (id int4)`);
      endpoint.faults.inject({ on: "Execute", error: "resuming" });
      const error = await failure(exec(`INSERT INTO ${t} VALUES (1)`));
      expect(error).toBeInstanceOf(DatabaseResumingException);
      expect(error.message).toMatch(/resuming after being auto-paused/);
      expect(await row(`SELECT count(*)::int4 FROM ${t}`)).toEqual([{ longValue: 0 }]);
    });

    it("SecretsErrorException and HttpEndpointNotEnabledException for another secret or cluster than configured", async () => {
      const secret = await failure(exec("SELECT 1", { secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf" }));
      expect(secret).toBeInstanceOf(SecretsErrorException);
      const cluster = await failure(exec("SELECT 1", { resourceArn: "arn:aws:rds:us-east-1:123456789012:cluster:other" }));
      expect(cluster).toBeInstanceOf(HttpEndpointNotEnabledException);
    });

    it("DatabaseErrorException carries PostgreSQL's message and SQLState", async () => {
      const error = await failure(exec("SELECT * FROM conformance_no_such_table"));
      expect(error).toBeInstanceOf(DatabaseErrorException);
      // pgjdbc, which the service renders errors with, may add a Position line the port does not carry.
      expect(error.message).toMatch(/^ERROR: relation "conformance_no_such_table" does not exist(\n {2}Position: \d+)?; SQLState: 42P01$/);
    });
  });
});

describe("retort local: --statement-timeout and --transaction-idle-timeout", () => {
  it("serves the Data API with both timeouts shortened", async () => {
    const database = await createTestDatabase();
    const child = spawn(
      process.execPath,
      [bin, "local", "--db", database.url, "--statement-timeout", "300ms", "--transaction-idle-timeout", "0.5s"],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    const c = await (async () => {
      const [url] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
      return sdkClient(url);
    })();
    try {
      const slow = await failure(c.send(new ExecuteStatementCommand({ ...ARNS, sql: "SELECT pg_sleep(1)" })));
      expect(slow).toBeInstanceOf(StatementTimeoutException);
      const { transactionId } = await c.send(new BeginTransactionCommand({ ...ARNS }));
      await sleep(1500);
      const idle = await failure(c.send(new ExecuteStatementCommand({ ...ARNS, transactionId: transactionId!, sql: "SELECT 1" })));
      expect(idle).toBeInstanceOf(TransactionNotFoundException);
      expect(idle.message).toMatch(/no call used it for 500 ms/);
    } finally {
      c.destroy();
      child.kill("SIGTERM");
      await once(child, "exit");
      await database.drop();
    }
  });

  it.each([
    ["--statement-timeout", "0"],
    ["--statement-timeout", "soon"],
    ["--transaction-idle-timeout", "-1s"],
    ["--transaction-idle-timeout", "1000h"],
  ])("refuses %s %s as bad usage (exit 2), naming the flag", async (flag, value) => {
    const run = await retort("local", "--db", "pglite://memory", flag, value);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`option '${flag} <duration>' argument '${value}' is invalid`);
    expect(run.stdout).toBe("");
  });

  it("lists both flags in its help", async () => {
    const run = await retort("local", "--help");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--statement-timeout <duration>.*default 45s/);
    expect(run.stdout).toMatch(/--transaction-idle-timeout <duration>.*default 3m/);
  });
});
