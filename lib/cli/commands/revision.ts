// `retort revision` and `retort reset-heads`: the commands that write new migration files.
import { resetHeads, revision } from "../../runner/revision.ts";
import type { CliKit, CommonOptions } from "../kit.ts";
import * as print from "../print.ts";

export function registerRevision({ command, run, respond, context, output }: CliKit): void {
  command("revision", "write a new migration file based on the single head")
    .requiredOption("-m, --message <message>", "what the migration does")
    .option("--head <revision>", "the revision to build on when there are several heads (or `base`)")
    .action(
      run(async (options: CommonOptions & { message: string; head?: string }) => {
        respond(options, await revision(context(options), options), (written) => print.written(output, written));
      }),
    );

  command("reset-heads", "write one merge revision over all current heads")
    .option("-m, --message <message>", "message of the merge revision", "merge heads")
    .action(
      run(async (options: CommonOptions & { message: string }) => {
        respond(options, await resetHeads(context(options), options), (result) => {
          if (result.written) print.written(output, result.written);
          else output.out(`already a single head${result.heads[0] ? ` (${result.heads[0]})` : ""}; nothing written`);
        });
      }),
    );
}
