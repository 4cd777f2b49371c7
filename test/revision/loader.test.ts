import { describe, expect, it } from "vitest";
import { checkFileName, checksum, DirectorySource, loadingNow, slugify, toMigration } from "../../lib/revision/loader.ts";

const valid = {
  revision: "3f9c2a7b1d4e",
  revises: "8a1d0c55e2b9",
  message: "add email to users",
  createdAt: "2026-11-23T10:00:00Z",
  async upgrade() {},
  async downgrade() {},
};

const reason = (exported: unknown) => {
  const result = toMigration(exported, "migrations/20261123_x.ts", "sum");
  return "problem" in result ? result.problem.message : "ok";
};

describe("toMigration", () => {
  it("normalises a valid definition", () => {
    const result = toMigration({ ...valid, dependsOn: "aaaaaaaaaaaa", branchLabels: "auth" }, "m/x.ts", "abc");
    expect("migration" in result && result.migration).toMatchObject({
      revision: "3f9c2a7b1d4e",
      revises: ["8a1d0c55e2b9"],
      dependsOn: ["aaaaaaaaaaaa"],
      branchLabels: ["auth"],
      transactional: true,
      irreversible: false,
      file: "m/x.ts",
      checksum: "abc",
    });
  });

  it("reads lockTimeout and statementTimeout as durations, 0 meaning no limit; absent when not given", () => {
    const result = toMigration({ ...valid, lockTimeout: "10s", statementTimeout: "0" }, "m/x.ts", "abc");
    expect("migration" in result && result.migration).toMatchObject({ lockTimeoutMs: 10_000, statementTimeoutMs: 0 });
    const plain = toMigration(valid, "m/x.ts", "abc");
    expect("migration" in plain && plain.migration).not.toHaveProperty("lockTimeoutMs");
    const half = toMigration({ ...valid, lockTimeout: "500ms" }, "m/x.ts", "abc");
    expect("migration" in half && half.migration.lockTimeoutMs).toBe(500);
  });

  it("accepts null revises (a base) and arrays (a merge)", () => {
    expect(reason({ ...valid, revises: null })).toBe("ok");
    expect(reason({ ...valid, revises: ["aaaaaaaaaaaa", "bbbbbbbbbbbb"] })).toBe("ok");
  });

  it.each([
    [undefined, "has no default export; write `export default defineMigration({ ... })`"],
    [42, "default export is number, not a migration object"],
    [{ ...valid, revision: undefined }, "is missing `revision` (12 random hex digits)"],
    [{ ...valid, revision: "3F9C2A7B1D4E" }, 'revision "3F9C2A7B1D4E" is not 12 lowercase hex digits'],
    [{ ...valid, revision: "3f9c" }, 'revision "3f9c" is not 12 lowercase hex digits'],
    [{ ...valid, revises: undefined }, "is missing `revises` (null for a base, an id, or an array of ids for a merge)"],
    [{ ...valid, revises: "nope" }, 'revises names "nope", which is not 12 lowercase hex digits'],
    [{ ...valid, revises: [valid.revises, valid.revises] }, "revises lists the same id twice"],
    [{ ...valid, revises: valid.revision }, "revision 3f9c2a7b1d4e revises or depends on itself"],
    [{ ...valid, dependsOn: 5 }, "dependsOn must be null, a string or an array of strings, not 5"],
    [{ ...valid, message: undefined }, "is missing `message` (a short description)"],
    [{ ...valid, createdAt: "yesterday" }, 'createdAt "yesterday" is not an ISO-8601 timestamp'],
    [{ ...valid, transactional: "no" }, "`transactional` must be true or false"],
    [{ ...valid, upgrade: undefined }, "`upgrade` is missing; write `async upgrade(op) { ... }`"],
    [{ ...valid, downgrade: "x" }, "`downgrade` is not a function; write `async downgrade(op) { ... }`"],
    [{ ...valid, depends_on: [] }, "has unknown field(s) `depends_on`"],
    [{ ...valid, lockTimeout: 5000 }, '`lockTimeout` must be a duration such as "10s", "500ms" or "2m" (at most 24 days; "0" for no limit), not 5000'],
    [{ ...valid, lockTimeout: "5 seconds" }, '`lockTimeout` must be a duration such as "10s", "500ms" or "2m" (at most 24 days; "0" for no limit), not "5 seconds"'],
    [{ ...valid, statementTimeout: "30d" }, '`statementTimeout` must be a duration such as "10s", "500ms" or "2m" (at most 24 days; "0" for no limit), not "30d"'],
    [{ ...valid, lock_timeout: "5s" }, "has unknown field(s) `lock_timeout`"],
  ])("refuses %j", (exported, expected) => {
    expect(reason(exported)).toBe(
      `migrations/20261123_x.ts: ${expected}; fix the file (see the migration format in the README) and run \`retort check\``,
    );
  });
});

describe("file names and checksums", () => {
  it("checksums ignore line-ending style", () => {
    expect(checksum("a\r\nb\r\n")).toBe(checksum("a\nb\n"));
    expect(checksum("a\nb\n")).not.toBe(checksum("a\nc\n"));
    expect(checksum("")).toMatch(/^[0-9a-f]{64}$/);
  });

  it("accepts YYYYMMDD_slug.ts with a real date", () => {
    expect(checkFileName("m/20261123_add_email.ts")).toBeUndefined();
    expect(checkFileName("m/20261323_add_email.ts")?.message).toMatch(/rename it, e.g. to \d{8}_add_email\.ts$/);
    expect(checkFileName("m/Add-Email.ts", "2026-11-23T10:00:00Z")?.message).toMatch(/rename it, e.g. to 20261123_add_email\.ts$/);
  });

  it("slugs are lowercase words joined by underscores", () => {
    expect(slugify("Add e-mail to Users!")).toBe("add_e_mail_to_users");
    expect(slugify("  ")).toBe("");
  });
});

describe("DirectorySource", () => {
  it("turns an importer failure into a named problem instead of crashing", async () => {
    const source = new DirectorySource("test/fixtures/good", async (file) => {
      if (file.endsWith("20260102_second.ts")) throw new Error("disk on fire\nsecond line");
      return import(file);
    });
    const { migrations, problems } = await source.load();
    expect(migrations.map((m) => m.revision)).toEqual(["aaaaaaaaaaa1"]);
    expect(problems.map((p) => p.message)).toEqual([
      "test/fixtures/good/20260102_second.ts: cannot be loaded (disk on fire); fix the file (see the migration format in the README) and run `retort check`",
    ]);
  });
});

describe("a file that throws while it is imported", () => {
  const fix = "; fix the file (see the migration format in the README) and run `retort check`";

  it("is named with its line and message; the files beside it still load", async () => {
    const { migrations, problems } = await new DirectorySource("test/fixtures/throws").load();
    expect(migrations.map((m) => m.revision)).toEqual(["f00000000001", "f00000000004"]);
    expect(problems.map((p) => [p.code, p.files, p.message])).toEqual([
      [
        "invalid-file",
        ["test/fixtures/throws/20260102_throws.ts"],
        `test/fixtures/throws/20260102_throws.ts: cannot be loaded (Error thrown at line 4: boom)${fix}`,
      ],
      [
        "invalid-file",
        ["test/fixtures/throws/20260103_undefined_name.ts"],
        `test/fixtures/throws/20260103_undefined_name.ts: cannot be loaded (ReferenceError thrown at line 3: tableName is not defined)${fix}`,
      ],
    ]);
  });
});

describe("loadingNow", () => {
  it("starts loading at once and answers every load() with that one result", async () => {
    let loads = 0;
    const inner = { location: "inline", load: async () => ({ migrations: [], problems: [], n: ++loads }) };
    const source = loadingNow(inner);
    expect(loads).toBe(1);
    const [a, b] = await Promise.all([source.load(), source.load()]);
    expect(a).toBe(b);
    expect(loads).toBe(1);
    expect(source.location).toBe("inline");
  });

  it("reports a failure to the load() that awaits it, not as an unhandled rejection", async () => {
    const source = loadingNow(new DirectorySource("test/fixtures/no-such-directory"));
    // Nothing awaits it for a while, as when the database connects first.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(source.load()).rejects.toThrow(/Migrations directory test\/fixtures\/no-such-directory does not exist; create it with `retort revision/);
  });
});
