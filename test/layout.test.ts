// The layering the README's Layout section promises, checked against the imports: each folder
// imports only the folders its row names, so the folder graph has no cycles, and only the places
// that open a database name the PostgreSQL dialect. A new import that breaks the map fails here,
// naming the file and the import.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(fileURLToPath(import.meta.url), "../..");

/** Each part of the code and what it may import (beyond itself and node/npm packages). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  "lib/errors.ts": [],
  "lib/constants.ts": [],
  "lib/own-files.ts": [],
  "lib/retry.ts": ["lib/errors.ts"],
  "lib/duration.ts": [],
  "lib/sql": ["lib/errors.ts", "lib/retry.ts"],
  "lib/schema": ["lib/errors.ts", "lib/sql"],
  "lib/dialect": ["lib/errors.ts", "lib/constants.ts", "lib/schema", "lib/sql"],
  "lib/ops": ["lib/errors.ts", "lib/schema", "lib/sql", "lib/dialect"],
  "lib/revision": ["lib/errors.ts", "lib/own-files.ts", "lib/duration.ts", "lib/ops"],
  "lib/state": ["lib/errors.ts", "lib/constants.ts", "lib/retry.ts", "lib/schema", "lib/sql", "lib/dialect"],
  "lib/lint": ["lib/errors.ts", "lib/schema", "lib/sql", "lib/dialect", "lib/ops", "lib/revision"],
  "lib/local": ["lib/errors.ts", "lib/sql", "lib/state"],
  "lib/runner": [
    "lib/errors.ts",
    "lib/duration.ts",
    "lib/retry.ts",
    "lib/constants.ts",
    "lib/own-files.ts",
    "lib/schema",
    "lib/sql",
    "lib/dialect",
    "lib/ops",
    "lib/revision",
    "lib/state",
    "lib/lint",
  ],
  "lib/fleet": ["lib/errors.ts", "lib/constants.ts", "lib/sql", "lib/dialect", "lib/revision", "lib/state", "lib/runner"],
  "lib/api.ts": ["lib/runner", "lib/lint"],
  "lib/index.ts": ["lib/errors.ts", "lib/api.ts", "lib/schema", "lib/ops", "lib/revision", "lib/state"],
  "lib/cli": ["lib/errors.ts", "lib/duration.ts", "lib/sql", "lib/ops", "lib/revision", "lib/state", "lib/lint", "lib/runner", "lib/local", "lib/fleet"],
  functions: [
    "lib/errors.ts",
    "lib/constants.ts",
    "lib/sql",
    "lib/dialect",
    "lib/revision",
    "lib/state",
    "lib/runner",
    "lib/local",
    "lib/fleet",
  ],
  infra: ["lib/own-files.ts", "lib/revision", "lib/state", "functions"],
};

/** Outside lib/dialect, the only files that name the PostgreSQL dialect: where a database is opened. */
const OPENS_A_DATABASE = ["functions/context.ts", "lib/runner/database.ts"];

/** The part of the code a file belongs to: a lib/ folder, a lib/ root file, or a top folder. */
function partOf(file: string): string {
  const [top, second, third] = file.split("/");
  return top === "lib" && third !== undefined ? `${top}/${second}` : top === "lib" ? file : top!;
}

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.posix.join(dir, f.split(path.sep).join("/")));
}

interface Import {
  from: string;
  to: string;
}

/** Every relative import (static, dynamic, type-only, re-export) in lib/, functions/ and infra/. */
function imports(): Import[] {
  const out: Import[] = [];
  for (const file of ["lib", "functions", "infra"].flatMap(sources)) {
    const text = readFileSync(path.join(root, file), "utf8");
    for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g)) {
      out.push({ from: file, to: path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]!)) });
    }
  }
  return out;
}

describe("layout", () => {
  const all = imports();

  it("finds the imports it checks", () => {
    expect(all.length).toBeGreaterThan(300);
    expect(all).toContainEqual({ from: "lib/runner/database.ts", to: "lib/dialect/postgres/index.ts" });
  });

  it("each part imports only what the map allows", () => {
    const unknown = [...new Set(all.map((i) => partOf(i.from)))].filter((p) => !(p in MAY_IMPORT));
    expect(unknown, "parts missing from the map (add them here and to the README's Layout)").toEqual([]);
    const broken = all
      .filter((i) => partOf(i.from) !== partOf(i.to) && !MAY_IMPORT[partOf(i.from)]!.includes(partOf(i.to)))
      .map((i) => `${i.from} imports ${i.to}`);
    expect(broken).toEqual([]);
  });

  it("the map has no cycles", () => {
    const visiting = new Set<string>();
    const done = new Set<string>();
    const cycle = (part: string, trail: string[]): string[] | undefined => {
      if (done.has(part)) return undefined;
      if (visiting.has(part)) return [...trail, part];
      visiting.add(part);
      for (const next of MAY_IMPORT[part] ?? []) {
        const found = cycle(next, [...trail, part]);
        if (found) return found;
      }
      visiting.delete(part);
      done.add(part);
      return undefined;
    };
    for (const part of Object.keys(MAY_IMPORT)) expect(cycle(part, [])).toBeUndefined();
  });

  it("only the places that open a database name the PostgreSQL dialect", () => {
    const naming = all
      .filter((i) => i.to.startsWith("lib/dialect/postgres/") && !i.from.startsWith("lib/dialect/"))
      .map((i) => i.from);
    expect([...new Set(naming)].sort()).toEqual(OPENS_A_DATABASE);
  });
});
