// `retort safe-upgrade` against a table another session holds: each try whose lock_timeout ran out
// is printed on stderr as it happens, the run exits 1 with code lock-timeout naming the holder, and
// `history --runs -v` shows the tries. --lock-timeout takes a duration, 0 included.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { retort } from "../support/cli.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";

const dir = "test/fixtures/lock-wait";

describe("a migration that cannot get its lock, from the command line", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database?.drop());

  it("reports each try as it happens, fails with lock-timeout naming the holder, and the history has the tries", { timeout: 60_000 }, async () => {
    const first = await retort("safe-upgrade", "eeeeeeeeeee1", "--dir", dir, "--db", database.url);
    expect(first.code, first.stderr).toBe(0);
    const holder = new pg.Client({ connectionString: database.url, application_name: "nightly export" });
    await holder.connect();
    try {
      const pid = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
      await holder.query("BEGIN");
      await holder.query("SELECT count(*) FROM accounts");
      const run = await retort("safe-upgrade", "--dir", dir, "--db", database.url, "--json");
      expect(run.code, run.stderr).toBe(1);
      const body = JSON.parse(run.stdout);
      expect(body.error).toMatchObject({ code: "lock-timeout", sqlState: "55P03", revision: "eeeeeeeeeee2", blockers: [{ pid, applicationName: "nightly export" }] });
      expect(body.error.message).toContain(`SELECT pg_terminate_backend(${pid})`);
      expect(body.results[0].lockRetries).toHaveLength(8);
      // Printed while the run went on, one line per try.
      const lines = run.stderr.split("\n").filter((l) => l.startsWith("lock: eeeeeeeeeee2 add nickname to accounts: try "));
      expect(lines).toHaveLength(8);
      expect(lines[0]).toContain(`try 1 of 8: lock_timeout 100 ms ran out; in the way: pid ${pid} (idle in transaction`);
      expect(lines[7]).toContain("try 8 of 8: lock_timeout 600 ms ran out");

      const history = await retort("history", "--runs", "-v", "--dir", dir, "--db", database.url);
      expect(history.stdout).toContain("lock retries");
      expect(history.stdout).toContain(`lock: try 2: lock_timeout 100 ms ran out; in the way: pid ${pid}`);
    } finally {
      await holder.end();
    }
    // Once the holder is gone the same command applies it.
    const again = await retort("safe-upgrade", "--dir", dir, "--db", database.url);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("applied  eeeeeeeeeee2");
  });

  it("--lock-timeout takes a duration, 0 for no limit; anything else is bad usage", async () => {
    const zero = await retort("safe-upgrade", "--dir", dir, "--db", "pglite://memory", "--lock-timeout", "0");
    expect(zero.code, zero.stderr).toBe(0);
    const bad = await retort("safe-upgrade", "--dir", dir, "--db", "pglite://memory", "--lock-timeout", "soon");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--lock-timeout");
    expect(bad.stderr).toContain("expected a duration such as 500ms, 30s, 5m or 1h");
  });
});
