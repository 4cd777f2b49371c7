// The README is part of the product: its command table must list exactly the commands the CLI
// has, and its two set-up commands must be the ones package.json runs.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { main } from "../lib/cli/main.ts";
import { colors } from "../lib/cli/output.ts";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

async function helpText(): Promise<string> {
  let text = "";
  await main(["--help"], { out: (t) => (text += `${t}\n`), err: (t) => (text += `${t}\n`), color: colors(false) });
  return text;
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
});
