// `retort <command>`: builds the program from lib/cli/commands/ (each file registers its commands,
// which call the runner and print the result, human or --json), then parses and runs one. Errors are
// translated here, once, into messages and exit codes: 0 ok, 1 a problem was found, 2 bad usage.
import { Command, CommanderError } from "commander";
import { errorJson } from "../errors.ts";
import { UsageError } from "../runner/revision.ts";
import { DatabaseUrlError } from "../sql/connect.ts";
import { registerCheck } from "./commands/check.ts";
import { registerDemo } from "./commands/demo.ts";
import { registerDiff } from "./commands/diff.ts";
import { registerFleet } from "./commands/fleet.ts";
import { registerGraph } from "./commands/graph.ts";
import { registerHeads } from "./commands/heads.ts";
import { registerHistory } from "./commands/history.ts";
import { registerLint } from "./commands/lint.ts";
import { registerLocal } from "./commands/local.ts";
import { registerLock } from "./commands/lock.ts";
import { registerRevision } from "./commands/revision.ts";
import { registerStatus } from "./commands/status.ts";
import { registerUpgrade } from "./commands/upgrade.ts";
import { registerValidate } from "./commands/validate.ts";
import { cliKit, ExitCode } from "./kit.ts";
import { type Output, processOutput } from "./output.ts";

export { ExitCode } from "./kit.ts";

/** In the order `retort --help` lists the commands. */
const COMMANDS = [
  registerStatus, // status, current
  registerUpgrade, // safe-upgrade, upgrade, downgrade, stamp
  registerLock, // unlock, lock-table create
  registerFleet, // fleet upgrade, fleet status
  registerLocal,
  registerCheck,
  registerValidate,
  registerDiff,
  registerLint,
  registerHeads,
  registerHistory,
  registerGraph,
  registerRevision, // revision, reset-heads
  registerDemo,
];

export async function main(argv: readonly string[], output: Output = processOutput()): Promise<ExitCode> {
  const program = new Command("retort")
    .description("Alembic-style, idempotent schema migrations for Amazon Aurora, run serverless")
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) })
    .showHelpAfterError("(run `retort --help` for the list of commands)");
  const kit = cliKit(program, output);
  for (const register of COMMANDS) register(kit);

  try {
    await program.parseAsync([...argv], { from: "user" });
    return kit.outcome.exitCode;
  } catch (error) {
    return report(error, output, kit.outcome.json);
  }
}

/** Translates an error into output and an exit code; the only place that does. */
function report(error: unknown, output: Output, json: boolean): ExitCode {
  if (error instanceof CommanderError) {
    // Help and version are "errors" to commander; they exit 0.
    return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  }
  const usage = error instanceof UsageError || error instanceof DatabaseUrlError;
  if (json) {
    output.out(JSON.stringify({ error: errorJson(error) }));
  } else {
    output.err(`${output.color.red("error:")} ${(error as Error).message ?? String(error)}`);
  }
  return usage ? ExitCode.Usage : ExitCode.Problem;
}
