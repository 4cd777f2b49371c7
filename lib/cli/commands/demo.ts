// `retort demo`: safe-upgrade, then status and the graph, printed as a walkthrough (human only).
import { GraphFormat } from "../../revision/render.ts";
import { graph } from "../../runner/graph.ts";
import { status } from "../../runner/status.ts";
import { safeUpgrade } from "../../runner/upgrade.ts";
import { type CliKit, type DatabaseOptions, ExitCode } from "../kit.ts";
import * as print from "../print.ts";

export function registerDemo({ dbCommand, run, withDatabase, output }: CliKit): void {
  dbCommand("demo", "safe-upgrade of the migrations, then status and the graph (npm start does the same through the Lambda handlers)").action(
    run(async (options: DatabaseOptions) =>
      withDatabase(options, async (ctx) => {
        output.out(output.color.bold(`$ retort safe-upgrade --db ${options.db}`));
        const result = await safeUpgrade(ctx);
        print.migrated(output, result);
        if (result.error) return ExitCode.Problem;
        output.out("");
        output.out(output.color.bold(`$ retort status --db ${options.db}`));
        print.status(output, await status(ctx));
        output.out("");
        output.out(output.color.bold("$ retort graph"));
        output.out((await graph(ctx, GraphFormat.Mermaid)).text);
        return ExitCode.Ok;
      }),
    ),
  );
}
