// The runner Lambda's entry, generated at synth: each migration's file and checksum and, for each
// file that states its metadata and imports nothing but "retort-migrate", that metadata and its
// module compiled ahead of time to CommonJS, as a string (V8 scans a string literal far faster
// than it parses code; the string is compiled when the migration first runs, lib/revision/
// bundle.ts). Every other file is imported statically, evaluated at cold start (it may import
// helpers and packages, which the bundle then holds once). The handlers built over them are
// exported under the names in functions/constants.ts. Written under node_modules/.cache, named by
// its content, so the same migrations always give the same file (and the same asset hash).
import { mkdirSync, renameSync, writeFileSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import path from "node:path";
import { buildSync, type BuildFailure, type Message } from "esbuild";
import { HANDLERS } from "../functions/constants.ts";
import { ownFile, PACKAGE_NAME } from "../lib/own-files.ts";
import { type DirectoryManifest, readManifest } from "../lib/revision/bundle.ts";

export interface RunnerEntry {
  /** Absolute path of the generated TypeScript entry. */
  entry: string;
  manifest: DirectoryManifest;
}

export interface EntryOptions {
  /**
   * "strings": each self-contained file whose text states its metadata carried as a string,
   * compiled when it runs; "eager": every file imported statically (the benchmark compares the
   * two). @default "strings"
   */
  bodies?: "strings" | "eager";
}

/** The Node.js the runner Lambda runs (NODEJS_22_X), as esbuild's target. */
export const BUNDLE_TARGET = "node22";

/**
 * What a string migration's `require("retort-migrate")` gives: retort's runtime exports a
 * migration file may use, imported by name from retort's own index (so esbuild drops the rest).
 */
export const PACKAGE_RUNTIME_EXPORTS = ["defineMigration", "RetortError", "errorJson", "RevisionError"] as const;

/**
 * Files per esbuild call: esbuild's time grows with the square of a call's entry points (10,000
 * in one call took 100 s, in calls of a few hundred 6 s).
 */
const FILES_PER_BUILD = 250;

const posix = (p: string) => p.split(path.sep).join("/");

/** `text` as a template literal: one line of the entry per migration, as written. */
const templateLiteral = (text: string) => `\`${text.replaceAll("\\", "\\\\").replaceAll("`", "\\`").replaceAll("${", "\\${")}\``;

/**
 * Each migration of a manifest that can be carried as a string (its text states its metadata and
 * it imports nothing but "retort-migrate"), compiled to CommonJS: the body of
 * `function (module, exports, require)`, its whitespace and syntax minified, "retort-migrate" left
 * to `require`. Undefined
 * for every other file, and for a file esbuild cannot compile so (top-level await, a syntax error),
 * which is then imported statically, where the bundle's own build reports what is wrong with it.
 */
export function compileBodies(manifest: DirectoryManifest): Array<string | undefined> {
  const bodies: Array<string | undefined> = new Array(manifest.migrations.length).fill(undefined);
  const candidates = manifest.migrations.flatMap((_, i) => (manifest.stated[i]?.selfContained ? [i] : []));
  const fileOf = (i: number) => path.join(manifest.directory, path.basename(manifest.migrations[i]!.file));
  for (let start = 0; start < candidates.length; start += FILES_PER_BUILD) {
    let batch = candidates.slice(start, start + FILES_PER_BUILD);
    while (batch.length > 0) {
      const outputs = compileBatch(batch.map((i) => ({ in: fileOf(i), out: String(i) })), manifest.directory);
      if ("failed" in outputs) {
        // Again without the files esbuild named; if it named none it knows, none of this batch.
        const failed = new Set(outputs.failed);
        const rest = batch.filter((i) => !failed.has(fileOf(i)));
        batch = rest.length < batch.length ? rest : [];
        continue;
      }
      for (const i of batch) {
        const text = outputs.get(String(i));
        if (text === undefined) throw new Error(`retort: esbuild gave no output for ${manifest.migrations[i]!.file}`);
        bodies[i] = text.trimEnd();
      }
      break;
    }
  }
  return bodies;
}

/** One esbuild call: each output's text by its entry's `out`, or the absolute files its errors name. */
function compileBatch(entryPoints: Array<{ in: string; out: string }>, directory: string): Map<string, string> | { failed: string[] } {
  const outdir = path.join(directory, ".retort-bodies");
  try {
    const result = buildSync({
      entryPoints,
      bundle: true,
      format: "cjs",
      platform: "node",
      target: BUNDLE_TARGET,
      // Whitespace and syntax: the names stay, so a stack trace's function names are the file's and
      // esbuild's helpers read the same in every body (the entry holds them once, renderMigrations).
      minifyWhitespace: true,
      minifySyntax: true,
      sourcemap: false,
      external: [PACKAGE_NAME],
      write: false,
      outdir,
      absWorkingDir: directory,
      logLevel: "silent",
    });
    return new Map(result.outputFiles.map((f) => [path.relative(outdir, f.path).replace(/\.js$/, ""), f.text]));
  } catch (error) {
    const errors: Message[] = (error as Partial<BuildFailure>).errors ?? [];
    return { failed: errors.flatMap((e) => (e.location ? [path.resolve(directory, e.location.file)] : [])) };
  }
}

/**
 * A body split where esbuild's helpers end (before the module's exports object): the helpers, the
 * same text in nearly every body, and the rest. The whole body as the rest when there is no such
 * place. Only what the entry holds depends on where it is split: it joins the two again.
 */
export function splitPrelude(body: string): { prelude: string; rest: string } {
  const at = /var [\w$]+_exports=\{\};/.exec(body)?.index ?? 0;
  return { prelude: body.slice(0, at), rest: body.slice(at) };
}

/**
 * The migrations of a manifest as source text: the static imports (of the files not carried as
 * strings, and of retort's runtime exports the strings require), the declarations, an expression
 * of the `BundledMigration[]` the handlers are built over, and one of the exports a string's
 * `require("retort-migrate")` gives (undefined when there is no string). What the files state is
 * one JSON text, parsed at cold start (V8 parses JSON faster than it compiles object literals:
 * with 10,000 migrations, one object literal per migration made the cold start about 200 ms
 * slower). The bodies are one array of strings (a 0 where a file is imported), each without the
 * helpers esbuild begins it with, which are held once, in `preludes`, and named by the row.
 */
export function renderMigrations(
  manifest: DirectoryManifest,
  options: EntryOptions = {},
): { imports: string[]; declarations: string[]; migrations: string; packageExports: string | undefined } {
  const bodies = options.bodies === "eager" ? [] : compileBodies(manifest);
  const imports: string[] = [];
  const rows: string[] = [];
  const strings: string[] = [];
  const modules: string[] = [];
  const preludes = new Map<string, number>();
  manifest.migrations.forEach((m, i) => {
    const body = bodies[i];
    const stated = manifest.stated[i];
    if (body !== undefined && stated) {
      const { prelude, rest } = splitPrelude(body);
      let p = preludes.get(prelude);
      if (p === undefined) preludes.set(prelude, (p = preludes.size));
      rows.push(JSON.stringify([m.file, m.checksum, stated.fields, stated.functions, p]));
      strings.push(JSON.stringify(rest));
    } else {
      rows.push(JSON.stringify([m.file, m.checksum]));
      strings.push("0");
      imports.push(`import * as m${i} from ${JSON.stringify(posix(path.join(manifest.directory, path.basename(m.file))))};`);
      modules.push(`${i}: m${i}`);
    }
  });
  const anyString = modules.length < manifest.migrations.length;
  if (anyString) imports.unshift(`import { ${PACKAGE_RUNTIME_EXPORTS.join(", ")} } from ${JSON.stringify(posix(ownFile("index")))};`);
  const declarations = [
    "// Each migration as [file, checksum, metadata, functions, prelude] when it is carried as a string (its",
    "// module compiled to CommonJS: preludes[prelude] + bodies[i], run when it first runs), or as",
    "// [file, checksum] (imported above).",
    `const manifest = JSON.parse(${templateLiteral(`[\n${rows.join(",\n")}\n]`)});`,
    `const preludes = [${[...preludes.keys()].map((p) => JSON.stringify(p)).join(", ")}];`,
    `const bodies = [\n${strings.join(",\n")}\n];`,
    `const modules = { ${modules.join(", ")} };`,
  ];
  const migrations =
    "manifest.map(([file, checksum, metadata, functions, prelude], i) =>\n" +
    "    metadata ? { file, checksum, metadata, functions, body: preludes[prelude] + bodies[i] } : { file, checksum, module: modules[i] })";
  return { imports, declarations, migrations, packageExports: anyString ? `{ ${PACKAGE_RUNTIME_EXPORTS.join(", ")} }` : undefined };
}

/** The entry's source text for a manifest. */
export function renderEntry(manifest: DirectoryManifest, options: EntryOptions = {}): string {
  const { imports, declarations, migrations, packageExports } = renderMigrations(manifest, options);
  const lines = [
    "// Generated by retort's MigrationRunner at synth: the runner Lambda's entry, with the migrations",
    `// of ${posix(manifest.directory)} bundled in (manifest ${manifest.hash}). Do not edit.`,
    `import { createHandlers } from ${JSON.stringify(posix(ownFile("handlers")))};`,
    ...imports,
    "",
    ...declarations,
    "",
    `const handlers = createHandlers({ migrations: ${migrations}${packageExports ? `,\n  packageExports: ${packageExports}` : ""} });`,
    "",
  ];
  for (const name of Object.values(HANDLERS)) lines.push(`export const ${name} = handlers[${JSON.stringify(name)}];`);
  return `${lines.join("\n")}\n`;
}

/**
 * Writes the entry for a migrations directory under `<projectRoot>/node_modules/.cache/retort`
 * (NodejsFunction wants the entry inside its project root).
 */
export function writeRunnerEntry(migrationsDirectory: string, projectRoot: string, options: EntryOptions = {}): RunnerEntry {
  const manifest = readManifest(migrationsDirectory);
  const text = renderEntry(manifest, options);
  const id = createHash("sha256").update(text).digest("hex").slice(0, 16);
  const dir = path.join(projectRoot, "node_modules", ".cache", "retort", id);
  const entry = path.join(dir, "runner.ts");
  if (!existsSync(entry)) {
    mkdirSync(dir, { recursive: true });
    // Written then renamed, so a parallel synth never bundles half a file.
    const partial = `${entry}.${process.pid}.partial`;
    writeFileSync(partial, text);
    renameSync(partial, entry);
  }
  return { entry, manifest };
}
