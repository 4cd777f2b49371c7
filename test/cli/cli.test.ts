// Runs the real `retort` executable (bin/retort.js over the built dist/, as `npx retort` does) on
// fixture directories and checks exit codes, --json output and messages.
import { cp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { retort, root } from "../support/cli.ts";

const fixtures = "test/fixtures";
// Scratch directories live inside the repository so their files can import "retort-migrate".
const scratchRoot = path.join(root, ".retort/test-scratch", `cli-${process.pid}`);

async function json(...args: string[]): Promise<{ code: number; body: any }> {
  const run = await retort(...args, "--json");
  return { code: run.code, body: JSON.parse(run.stdout) };
}

async function scratchCopy(fixture: string): Promise<string> {
  const dir = path.join(scratchRoot, `${fixture}-${Math.random().toString(16).slice(2)}`);
  await mkdir(dir, { recursive: true });
  await cp(path.join(root, fixtures, fixture), dir, { recursive: true });
  return path.relative(root, dir);
}

afterAll(() => rm(scratchRoot, { recursive: true, force: true }));

describe.concurrent("retort check", () => {
  it("passes a consistent directory with exit 0", async () => {
    const { code, body } = await json("check", "--dir", `${fixtures}/good`);
    expect(code).toBe(0);
    expect(body).toEqual({ ok: true, revisions: 2, heads: ["aaaaaaaaaaa2"], problems: [] });
  });

  it("passes the example migrations", async () => {
    const { code, body } = await json("check");
    expect(code).toBe(0);
    expect(body.ok).toBe(true);
  });

  it.each([
    ["two-heads", "multiple-heads", ["bbbbbbbbbbb2", "bbbbbbbbbbb3"]],
    ["cycle", "cycle", ["ccccccccccc2", "ccccccccccc3"]],
    ["duplicate", "duplicate-revision", ["ddddddddddd1"]],
    ["dangling", "missing-revision", ["eeeeeeeeeee2", "eeeeeeeeeee9"]],
    ["syntax-error", "invalid-file", []],
  ])("reports %s as %s with exit 1", async (fixture, problemCode, revisions) => {
    const { code, body } = await json("check", "--dir", `${fixtures}/${fixture}`);
    expect(code).toBe(1);
    expect(body.ok).toBe(false);
    expect(body.problems.map((p: { code: string }) => p.code)).toEqual([problemCode]);
    expect(body.problems[0].revisions).toEqual(revisions);
    expect(body.problems[0].files.length).toBeGreaterThan(0);
    for (const file of body.problems[0].files) expect(file).toMatch(new RegExp(`^test/fixtures/${fixture}/`));
  });

  it("names the line of a syntax error", async () => {
    const { body } = await json("check", "--dir", `${fixtures}/syntax-error`);
    expect(body.problems[0].message).toMatch(
      /^test\/fixtures\/syntax-error\/20260102_broken.ts: cannot be loaded \(syntax error at line 6, column \d+: .+\)/,
    );
  });

  it("reports every broken file in one run, not just the first", async () => {
    const { code, body } = await json("check", "--dir", `${fixtures}/invalid`);
    expect(code).toBe(1);
    const byFile = Object.fromEntries(body.problems.map((p: { files: string[]; message: string; code: string }) => [path.basename(p.files[0]!), `${p.code}: ${p.message}`]));
    expect(byFile).toMatchObject({
      "20260102_no_default.ts": expect.stringContaining("invalid-file: test/fixtures/invalid/20260102_no_default.ts: has no default export"),
      "20260103_no_revision.ts": expect.stringContaining("is missing `revision`"),
      "20260104_upgrade_not_function.ts": expect.stringContaining("`upgrade` is not a function"),
      "20260105_bad_id.ts": expect.stringContaining('revision "XYZ" is not 12 lowercase hex digits'),
      "20260106_throws.ts": expect.stringContaining("cannot be loaded (Error thrown at line 1: boom at import)"),
      "add-users.ts": expect.stringMatching(/^bad-filename: .*rename it, e.g. to \d{8}_add_users\.ts$/),
    });
  });

  it("names the file, line and message of a file that throws while loading, and only that file", async () => {
    const run = await retort("check", "--dir", `${fixtures}/throws`);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("problems  2 found in 2 revision(s):");
    expect(run.stdout).toContain(`${fixtures}/throws/20260102_throws.ts: cannot be loaded (Error thrown at line 4: boom)`);
    expect(run.stdout).toContain(
      `${fixtures}/throws/20260103_undefined_name.ts: cannot be loaded (ReferenceError thrown at line 3: tableName is not defined)`,
    );
    expect(run.stdout).not.toMatch(/20260101_base|20260104_second|cycle/);
    const { body } = await json("check", "--dir", `${fixtures}/throws`);
    expect(body.problems.map((p: { code: string; files: string[] }) => [p.code, p.files])).toEqual([
      ["invalid-file", [`${fixtures}/throws/20260102_throws.ts`]],
      ["invalid-file", [`${fixtures}/throws/20260103_undefined_name.ts`]],
    ]);
  });

  // A project whose package.json has no "type": "module": its .ts files are CommonJS to Node.
  it("names a throwing file in a CommonJS project as well", async () => {
    const dir = await scratchCopy("throws");
    await writeFile(path.join(root, dir, "package.json"), `{ "name": "commonjs-project" }\n`);
    const { code, body } = await json("check", "--dir", dir);
    expect(code).toBe(1);
    expect(body.revisions).toBe(2);
    expect(body.problems.map((p: { message: string }) => p.message.replace(/; fix the file.*/, ""))).toEqual([
      `${dir}/20260102_throws.ts: cannot be loaded (Error thrown at line 4: boom)`,
      `${dir}/20260103_undefined_name.ts: cannot be loaded (ReferenceError thrown at line 3: tableName is not defined)`,
    ]);
  });

  it("imports files one by one in a CommonJS project when they cannot be compiled together", async () => {
    const dir = await scratchCopy("syntax-error");
    await writeFile(path.join(root, dir, "package.json"), `{ "name": "commonjs-project" }\n`);
    // No "retort-migrate" here: a file imported on its own resolves it from its own package.
    await writeFile(
      path.join(root, dir, "20260101_base.ts"),
      `export default { revision: "fffffffffff1", revises: null, message: "base", async upgrade() {}, async downgrade() {} };\n`,
    );
    await writeFile(path.join(root, dir, "20260103_throws.ts"), `const table: string = "users";\nthrow new Error(\`boom in \${table}\`);\n`);
    const { code, body } = await json("check", "--dir", dir);
    expect(code).toBe(1);
    expect(body.revisions).toBe(1);
    expect(body.problems.map((p: { message: string }) => p.message)).toEqual([
      expect.stringMatching(new RegExp(`^${dir}/20260102_broken.ts: cannot be loaded \\(syntax error at line 6, column \\d+: `)),
      expect.stringMatching(new RegExp(`^${dir}/20260103_throws.ts: cannot be loaded \\(Error thrown at line 2: boom in users\\); `)),
    ]);
  });

  it("prints aligned human output", async () => {
    const run = await retort("check", "--dir", `${fixtures}/two-heads`);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^problems  1 found in 3 revision\(s\):\n  multiple-heads  The migrations have 2 heads: /);
    expect(run.stdout).toContain("run `retort reset-heads`");
  });

  it("fails clearly on a directory that does not exist", async () => {
    const run = await retort("check", "--dir", "no/such/dir");
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("Migrations directory no/such/dir does not exist");
  });
});

describe.concurrent("reading the graph", () => {
  it("heads --json", async () => {
    expect(await json("heads", "--dir", `${fixtures}/two-heads`)).toEqual({
      code: 0,
      body: { heads: ["bbbbbbbbbbb2", "bbbbbbbbbbb3"] },
    });
  });

  it("history --json is ordered bases first with the stable fields", async () => {
    const { code, body } = await json("history");
    expect(code).toBe(0);
    const seen = new Set<string>();
    for (const r of body.revisions) {
      expect(Object.keys(r).sort()).toEqual(["dependsOn", "file", "message", "revises", "revision"]);
      for (const parent of [...r.revises, ...r.dependsOn]) expect(seen.has(parent)).toBe(true);
      seen.add(r.revision);
    }
    expect(body.revisions[0]).toEqual({
      revision: "31cdefda761a",
      revises: [],
      dependsOn: [],
      message: "create users",
      file: "migrations/20261101_create_users.ts",
    });
  });

  it("history prints Alembic's shape, newest first", async () => {
    const run = await retort("history", "--dir", `${fixtures}/good`);
    expect(run.stdout).toBe("aaaaaaaaaaa1 -> aaaaaaaaaaa2 (head), second\n<base> -> aaaaaaaaaaa1, base\n");
  });

  it("a read command on a broken graph exits 1 with the problem as JSON", async () => {
    const { code, body } = await json("heads", "--dir", `${fixtures}/cycle`);
    expect(code).toBe(1);
    expect(body.error.code).toBe("cycle");
  });

  it("graph renders Mermaid and DOT", async () => {
    const mermaid = await retort("graph", "--dir", `${fixtures}/good`);
    expect(mermaid.stdout).toContain("flowchart TD\n");
    expect(mermaid.stdout).toContain("raaaaaaaaaaa1 --> raaaaaaaaaaa2");
    const dot = await retort("graph", "--dir", `${fixtures}/good`, "--format", "dot");
    expect(dot.stdout).toContain('"aaaaaaaaaaa1" -> "aaaaaaaaaaa2";');
  });

  it("bad usage exits 2", async () => {
    expect((await retort("graph", "--format", "png")).code).toBe(2);
    expect((await retort("frobnicate")).code).toBe(2);
    expect((await retort("revision")).code).toBe(2);
  });
});

describe("writing revisions", () => {
  it("revision writes a file that passes check and becomes the single head", async () => {
    const dir = await scratchCopy("good");
    const { code, body } = await json("revision", "-m", "Add email to users!", "--dir", dir);
    expect(code).toBe(0);
    expect(body.revision).toMatch(/^[0-9a-f]{12}$/);
    expect(body.revises).toEqual(["aaaaaaaaaaa2"]);
    expect(body.file).toMatch(new RegExp(`^${dir}/\\d{8}_add_email_to_users\\.ts$`));
    const text = await readFile(path.join(root, body.file), "utf8");
    expect(text).toContain('import { defineMigration } from "retort-migrate";');
    expect(text).toContain("op.safeAddColumn");
    expect(await json("check", "--dir", dir)).toMatchObject({ code: 0, body: { ok: true, heads: [body.revision] } });
  });

  it("revision in a project without a migrations directory creates it, says so, and writes a base", async () => {
    const dir = path.relative(root, path.join(scratchRoot, `fresh-${Math.random().toString(16).slice(2)}`, "migrations"));
    const first = await retort("revision", "-m", "first", "--dir", dir);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^created ${dir}/\n`));
    expect(first.stdout).toContain("revises nothing (a new base)");
    const files = await readdir(path.join(root, dir));
    expect(files).toHaveLength(1);
    const { body } = await json("revision", "-m", "second", "--dir", dir);
    expect(body.createdDirectory).toBeUndefined();
    expect(await json("check", "--dir", dir)).toMatchObject({ code: 0, body: { ok: true, revisions: 2, heads: [body.revision] } });
  });

  it("revision refuses with several heads unless --head is given", async () => {
    const dir = await scratchCopy("two-heads");
    const refused = await retort("revision", "-m", "next", "--dir", dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("Can't choose what the new revision revises: the migrations have 2 heads");
    expect(refused.stderr).toContain("pass `--head <revision>`");
    expect(await readdir(path.join(root, dir))).toHaveLength(3);
    const { code, body } = await json("revision", "-m", "next", "--head", "bbbbbbbbbbb3", "--dir", dir);
    expect(code).toBe(0);
    expect(body.revises).toEqual(["bbbbbbbbbbb3"]);
  });

  it("reset-heads merges all heads into one, then has nothing to do", async () => {
    const dir = await scratchCopy("two-heads");
    const { code, body } = await json("reset-heads", "--dir", dir);
    expect(code).toBe(0);
    expect(body.written.revises).toEqual(["bbbbbbbbbbb2", "bbbbbbbbbbb3"]);
    expect(await json("heads", "--dir", dir)).toEqual({ code: 0, body: { heads: [body.written.revision] } });
    const again = await retort("reset-heads", "--dir", dir);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`already a single head (${body.written.revision}); nothing written\n`);
    expect(await readdir(path.join(root, dir))).toHaveLength(4);
  });
});
