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

/** The module of each file, when every one loaded. */
async function namespaces(files: string[]) {
  return (await load(files))?.map((one) => {
    if ("error" in one) throw one.error;
    return one.namespace;
  });
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
    const together = await namespaces(files);
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
    const [ns] = (await namespaces([path.join(dir, "m/20260101_a.ts")]))!;
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
    expect(((await namespaces([file]))![0] as { seen?: unknown }).seen).toEqual(["one", "hello", path.sep]);
    await writeFile(path.join(dir, "shared/label.ts"), `export const label: string = "two!";`);
    await utimes(path.join(dir, "shared/label.ts"), new Date(), new Date(Date.now() + 5_000));
    expect(((await namespaces([file]))![0] as { seen?: unknown }).seen).toEqual(["two!", "hello", path.sep]);
  });

  it("gives a file that throws while loading its error and line, and the files beside it their modules", async () => {
    const dir = await project({
      "20260101_a.ts": migration("aaaaaaaaaaa1"),
      "20260102_b.ts": `const n: number = 1;\n\nif (n) throw new TypeError("boom at import");\n`,
      "20260103_c.ts": migration("aaaaaaaaaaa3", "const ready: boolean = await Promise.resolve(true);"),
    });
    // Compiled, then from the cache.
    for (const _ of [1, 2]) {
      const [a, b, c] = (await load(["20260101_a.ts", "20260102_b.ts", "20260103_c.ts"].map((f) => path.join(dir, f))))!;
      expect(a).toMatchObject({ namespace: { default: { revision: "aaaaaaaaaaa1" } } });
      expect(c).toMatchObject({ namespace: { default: { revision: "aaaaaaaaaaa3" } } });
      expect(b).toEqual({
        error: expect.objectContaining({ name: "TypeError", message: "boom at import" }),
        thrownAt: { file: path.join(dir, "20260102_b.ts"), line: 3, column: 14 },
      });
    }
  });

  it("names the line of a local file that throws for each file importing it", async () => {
    const dir = await project({
      "shared/broken.ts": `export const label: string = "x";\nthrow new Error("helper boom");\n`,
      "m/20260101_a.ts": migration("aaaaaaaaaaa1", `import { label } from "../shared/broken.ts";\nexport const seen = label;`),
      "m/20260102_b.ts": migration("aaaaaaaaaaa2", `import { label } from "../shared/broken.ts";\nexport const seen = label;`),
      "m/20260103_c.ts": migration("aaaaaaaaaaa3"),
    });
    const imported = (await load(["20260101_a.ts", "20260102_b.ts", "20260103_c.ts"].map((f) => path.join(dir, "m", f))))!;
    const thrownAt = { file: path.join(dir, "shared/broken.ts"), line: 2, column: 7 };
    expect(imported[0]).toMatchObject({ error: { message: "helper boom" }, thrownAt });
    expect(imported[1]).toMatchObject({ error: { message: "helper boom" }, thrownAt });
    expect(imported[2]).toMatchObject({ namespace: { default: { revision: "aaaaaaaaaaa3" } } });
  });

  it.each([
    ["a syntax error", `export default { revision: "aaaaaaaaaaa2" revises: null };`],
    ["import.meta", `export default { file: import.meta.url };`],
    ["CommonJS", `module.exports = { revision: "aaaaaaaaaaa2" };`],
  ])("leaves the files to be imported one by one when one has %s", async (_, text) => {
    const dir = await project({ "20260101_a.ts": migration("aaaaaaaaaaa1"), "20260102_b.ts": text });
    expect(await load([path.join(dir, "20260101_a.ts"), path.join(dir, "20260102_b.ts")])).toBeUndefined();
  });
});
