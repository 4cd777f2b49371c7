// Migrations carried inside a bundle (the runner Lambda). At synth the MigrationRunner construct
// reads the migrations directory into a manifest (each file with the checksum of its content) and
// generates an entry that imports every module statically, so the runtime reads no file and the
// checksums are those of the files the bundle was built from. The manifest's hash is what the
// deploy hook's properties carry and what `check` reports.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { RevisionError } from "./errors.ts";
import {
  checkFileName,
  checksum,
  displayPath,
  isMigrationFileName,
  type LoadResult,
  type MigrationSource,
  toMigration,
  unreadableDirectory,
} from "./loader.ts";
import type { Migration } from "./migration.ts";

export interface ManifestEntry {
  /** As users see it: relative to the migrations directory's parent (`migrations/x.ts`). */
  file: string;
  /** sha256 of the file's content, line endings normalised (the loader's checksum). */
  checksum: string;
}

export interface BundleManifest {
  /** sha256 over every entry: changes exactly when a migration file is added, removed or edited. */
  hash: string;
  migrations: ManifestEntry[];
}

/** One bundled migration: its manifest entry and the module imported at build time. */
export interface BundledMigration extends ManifestEntry {
  module: { default?: unknown };
}

/** The hash of a manifest; independent of entry order. */
export function manifestHash(entries: readonly ManifestEntry[]): string {
  const lines = entries.map((e) => `${e.file}\t${e.checksum}\n`).sort();
  return createHash("sha256").update(lines.join("")).digest("hex");
}

/**
 * Reads a migrations directory into a manifest, without importing any file. Synchronous: a CDK
 * construct calls it from its constructor.
 */
export function readManifest(directory: string): BundleManifest & { directory: string } {
  const absolute = path.resolve(directory);
  const parent = path.basename(absolute);
  let names: string[];
  try {
    names = readdirSync(absolute, { withFileTypes: true })
      .filter((e) => e.isFile() && isMigrationFileName(e.name))
      .map((e) => e.name)
      .sort();
  } catch (error) {
    throw unreadableDirectory(displayPath(absolute), error);
  }
  const migrations = names.map((name) => ({ file: `${parent}/${name}`, checksum: checksum(readFileSync(path.join(absolute, name), "utf8")) }));
  return { directory: absolute, hash: manifestHash(migrations), migrations };
}

/**
 * What the generated entry does at build time, done at run time: the manifest, and each module
 * imported (the demo and the tests, which run TypeScript through tsx).
 */
export async function importBundle(directory: string): Promise<BundledMigration[]> {
  const manifest = readManifest(directory);
  return Promise.all(
    manifest.migrations.map(async (m) => ({
      ...m,
      module: (await import(pathToFileURL(path.join(manifest.directory, path.basename(m.file))).href)) as { default?: unknown },
    })),
  );
}

/** The migrations of a bundle, validated like files are: a bad export is a problem, not a crash. */
export class BundledSource implements MigrationSource {
  readonly manifest: BundleManifest;
  readonly location: string;

  constructor(private readonly bundled: readonly BundledMigration[]) {
    const migrations = bundled.map(({ file, checksum }) => ({ file, checksum }));
    this.manifest = { hash: manifestHash(migrations), migrations };
    this.location = `the bundled migrations (manifest ${this.manifest.hash.slice(0, 12)})`;
  }

  async load(): Promise<LoadResult> {
    const migrations: Migration[] = [];
    const problems: RevisionError[] = [];
    for (const entry of this.bundled) {
      const result = toMigration(entry.module.default, entry.file, entry.checksum);
      if ("migration" in result) migrations.push(result.migration);
      else problems.push(result.problem);
      const nameProblem = checkFileName(entry.file, "migration" in result ? result.migration.createdAt : undefined);
      if (nameProblem) problems.push(nameProblem);
    }
    return { migrations, problems };
  }
}
