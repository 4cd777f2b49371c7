// `retort unlock` and `retort lock-table create`: breaking the migration lock, and creating the
// DynamoDB table that can hold it.
import { LoadNeed } from "../../revision/loader.ts";
import { unlock } from "../../runner/unlock.ts";
import type { CliKit, DatabaseOptions } from "../kit.ts";
import * as print from "../print.ts";

export function registerLock({ program, dbCommand, lockTableOption, run, respond, withDatabase, output }: CliKit): void {
  dbCommand("unlock", "break the migration lock of the target (its holder is gone); bumps the fencing token")
    .option("--force", "required: the lock is broken whoever holds it")
    .action(
      run(async (options: DatabaseOptions & { force?: boolean }) => {
        const result = await withDatabase(options, (ctx) => unlock(ctx, { force: Boolean(options.force) }), LoadNeed.Metadata);
        respond(options, result, (r) => print.unlocked(output, r));
      }),
    );

  const lockTable = program.command("lock-table").description("the DynamoDB table for the lock and the history");
  lockTable
    .command("create")
    .description("create the table with retort's key schema (local use and tests; production tables come from the CDK construct)")
    .addOption(lockTableOption())
    .option("--json", "print machine-readable JSON")
    .action(
      run(async (options: { lockTable?: string; json?: boolean }) => {
        // The DynamoDB SDK is loaded only by the commands that need it.
        const { createLockTableCommand } = await import("../../runner/lock-table.ts");
        const result = await createLockTableCommand(options.lockTable);
        respond(options, result, (r) =>
          output.out(r.kind === "created" ? `created DynamoDB table ${r.table}` : `DynamoDB table ${r.table} already exists`),
        );
      }),
    );
}
