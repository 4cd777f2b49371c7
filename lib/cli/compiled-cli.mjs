// The CLI as JavaScript compiled from retort's TypeScript sources, cached. retort ships its
// sources; loading some sixty modules through the tsx loader took longer than most commands take
// to run. So esbuild bundles lib/cli/main.ts (and lib/index.ts, which migrations import, so they
// share the CLI's module instances) into node_modules/.cache/retort/cli/<build>/, with a chunk per
// lazy import, and later starts import that while no source has changed: the manifest records
// every input's size and modification time, and any difference rebuilds. A build directory is
// never rewritten, only replaced, so a running process keeps loading its own chunks.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const CACHE = path.join(ROOT, "node_modules", ".cache", "retort", "cli");
const MANIFEST = path.join(CACHE, "manifest.json");
/** Bumped when the build options below change. */
const FORMAT = 4;
/** Older builds are removed after this long; a process started before a rebuild may still use one. */
const KEEP_OLD_BUILDS_MS = 60 * 60 * 1000;

/**
 * `main` from the compiled CLI, building it first when a source changed; undefined when it
 * cannot or should not be built here (esbuild missing, a read-only install, a source that reads
 * files beside itself): the caller then loads the sources.
 */
export async function compiledMain() {
  const fresh = freshManifest();
  // null: these sources were found unfit for a build (see build()), so none is attempted.
  const current = fresh ? fresh.build : await build().catch(() => null);
  if (!current) return undefined;
  return (await import(pathToFileURL(path.join(CACHE, current, "main.mjs")).href)).main;
}

/** The manifest, when every input is unchanged since it was written. */
function freshManifest() {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(MANIFEST, "utf8"));
  } catch {
    return undefined;
  }
  if (manifest.format !== FORMAT) return undefined;
  if (manifest.build !== null && !existsSync(path.join(CACHE, manifest.build, "main.mjs"))) return undefined;
  for (const [file, stamp] of Object.entries(manifest.inputs)) {
    try {
      if (stampOf(statSync(path.join(ROOT, file))) !== stamp) return undefined;
    } catch {
      return undefined;
    }
  }
  return manifest;
}

const stampOf = (s) => `${s.size}:${s.mtimeMs}`;

/** Paths relative to the module's own file (createRequire(import.meta.url) resolves packages: fine). */
const MODULE_RELATIVE = /new URL\([^)]*import\.meta\.url|import\.meta\.(dirname|filename)|\b__dirname\b|\b__filename\b/;
/** Sources that handle running from this build themselves. */
const KNOWS_ITS_BUILD = new Set(["lib/revision/compile.ts"]);

async function build() {
  // First, so a read-only install gives up before paying for esbuild.
  await mkdir(CACHE, { recursive: true });
  const esbuild = await import("esbuild");
  const started = Date.now();
  const name = `build-${Date.now().toString(36)}-${process.pid}`;
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { main: "lib/cli/main.ts", index: "lib/index.ts" },
    outdir: path.join(CACHE, name),
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunk-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    // package.json's engines: the same build serves every Node version retort supports.
    target: "node20",
    // Packages stay where they are, but for node-postgres, which every database command loads:
    // one bundled file instead of some forty resolved and compiled on each start.
    plugins: [bundleOnly(["pg"], ["pg-native", "pg-cloudflare"])],
    // The bundled CommonJS calls require(); an ES module has none of its own.
    banner: { js: 'import { createRequire as __retortRequire } from "node:module"; const require = __retortRequire(import.meta.url);' },
    // Used only when Node runs with --enable-source-maps: stack traces then name the .ts lines.
    sourcemap: "linked",
    metafile: true,
    logLevel: "silent",
  });
  // A module that finds files next to itself would look beside the build instead: such a CLI
  // runs from its sources (and the manifest says so, until a source changes).
  let fit = true;
  for (const file of Object.keys(result.metafile.inputs)) {
    if (!KNOWS_ITS_BUILD.has(file) && MODULE_RELATIVE.test(await readFile(path.join(ROOT, file), "utf8"))) fit = false;
  }
  if (!fit) await rm(path.join(CACHE, name), { recursive: true, force: true });
  const build = fit ? name : null;
  const inputs = {};
  // The build options come from these too.
  const files = [...Object.keys(result.metafile.inputs), "tsconfig.json", "package.json"];
  let changedDuringBuild = false;
  await Promise.all(
    files.map(async (file) => {
      const s = await stat(path.join(ROOT, file));
      inputs[file] = stampOf(s);
      changedDuringBuild ||= s.mtimeMs >= started;
    }),
  );
  // This process uses the build; the next one rebuilds, since it may have missed an edit.
  if (changedDuringBuild) return build;
  // Written whole, then renamed over the old one, so a concurrent start never reads half of it.
  const partial = `${MANIFEST}.${process.pid}.partial`;
  await writeFile(partial, JSON.stringify({ format: FORMAT, build, esbuild: esbuild.version, inputs }));
  await rename(partial, MANIFEST);
  await removeOldBuilds(name);
  return build;
}

/**
 * An esbuild plugin: bare imports stay external, but for `packages` and whatever they import
 * (only bundled code is ever entered, so an importer under node_modules is part of them);
 * `optional` are packages they load only if installed.
 */
function bundleOnly(packages, optional) {
  const inNodeModules = `${path.sep}node_modules${path.sep}`;
  return {
    name: "bundle-only",
    setup(b) {
      // pg asks whether it runs on Cloudflare Workers by constructing a fetch Response, which on
      // Node 20 loads the whole fetch implementation (10-20 ms of every start). The CLI runs on
      // Node.js only; if pg's file changes, the text is not found and nothing is replaced.
      b.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
        const source = await readFile(args.path, "utf8");
        return { contents: source.replace("if (isCloudflareRuntime()) {", "if (false) {"), loader: "js" };
      });
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith("node:")) return { external: true };
        const parts = args.path.split("/");
        const name = args.path.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
        if (optional.includes(name)) return { external: true };
        if (packages.includes(name) || args.importer.includes(inNodeModules)) return undefined;
        return { external: true };
      });
    },
  };
}

async function removeOldBuilds(keep) {
  const now = Date.now();
  for (const entry of readdirSync(CACHE, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === keep) continue;
    const dir = path.join(CACHE, entry.name);
    if (now - statSync(dir).mtimeMs > KEEP_OLD_BUILDS_MS) await rm(dir, { recursive: true, force: true });
  }
}
