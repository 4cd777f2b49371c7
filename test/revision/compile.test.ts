import { mkdtemp, readFile, rm, utimes, writeFile, mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { importTogether } from "../../lib/revision/compile.ts";
import { defineMigration } from "../../lib/revision/migration.ts";

const scratch: string[] = [];
afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

/** Writes files (relative path -> text) into a new temporary directory; returns its path. */
async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "retort-compile-"));
  scratch.push(dir);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

async function load(files: string[]) {
  return importTogether(files, await Promise.all(files.map((f) => readFile(f, "utf8"))));
}

const migration = (revision: string, extra = "") => `import { defineMigration } from "retort-migrate";
${extra}
export default defineMigration({
  revision: "${revision}",
  revises: null,
  message: "m",
  async upgrade() {},
  async downgrade() {},
});
`;

describe("importTogether", () => {
  it("gives every file's module, as importing each on its own does", async () => {
    const dir = path.resolve("test/fixtures/good");
    const files = ["20260101_base.ts", "20260102_second.ts"].map((f) => path.join(dir, f));
    const together = await load(files);
    const alone = await Promise.all(files.map((f) => import(pathToFileURL(f).href) as Promise<{ default: object }>));
    expect(together).toHaveLength(2);
    for (const [i, ns] of together!.entries()) {
      const { upgrade, downgrade, ...data } = ns.default as Record<string, unknown>;
      const { upgrade: u, downgrade: d, ...expected } = alone[i]!.default as Record<string, unknown>;
      expect(data).toEqual(expected);
      expect([typeof upgrade, typeof downgrade]).toEqual([typeof u, typeof d]);
    }
  });

  it("gives migrations the running retort's own module", async () => {
    const dir = await project({ "m/20260101_a.ts": migration("aaaaaaaaaaa1", "export { defineMigration as define };") });
    const [ns] = (await load([path.join(dir, "m/20260101_a.ts")]))!;
    expect((ns as { define?: unknown }).define).toBe(defineMigration);
  });

  it("compiles local helpers in, sees their changes, and leaves packages and builtins to Node", async () => {
    const dir = await project({
      "shared/label.ts": `export const label: string = "one";`,
      "node_modules/greeting/package.json": `{ "name": "greeting", "type": "module", "exports": "./index.js" }`,
      "node_modules/greeting/index.js": `export const hello = () => "hello";`,
      "m/20260101_a.ts": migration(
        "aaaaaaaaaaa1",
        `import { label } from "../shared/label.ts";\nimport { hello } from "greeting";\nimport { sep } from "node:path";\n` +
          `export const seen = [label, hello(), sep];`,
      ),
    });
    const file = path.join(dir, "m/20260101_a.ts");
    expect(((await load([file]))![0] as { seen?: unknown }).seen).toEqual(["one", "hello", path.sep]);
    await writeFile(path.join(dir, "shared/label.ts"), `export const label: string = "two!";`);
    await utimes(path.join(dir, "shared/label.ts"), new Date(), new Date(Date.now() + 5_000));
    expect(((await load([file]))![0] as { seen?: unknown }).seen).toEqual(["two!", "hello", path.sep]);
  });

  it.each([
    ["a syntax error", `export default { revision: "aaaaaaaaaaa2" revises: null };`],
    ["a module that throws while loading", `throw new Error("boom at import");`],
    ["import.meta", `export default { file: import.meta.url };`],
    ["CommonJS", `module.exports = { revision: "aaaaaaaaaaa2" };`],
  ])("leaves the files to be imported one by one when one has %s", async (_, text) => {
    const dir = await project({ "20260101_a.ts": migration("aaaaaaaaaaa1"), "20260102_b.ts": text });
    expect(await load([path.join(dir, "20260101_a.ts"), path.join(dir, "20260102_b.ts")])).toBeUndefined();
  });
});
