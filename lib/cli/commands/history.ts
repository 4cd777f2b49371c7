// `retort history`: the revisions (newest first; --json: bases first); with --runs, the runs
// recorded on the database.
import { Option } from "commander";
import { LoadNeed } from "../../revision/loader.ts";
import { history, revisionInfos } from "../../runner/heads.ts";
import { runs } from "../../runner/runs.ts";
import { defaultDatabaseUrl } from "../../sql/connect.ts";
import { type CliKit, type DatabaseOptions, parseCount } from "../kit.ts";
import * as print from "../print.ts";

export function registerHistory({ command, lockTableOption, run, respond, context, withDatabase, output }: CliKit): void {
  command("history", "list the revisions, newest first (--json: bases first); --runs: the runs on the database")
    .option("-v, --verbose", "show files, dates, dependencies and labels (--runs: the revisions of each run)")
    .option("--runs", "the runs recorded for the target database, newest first")
    .addOption(new Option("--limit <n>", "with --runs: how many runs").argParser(parseCount).default(20))
    .addOption(new Option("--db <url>", "with --runs: the target database").default(defaultDatabaseUrl()))
    .option("--schema <schema>", "with --runs: schema of retort's tables", "public")
    .addOption(lockTableOption())
    .action(
      run(async (options: DatabaseOptions & { verbose?: boolean; runs?: boolean; limit: number }) => {
        if (options.runs) {
          const result = await withDatabase(options, (ctx) => runs(ctx, { limit: options.limit, revisions: Boolean(options.verbose) }), LoadNeed.Metadata);
          respond(options, result, (r) => print.runs(output, r));
          return;
        }
        respond(
          options,
          (await history(context(options))).revisions,
          (revisions) => print.history(output, revisions, Boolean(options.verbose)),
          revisionInfos,
        );
      }),
    );
}
