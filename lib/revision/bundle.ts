// Migrations carried inside a bundle (the runner Lambda). At synth the MigrationRunner construct
// reads the migrations directory into a manifest (each file with the checksum of its content, and
// the metadata its text states) and generates an entry (infra/runner-entry.ts) that carries, for
// each file that states its metadata and imports nothing but "retort-migrate", that metadata and
// its module compiled to CommonJS as a string, compiled by V8 only when its upgrade or downgrade
// first runs (V8 scans a string far faster than it parses code); every other file is imported
// statically. So the runtime reads no file, and the checksums are those of the files the bundle
// was built from. The manifest's hash is what the deploy hook's properties carry and what `check`
// reports.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { compileFunction } from "node:vm";
import { PACKAGE_NAME } from "../own-files.ts";
import { InvalidFileError, type RevisionError } from "./errors.ts";
import {
  checkFileName,
  checksum,
  defaultExport,
  displayPath,
  isMigrationFileName,
  type LoadResult,
  type MigrationSource,
  statedMigration,
  toMigration,
  unreadableDirectory,
} from "./loader.ts";
import type { Migration } from "./migration.ts";
import { readStaticMetadata, type StaticMetadata } from "./static-metadata.ts";

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

/** A manifest read from a directory: where it is, and what each file's text states. */
export interface DirectoryManifest extends BundleManifest {
  /** Absolute. */
  directory: string;
  /** For each of `migrations`, in the same order: its metadata, or undefined when its text does not state it with certainty. */
  stated: ReadonlyArray<StaticMetadata | undefined>;
}

/** A module namespace as `import` gives it. */
export type ModuleNamespace = { default?: unknown };

/** One bundled migration whose module was imported with the bundle, evaluated at cold start. */
export interface EagerBundledMigration extends ManifestEntry {
  module: ModuleNamespace;
}

/**
 * One bundled migration carried as text: the metadata its file states, and its module compiled to
 * CommonJS at synth (infra/runner-entry.ts), compiled by V8 only when its upgrade or downgrade
 * first runs. Only a file that imports nothing but "retort-migrate" is carried so.
 */
export interface StringBundledMigration extends ManifestEntry {
  /** The default export's fields except upgrade and downgrade, as the file's text states them. */
  metadata: Record<string, unknown>;
  /** Which of upgrade and downgrade the text defines. */
  functions: { upgrade: boolean; downgrade: boolean };
  /** The module as the body of `function (module, exports, require)`. */
  body: string;
}

export type BundledMigration = EagerBundledMigration | StringBundledMigration;

/** What a string migration's `require("retort-migrate")` gives: retort's runtime exports. */
export type PackageExports = Readonly<Record<string, unknown>>;

export interface BundledSourceOptions {
  /**
   * What a string migration's body gets for `require("retort-migrate")`; the generated entry
   * imports these from retort's own index, as the files it imports statically do.
   */
  packageExports?: PackageExports;
}

/** The hash of a manifest; independent of entry order. */
export function manifestHash(entries: readonly ManifestEntry[]): string {
  const lines = entries.map((e) => `${e.file}\t${e.checksum}\n`).sort();
  return createHash("sha256").update(lines.join("")).digest("hex");
}

/**
 * Reads a migrations directory into a manifest, with the metadata each file's text states, without
 * importing any file. Synchronous: a CDK construct calls it from its constructor.
 */
export function readManifest(directory: string): DirectoryManifest {
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
  const migrations: ManifestEntry[] = [];
  const stated: Array<StaticMetadata | undefined> = [];
  for (const name of names) {
    const content = readFileSync(path.join(absolute, name), "utf8");
    migrations.push({ file: `${parent}/${name}`, checksum: checksum(content) });
    stated.push(readStaticMetadata(content, PACKAGE_NAME));
  }
  return { directory: absolute, hash: manifestHash(migrations), migrations, stated };
}

/**
 * The migrations of a directory as bundled entries, every module imported now (through tsx): the
 * demo and the tests of the handlers. The runner's entry carries most migrations as text instead
 * (infra/runner-entry.ts), which needs esbuild at synth.
 */
export async function importBundle(directory: string): Promise<EagerBundledMigration[]> {
  const manifest = readManifest(directory);
  return Promise.all(
    manifest.migrations.map(async (m) => ({
      ...m,
      module: (await import(pathToFileURL(path.join(manifest.directory, path.basename(m.file))).href)) as ModuleNamespace,
    })),
  );
}

/** The migrations of a bundle, validated like files are: a bad export is a problem, not a crash. */
export class BundledSource implements MigrationSource {
  readonly manifest: BundleManifest;
  readonly location: string;
  private readonly packageExports: PackageExports | undefined;
  /** The migrations, built by the first load(): once per container, so each body is compiled at most once. */
  private loaded: LoadResult | undefined;

  constructor(
    private readonly bundled: readonly BundledMigration[],
    options: BundledSourceOptions = {},
  ) {
    this.packageExports = options.packageExports;
    const migrations = bundled.map(({ file, checksum }) => ({ file, checksum }));
    this.manifest = { hash: manifestHash(migrations), migrations };
    this.location = `the bundled migrations (manifest ${this.manifest.hash.slice(0, 12)})`;
  }

  /**
   * Every migration, whatever the need: a string migration has its metadata from the manifest,
   * and its body compiled and run when its upgrade or downgrade is first called (and refused then
   * if the code states other metadata), so a Lambda with thousands of migrations compiles only
   * the ones it runs. Each call gets arrays of its own over the same migrations.
   */
  async load(): Promise<LoadResult> {
    this.loaded ??= this.build();
    return { migrations: [...this.loaded.migrations], problems: [...this.loaded.problems] };
  }

  private build(): LoadResult {
    const migrations: Migration[] = [];
    const problems: RevisionError[] = [];
    for (const entry of this.bundled) {
      const result =
        "module" in entry
          ? toMigration(defaultExport(entry.module), entry.file, entry.checksum)
          : statedMigration({ fields: entry.metadata, functions: entry.functions, selfContained: true }, entry.file, entry.checksum, async () =>
              runBody(entry, this.packageExports),
            );
      if ("migration" in result) migrations.push(result.migration);
      else problems.push(result.problem);
      const nameProblem = checkFileName(entry.file, "migration" in result ? result.migration.createdAt : undefined);
      if (nameProblem) problems.push(nameProblem);
    }
    return { migrations, problems };
  }
}

/**
 * A string migration's body compiled (named by its file, so stack traces show it), run as a
 * CommonJS module, and its default export checked; a body that throws is a problem of its file.
 */
function runBody(entry: StringBundledMigration, packageExports: PackageExports | undefined): { migration: Migration } | { problem: InvalidFileError } {
  const module = { exports: {} as Record<string, unknown> };
  try {
    const body = compileFunction(entry.body, ["module", "exports", "require"], { filename: entry.file });
    body.call(module.exports, module, module.exports, (specifier: string) => {
      if (specifier === PACKAGE_NAME && packageExports) return packageExports;
      throw new Error(
        packageExports
          ? `a bundled migration can require only "${PACKAGE_NAME}", not ${JSON.stringify(specifier)}`
          : `no exports of "${PACKAGE_NAME}" were given to the bundled migrations (BundledSource's packageExports)`,
      );
    });
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split("\n")[0]!.trim();
    return { problem: new InvalidFileError(entry.file, `cannot be loaded (${error instanceof Error ? `${error.name}: ` : ""}${message})`) };
  }
  return toMigration(defaultExport({ default: module.exports }), entry.file, entry.checksum);
}
