// Loads a directory's migration files in one pass: esbuild compiles them, and the local files they
// import, into one ES module, which is imported once. Importing each TypeScript file through a
// loader hook cost about a millisecond per file plus the loader's own start: for hundreds of
// migrations, most of a command's time. The compiled module is cached per directory (in the
// user's temporary directory, keyed by every file's content, checked against the size and time
// of every other file compiled in), so a later run imports it without starting esbuild.
// A file that throws while loading fails that whole module. Then the files are compiled again,
// each as a function that starts it (as esbuild compiles a dynamic import), and started one by
// one: the failing file fails alone, named with the line that threw (mapped back through the
// source map), and the files beside it load. That form is cached in place of the other; it is not
// the first choice because V8 then compiles every file's code twice (about twice the import time).
// The namespaces are those a per-file import gives. Whenever this path cannot promise that, it
// returns undefined and the loader imports each file on its own, which also attributes a failure
// to its file: esbuild missing, a file that does not compile, a warning, a package that throws
// while loading, a source using what a bundle changes (import.meta, __dirname, require, exports).
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { isBuiltin, SourceMap, type SourceMapPayload } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Plugin } from "esbuild";
import { ownFile, PACKAGE_NAME } from "../own-files.ts";
import { privateCacheDirectory, writeWhole } from "./cache-directory.ts";

export type ModuleNamespace = { default?: unknown };

/** A position in a source file, 1-based as editors show it. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

/** One file as the compiled module gives it: its namespace, or what it threw while loading. */
export type Imported = { namespace: ModuleNamespace } | { error: unknown; thrownAt?: SourcePosition };

/** What a bundle would change: module-relative paths, CommonJS, the module's own metadata. */
const MODULE_SCOPE = /\bimport\.meta\b|\b__dirname\b|\b__filename\b|\brequire\s*\(|\bmodule\.exports\b|\bexports\.\w/;

/** Bumped when the compiled form changes, so older cache entries are not used. */
const FORMAT = 2;
/** Cache entries older than this are removed whenever another is written. */
const CACHE_DAYS = 7;

/**
 * Each of `files` (absolute paths; `contents` their text, already read) imported, in order;
 * undefined when the files must be imported one by one instead.
 */
export async function importTogether(files: readonly string[], contents: readonly string[]): Promise<Imported[] | undefined> {
  if (files.length === 0) return [];
  if (contents.some((text) => MODULE_SCOPE.test(text))) return undefined;
  const retort = runningRetort();
  const key = sha256([FORMAT, process.version, retort ?? "", ...files.flatMap((file, i) => [file, contents[i]])].join("\0"));
  const cache = await MigrationCache.open(path.dirname(files[0]!));
  const cached = await cache?.lookup(key);
  if (cached) {
    const imported = await importEach(cached, files.length);
    if (imported) return imported;
  }
  // The files evaluated before the one that threw are evaluated again in the second form, as they
  // were when the fallback was importing each file on its own.
  for (const separately of [false, true]) {
    const compiled = await compile(files, contents, retort, separately);
    if (!compiled) return undefined;
    const imported = await importCompiled(compiled, files.length, cache, key);
    if (imported) return imported;
  }
  return undefined;
}

async function importCompiled(compiled: Compiled, count: number, cache: MigrationCache | undefined, key: string): Promise<Imported[] | undefined> {
  if (cache) {
    const file = await cache.store(key, compiled).catch(() => undefined);
    if (file) return importEach(file, count, compiled.code);
  }
  // No cache: a file of its own, not a data: URL, so stack traces stay readable.
  const file = path.join(os.tmpdir(), `retort-migrations-${process.pid}-${randomBytes(6).toString("hex")}.mjs`);
  try {
    await writeFile(file, compiled.code);
    return await importEach(file, count, compiled.code);
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * Imports a compiled module and gives each file's namespace; of the form that starts each file
 * on its own, starts them and gives each file's namespace or error. Undefined when the module
 * fails as a whole. `code` is the module's text, when at hand.
 */
async function importEach(file: string, count: number, code?: string): Promise<Imported[] | undefined> {
  let exported: unknown[];
  try {
    const namespace = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    exported = Array.from({ length: count }, (_, i) => namespace[`m${i}`]);
  } catch {
    return undefined; // a file threw while loading, or a package it imports did
  }
  if (typeof exported[0] !== "function") return exported.map((namespace) => ({ namespace: namespace as ModuleNamespace }));
  // Started in file order, all at once, as importing each file would.
  const settled = await Promise.allSettled((exported as Array<() => Promise<ModuleNamespace>>).map((start) => start()));
  let map: Promise<CompiledMap | undefined> | undefined;
  return Promise.all(
    settled.map(async (result): Promise<Imported> => {
      if (result.status === "fulfilled") return { namespace: result.value };
      // Only a failure reads the source map: a large one costs more than the import.
      map ??= readMap(file, code);
      const thrownAt = await map.then((m) => (m ? thrownIn(result.reason, m) : undefined)).catch(() => undefined);
      return thrownAt ? { error: result.reason, thrownAt } : { error: result.reason };
    }),
  );
}

/** The compiled module's source map, and the files it maps to. */
interface CompiledMap {
  module: string;
  map: SourceMap;
  sources: Set<string>;
  source(index: string): string;
}

async function readMap(file: string, code?: string): Promise<CompiledMap | undefined> {
  const text = code ?? (await readFile(file, "utf8"));
  const inline = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/.exec(text);
  if (!inline) return undefined;
  const payload = JSON.parse(Buffer.from(inline[1]!, "base64").toString("utf8")) as SourceMapPayload;
  // As Node resolves them: sourceRoot (the migrations directory) joined to each source.
  const source = (name: string) => fileURLToPath(new URL(`${payload.sourceRoot ?? ""}${name}`, pathToFileURL(file)));
  return { module: file, map: new SourceMap(payload), sources: new Set(payload.sources.map(source)), source };
}

/**
 * Where `error` was thrown in the migrations' own sources: the first stack frame in the compiled
 * module, mapped back to its source file and line, or (when Node already maps stack traces, with
 * --enable-source-maps or a TypeScript loader active) the first frame in one of those sources.
 */
function thrownIn(error: unknown, m: CompiledMap): SourcePosition | undefined {
  return firstFrame(error, (file, line, column) => {
    if (file !== m.module) return m.sources.has(file) ? { file, line, column } : undefined;
    const entry = m.map.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (entry.originalSource === undefined || decodeURIComponent(entry.originalSource).endsWith(ENTRY)) return undefined;
    return { file: m.source(entry.originalSource), line: entry.originalLine! + 1, column: entry.originalColumn! + 1 };
  });
}

/** The first frame of `error`'s stack that `accept` turns into a position; frames are 1-based. */
export function firstFrame(
  error: unknown,
  accept: (file: string, line: number, column: number) => SourcePosition | undefined,
): SourcePosition | undefined {
  const stack = error instanceof Error && typeof error.stack === "string" ? error.stack : "";
  for (const frame of stack.split("\n")) {
    const at = /\(([^()]+):(\d+):(\d+)\)$/.exec(frame) ?? /^\s*at (?:async )?([^()]+):(\d+):(\d+)$/.exec(frame);
    if (!at) continue;
    let file = at[1]!;
    if (file.startsWith("file://")) file = fileURLToPath(file);
    const position = accept(file, Number(at[2]), Number(at[3]));
    if (position) return position;
  }
  return undefined;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * retort's public module as the running process has it, so `import "retort-migrate"` in a
 * migration yields the very module instances the runner uses: lib/index.ts from source (loaded by
 * the active TypeScript loader), dist/index.js in the built package. Undefined when it is not
 * there (some other bundle): the import is then resolved from the migrations' directory.
 */
function runningRetort(): string | undefined {
  try {
    const file = ownFile("index");
    return existsSync(file) ? pathToFileURL(file).href : undefined;
  } catch {
    return undefined;
  }
}

/** The generated entry's name; no file has it. */
const ENTRY = "<retort migrations>";

interface Compiled {
  code: string;
  /** Files compiled in besides the migrations (helpers they import), absolute. */
  others: string[];
}

/** `separately`: each file compiled in as a function that starts it, not started with the module. */
async function compile(
  files: readonly string[],
  contents: readonly string[],
  retort: string | undefined,
  separately: boolean,
): Promise<Compiled | undefined> {
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch {
    return undefined;
  }
  const sources = new Map(files.map((file, i) => [file, contents[i]!]));
  const directory = path.dirname(files[0]!);
  try {
    const result = await esbuild.build({
      stdin: {
        // Each file's namespace; or, separately, a function that starts the file: esbuild compiles
        // a dynamically imported file in as a function run on the first call.
        contents: files
          .map((file, i) => (separately ? `export const m${i} = () => import(${JSON.stringify(file)});` : `export * as m${i} from ${JSON.stringify(file)};`))
          .join("\n"),
        resolveDir: directory,
        sourcefile: ENTRY,
        loader: "ts",
      },
      // Source paths relative to the migrations directory, under its absolute path (a URL's path,
      // not a URL: source-map readers that join it as a path, vitest's among them, get it right
      // too), so they name the .ts files wherever the module is cached or imported from.
      absWorkingDir: directory,
      sourceRoot: `${pathToFileURL(directory).pathname}/`,
      bundle: true,
      write: false,
      format: "esm",
      platform: "node",
      target: `node${process.versions.node}`,
      // Read when a file throws while loading, to name its line (importEach); and by Node when it
      // runs with --enable-source-maps, whose stack traces then name the .ts lines.
      sourcemap: "inline",
      logLevel: "silent",
      metafile: true,
      plugins: [packagesStayPackages(retort, sources)],
    });
    if (result.warnings.length > 0) return undefined;
    const inputs = Object.entries(result.metafile.inputs).filter(([input]) => !input.endsWith(ENTRY));
    // A CommonJS file is loaded with CommonJS semantics on its own; a bundle would differ.
    if (inputs.some(([input, { format }]) => format === "cjs" && !input.includes("node_modules/"))) return undefined;
    const others = inputs.map(([input]) => path.resolve(directory, input)).filter((file) => !sources.has(file));
    return { code: result.outputFiles[0]!.text, others };
  } catch {
    return undefined; // a file does not compile: the per-file import names it
  }
}

/**
 * Resolves every bare import where its file would (tsconfig paths, package exports) and decides:
 * packages of JavaScript stay external, imported by absolute URL so the module can live anywhere;
 * TypeScript (a workspace package) is compiled in; "retort-migrate" is the running retort. Local files
 * are checked for module-scope features as they load.
 */
function packagesStayPackages(retort: string | undefined, sources: ReadonlyMap<string, string>): Plugin {
  const again = Symbol("resolving");
  return {
    name: "retort-packages",
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === again || isBuiltin(args.path) || path.isAbsolute(args.path)) return undefined;
        if (args.path === PACKAGE_NAME && retort) return { path: retort, external: true };
        const resolved = await build.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: again,
        });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        if (resolved.external || /\.[cm]?tsx?$/.test(resolved.path)) {
          return { path: resolved.path, namespace: resolved.namespace, external: resolved.external, sideEffects: resolved.sideEffects };
        }
        return { path: pathToFileURL(resolved.path).href, external: true };
      });
      build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        const text = sources.get(args.path) ?? (await readFile(args.path, "utf8"));
        if (MODULE_SCOPE.test(text)) return { errors: [{ text: `${args.path} uses module-scope features; imported on its own` }] };
        return undefined;
      });
    },
  };
}

interface CacheEntry {
  key: string;
  /** The compiled module's file name, in the cache directory. */
  module: string;
  /** size:mtime of every other file compiled in. */
  others: Record<string, string>;
}

const stampOf = (s: { size: number; mtimeMs: number }) => `${s.size}:${s.mtimeMs}`;

/** One entry per migrations directory, in a directory only this user can write. */
class MigrationCache {
  private constructor(
    private readonly dir: string,
    private readonly name: string,
  ) {}

  static async open(directory: string): Promise<MigrationCache | undefined> {
    // Code is imported from here: only a directory of our own, closed to others, will do.
    const dir = await privateCacheDirectory("migrations");
    return dir ? new MigrationCache(dir, sha256(directory).slice(0, 24)) : undefined;
  }

  /** The cached module's path when it was compiled from exactly these files. */
  async lookup(key: string): Promise<string | undefined> {
    let entry: CacheEntry;
    try {
      entry = JSON.parse(await readFile(path.join(this.dir, `${this.name}.json`), "utf8")) as CacheEntry;
    } catch {
      return undefined;
    }
    if (entry.key !== key) return undefined;
    for (const [file, stamp] of Object.entries(entry.others)) {
      const s = await stat(file).catch(() => undefined);
      if (!s || stampOf(s) !== stamp) return undefined;
    }
    return path.join(this.dir, entry.module);
  }

  /** Writes the module and its entry (each whole, then renamed into place); returns its path. */
  async store(key: string, compiled: Compiled): Promise<string> {
    const others: Record<string, string> = {};
    for (const file of compiled.others) others[file] = stampOf(await stat(file));
    // Named by content: Node keeps a module per URL for the process, so new code needs a new name.
    const module = `${this.name}-${sha256(compiled.code).slice(0, 16)}.mjs`;
    const target = path.join(this.dir, module);
    await writeWhole(target, compiled.code);
    const entry: CacheEntry = { key, module, others };
    await writeWhole(path.join(this.dir, `${this.name}.json`), JSON.stringify(entry));
    await this.prune(module).catch(() => undefined);
    return target;
  }

  /** Drops this directory's older modules, and every file written more than CACHE_DAYS ago. */
  private async prune(keep: string): Promise<void> {
    const old = Date.now() - CACHE_DAYS * 24 * 3600 * 1000;
    for (const name of await readdir(this.dir)) {
      const file = path.join(this.dir, name);
      const mine = name.startsWith(`${this.name}-`) && name !== keep;
      if (mine || (await stat(file)).mtimeMs < old) await rm(file, { force: true });
    }
  }
}
