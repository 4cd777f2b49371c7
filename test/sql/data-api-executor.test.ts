// Unit tests for the Data API adapter's pure parts: named parameters -> typed SqlParameters,
// typed fields -> the port's values, the service's SQL error text -> message + SQLState, failure
// classes for the retry policy, backoff, and which statements are sent with continueAfterTimeout.

import type { RDSDataClient } from "@aws-sdk/client-rds-data";
import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY, DataApiExecutor } from "../../lib/sql/data-api-executor.ts";
import { toDataApiTimestamp, toSqlParameter, toSqlParameters } from "../../lib/sql/data-api-parameters.ts";
import { fromField, normalizeTypeName, toQueryResult } from "../../lib/sql/data-api-results.ts";
import { classifyFailure, parseSqlErrorMessage } from "../../lib/sql/data-api-errors.ts";
import { backoffDelay } from "../../lib/retry.ts";
import { MultipleStatementsError } from "../../lib/sql/errors.ts";
import { MissingParameterError } from "../../lib/sql/lexer.ts";
import { encodeParam } from "../../lib/sql/values.ts";
import { classifyStatement } from "../../lib/sql/statement-class.ts";

describe("toSqlParameter", () => {
  const param = (value: Parameters<typeof encodeParam>[0]) => toSqlParameter("p", encodeParam(value, "p"));

  it("maps each kind of value to its typed field", () => {
    expect(param(null)).toEqual({ name: "p", value: { isNull: true } });
    expect(param("text")).toEqual({ name: "p", value: { stringValue: "text" } });
    expect(param(42)).toEqual({ name: "p", value: { longValue: 42 } });
    expect(param(-7n)).toEqual({ name: "p", value: { longValue: -7 } });
    expect(param(1.25)).toEqual({ name: "p", value: { doubleValue: 1.25 } });
    expect(param(true)).toEqual({ name: "p", value: { booleanValue: true } });
    expect(param(new Uint8Array([1, 2]))).toEqual({ name: "p", value: { blobValue: new Uint8Array([1, 2]) } });
    expect(param({ a: [1, "x"] })).toEqual({ name: "p", value: { stringValue: '{"a":[1,"x"]}' }, typeHint: "JSON" });
    expect(param([1, 2])).toEqual({ name: "p", value: { stringValue: "[1,2]" }, typeHint: "JSON" });
  });

  it("sends a Date as a UTC TIMESTAMP in the service's format", () => {
    expect(param(new Date("2024-05-01T10:00:00.123Z"))).toEqual({
      name: "p",
      value: { stringValue: "2024-05-01 10:00:00.123" },
      typeHint: "TIMESTAMP",
    });
    expect(toDataApiTimestamp(new Date(0))).toBe("1970-01-01 00:00:00.000");
  });

  it("keeps every digit of integers past 2^53 and non-finite floats as DECIMAL text", () => {
    expect(param(9223372036854775807n)).toEqual({
      name: "p",
      value: { stringValue: "9223372036854775807" },
      typeHint: "DECIMAL",
    });
    expect(param(Number.NaN)).toEqual({ name: "p", value: { stringValue: "NaN" }, typeHint: "DECIMAL" });
  });
});

describe("toSqlParameters", () => {
  it("sends only the parameters the statement names, once each", () => {
    expect(toSqlParameters("SELECT :a, :b, :a", { a: 1, b: "x", unused: true })).toEqual([
      { name: "a", value: { longValue: 1 } },
      { name: "b", value: { stringValue: "x" } },
    ]);
    expect(toSqlParameters("SELECT ':a' -- :b\n", {})).toEqual([]);
  });

  it("refuses what every adapter refuses, before any call", () => {
    expect(() => toSqlParameters("SELECT 1; SELECT 2")).toThrow(MultipleStatementsError);
    expect(() => toSqlParameters("  -- nothing\n")).toThrow(MultipleStatementsError);
    expect(() => toSqlParameters("SELECT :x")).toThrow(MissingParameterError);
  });
});

describe("fromField", () => {
  it("decodes each field member by the column type", () => {
    expect(fromField({ isNull: true }, "int4")).toBeNull();
    expect(fromField(undefined, "int4")).toBeNull();
    expect(fromField({ longValue: 5 }, "int4")).toBe(5);
    expect(fromField({ stringValue: "5" }, "int4")).toBe(5);
    expect(fromField({ stringValue: "9007199254740993" }, "int8")).toBe("9007199254740993");
    expect(fromField({ stringValue: "12" }, "int8")).toBe(12);
    expect(fromField({ longValue: 12 }, "numeric")).toBe("12");
    expect(fromField({ stringValue: "12.50" }, "numeric")).toBe("12.50");
    expect(fromField({ doubleValue: 0.5 }, "float8")).toBe(0.5);
    expect(fromField({ stringValue: "NaN" }, "float8")).toBeNaN();
    expect(fromField({ booleanValue: false }, "bool")).toBe(false);
    expect(fromField({ blobValue: new Uint8Array([9]) }, "bytea")).toEqual(new Uint8Array([9]));
    expect(fromField({ stringValue: '{"a":1}' }, "jsonb")).toBe('{"a":1}');
  });

  it("gives timestamptz and timetz back their UTC offset", () => {
    expect(fromField({ stringValue: "2024-05-01 10:00:00.5" }, "timestamptz")).toBe("2024-05-01 10:00:00.5+00");
    expect(fromField({ stringValue: "2024-05-01 10:00:00+00" }, "timestamptz")).toBe("2024-05-01 10:00:00+00");
    expect(fromField({ stringValue: "0044-03-15 10:00:00 BC" }, "timestamptz")).toBe("0044-03-15 10:00:00+00 BC");
    expect(fromField({ stringValue: "infinity" }, "timestamptz")).toBe("infinity");
    expect(fromField({ stringValue: "23:30:00" }, "timetz")).toBe("23:30:00+00");
    expect(fromField({ stringValue: "2024-05-01 10:00:00" }, "timestamp")).toBe("2024-05-01 10:00:00");
    expect(fromField({ stringValue: "2024-05-01" }, "date")).toBe("2024-05-01");
  });

  it("decodes arrays, nested and with NULLs", () => {
    expect(fromField({ arrayValue: { longValues: [1, 2] } }, "_int4")).toEqual([1, 2]);
    expect(fromField({ arrayValue: { stringValues: ["a", null] } }, "_text")).toEqual(["a", null]);
    expect(fromField({ arrayValue: { booleanValues: [true] } }, "_bool")).toEqual([true]);
    expect(fromField({ arrayValue: { doubleValues: [1.5] } }, "_float8")).toEqual([1.5]);
    expect(
      fromField({ arrayValue: { arrayValues: [{ longValues: [1, 2] }, { longValues: [3, 4] }] } }, "_int4"),
    ).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(fromField({ arrayValue: { stringValues: ["2024-05-01 10:00:00"] } }, "_timestamptz")).toEqual([
      "2024-05-01 10:00:00+00",
    ]);
  });
});

describe("toQueryResult", () => {
  it("builds rows keyed by column name and counts rows for a query", () => {
    const result = toQueryResult({
      columnMetadata: [
        { name: "id", label: "id", typeName: "serial" },
        { name: "tags", label: "tags", typeName: "_text" },
      ],
      records: [[{ longValue: 1 }, { arrayValue: { stringValues: ["x"] } }]],
      numberOfRecordsUpdated: 0,
    });
    expect(result).toEqual({
      rows: [{ id: 1, tags: ["x"] }],
      columns: [
        { name: "id", typeName: "int4" },
        { name: "tags", typeName: "_text" },
      ],
      rowCount: 1,
    });
  });

  it("counts affected rows for DML", () => {
    expect(toQueryResult({ columnMetadata: [], numberOfRecordsUpdated: 3 })).toEqual({ rows: [], columns: [], rowCount: 3 });
  });

  it("normalises the type names the service reports", () => {
    expect(normalizeTypeName("bigserial")).toBe("int8");
    expect(normalizeTypeName("int4[]")).toBe("_int4");
    expect(normalizeTypeName("TIMESTAMPTZ")).toBe("timestamptz");
  });
});

describe("parseSqlErrorMessage", () => {
  it("splits the message from the SQLState", () => {
    expect(parseSqlErrorMessage('ERROR: relation "users" already exists; SQLState: 42P07')).toEqual({
      message: 'relation "users" already exists',
      sqlState: "42P07",
    });
  });

  it("keeps Detail and Hint as the other adapters word them, drops Position", () => {
    expect(
      parseSqlErrorMessage(
        'ERROR: duplicate key value violates unique constraint "t_pkey"\n  Detail: Key (id)=(1) already exists.\n  Hint: look\n  Position: 8; SQLState: 23505',
      ),
    ).toEqual({
      message: 'duplicate key value violates unique constraint "t_pkey"\nDETAIL: Key (id)=(1) already exists.\nHINT: look',
      sqlState: "23505",
    });
  });

  it("returns undefined without an SQLState", () => {
    expect(parseSqlErrorMessage("Multistatements aren't supported.")).toBeUndefined();
  });
});

describe("classifyFailure", () => {
  const err = (name: string, status?: number, extra: object = {}) =>
    Object.assign(new Error("x"), { name, $metadata: { httpStatusCode: status }, ...extra });

  it("sorts failures by whether the statement may have run", () => {
    expect(classifyFailure(err("DatabaseResumingException", 400))).toBe("not-run");
    expect(classifyFailure(err("ThrottlingException", 429))).toBe("not-run");
    expect(classifyFailure(err("Whatever", 429))).toBe("not-run");
    expect(classifyFailure(err("Error", undefined, { code: "ECONNREFUSED" }))).toBe("not-run");
    expect(classifyFailure(err("InternalServerErrorException", 500))).toBe("unknown");
    expect(classifyFailure(err("ServiceUnavailableError", 503))).toBe("unknown");
    expect(classifyFailure(err("DatabaseUnavailableException", 504))).toBe("unknown");
    expect(classifyFailure(err("TimeoutError", undefined, { code: "ETIMEDOUT" }))).toBe("unknown");
    expect(classifyFailure(err("Error", undefined, { code: "ECONNRESET" }))).toBe("unknown");
    expect(classifyFailure(err("StatementTimeoutException", 400))).toBe("timeout");
    expect(classifyFailure(err("DatabaseErrorException", 400))).toBe("final");
    expect(classifyFailure(err("SecretsErrorException", 400))).toBe("final");
    expect(classifyFailure("not even an error")).toBe("final");
  });
});

describe("backoffDelay", () => {
  const retry = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };

  it("doubles up to the cap, with half of each delay random", () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, retry, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, retry, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it("waits long enough by default for an auto-paused cluster to resume", () => {
    // The adapter's own defaults, not a copy: a change to them must be judged by this bound.
    let least = 0;
    for (let attempt = 1; attempt < DEFAULT_RETRY.maxAttempts; attempt += 1) least += backoffDelay(attempt, DEFAULT_RETRY, () => 0);
    expect(least).toBeGreaterThan(25_000);
  });

  it("is what an executor without retry options waits, as long as the cluster keeps resuming", async () => {
    let calls = 0;
    const client = {
      send: async () => {
        calls += 1;
        throw Object.assign(new Error("resuming"), { name: "DatabaseResumingException", $metadata: { httpStatusCode: 400 } });
      },
    } as unknown as RDSDataClient;
    const slept: number[] = [];
    const db = new DataApiExecutor({
      resourceArn: "arn:aws:rds:us-east-1:000000000000:cluster:c",
      secretArn: "arn:aws:secretsmanager:us-east-1:000000000000:secret:s-AbCdEf",
      client,
      // Records the delays instead of waiting them, so the test takes no time.
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    await expect(db.query("SELECT 1")).rejects.toThrow(`still resuming from auto-pause after ${DEFAULT_RETRY.maxAttempts} attempts`);
    expect(calls).toBe(DEFAULT_RETRY.maxAttempts);
    expect(slept).toHaveLength(DEFAULT_RETRY.maxAttempts - 1);
    slept.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(backoffDelay(i + 1, DEFAULT_RETRY, () => 0));
      expect(ms).toBeLessThanOrEqual(backoffDelay(i + 1, DEFAULT_RETRY, () => 1));
    });
    expect(slept.reduce((a, b) => a + b, 0)).toBeGreaterThan(25_000);
    await db.close();
  });
});

describe("continueAfterTimeout", () => {
  /** The continueAfterTimeout each statement was sent with, through an executor over a recording client. */
  async function sentWith(statements: readonly string[]): Promise<boolean[]> {
    const sent: boolean[] = [];
    const client = {
      send: async (command: { input: { continueAfterTimeout?: boolean } }) => {
        sent.push(command.input.continueAfterTimeout === true);
        return { numberOfRecordsUpdated: 0 };
      },
    } as unknown as RDSDataClient;
    const db = new DataApiExecutor({
      resourceArn: "arn:aws:rds:us-east-1:000000000000:cluster:c",
      secretArn: "arn:aws:secretsmanager:us-east-1:000000000000:secret:s-AbCdEf",
      client,
    });
    for (const sql of statements) await db.query(sql);
    await db.close();
    return sent;
  }

  it("is set for the statements the classification says must keep running, and only for those", async () => {
    const statements = [
      "CREATE TABLE t (x int)",
      "  -- why\n/* note */ alter table t add column y int",
      "DROP INDEX IF EXISTS ix",
      "IMPORT FOREIGN SCHEMA remote FROM SERVER s INTO app",
      "DO $$ BEGIN CREATE INDEX ix ON t (x); END $$",
      "CALL make_partitions()",
      "TRUNCATE t",
      "VACUUM ANALYZE t",
      "REFRESH MATERIALIZED VIEW mv",
      "/* /* nested */ DROP */ SELECT 1",
      "SELECT 1",
      "INSERT INTO t VALUES (1)",
      "WITH x AS (SELECT 1) SELECT * FROM x",
    ];
    expect(await sentWith(statements)).toEqual(statements.map((sql) => classifyStatement(sql).continueAfterTimeout));
    expect(await sentWith(statements)).toEqual([true, true, true, true, true, true, true, true, true, false, false, false, false]);
  });
});
