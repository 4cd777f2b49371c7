// `retort validate` and `retort lint` through the real executable (bin/retort.js): exit codes,
// the --json contract and the human table, on the example migrations and on small fixtures.
import { describe, expect, it } from "vitest";
import { retort } from "../support/cli.ts";

// PGlite and the migrations are loaded in a child process; on a busy machine that takes a while.
const slow = { timeout: 120_000 };

describe("retort validate", () => {
  it("exits 0 on the example migrations, with a table per revision", slow, async () => {
    const run = await retort("validate");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^validate 7 revision\(s\) on PGlite \(in memory\): upgrade, upgrade again, downgrade, upgrade again\n/);
    expect(run.stdout).toMatch(/\n {2}ok {2}31cdefda761a {2}create users +\d+ ms\n/);
    expect(run.stdout).toMatch(/\nok {2}7 revision\(s\): 7 ok \(\d+\.\d s\)\n$/);
  });

  it("exits 1 on a migration that is not reversible, naming the column, in human output and in --json", slow, async () => {
    const dir = "test/fixtures/validate/not-reversible";
    const human = await retort("validate", "--dir", dir);
    const json = await retort("validate", "--dir", dir, "--json");
    expect(human.code).toBe(1);
    expect(human.stdout).toContain("  not reversible  fa0000000002  add email to accounts");
    expect(human.stdout).toContain("column accounts.email still present after downgrade");
    expect(json.code).toBe(1);
    const body = JSON.parse(json.stdout);
    expect(body).toMatchObject({ ok: false, database: "PGlite (in memory)", from: [], problems: [] });
    expect(body.results.map((r: { status: string }) => r.status)).toEqual(["ok", "not-reversible"]);
    expect(body.results[1]).toMatchObject({
      revision: "fa0000000002",
      file: "test/fixtures/validate/not-reversible/20260102_add_email.ts",
      findings: [{ step: "downgrade", differences: [{ object: "column", name: "accounts.email", message: "column accounts.email still present after downgrade" }] }],
    });
  });

  it("exits 1 without walking when check finds the graph unusable", slow, async () => {
    const run = await retort("validate", "--dir", "test/fixtures/cycle", "--json");
    expect(run.code).toBe(1);
    const body = JSON.parse(run.stdout);
    expect(body).toMatchObject({ ok: false, results: [] });
    expect(body.problems.map((p: { code: string }) => p.code)).toEqual(["cycle"]);
  });

  it("--from skips what is already applied", slow, async () => {
    const run = await retort("validate", "--dir", "test/fixtures/validate/not-reversible", "--from", "fa0000000002", "--json");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, from: ["fa0000000002"], results: [] });
  });
});

describe.concurrent("retort lint", () => {
  it("exits 0 on the example migrations and prints the allowed findings with their reasons", slow, async () => {
    const run = await retort("lint");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      'allowed index-without-concurrently  f3096560a20d  createIndex "ix_users_email" on "users": users is created earlier in the same release',
    );
    expect(run.stdout).toMatch(/\nok {2}7 revision\(s\) with 14 rules: no findings \(3 allowed\)\n$/);
  });

  it("exits 1 on a finding that is not allowed; --json has code, revision, file, operation and the safer way", slow, async () => {
    const dir = "test/fixtures/lint/findings";
    const [human, json] = await Promise.all([retort("lint", "--dir", dir), retort("lint", "--dir", dir, "--json")]);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain("delete-all-rows  fb0000000002  test/fixtures/lint/findings/20260102_drop_legacy.ts\n");
    expect(human.stdout).toContain("    execute DELETE FROM accounts: DELETE without WHERE deletes every row of accounts\n    safer: ");
    expect(human.stdout).toContain("allowed index-without-concurrently  fb0000000002");
    expect(json.code).toBe(1);
    const body = JSON.parse(json.stdout);
    expect(body.ok).toBe(false);
    expect(body.findings).toContainEqual({
      code: "delete-all-rows",
      category: "destructive",
      revision: "fb0000000002",
      file: "test/fixtures/lint/findings/20260102_drop_legacy.ts",
      operation: "execute DELETE FROM accounts",
      message: "DELETE without WHERE deletes every row of accounts",
      saferWay: expect.stringContaining("WHERE"),
    });
    expect(body.allowed).toEqual([expect.objectContaining({ code: "index-without-concurrently", reason: "accounts holds a few hundred rows" })]);
  });

  it("--rules lists every rule", slow, async () => {
    const run = await retort("lint", "--rules", "--json");
    expect(run.code).toBe(0);
    const { rules } = JSON.parse(run.stdout);
    expect(rules).toHaveLength(14);
    expect(rules[0]).toEqual({ code: "drop-table", category: "destructive", description: expect.any(String) });
  });
});
