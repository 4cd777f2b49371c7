// `retort <command>`: parses arguments, builds a Context, calls one runner function, prints its
// result (human or --json). Errors are translated here, once, into messages and exit codes:
// 0 ok, 1 a problem was found, 2 bad usage.
import { Command, CommanderError, Option } from "commander";
import { RevisionError } from "../revision/errors.ts";
import { DirectorySource } from "../revision/loader.ts";
import { GraphFormat } from "../revision/render.ts";
import { check } from "../runner/check.ts";
import type { Context } from "../runner/context.ts";
import { graph } from "../runner/graph.ts";
import { heads, history } from "../runner/heads.ts";
import { resetHeads, revision, UsageError } from "../runner/revision.ts";
import { type Output, processOutput } from "./output.ts";
import * as print from "./print.ts";

export const ExitCode = { Ok: 0, Problem: 1, Usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const DEFAULT_DIR = "migrations";

interface CommonOptions {
  dir: string;
  json?: boolean;
}

function context(options: CommonOptions): Context {
  return { source: new DirectorySource(options.dir), directory: options.dir };
}

export async function main(argv: readonly string[], output: Output = processOutput()): Promise<ExitCode> {
  let exitCode: ExitCode = ExitCode.Ok;
  let json = false;
  const program = new Command("retort")
    .description("Alembic-style, idempotent schema migrations for Amazon Aurora, run serverless")
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) })
    .showHelpAfterError("(run `retort --help` for the list of commands)");

  /** Declares a command with the options every command shares. */
  const command = (name: string, description: string, opts: { json?: boolean } = { json: true }) => {
    const cmd = program
      .command(name)
      .description(description)
      .addOption(new Option("--dir <dir>", "migrations directory").default(process.env.RETORT_DIR ?? DEFAULT_DIR));
    if (opts.json) cmd.option("--json", "print machine-readable JSON");
    return cmd;
  };
  /** Runs a command body, remembering --json for error output and the exit code it returns. */
  const run =
    <A extends unknown[]>(body: (...args: A) => Promise<ExitCode | void>) =>
    async (...args: A) => {
      const options = args.findLast((a) => a !== null && typeof a === "object" && !(a instanceof Command)) as
        | CommonOptions
        | undefined;
      json = Boolean(options?.json);
      exitCode = (await body(...args)) ?? ExitCode.Ok;
    };

  command("check", "check the migrations for consistency, without a database").action(
    run(async (options: CommonOptions) => {
      const result = await check(context(options));
      if (options.json) output.out(JSON.stringify(result));
      else print.check(output, result);
      return result.ok ? ExitCode.Ok : ExitCode.Problem;
    }),
  );

  command("heads", "show the current heads of the revision graph").action(
    run(async (options: CommonOptions) => {
      const result = await heads(context(options));
      if (options.json) output.out(JSON.stringify({ heads: result.heads.map((h) => h.revision) }));
      else print.heads(output, result.heads);
    }),
  );

  command("history", "list the revisions, newest first (--json: bases first)")
    .option("-v, --verbose", "show files, dates, dependencies and labels")
    .action(
      run(async (options: CommonOptions & { verbose?: boolean }) => {
        const result = await history(context(options));
        if (options.json) output.out(JSON.stringify(print.historyJson(result.revisions)));
        else print.history(output, result.revisions, Boolean(options.verbose));
      }),
    );

  command("graph", "render the revision graph", { json: false })
    .addOption(
      new Option("--format <format>", "output format").choices(Object.values(GraphFormat)).default(GraphFormat.Mermaid),
    )
    .action(
      run(async (options: CommonOptions & { format: GraphFormat }) => {
        output.out((await graph(context(options), options.format)).text);
      }),
    );

  command("revision", "write a new migration file based on the single head")
    .requiredOption("-m, --message <message>", "what the migration does")
    .option("--head <revision>", "the revision to build on when there are several heads (or `base`)")
    .action(
      run(async (options: CommonOptions & { message: string; head?: string }) => {
        const written = await revision(context(options), options);
        if (options.json) output.out(JSON.stringify(written));
        else print.written(output, written);
      }),
    );

  command("reset-heads", "write one merge revision over all current heads")
    .option("-m, --message <message>", "message of the merge revision", "merge heads")
    .action(
      run(async (options: CommonOptions & { message: string }) => {
        const result = await resetHeads(context(options), options);
        if (options.json) output.out(JSON.stringify(result));
        else if (result.written) print.written(output, result.written);
        else output.out(`already a single head${result.heads[0] ? ` (${result.heads[0]})` : ""}; nothing written`);
      }),
    );

  command("demo", "what `npm start` runs: check, history and the graph of the example migrations", {
    json: false,
  }).action(
    run(async (options: CommonOptions) => {
      const ctx = context(options);
      const result = await check(ctx);
      print.check(output, result);
      if (!result.ok) return ExitCode.Problem;
      output.out("");
      print.history(output, (await history(ctx)).revisions, false);
      output.out("");
      output.out((await graph(ctx, GraphFormat.Mermaid)).text);
    }),
  );

  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    return report(error, output, json);
  }
}

/** Translates an error into output and an exit code; the only place that does. */
function report(error: unknown, output: Output, json: boolean): ExitCode {
  if (error instanceof CommanderError) {
    // Help and version are "errors" to commander; they exit 0.
    return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  }
  const usage = error instanceof UsageError;
  if (json) {
    const data =
      error instanceof RevisionError
        ? error.toJSON()
        : { code: usage ? "usage" : "error", message: (error as Error).message ?? String(error) };
    output.out(JSON.stringify({ error: data }));
  } else {
    output.err(`${output.color.red("error:")} ${(error as Error).message ?? String(error)}`);
  }
  return usage ? ExitCode.Usage : ExitCode.Problem;
}
