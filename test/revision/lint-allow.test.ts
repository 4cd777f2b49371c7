// The `lint` field of a migration file: `allow` entries are "rule-code: reason", checked by the
// loader (which rule codes exist is lint's business, not the loader's).
import { describe, expect, it } from "vitest";
import { toMigration } from "../../lib/revision/loader.ts";
import { parseLintAllow } from "../../lib/revision/migration.ts";

const valid = {
  revision: "3f9c2a7b1d4e",
  revises: null,
  message: "m",
  async upgrade() {},
  async downgrade() {},
};

const load = (lint: unknown) => {
  const result = toMigration({ ...valid, lint }, "migrations/20261123_x.ts", "sum");
  return "problem" in result ? result.problem.message : result.migration.lint;
};

describe("lint.allow", () => {
  it("is kept as written when every entry has a code and a reason", () => {
    expect(load({ allow: ["drop-column: replaced by v2", "long-statement:small table"] })).toEqual({
      allow: ["drop-column: replaced by v2", "long-statement:small table"],
    });
    expect(load(undefined)).toBeUndefined();
  });

  it.each([
    [{ allow: ["drop-column"] }, '`lint.allow` entry "drop-column" needs a rule code and a reason, as "rule-code: reason"'],
    [{ allow: ["drop-column:   "] }, '`lint.allow` entry "drop-column:   " needs a rule code and a reason, as "rule-code: reason"'],
    [{ allow: "drop-column: x" }, "`lint.allow` must be an array of strings"],
    [{ allows: [] }, "`lint` has unknown field(s) `allows`"],
    [["drop-column: x"], "`lint` must be an object"],
  ])("refuses %j", (lint, expected) => {
    expect(load(lint)).toContain(`migrations/20261123_x.ts: ${expected}`);
  });

  it("splits an entry into its code and its reason", () => {
    expect(parseLintAllow("drop-column: replaced by v2: see #12")).toEqual({ code: "drop-column", reason: "replaced by v2: see #12" });
    expect(parseLintAllow("Drop-Column: x")).toBeUndefined();
  });
});
