// Where retort's own files are. retort runs in two shapes: from its TypeScript sources (this
// repository: tsx, vitest) and as the built package (dist/, what `npm install retort-migrate`
// gives). A few places must name a file of retort's own (the public entry that migration files
// import, the Lambda handlers the construct bundles), and each shape has it elsewhere.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The file of this module; in the CommonJS build, esbuild defines it from __filename. */
const here = import.meta.url;

/** Running from the TypeScript sources, with a TypeScript loader active. */
export const fromSource = here.endsWith(".ts");

let root: string | undefined;

/** The package's root: the nearest directory above this module with a package.json. */
export function packageRoot(): string {
  if (root) return root;
  const start = path.dirname(fileURLToPath(here));
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) return (root = dir);
    if (path.dirname(dir) === dir) throw new Error(`retort: no package.json above ${start}; the package is incomplete, reinstall retort-migrate`);
  }
}

/** Names of retort's own files, as sources and as built. */
export const OWN_FILES = {
  /** What migration files import as "retort-migrate". */
  index: { source: "lib/index.ts", built: "dist/index.js" },
  /** The Lambda handlers the construct bundles with the migrations. */
  handlers: { source: "functions/handlers.ts", built: "dist/lambda.js" },
} as const;

/** The absolute path of one of retort's own files in the shape that is running. */
export function ownFile(file: keyof typeof OWN_FILES): string {
  return path.join(packageRoot(), fromSource ? OWN_FILES[file].source : OWN_FILES[file].built);
}

/** The name users install retort by, and import from in migration files. */
export const PACKAGE_NAME = "retort-migrate";
