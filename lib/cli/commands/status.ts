// `retort status` and `retort current`: where the database is, against the code.
import { LoadNeed } from "../../revision/loader.ts";
import { current, status } from "../../runner/status.ts";
import type { CliKit, DatabaseOptions } from "../kit.ts";
import * as print from "../print.ts";

export function registerStatus({ dbCommand, run, respond, withDatabase, output }: CliKit): void {
  dbCommand("status", "code heads against database heads: pending, drift, unknown revisions, lock").action(
    run(async (options: DatabaseOptions) => {
      respond(options, await withDatabase(options, status, LoadNeed.Metadata), (result) => print.status(output, result));
    }),
  );

  dbCommand("current", "the database's heads").action(
    run(async (options: DatabaseOptions) => {
      respond(options, await withDatabase(options, current, LoadNeed.Metadata), (result) =>
        output.out(result.heads.length ? result.heads.join("\n") : "(base: nothing applied)"),
      );
    }),
  );
}
