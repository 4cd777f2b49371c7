// The real `retort` executable (bin/retort.js over the built dist/, as `npx retort` runs it) as a
// child process in the repository's root, for the tests that drive the CLI.
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(fileURLToPath(import.meta.url), "../../..");
export const bin = path.join(root, "bin/retort.js");

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `retort ...args` to its exit; `env` is added to this process's environment (NO_COLOR set). */
export function retortWith(env: Record<string, string | undefined>, ...args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, NO_COLOR: "1", ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export const retort = (...args: string[]): Promise<CliRun> => retortWith({}, ...args);
