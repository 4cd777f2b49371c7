// Where migrations come from. A MigrationSource yields loaded migrations plus the problems found
// while loading; a broken file never crashes the loader, it becomes a named problem. The CLI reads
// a directory of TypeScript files; the Lambda reads a manifest bundled at synth time (bundle.ts).
// A command says how much it needs (LoadNeed): the graph commands need each file's metadata, which
// the file states literally (static-metadata.ts) or an earlier run recorded for that exact content
// (metadata-cache.ts), so they neither compile nor run any migration; a migration's code is
// imported when its upgrade or downgrade is called, and must then agree with that metadata.
import { createHash, hash } from "node:crypto";
import { isUtf8 } from "node:buffer";
import { closeSync, openSync, readSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { fromSource, PACKAGE_NAME } from "../own-files.ts";
import { durationMs } from "../duration.ts";
import { firstFrame, type Imported, importTogether, type SourcePosition } from "./compile.ts";
import { BadFilenameError, InvalidFileError, type RevisionError } from "./errors.ts";
import type { BundleManifest } from "./bundle.ts";
import { MetadataCache } from "./metadata-cache.ts";
import { type Migration, type MigrationDefinition, type MigrationMetadata, parseLintAllow } from "./migration.ts";
import { readStaticMetadata, type StaticMetadata } from "./static-metadata.ts";

export interface LoadResult {
  migrations: Migration[];
  problems: RevisionError[];
}

/** How much of each migration a command needs, from least to most. */
export const LoadNeed = {
  /**
   * The metadata: what the graph commands need. A migration's code is imported when its upgrade
   * or downgrade is first called, and a file that cannot be imported is not noticed before.
   */
  Metadata: "metadata",
  /** The metadata, and every file known to import: this content imported before, or now (`check`). */
  Checked: "checked",
  /** Every file imported now: the commands that run migrations. */
  Code: "code",
} as const;
export type LoadNeed = (typeof LoadNeed)[keyof typeof LoadNeed];

const RANK: Record<LoadNeed, number> = { metadata: 0, checked: 1, code: 2 };

export interface MigrationSource {
  /** Where the migrations are, for messages (a directory, a bundle). */
  readonly location: string;
  /** The files and checksums a bundle was built from; `check` reports it. Directories have none. */
  readonly manifest?: BundleManifest;
  /** @param need how much of each migration the caller needs. @default LoadNeed.Code */
  load(need?: LoadNeed): Promise<LoadResult>;
}

/**
 * `source` with its migrations loading from now on (as far as `need`), and every load() that
 * needs no more answered with that one result: the CLI loads the files while the database connects.
 */
export function loadingNow(source: MigrationSource, need: LoadNeed = LoadNeed.Code): MigrationSource {
  const loaded = source.load(need);
  // A failure is reported by the load() that awaits it, not as an unhandled rejection.
  loaded.catch(() => {});
  return {
    location: source.location,
    ...(source.manifest ? { manifest: source.manifest } : {}),
    load: (more = LoadNeed.Code) => (RANK[more] <= RANK[need] ? loaded : source.load(more)),
  };
}

export const REVISION_ID = /^[0-9a-f]{12}$/;
export const FILE_NAME = /^(\d{4})(\d{2})(\d{2})_[a-z0-9]+(?:_[a-z0-9]+)*\.ts$/;

/** sha256 of the content with CRLF/CR line endings normalised, so checkouts on Windows agree. */
export function checksum(content: string): string {
  return createHash("sha256").update(content.replace(/\r\n?/g, "\n")).digest("hex");
}

/** checksum() of a file's bytes, without decoding them when they are UTF-8 with no CR to normalise. */
function checksumOfBytes(bytes: Buffer): string {
  if (bytes.indexOf(13) === -1 && isUtf8(bytes)) return hash ? hash("sha256", bytes) : createHash("sha256").update(bytes).digest("hex");
  return checksum(bytes.toString("utf8"));
}

/** One buffer for every file read, grown for a larger one. */
let readBuffer = Buffer.allocUnsafe(64 * 1024);

/**
 * A file's bytes, in the shared buffer (valid until the next call): open, read, close and no
 * more. Thousands of files are read this way in a fraction of the time promises take.
 */
function readBytes(file: string): Buffer {
  const fd = openSync(file, "r");
  try {
    let length = 0;
    for (;;) {
      if (length === readBuffer.length) {
        const larger = Buffer.allocUnsafe(readBuffer.length * 2);
        readBuffer.copy(larger);
        readBuffer = larger;
      }
      const n = readSync(fd, readBuffer, length, readBuffer.length - length, null);
      if (n === 0) return readBuffer.subarray(0, length);
      length += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** The metadata of a loaded migration: what the cache keeps. */
function metadataOf(m: Migration): MigrationMetadata {
  const { file: _file, checksum: _checksum, upgrade: _upgrade, downgrade: _downgrade, ...metadata } = m;
  return metadata;
}

/** The first metadata field in which `b` differs from `a`; undefined when they agree. */
function differingField(a: MigrationMetadata, b: MigrationMetadata): string | undefined {
  const fields = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof MigrationMetadata>;
  for (const field of fields) if (JSON.stringify(a[field]) !== JSON.stringify(b[field])) return field;
  return undefined;
}

/** How a path is shown to users: relative to the working directory when inside it. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel.split(path.sep).join("/") : file;
}

/** The longest lockTimeout or statementTimeout: what PostgreSQL's settings (an int of ms) hold. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const KNOWN_FIELDS = new Set([
  "revision",
  "revises",
  "message",
  "createdAt",
  "dependsOn",
  "branchLabels",
  "transactional",
  "irreversible",
  "lockTimeout",
  "statementTimeout",
  "lint",
  "upgrade",
  "downgrade",
]);

/** Checks a module's default export against the migration format; pure, shared by every source. */
export function toMigration(
  exported: unknown,
  file: string,
  sum: string,
): { migration: Migration } | { problem: InvalidFileError } {
  const fail = (reason: string, revision?: string) => ({ problem: new InvalidFileError(file, reason, revision) });
  if (exported === undefined) {
    return fail("has no default export; write `export default defineMigration({ ... })`");
  }
  if (typeof exported !== "object" || exported === null) {
    return fail(`default export is ${exported === null ? "null" : typeof exported}, not a migration object`);
  }
  const d = exported as Partial<Record<keyof MigrationDefinition, unknown>> & Record<string, unknown>;
  const unknownFields = Object.keys(d).filter((k) => !KNOWN_FIELDS.has(k));
  if (d.revision === undefined) return fail("is missing `revision` (12 random hex digits)");
  if (typeof d.revision !== "string" || !REVISION_ID.test(d.revision)) {
    return fail(`revision ${JSON.stringify(d.revision)} is not 12 lowercase hex digits`);
  }
  const revision = d.revision;
  if (unknownFields.length > 0) {
    return fail(`has unknown field(s) ${unknownFields.map((k) => `\`${k}\``).join(", ")}`, revision);
  }
  if (d.revises === undefined) {
    return fail("is missing `revises` (null for a base, an id, or an array of ids for a merge)", revision);
  }
  const revises = idList(d.revises, true);
  if (typeof revises === "string") return fail(`revises ${revises}`, revision);
  const dependsOn = idList(d.dependsOn ?? null, true);
  if (typeof dependsOn === "string") return fail(`dependsOn ${dependsOn}`, revision);
  if (revises.includes(revision) || dependsOn.includes(revision)) {
    return fail(`revision ${revision} revises or depends on itself`, revision);
  }
  const branchLabels = idList(d.branchLabels ?? null, false);
  if (typeof branchLabels === "string") return fail(`branchLabels ${branchLabels}`, revision);
  if (typeof d.message !== "string") return fail("is missing `message` (a short description)", revision);
  if (d.createdAt !== undefined && (typeof d.createdAt !== "string" || Number.isNaN(Date.parse(d.createdAt)))) {
    return fail(`createdAt ${JSON.stringify(d.createdAt)} is not an ISO-8601 timestamp`, revision);
  }
  for (const flag of ["transactional", "irreversible"] as const) {
    if (d[flag] !== undefined && typeof d[flag] !== "boolean") return fail(`\`${flag}\` must be true or false`, revision);
  }
  const timeouts: { lockTimeoutMs?: number; statementTimeoutMs?: number } = {};
  for (const [field, key] of [
    ["lockTimeout", "lockTimeoutMs"],
    ["statementTimeout", "statementTimeoutMs"],
  ] as const) {
    if (d[field] === undefined) continue;
    const ms = typeof d[field] === "string" ? durationMs(d[field]) : undefined;
    if (ms === undefined || ms > MAX_TIMEOUT_MS) {
      return fail(
        `\`${field}\` must be a duration such as "10s", "500ms" or "2m" (at most 24 days; "0" for no limit), not ${JSON.stringify(d[field])}`,
        revision,
      );
    }
    timeouts[key] = ms;
  }
  const lint = lintField(d.lint);
  if (typeof lint === "string") return fail(lint, revision);
  for (const fn of ["upgrade", "downgrade"] as const) {
    if (typeof d[fn] !== "function") {
      return fail(`\`${fn}\` is ${d[fn] === undefined ? "missing" : "not a function"}; write \`async ${fn}(op) { ... }\``, revision);
    }
  }
  return {
    migration: {
      revision,
      revises,
      dependsOn,
      branchLabels,
      message: d.message,
      createdAt: d.createdAt as string | undefined,
      transactional: d.transactional !== false,
      irreversible: d.irreversible === true,
      ...timeouts,
      file,
      checksum: sum,
      ...(lint ? { lint } : {}),
      upgrade: d.upgrade as MigrationDefinition["upgrade"],
      downgrade: d.downgrade as MigrationDefinition["downgrade"],
    },
  };
}

/** Checks `lint: { allow: ["rule-code: reason", ...] }`; returns a reason string when malformed. */
function lintField(value: unknown): { allow: string[] } | undefined | string {
  if (value === undefined) return undefined;
  const example = 'write `lint: { allow: ["drop-column: why it is safe here"] }`';
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `\`lint\` must be an object; ${example}`;
  const extra = Object.keys(value).filter((k) => k !== "allow");
  if (extra.length > 0) return `\`lint\` has unknown field(s) ${extra.map((k) => `\`${k}\``).join(", ")}; ${example}`;
  const allow = (value as { allow?: unknown }).allow ?? [];
  if (!Array.isArray(allow) || allow.some((a) => typeof a !== "string")) return `\`lint.allow\` must be an array of strings; ${example}`;
  const bad = (allow as string[]).find((a) => parseLintAllow(a) === undefined);
  if (bad !== undefined) {
    return `\`lint.allow\` entry ${JSON.stringify(bad)} needs a rule code and a reason, as "rule-code: reason"`;
  }
  return { allow: allow as string[] };
}

/** Normalises null | string | string[]; returns a reason string when malformed. */
function idList(value: unknown, ids: boolean): string[] | string {
  const list = value === null ? [] : typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.some((v) => typeof v !== "string")) {
    return `must be null, a string or an array of strings, not ${JSON.stringify(value)}`;
  }
  if (ids) {
    const bad = list.find((v) => !REVISION_ID.test(v));
    if (bad !== undefined) return `names ${JSON.stringify(bad)}, which is not 12 lowercase hex digits`;
  }
  if (new Set(list).size !== list.length) return "lists the same id twice";
  return list as string[];
}

/** Checks a file name; returns a problem suggesting a conforming name, or undefined when fine. */
export function checkFileName(file: string, createdAt?: string): BadFilenameError | undefined {
  const base = path.basename(file);
  const m = FILE_NAME.exec(base);
  if (m && isCalendarDay(m[1]!, m[2]!, m[3]!)) return undefined;
  const day = (createdAt && !Number.isNaN(Date.parse(createdAt)) ? new Date(createdAt) : new Date())
    .toISOString()
    .slice(0, 10)
    .replaceAll("-", "");
  const slug = slugify(base.replace(/\.ts$/, "").replace(/^\d{8}_?/, "")) || "migration";
  return new BadFilenameError(file, `${day}_${slug}.ts`);
}

/** Days already found real: thousands of files share a few hundred dates. */
const realDays = new Set<string>();

/** Whether YYYY-MM-DD is a day of the calendar (not 2026-02-30). */
function isCalendarDay(y: string, mo: string, d: string): boolean {
  const day = `${y}-${mo}-${d}`;
  if (realDays.has(day)) return true;
  const date = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || !date.toISOString().startsWith(day)) return false;
  realDays.add(day);
  return true;
}

/** Lowercase words joined by underscores, as migration file names use them. */
export function slugify(text: string, maxLength = 60): string {
  return text
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, maxLength)
    .replace(/_+$/, "");
}

/** Whether a directory entry is a migration file (TypeScript, not a declaration file). */
export function isMigrationFileName(name: string): boolean {
  return name.endsWith(".ts") && !name.endsWith(".d.ts");
}

/** The error for a migrations directory that cannot be listed. */
export function unreadableDirectory(location: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  return new Error(
    code === "ENOENT"
      ? `Migrations directory ${location} does not exist; create it with \`retort revision -m "first"\` or pass --dir`
      : `Cannot read migrations directory ${location}: ${(error as Error).message}`,
  );
}

/** The migration files of a directory (not recursive), in file-name order. */
export async function migrationFileNames(absolute: string, location = displayPath(absolute)): Promise<string[]> {
  try {
    return (await readdir(absolute, { withFileTypes: true }))
      .filter((e) => e.isFile() && isMigrationFileName(e.name))
      .map((e) => e.name)
      .sort();
  } catch (error) {
    throw unreadableDirectory(location, error);
  }
}

export type Importer = (absolutePath: string) => Promise<{ default?: unknown }>;

const defaultImporter: Importer = async (file) => {
  await typeScriptLoader();
  return import(pathToFileURL(file).href);
};

let tsx: Promise<void> | undefined;

/**
 * Running from source, a TypeScript loader is already active (tsx, vitest). The built package has
 * none: tsx is registered the first time a file must be imported on its own. Both of its hooks, as
 * the tsx command registers them: in a project whose package.json does not say "type": "module",
 * Node loads a .ts file as CommonJS, through require; with only the ESM hook that require finds
 * the file's import statements untranslated and fails every file with "Cannot require() ES Module
 * ... in a cycle".
 */
function typeScriptLoader(): Promise<void> {
  if (fromSource) return Promise.resolve();
  tsx ??= Promise.all([import("tsx/cjs/api"), import("tsx/esm/api")]).then(([cjs, esm]) => {
    cjs.register();
    esm.register();
  });
  return tsx;
}

type Loaded = ({ migration: Migration } | { problem: InvalidFileError }) & { nameProblem?: BadFilenameError };

/** TypeScript migration files in one directory (not recursive), in file-name order. */
export class DirectorySource implements MigrationSource {
  readonly location: string;

  constructor(
    readonly directory: string,
    private readonly importer: Importer = defaultImporter,
  ) {
    this.location = displayPath(path.resolve(directory));
  }

  async load(need: LoadNeed = LoadNeed.Code): Promise<LoadResult> {
    const absolute = path.resolve(this.directory);
    const names = await migrationFileNames(absolute, this.location);
    // A cache describes what the default importer would give; a test's own importer gets none.
    const cache = await MetadataCache.open(absolute, this.importer === defaultImporter);
    const loaded: Loaded[] = new Array(names.length);
    const checksums: string[] = new Array(names.length);
    const toImport: Array<{ index: number; content: string; selfContained: boolean }> = [];
    // Each file as users see it; the directory's own form joined to the name when it can be.
    const shown = path.isAbsolute(this.location) ? (name: string) => displayPath(path.join(absolute, name)) : (name: string) => `${this.location}/${name}`;
    names.forEach((name, index) => {
      const file = path.join(absolute, name);
      const bytes = readBytes(file);
      const sum = (checksums[index] = checksumOfBytes(bytes));
      const known = cache.get(sum);
      if (known && (need === LoadNeed.Metadata || (need === LoadNeed.Checked && known.verified))) {
        loaded[index] = this.fromMetadata(file, shown(name), sum, known.metadata);
        return;
      }
      const content = bytes.toString("utf8");
      const literal = readStaticMetadata(content, PACKAGE_NAME);
      if (literal && need === LoadNeed.Metadata) {
        const result = statedMigration(literal, shown(name), sum, () => this.loadFile(file, sum, undefined));
        if ("migration" in result) cache.set(sum, metadataOf(result.migration), false);
        loaded[index] = withNameProblem(result);
        return;
      }
      toImport.push({ index, content, selfContained: literal?.selfContained ?? false });
    });
    if (toImport.length > 0) {
      const files = toImport.map(({ index }) => path.join(absolute, names[index]!));
      // The files in one pass when they can be (compile.ts); otherwise one by one.
      const imported = this.importer === defaultImporter ? await importTogether(files, toImport.map((f) => f.content)) : undefined;
      await Promise.all(
        toImport.map(async ({ index, selfContained }, i) => {
          const result = await this.loadFile(files[i]!, checksums[index]!, imported?.[i]);
          // Only a file that imports nothing else loads the same way the next time it has this content.
          if ("migration" in result && selfContained) cache.set(checksums[index]!, metadataOf(result.migration), true);
          loaded[index] = result;
        }),
      );
    }
    await cache.save(new Set(checksums));
    const migrations: Migration[] = [];
    const problems: RevisionError[] = [];
    for (const result of loaded) {
      if ("migration" in result) migrations.push(result.migration);
      else problems.push(result.problem);
      if (result.nameProblem) problems.push(result.nameProblem);
    }
    return { migrations, problems };
  }

  private async loadFile(absolute: string, sum: string, imported: Imported | undefined): Promise<Loaded> {
    if (imported && "error" in imported) return { problem: cannotLoad(absolute, imported.error, imported.thrownAt) };
    let exported: unknown;
    try {
      exported = defaultExport(imported?.namespace ?? (await this.importer(absolute)));
    } catch (error) {
      // Imported on its own, through a TypeScript loader that maps stack traces to the file's lines.
      const thrownAt = firstFrame(error, (frame, line, column) => (frame === absolute ? { file: frame, line, column } : undefined));
      return { problem: cannotLoad(absolute, error, thrownAt) };
    }
    return withNameProblem(toMigration(exported, displayPath(absolute), sum));
  }

  /** A migration from known metadata, its code imported when first run. */
  private fromMetadata(absolute: string, file: string, sum: string, m: MigrationMetadata): Loaded {
    const code = deferredCode(() => this.loadFile(absolute, sum, undefined), () => m);
    // Field by field, in one shape: thousands are built per command.
    const migration: Migration = {
      revision: m.revision,
      revises: m.revises,
      dependsOn: m.dependsOn,
      branchLabels: m.branchLabels,
      message: m.message,
      createdAt: m.createdAt,
      transactional: m.transactional,
      irreversible: m.irreversible,
      ...(m.lockTimeoutMs !== undefined ? { lockTimeoutMs: m.lockTimeoutMs } : {}),
      ...(m.statementTimeoutMs !== undefined ? { statementTimeoutMs: m.statementTimeoutMs } : {}),
      file,
      checksum: sum,
      ...(m.lint ? { lint: m.lint } : {}),
      upgrade: code.upgrade,
      downgrade: code.downgrade,
    };
    return withNameProblem({ migration });
  }
}

/**
 * The migration a file's text states (static-metadata.ts), checked as an import's default export
 * is, with its upgrade and downgrade loading the code (`importCode`) when first called.
 */
export function statedMigration(
  literal: StaticMetadata,
  file: string,
  sum: string,
  importCode: () => Promise<{ migration: Migration } | { problem: InvalidFileError }>,
): { migration: Migration } | { problem: InvalidFileError } {
  let metadata: MigrationMetadata | undefined;
  const code = deferredCode(importCode, () => metadata!);
  const result = toMigration(
    {
      ...literal.fields,
      ...(literal.functions.upgrade ? { upgrade: code.upgrade } : {}),
      ...(literal.functions.downgrade ? { downgrade: code.downgrade } : {}),
    },
    file,
    sum,
  );
  if ("migration" in result) metadata = metadataOf(result.migration);
  return result;
}

/**
 * upgrade and downgrade that load the code when first called, and refuse to run code whose
 * metadata differs from `metadata()`, what the graph was built from.
 */
export function deferredCode(
  importCode: () => Promise<{ migration: Migration } | { problem: InvalidFileError }>,
  metadata: () => MigrationMetadata,
): Pick<Migration, "upgrade" | "downgrade"> {
  let code: Promise<Migration> | undefined;
  const load = () =>
    (code ??= importCode().then((result) => {
      if ("problem" in result) throw result.problem;
      const field = differingField(metadata(), metadataOf(result.migration));
      if (field) {
        throw new InvalidFileError(
          result.migration.file,
          `gives \`${field}\` a different value when it runs than its text states; write the value literally in defineMigration({ ... }) and run \`retort check\``,
          result.migration.revision,
        );
      }
      return result.migration;
    }));
  return {
    upgrade: async (op) => (await load()).upgrade(op),
    downgrade: async (op) => (await load()).downgrade(op),
  };
}

/** A file's result with the problem of its name, if it has one. */
function withNameProblem(result: { migration: Migration } | { problem: InvalidFileError }): Loaded {
  const nameProblem = checkFileName(
    "migration" in result ? result.migration.file : result.problem.file,
    "migration" in result ? result.migration.createdAt : undefined,
  );
  return nameProblem ? { ...result, nameProblem } : result;
}

/**
 * A module's default export. A file loaded as CommonJS (in a project without "type": "module")
 * arrives as its whole `exports`, which the compiled `export default` marks with __esModule.
 */
export function defaultExport(namespace: { default?: unknown }): unknown {
  const exported = namespace.default as { __esModule?: unknown; default?: unknown } | undefined;
  return typeof exported === "object" && exported !== null && exported.__esModule === true && "default" in exported ? exported.default : exported;
}

/** The problem of a file that failed to import, with `error`'s useful line and where it was thrown. */
function cannotLoad(absolute: string, error: unknown, thrownAt: SourcePosition | undefined): InvalidFileError {
  return new InvalidFileError(displayPath(absolute), `cannot be loaded (${firstLine(error, absolute, thrownAt)})`);
}

/**
 * The useful line of an import failure: for a syntax error, where it is and what is wrong; for
 * an error thrown while the file loaded, its kind, the line that threw (in a file it imports when
 * that is where) and its message.
 */
function firstLine(error: unknown, absolute: string, thrownAt: SourcePosition | undefined): string {
  const text = error instanceof Error ? error.message : String(error);
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  for (const line of lines) {
    const syntax = /:(\d+):(\d+):?\s+ERROR:\s*(.*)$/.exec(line);
    if (syntax) return `syntax error at line ${syntax[1]}, column ${syntax[2]}: ${syntax[3]}`;
  }
  const message = lines[0] ?? "unknown error";
  if (!thrownAt) return message;
  // The line, not the column: mapped back from compiled code, a column is the statement's start.
  const where = `${thrownAt.file === absolute ? "" : `${displayPath(thrownAt.file)} `}line ${thrownAt.line}`;
  return `${error instanceof Error ? `${error.name} ` : ""}thrown at ${where}: ${message}`;
}
