// The README is part of the product: its command table must list exactly the commands the CLI
// has, its two set-up commands must be the ones package.json runs, and its getting-started
// walkthrough must work as written: its shell commands and its from-code example are run for real
// (the built `retort`, as `npx retort` runs it) in a scratch project on the embedded database.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../lib/cli/main.ts";
import { colors } from "../lib/cli/output.ts";
import { bin, type CliRun, root } from "./support/cli.ts";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

async function helpText(): Promise<string> {
  let text = "";
  await main(["--help"], { out: (t) => (text += `${t}\n`), err: (t) => (text += `${t}\n`), color: colors(false) });
  return text;
}

/** The fenced code blocks of the README's section `heading`, with their languages. */
function codeBlocks(heading: string): Array<{ lang: string; code: string }> {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start === -1) throw new Error(`README has no section "${heading}"`);
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, code: m[2]! }));
}

/** A shell line's words, without its comment; "double quotes" group words as the shell does. */
const words = (line: string): string[] =>
  [...line.replace(/\s+#.*$/, "").matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);

// Inside the repository, so the scratch project's files import "retort-migrate" (the package
// resolving its own name) as an installed copy would.
const scratch = path.join(root, ".retort/test-scratch", `readme-${process.pid}`);

afterAll(() => rm(scratch, { recursive: true, force: true }));

/** Runs `command` in the scratch project, with none of retort's variables set: the defaults apply. */
function run(command: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const clean = { ...process.env, NO_COLOR: "1", RETORT_DB: undefined, RETORT_DIR: undefined, RETORT_LOCK_TABLE: undefined };
  return new Promise((resolve) => {
    execFile(process.execPath, command, { cwd: scratch, env: { ...clean, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("README", () => {
  it("documents every CLI command, and only those", async () => {
    const cli = [...(await helpText()).matchAll(/^ {2}([a-z-]+) /gm)].map((m) => m[1]!).filter((c) => c !== "help" && c !== "demo");
    const documented = new Set([...readme.matchAll(/^\| `retort ([a-z-]+)/gm)].map((m) => m[1]!));
    expect([...new Set(cli)].sort()).toEqual([...documented].sort());
  });

  it("shows the two set-up commands, which package.json defines", () => {
    expect(readme).toContain("npm install && npm start");
    expect(readme).toContain("npm install && npm test");
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBeDefined();
    expect(pkg.scripts.test).toBeDefined();
  });

  describe("the getting-started walkthrough, run as written", () => {
    const blocks = () => codeBlocks("Use retort in your project");
    let revision = "";

    it("creates a revision, then checks, upgrades, reports and validates it on the embedded database", { timeout: 120_000 }, async () => {
      const commands = blocks()
        .filter((b) => b.lang === "sh")
        .flatMap((b) => b.code.split("\n"))
        .map(words)
        .filter((w) => w.length > 0);
      // `npm install retort-migrate` is what the scratch project inside this repository stands for.
      expect(commands[0]).toEqual(["npm", "install", "retort-migrate"]);
      const cli = commands.slice(1);
      for (const command of cli) expect(command.slice(0, 2)).toEqual(["npx", "retort"]);
      // The steps this test knows how to follow and check: a new step in the README needs its own.
      expect(cli.map((c) => c[2])).toEqual(["revision", "check", "upgrade", "status", "validate"]);
      await mkdir(scratch, { recursive: true });
      const retort = (command: string[]) => run([bin, ...command.slice(2)]);

      const created = await retort(cli[0]!);
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toContain("created migrations/");
      const files = await readdir(path.join(scratch, "migrations"));
      expect(files).toEqual([expect.stringMatching(/^\d{8}_create_users\.ts$/)]);
      expect(created.stdout).toContain(`wrote migrations/${files[0]}`);
      const file = path.join(scratch, "migrations", files[0]!);
      const template = await readFile(file, "utf8");
      expect(template).toContain('import { defineMigration } from "retort-migrate";');
      revision = /revision: "([0-9a-f]{12})"/.exec(template)![1]!;

      // "Fill in the file's upgrade and downgrade".
      const filled = template
        .replace(
          /async upgrade\(op\) \{[\s\S]*?\n {2}\},/,
          `async upgrade(op) {
    await op.safeCreateTable("users", { columns: [{ name: "id", type: "bigint", primaryKey: true }, { name: "name", type: "text" }] });
  },`,
        )
        .replace(/async downgrade\(op\) \{[\s\S]*?\n {2}\},/, `async downgrade(op) {\n    await op.safeDropTable("users");\n  },`);
      expect(filled).toContain("safeCreateTable");
      expect(filled).toContain("safeDropTable");
      await writeFile(file, filled);

      const check = await retort(cli[1]!);
      expect(check.code, check.stderr).toBe(0);
      expect(check.stdout).toContain(`ok  1 revision(s), head ${revision}; no problems`);

      const upgrade = await retort(cli[2]!);
      expect(upgrade.code, upgrade.stderr).toBe(0);
      expect(upgrade.stdout).toContain(`applied  ${revision}  create users`);
      // "the embedded database, which lives in `.retort/local` of the directory you run from".
      expect(existsSync(path.join(scratch, ".retort/local"))).toBe(true);
      // "or safe-upgrade": after upgrade it has nothing left to do.
      const safe = await retort(["npx", "retort", "safe-upgrade"]);
      expect(safe.code, safe.stderr).toBe(0);
      expect(safe.stdout).toContain(`safe-upgrade: nothing to do; database at ${revision}`);

      const status = await retort(cli[3]!);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(new RegExp(`database heads +${revision}`));
      expect(status.stdout).toMatch(/pending +none: up to date/);

      const validate = await retort(cli[4]!);
      expect(validate.code, validate.stderr).toBe(0);
      expect(validate.stdout).toContain(`ok  ${revision}  create users`);
      expect(validate.stdout).toContain("ok  1 revision(s): 1 ok");
    });

    it("runs the from-code example on a database of its own", { timeout: 60_000 }, async () => {
      expect(revision, "the walkthrough above wrote the migration").not.toBe("");
      const example = blocks().find((b) => b.lang === "ts" && b.code.includes('import { safeUpgrade, status } from "retort-migrate";'));
      expect(example).toBeDefined();
      await writeFile(path.join(scratch, "example.ts"), example!.code);
      // A fresh database, so safeUpgrade has the migration to apply before status says up to date.
      const db = `pglite://${path.join(scratch, "from-code")}`;
      const result = await run(["--import", "tsx", "example.ts"], { DATABASE_URL: db });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe("true\n");
      expect(existsSync(path.join(scratch, "from-code"))).toBe(true);
    });
  });
});
