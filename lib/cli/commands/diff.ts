// `retort diff --from <url>` / `--from-sql <file>`: the schema the code's heads produce against a
// database or a schema file; exit 1 when they differ.
import { diff } from "../../runner/diff.ts";
import { type CliKit, type CommonOptions, ExitCode } from "../kit.ts";

export function registerDiff({ command, run, respond, context, output }: CliKit): void {
  command("diff", "the schema the code's heads produce against a database (--from) or a SQL schema file (--from-sql); exit 1 when they differ")
    .option("--from <url>", "the database to compare with (pglite://dir, postgres://..., data-api://...); only read")
    .option("--from-sql <file>", "a SQL file of the schema to compare with (applied to a scratch database)")
    .action(
      run(async (options: CommonOptions & { from?: string; fromSql?: string }) => {
        const result = await diff(context(options), {
          ...(options.from !== undefined ? { from: options.from } : {}),
          ...(options.fromSql !== undefined ? { fromSql: options.fromSql } : {}),
        });
        respond(options, result, (r) => {
          const heads = r.heads.join(", ") || "(base)";
          if (r.same) {
            output.out(`${output.color.green("same:")} ${r.reference} has the schema of the code's heads (${heads})`);
            return;
          }
          output.out(`${r.reference} differs from the schema of the code's heads (${heads}): ${r.differences.length} difference(s)`);
          for (const d of r.differences) output.out(`  ${d.message}`);
        });
        return result.same ? ExitCode.Ok : ExitCode.Problem;
      }),
    );
}
