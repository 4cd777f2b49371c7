// `retort lint`: pending migrations checked for dangerous operations, without a database; --rules
// lists the rules.
import { RULES } from "../../lint/rules/index.ts";
import { lint } from "../../runner/lint.ts";
import { type CliKit, type CommonOptions, ExitCode } from "../kit.ts";
import * as printCi from "../print-ci.ts";

export function registerLint({ command, run, respond, context, output }: CliKit): void {
  command("lint", "check pending migrations for dangerous operations, without a database")
    .option("--from <revision>", "lint only the revisions after this one (the revision production is at)")
    .option("--rules", "list the rules and exit")
    .action(
      run(async (options: CommonOptions & { from?: string; rules?: boolean }) => {
        if (options.rules) {
          respond(
            options,
            RULES,
            (rules) => printCi.rules(output, rules),
            (rules) => ({ rules: rules.map(({ code, category, description }) => ({ code, category, description })) }),
          );
          return ExitCode.Ok;
        }
        const result = await lint(context(options), options.from ? { from: options.from } : {});
        respond(options, result, (r) => printCi.linted(output, r));
        return result.ok ? ExitCode.Ok : ExitCode.Problem;
      }),
    );
}
