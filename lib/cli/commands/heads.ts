// `retort heads`: the current heads of the revision graph (--json: their revision ids).
import { heads } from "../../runner/heads.ts";
import type { CliKit, CommonOptions } from "../kit.ts";
import * as print from "../print.ts";

export function registerHeads({ command, run, respond, context, output }: CliKit): void {
  command("heads", "show the current heads of the revision graph").action(
    run(async (options: CommonOptions) => {
      respond(
        options,
        (await heads(context(options))).heads,
        (list) => print.heads(output, list),
        (list) => ({ heads: list.map((h) => h.revision) }),
      );
    }),
  );
}
