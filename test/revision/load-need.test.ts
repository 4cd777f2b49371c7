// How much of each migration file a load reads and runs: the graph commands' metadata without
// importing anything, `check`'s "every file is known to import", and the runs' full import, with
// the metadata cache between runs keyed by content.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { DirectorySource, LoadNeed } from "../../lib/revision/loader.ts";
import type { Operations } from "../../lib/ops/operations.ts";

// Inside the repository (git-ignored), so `import "retort-migrate"` resolves as in a user's project.
const ROOT = path.resolve(".retort", "test");
const scratch: string[] = [];
afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

async function directory(files: Record<string, string>): Promise<string> {
  await mkdir(ROOT, { recursive: true });
  const dir = await mkdtemp(path.join(ROOT, "load-need-"));
  scratch.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

declare global {
  // Counts the imports of the files below: each one adds to it when it is evaluated.
  var __retortLoadNeed: Record<string, number> | undefined;
}

beforeEach(() => {
  globalThis.__retortLoadNeed = {};
});

const file = (revision: string, revises: string | null, { top = "", message = "m", extra = "" } = {}) => `import { defineMigration } from "retort-migrate";

globalThis.__retortLoadNeed ??= {};
globalThis.__retortLoadNeed[${JSON.stringify(revision)}] = (globalThis.__retortLoadNeed[${JSON.stringify(revision)}] ?? 0) + 1;
${top}
export default defineMigration({
  revision: ${JSON.stringify(revision)},
  revises: ${JSON.stringify(revises)},
  message: ${JSON.stringify(message)},${extra}
  async upgrade(op) {
    globalThis.__retortLoadNeed!["ran:" + ${JSON.stringify(revision)}] = 1;
  },
  async downgrade(op) {},
});
`;

const imports = () => Object.entries(globalThis.__retortLoadNeed ?? {}).filter(([k]) => !k.startsWith("ran:"));

describe("LoadNeed.Metadata", () => {
  it("builds the graph from what the files state, importing none of them", async () => {
    const dir = await directory({
      "20260101_a.ts": file("aaaaaaaaaaa1", null, { message: 'quotes " and \u00e9' }),
      "20260102_b.ts": file("aaaaaaaaaaa2", "aaaaaaaaaaa1", { extra: '\n  dependsOn: ["aaaaaaaaaaa1"],\n  transactional: false,' }),
    });
    const { migrations, problems } = await new DirectorySource(dir).load(LoadNeed.Metadata);
    expect(problems).toEqual([]);
    expect(migrations.map((m) => [m.revision, m.revises, m.dependsOn, m.message, m.transactional])).toEqual([
      ["aaaaaaaaaaa1", [], [], 'quotes " and \u00e9', true],
      ["aaaaaaaaaaa2", ["aaaaaaaaaaa1"], ["aaaaaaaaaaa1"], "m", false],
    ]);
    expect(imports()).toEqual([]);
  });

  it("gives the same migrations as importing the files, down to the checksum", async () => {
    const dir = await directory({
      "20260101_a.ts": file("bbbbbbbbbbb1", null, { extra: '\n  createdAt: "2026-01-01T00:00:00Z",\n  branchLabels: ["auth"],\n  lint: { allow: ["drop-column: gone"] },' }),
      "20260102_b.ts": file("bbbbbbbbbbb2", "bbbbbbbbbbb1", { extra: "\n  irreversible: true," }),
    });
    const strip = (list: Awaited<ReturnType<DirectorySource["load"]>>["migrations"]) =>
      list.map(({ upgrade: _u, downgrade: _d, ...rest }) => rest);
    const fromText = await new DirectorySource(dir).load(LoadNeed.Metadata);
    const fromCode = await new DirectorySource(dir).load(LoadNeed.Code);
    expect(strip(fromText.migrations)).toEqual(strip(fromCode.migrations));
  });

  it("refuses to run code that states other metadata than the graph was built from", async () => {
    const dir = await directory({ "20260101_a.ts": file("ccccccccccc3", null) });
    const { migrations } = await new DirectorySource(dir).load(LoadNeed.Metadata);
    // Edited after the graph was built, before the migration ran.
    await writeFile(path.join(dir, "20260101_a.ts"), file("ccccccccccc3", null, { message: "edited" }));
    await expect(migrations[0]!.upgrade({} as Operations)).rejects.toThrow(
      /20260101_a\.ts: gives `message` a different value when it runs than its text states/,
    );
    expect(globalThis.__retortLoadNeed!["ran:ccccccccccc3"]).toBeUndefined();
  });

  it("imports a file when its upgrade runs; a file whose metadata is not literal is imported to learn it", async () => {
    const dir = await directory({
      "20260101_a.ts": file("ccccccccccc1", null),
      // The text says one message, the code another: the graph was built from the text.
      "20260102_b.ts": file("ccccccccccc2", "ccccccccccc1", { top: "const suffix = ' (computed)';" }).replace(
        'message: "m",',
        'message: "m",\n  ...{ message: "m" + suffix },',
      ),
    });
    const { migrations, problems } = await new DirectorySource(dir).load(LoadNeed.Metadata);
    // The spread cannot be read from the text: that file was imported to learn its metadata.
    expect(problems).toEqual([]);
    expect(migrations.map((m) => m.message)).toEqual(["m", "m (computed)"]);
    expect(imports().map(([k]) => k)).toEqual(["ccccccccccc2"]);
    await migrations[0]!.upgrade({} as Operations);
    expect(globalThis.__retortLoadNeed!["ran:ccccccccccc1"]).toBe(1);
  });

  it("does not notice a file that throws while loading; check does", async () => {
    const dir = await directory({
      "20260101_a.ts": file("ddddddddddd1", null, { top: 'throw new Error("boom");' }),
    });
    const metadata = await new DirectorySource(dir).load(LoadNeed.Metadata);
    expect(metadata.problems).toEqual([]);
    expect(metadata.migrations.map((m) => m.revision)).toEqual(["ddddddddddd1"]);
    await expect(metadata.migrations[0]!.upgrade({} as Operations)).rejects.toThrow(/20260101_a\.ts: cannot be loaded \(.*boom/);
    for (const need of [LoadNeed.Checked, LoadNeed.Code]) {
      const { migrations, problems } = await new DirectorySource(dir).load(need);
      expect(migrations).toEqual([]);
      expect(problems.map((p) => p.message)).toEqual([expect.stringMatching(/20260101_a\.ts: cannot be loaded \(Error thrown at line 5: boom\)/)]);
    }
  });

  it("reports a file whose stated metadata is malformed as the import would", async () => {
    const dir = await directory({ "20260101_a.ts": file("eeeeeeeeeee1", null).replace('revises: null,', 'revises: "nope",') });
    const fromText = await new DirectorySource(dir).load(LoadNeed.Metadata);
    const fromCode = await new DirectorySource(dir).load(LoadNeed.Code);
    expect(fromText.problems.map((p) => p.message)).toEqual(fromCode.problems.map((p) => p.message));
    expect(fromText.problems[0]?.message).toMatch(/revises names "nope", which is not 12 lowercase hex digits/);
  });
});

describe("LoadNeed.Checked", () => {
  it("imports a content once; a later check imports only what changed", async () => {
    const dir = await directory({
      "20260101_a.ts": file("fffffffffff1", null),
      "20260102_b.ts": file("fffffffffff2", "fffffffffff1"),
    });
    const first = await new DirectorySource(dir).load(LoadNeed.Checked);
    expect(first.problems).toEqual([]);
    expect(imports().length).toBe(2);
    globalThis.__retortLoadNeed = {};
    await new DirectorySource(dir).load(LoadNeed.Checked);
    expect(imports()).toEqual([]);
    // An edit is a new content: imported again, and its new metadata is what the graph gets.
    await writeFile(path.join(dir, "20260102_b.ts"), file("fffffffffff2", "fffffffffff1", { message: "edited" }));
    const edited = await new DirectorySource(dir).load(LoadNeed.Checked);
    expect(imports().map(([k]) => k)).toEqual(["fffffffffff2"]);
    expect(edited.migrations.map((m) => m.message)).toEqual(["m", "edited"]);
    // And the graph commands see the edit at once.
    expect((await new DirectorySource(dir).load(LoadNeed.Metadata)).migrations.map((m) => m.message)).toEqual(["m", "edited"]);
  });

  it("imports a file that imports another module every time: what it imports may have changed", async () => {
    const dir = await directory({
      "helper.mts": "export const suffix = '';\n",
      "20260101_a.ts": file("abcabcabcab1", null, { top: 'import { suffix } from "./helper.mts";\nvoid suffix;' }),
    });
    await new DirectorySource(dir).load(LoadNeed.Checked);
    globalThis.__retortLoadNeed = {};
    await writeFile(path.join(dir, "helper.mts"), "throw new Error('helper broke');\n");
    const { problems } = await new DirectorySource(dir).load(LoadNeed.Checked);
    expect(problems.map((p) => p.message)).toEqual([expect.stringMatching(/20260101_a\.ts: cannot be loaded \(.*helper broke/)]);
  });

  it("never counts a file that failed to import as checked", async () => {
    const dir = await directory({ "20260101_a.ts": file("abcabcabcab2", null, { top: 'throw new Error("boom");' }) });
    for (let i = 0; i < 2; i += 1) {
      const { problems } = await new DirectorySource(dir).load(LoadNeed.Checked);
      expect(problems).toHaveLength(1);
    }
  });
});
