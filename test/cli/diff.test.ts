// `retort diff` through the real executable: exit 1 naming each difference (and as JSON), exit 0
// once the database is at the heads, exit 2 without a reference.
import { rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { retort, root } from "../support/cli.ts";

const scratch = path.join(root, ".retort/test-scratch", `diff-cli-${process.pid}`);
const dir = "test/fixtures/fleet";

describe("retort diff", () => {
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it("exits 1 naming what the database lacks, then 0 once it is at the heads; 2 without a reference", { timeout: 120_000 }, async () => {
    const db = `pglite://${path.join(scratch, "db")}`;
    const empty = await retort("diff", "--from", "pglite://memory", "--dir", dir);
    expect(empty.code, empty.stderr).toBe(1);
    expect(empty.stdout).toContain("pglite://memory differs from the schema of the code's heads (f1ee70000003): 2 difference(s)");
    expect(empty.stdout).toContain("  table audit is missing from the reference");

    expect((await retort("safe-upgrade", "--db", db, "--dir", dir)).code).toBe(0);
    const same = await retort("diff", "--from", db, "--dir", dir, "--json");
    expect(same.code, same.stderr).toBe(0);
    expect(JSON.parse(same.stdout)).toEqual({ heads: ["f1ee70000003"], reference: db, same: true, differences: [] });

    const none = await retort("diff", "--dir", dir);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("give --from <database URL> or --from-sql <file>");
  });
});
