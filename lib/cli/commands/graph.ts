// `retort graph`: the revision graph rendered as text (Mermaid by default); no --json.
import { Option } from "commander";
import { GraphFormat } from "../../revision/render.ts";
import { graph } from "../../runner/graph.ts";
import type { CliKit, CommonOptions } from "../kit.ts";

export function registerGraph({ command, run, context, output }: CliKit): void {
  command("graph", "render the revision graph", { json: false })
    .addOption(
      new Option("--format <format>", "output format").choices(Object.values(GraphFormat)).default(GraphFormat.Mermaid),
    )
    .action(
      run(async (options: CommonOptions & { format: GraphFormat }) => {
        output.out((await graph(context(options), options.format)).text);
      }),
    );
}
