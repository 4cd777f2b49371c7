// PGlite specifics the contract does not cover: the built-in type table and a closed executor.
// (Directories are covered by test/sql/connect.test.ts.)

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionError } from "../../lib/sql/errors.ts";
import { PgliteExecutor } from "../../lib/sql/pglite-executor.ts";
import { BUILTIN_TYPE_NAMES } from "../../lib/sql/pg-types.ts";

describe("PgliteExecutor", () => {
  let db: PgliteExecutor;
  beforeAll(async () => {
    db = await PgliteExecutor.open();
  });
  afterAll(async () => {
    await db.close();
  });

  it("describes itself", () => {
    expect(db.kind).toBe("pglite");
    expect(db.dataDir).toBeUndefined();
    expect(db.description).toBe("PGlite (in memory)");
  });

  it("has a built-in type table that agrees with pg_type", async () => {
    const oids = [...BUILTIN_TYPE_NAMES.keys()];
    const result = await db.query<{ oid: number; typname: string }>(
      "SELECT oid::int4 AS oid, typname::text AS typname FROM pg_catalog.pg_type WHERE oid = ANY(:oids::int4[]::oid[]) ORDER BY oid",
      { oids: `{${oids.join(",")}}` },
    );
    expect(Object.fromEntries(result.rows.map((r) => [r.oid, r.typname]))).toEqual(Object.fromEntries(BUILTIN_TYPE_NAMES));
  });

  // Last: it closes the shared executor (afterAll's close() then shows close is idempotent).
  it("refuses statements once closed", async () => {
    await db.close();
    await expect(db.query("SELECT 1")).rejects.toBeInstanceOf(ConnectionError);
    await expect(db.transaction(async () => 1)).rejects.toBeInstanceOf(ConnectionError);
  });
});
