// `npm run build`: dist/, the package as it ships. Run before the tests, before `npm pack` and
// after `npm install` in this repository.
//
//   dist/index.js, cdk.js        ES modules: the public API and the CDK construct
//   dist/cli.js                  the CLI (bin/retort.js runs it)
//   dist/lambda.js               the runner Lambda's handlers, bundled with the migrations at synth
//   dist/chunks/                 what those four share, and what they load lazily
//   dist/index.cjs, cdk.cjs      CommonJS builds of the two public entries, for require()
//   dist/*.d.ts, *.d.cts         their declarations, each one self-contained file
//
// Runtime dependencies and peer dependencies stay imports, resolved where the package is
// installed. A few development dependencies are bundled in (BUNDLED): node-postgres, which every
// postgres:// run loads and whose forty files cost more to resolve than to read bundled, and the
// Lambda's middleware and logger, which only the bundled handlers use. Any other import of a
// package that is not a dependency fails the build: it would fail on a user's machine.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { builtinModules } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import * as esbuild from "esbuild";
import { rollup } from "rollup";
import { dts } from "rollup-plugin-dts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DIST = path.join(ROOT, "dist");

/** Development dependencies compiled into dist/ (with whatever they import). */
const BUNDLED = ["pg", "@middy/core", "@aws-lambda-powertools/logger"];
/** Packages imported only where they exist: optional parts of bundled ones, the Lambda runtime's SDK. */
const PROVIDED = ["pg-native", "pg-cloudflare", "@aws-sdk/client-lambda", "@aws-sdk/client-s3", "@aws-sdk/client-sfn"];

const ENTRIES = {
  index: "lib/index.ts",
  cdk: "infra/migration-runner.ts",
  cli: "lib/cli/main.ts",
  lambda: "functions/handlers.ts",
} as const;
/** The entries users import, and so also get as CommonJS with declarations. */
const PUBLIC = ["index", "cdk"] as const;

const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};
const EXTERNAL = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies), ...PROVIDED]);

const packageOf = (specifier: string) => {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
};

/** Decides, for every bare import, whether it stays an import or is compiled in. */
const dependencies: esbuild.Plugin = {
  name: "dependencies",
  setup(build) {
    const inNodeModules = `${path.sep}node_modules${path.sep}`;
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("node:") || builtinModules.includes(args.path)) return { external: true };
      const name = packageOf(args.path);
      if (EXTERNAL.has(name)) return { external: true };
      // Inside a bundled package: its own imports come along.
      if (BUNDLED.includes(name) || args.importer.includes(inNodeModules)) return undefined;
      return {
        errors: [{ text: `${args.path} is imported by ${path.relative(ROOT, args.importer)} but is not a dependency: add it to "dependencies", or to BUNDLED in scripts/build.ts` }],
      };
    });
    // pg asks whether it runs on Cloudflare Workers by constructing a fetch Response, which on
    // Node 20 loads the whole fetch implementation (10-20 ms of every start). retort runs on
    // Node.js only; if pg's file changes, the text is not found and nothing is replaced.
    build.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      return { contents: source.replace("if (isCloudflareRuntime()) {", "if (false) {"), loader: "js" };
    });
  },
};

const common: esbuild.BuildOptions = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: "node",
  // package.json's engines: the same build serves every Node version retort supports.
  target: "node20",
  plugins: [dependencies],
  logLevel: "warning",
  legalComments: "inline",
  metafile: true,
};

async function buildJavaScript(): Promise<esbuild.Metafile[]> {
  const esm = esbuild.build({
    ...common,
    entryPoints: ENTRIES,
    outdir: DIST,
    format: "esm",
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    // Bundled CommonJS (node-postgres) calls require(); an ES module has none of its own.
    banner: { js: 'import { createRequire as __retortCreateRequire } from "node:module"; const require = __retortCreateRequire(import.meta.url);' },
  });
  const cjs = esbuild.build({
    ...common,
    entryPoints: Object.fromEntries(PUBLIC.map((name) => [name, ENTRIES[name]])),
    outdir: DIST,
    outExtension: { ".js": ".cjs" },
    format: "cjs",
    // The modules that find retort's own files ask import.meta.url; here it is this file's URL.
    define: { "import.meta.url": "__retortModuleUrl" },
    banner: { js: 'const __retortModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
  });
  return (await Promise.all([esm, cjs])).map((result) => result.metafile!);
}

/** tsc's declarations, then one self-contained file per public entry (the same text for .d.cts). */
async function buildDeclarations(): Promise<void> {
  // Outside node_modules: rollup-plugin-dts leaves anything under node_modules external.
  const types = await mkdtemp(path.join(os.tmpdir(), "retort-build-types-"));
  try {
    await bundleDeclarations(types);
  } finally {
    await rm(types, { recursive: true, force: true });
  }
}

async function bundleDeclarations(types: string): Promise<void> {
  const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
  execFileSync(process.execPath, [tsc, "-p", path.join(ROOT, "scripts", "tsconfig.types.json"), "--outDir", types], { stdio: "inherit" });
  for (const name of PUBLIC) {
    const input = path.join(types, ENTRIES[name].replace(/\.ts$/, ".d.ts"));
    const bundle = await rollup({
      input,
      plugins: [dts()],
      external: (id) => !id.startsWith(".") && !path.isAbsolute(id),
      onwarn: (warning) => {
        throw new Error(`declarations of ${ENTRIES[name]}: ${warning.message}`);
      },
    });
    const { output } = await bundle.generate({ format: "es" });
    await bundle.close();
    if (output.length !== 1) throw new Error(`declarations of ${ENTRIES[name]} did not bundle into one file`);
    const text = `// retort-migrate: declarations of ${name === "index" ? "the main entry" : `"retort-migrate/${name}"`}.\n${output[0]!.code}`;
    await writeFile(path.join(DIST, `${name}.d.ts`), text);
    await copyFile(path.join(DIST, `${name}.d.ts`), path.join(DIST, `${name}.d.cts`));
  }
}

const started = Date.now();
await rm(DIST, { recursive: true, force: true });
await mkdir(DIST, { recursive: true });
const [metafiles] = await Promise.all([buildJavaScript(), buildDeclarations()]);
const bytes = metafiles.flatMap((m) => Object.values(m.outputs)).reduce((sum, o) => sum + o.bytes, 0);
console.log(`dist/ built in ${Date.now() - started} ms (${(bytes / 1024).toFixed(0)} KiB of JavaScript)`);
