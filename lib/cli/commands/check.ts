// `retort check`: the migrations checked for consistency, without a database.
import { check } from "../../runner/check.ts";
import { type CliKit, type CommonOptions, ExitCode } from "../kit.ts";
import * as print from "../print.ts";

export function registerCheck({ command, run, respond, context, output }: CliKit): void {
  command("check", "check the migrations for consistency, without a database").action(
    run(async (options: CommonOptions) => {
      const result = await check(context(options));
      respond(options, result, (r) => print.check(output, r));
      return result.ok ? ExitCode.Ok : ExitCode.Problem;
    }),
  );
}
