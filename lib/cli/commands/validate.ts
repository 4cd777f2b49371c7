// `retort validate`: every migration applied, run twice and reverted on a scratch embedded database.
import { validate } from "../../runner/validate.ts";
import { type CliKit, type CommonOptions, ExitCode } from "../kit.ts";
import * as printCi from "../print-ci.ts";

export function registerValidate({ command, run, respond, context, output }: CliKit): void {
  command("validate", "prove every migration applies, runs twice and reverts, on a scratch embedded database")
    .option("--from <revision>", "validate only the revisions after this one")
    .action(
      run(async (options: CommonOptions & { from?: string }) => {
        const result = await validate(context(options), options.from ? { from: options.from } : {});
        respond(options, result, (r) => printCi.validated(output, r));
        return result.ok ? ExitCode.Ok : ExitCode.Problem;
      }),
    );
}
