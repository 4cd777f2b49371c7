// Unit tests for the local Data API's pure wire conversions: how typed parameters are bound, how
// port values become typed fields, formattedRecords cells and column metadata, and the text of SQL
// errors.

import { describe, expect, it } from "vitest";
import {
  RawJsonNumber,
  ServiceError,
  arrayElementType,
  assertSupportedColumn,
  bindParameter,
  columnMetadata,
  dropUtcOffset,
  encodeField,
  jsonCell,
  sqlErrorText,
  stringifyWire,
} from "../../lib/local/data-api-wire.ts";

describe("bindParameter", () => {
  it("binds each value member with the type JDBC gives it", () => {
    expect(bindParameter({ name: "a", value: { longValue: 7 } })).toEqual({ value: 7, cast: "int8" });
    expect(bindParameter({ name: "a", value: { doubleValue: 1.5 } })).toEqual({ value: 1.5, cast: "float8" });
    expect(bindParameter({ name: "a", value: { booleanValue: false } })).toEqual({ value: false, cast: "bool" });
    expect(bindParameter({ name: "a", value: { stringValue: "x" } })).toEqual({ value: "x", cast: "varchar" });
    expect(bindParameter({ name: "a", value: { isNull: true } })).toEqual({ value: null, cast: undefined });
    const blob = bindParameter({ name: "a", value: { blobValue: Buffer.from([1, 2, 255]).toString("base64") } });
    expect(blob.cast).toBe("bytea");
    expect([...(blob.value as Uint8Array)]).toEqual([1, 2, 255]);
  });

  it("casts a stringValue to its typeHint", () => {
    const cases: Array<[string, string, string]> = [
      ["UUID", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "uuid"],
      ["JSON", '{"a":1}', "json"],
      ["DECIMAL", "12.50", "numeric"],
      ["DATE", "2024-05-01", "date"],
      ["TIME", "10:00:00.5", "time"],
      ["TIMESTAMP", "2024-05-01 10:00:00.123", "timestamp"],
    ];
    for (const [typeHint, stringValue, cast] of cases) {
      expect(bindParameter({ name: "p", typeHint, value: { stringValue } })).toEqual({ value: stringValue, cast });
    }
  });

  it("refuses what the service refuses", () => {
    const refuse = (p: Parameters<typeof bindParameter>[0]) => {
      try {
        bindParameter(p);
      } catch (error) {
        return error as ServiceError;
      }
      throw new Error("expected a refusal");
    };
    expect(refuse({ name: "t", typeHint: "TIMESTAMP", value: { stringValue: "2024-05-01T10:00:00Z" } }).message).toMatch(
      /Cannot parse date or time/,
    );
    expect(refuse({ name: "t", typeHint: "NOPE", value: { stringValue: "x" } }).type).toBe("ValidationException");
    expect(refuse({ name: "a", value: { arrayValue: { longValues: [1] } } }).message).toBe("Array parameters are not supported.");
    expect(refuse({ name: "a" }).type).toBe("ValidationException");
  });
});

describe("encodeField", () => {
  it("picks the field member from the column type", () => {
    expect(encodeField(null, "int4")).toEqual({ isNull: true });
    expect(encodeField(5, "int4")).toEqual({ longValue: 5 });
    expect(encodeField(5, "int8")).toEqual({ longValue: 5 });
    expect(encodeField(2.5, "float8")).toEqual({ doubleValue: 2.5 });
    expect(encodeField(Number.NaN, "float8")).toEqual({ stringValue: "NaN" });
    expect(encodeField(-Infinity, "float4")).toEqual({ stringValue: "-Infinity" });
    expect(encodeField("12.30", "numeric")).toEqual({ stringValue: "12.30" });
    expect(encodeField(true, "bool")).toEqual({ booleanValue: true });
    expect(encodeField(new Uint8Array([1, 2]), "bytea")).toEqual({ blobValue: "AQI=" });
    expect(encodeField('{"a": 1}', "jsonb")).toEqual({ stringValue: '{"a": 1}' });
    expect(encodeField("2024-05-01 10:00:00", "timestamp")).toEqual({ stringValue: "2024-05-01 10:00:00" });
    expect(encodeField("2024-05-01 10:00:00.5+00", "timestamptz")).toEqual({ stringValue: "2024-05-01 10:00:00.5" });
    expect(encodeField("red", "mood")).toEqual({ stringValue: "red" });
  });

  it("sends int8 past 2^53 as a bare JSON number, or as text with longReturnType STRING", () => {
    const field = encodeField("9223372036854775807", "int8");
    expect(field.longValue).toBeInstanceOf(RawJsonNumber);
    expect(stringifyWire(field)).toBe('{"longValue":9223372036854775807}');
    expect(encodeField("9223372036854775807", "int8", { resultSetOptions: { longReturnType: "STRING" } })).toEqual({
      stringValue: "9223372036854775807",
    });
    expect(encodeField(42, "int4", { resultSetOptions: { longReturnType: "STRING" } })).toEqual({ stringValue: "42" });
  });

  it("honours decimalReturnType DOUBLE_OR_LONG", () => {
    const options = { resultSetOptions: { decimalReturnType: "DOUBLE_OR_LONG" } };
    expect(encodeField("12", "numeric", options)).toEqual({ longValue: 12 });
    expect(encodeField("12.5", "numeric", options)).toEqual({ doubleValue: 12.5 });
    // Past int8 a whole number cannot be a Long: a Double, with the documented roundoff.
    expect(encodeField("9223372036854775808", "numeric", options)).toEqual({ doubleValue: 9223372036854775808 });
    expect(encodeField("-12", "numeric", { resultSetOptions: { decimalReturnType: "DOUBLE_OR_LONG", longReturnType: "STRING" } })).toEqual({
      stringValue: "-12",
    });
  });

  it("never writes anything but digits as a bare JSON number", () => {
    expect(encodeField("not a number", "int8")).toEqual({ stringValue: "not a number" });
  });

  it("encodes arrays by element type, nested and with NULLs", () => {
    expect(encodeField([1, null, 3], "_int4")).toEqual({ arrayValue: { longValues: [1, null, 3] } });
    expect(encodeField(["a", null], "_text")).toEqual({ arrayValue: { stringValues: ["a", null] } });
    expect(encodeField([true], "_bool")).toEqual({ arrayValue: { booleanValues: [true] } });
    expect(encodeField([1.5], "_float8")).toEqual({ arrayValue: { doubleValues: [1.5] } });
    expect(encodeField([[1, 2], [3, 4]], "_int4")).toEqual({
      arrayValue: { arrayValues: [{ longValues: [1, 2] }, { longValues: [3, 4] }] },
    });
    expect(encodeField([], "_int8")).toEqual({ arrayValue: { longValues: [] } });
  });
});

describe("jsonCell (formatRecordsAs JSON)", () => {
  it("keeps numbers as numbers and everything textual as strings", () => {
    expect(jsonCell(3, "int4")).toBe(3);
    expect(jsonCell("3.10", "numeric")).toBe("3.10");
    expect(jsonCell('{"a":1}', "json")).toBe('{"a":1}');
    expect(jsonCell([1, 2], "_int4")).toEqual([1, 2]);
    expect(jsonCell(null, "text")).toBeNull();
  });

  it("applies resultSetOptions as records do", () => {
    expect(jsonCell(3, "int4", { resultSetOptions: { longReturnType: "STRING" } })).toBe("3");
    expect(jsonCell("3.10", "numeric", { resultSetOptions: { decimalReturnType: "DOUBLE_OR_LONG" } })).toBe(3.1);
  });
});

describe("assertSupportedColumn", () => {
  it("refuses the monetary and geometric types the service names, scalar or array", () => {
    for (const typeName of ["money", "_money", "point", "polygon", "circle"]) {
      expect(() => assertSupportedColumn({ name: "c", typeName })).toThrow(
        expect.objectContaining({ type: "UnsupportedResultException", status: 400 }),
      );
    }
    // Types the service's list leaves out without naming them refused: undocumented, so allowed.
    for (const typeName of ["int4", "_text", "numeric", "mood", "interval"]) {
      expect(() => assertSupportedColumn({ name: "c", typeName })).not.toThrow();
    }
  });
});

describe("columnMetadata", () => {
  it("reports the type name and its JDBC type code", () => {
    expect(columnMetadata({ name: "id", typeName: "int4" })).toMatchObject({
      name: "id",
      label: "id",
      typeName: "int4",
      type: 4,
      isSigned: true,
    });
    expect(columnMetadata({ name: "tags", typeName: "_text" })).toMatchObject({ type: 2003, arrayBaseColumnType: 12 });
    expect(columnMetadata({ name: "m", typeName: "mood" })).toMatchObject({ type: 1111 });
  });
});

describe("sqlErrorText", () => {
  it("renders the PostgreSQL message and SQLState as the service does", () => {
    expect(sqlErrorText('relation "users" already exists', "42P07")).toBe(
      'ERROR: relation "users" already exists; SQLState: 42P07',
    );
    expect(sqlErrorText("duplicate key value\nDETAIL: Key (id)=(1) already exists.\nHINT: h", "23505")).toBe(
      "ERROR: duplicate key value\n  Detail: Key (id)=(1) already exists.\n  Hint: h; SQLState: 23505",
    );
  });
});

describe("helpers", () => {
  it("drops only a UTC offset", () => {
    expect(dropUtcOffset("2024-05-01 10:00:00+00")).toBe("2024-05-01 10:00:00");
    expect(dropUtcOffset("10:00:00+00")).toBe("10:00:00");
    expect(dropUtcOffset("0044-03-15 10:00:00+00 BC")).toBe("0044-03-15 10:00:00 BC");
    expect(dropUtcOffset("2024-05-01 10:00:00+02")).toBe("2024-05-01 10:00:00+02");
  });

  it("recognises both array type spellings", () => {
    expect(arrayElementType("_int4")).toBe("int4");
    expect(arrayElementType("int4[]")).toBe("int4");
    expect(arrayElementType("int4")).toBeUndefined();
  });
});
