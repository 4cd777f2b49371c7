// `retort safe-upgrade`, `upgrade`, `downgrade` and `stamp`: the commands that move the database
// between revisions (stamp only records it), with --sql for offline SQL of upgrade and downgrade.
import type { Command } from "commander";
import type { RunMode } from "../../ops/operations.ts";
import { LoadNeed } from "../../revision/loader.ts";
import { Direction } from "../../revision/migration.ts";
import { describeLockRetry, type LockRetry } from "../../runner/lock-retry.ts";
import type { MigrateResult } from "../../runner/migrate.ts";
import { offlineSql } from "../../runner/offline-sql.ts";
import { stamp } from "../../runner/stamp.ts";
import { downgrade, safeUpgrade, upgrade } from "../../runner/upgrade.ts";
import { type CliKit, type CommonOptions, type DatabaseOptions, ExitCode } from "../kit.ts";
import * as print from "../print.ts";

export function registerUpgrade({ migratingCommand, lockingCommand, run, respond, context, withDatabase, output }: CliKit): void {
  /** Prints a result's warnings on stderr. */
  const warn = (result: { warnings?: readonly string[] }) => {
    for (const warning of result.warnings ?? []) output.err(`${output.color.yellow("warning:")} ${warning}`);
  };
  /** The run options of the migrating commands: their transactions, time limits and lock waits. */
  const runOptions = (options: DatabaseOptions) => ({
    transactionPerMigration: options.transactionPerMigration,
    migrationTimeoutMs: options.migrationTimeout,
    ...(options.lockTimeout !== undefined ? { lockTimeoutMs: options.lockTimeout } : {}),
    // Reported as it happens, on stderr: the run may wait minutes for a lock.
    onLockRetry: (migration: { revision: string; message: string }, retry: LockRetry, attempts: number) =>
      output.err(`${output.color.yellow("lock:")} ${migration.revision} ${migration.message}: ${describeLockRetry(retry, attempts)}`),
  });
  /** Prints a migrate result; a failed revision makes the exit code 1. */
  const migrated = (options: CommonOptions, result: MigrateResult): ExitCode => {
    respond(options, result, (r) => print.migrated(output, r));
    warn(result);
    return result.error ? ExitCode.Problem : ExitCode.Ok;
  };

  migratingCommand("safe-upgrade", "apply pending revisions, skipping every object that already exists")
    .argument("[target]", "revision to upgrade to", "heads")
    .option("--allow-unknown", "proceed although the database records revisions this code does not have")
    .action(
      run(async (target: string, options: DatabaseOptions & { allowUnknown?: boolean }) =>
        migrated(options, await withDatabase(options, (ctx) => safeUpgrade(ctx, { target, allowUnknownRevisions: Boolean(options.allowUnknown), ...runOptions(options) }))),
      ),
    );

  /** upgrade and downgrade: run `apply`, or with --sql print the SQL it would run (no connection). */
  const migrateOrPrintSql = (cmd: Command, sql: { direction: Direction; from: string; mode: RunMode }, apply: typeof downgrade) =>
    cmd
      .option("--sql", "print the SQL instead of running it (no connection)")
      .option("--from <revision>", "with --sql: the revision the database is at", sql.from)
      .action(
        run(async (target: string, options: DatabaseOptions & { sql?: boolean; from: string }) => {
          if (options.sql) {
            output.out(await offlineSql(context(options), { direction: sql.direction, target, from: options.from, mode: sql.mode }));
            return;
          }
          return migrated(options, await withDatabase(options, (ctx) => apply(ctx, { target, ...runOptions(options) })));
        }),
      );

  migrateOrPrintSql(
    migratingCommand("upgrade", "apply pending revisions strictly: an existing object is an error").argument("[target]", "revision to upgrade to", "heads"),
    { direction: Direction.Up, from: "base", mode: "strict" },
    upgrade,
  );

  migrateOrPrintSql(
    migratingCommand("downgrade", "revert revisions along the graph").argument("<target>", "a revision, -N, or base"),
    { direction: Direction.Down, from: "heads", mode: "safe" },
    downgrade,
  );

  lockingCommand("stamp", "record the database as being at a revision, without running migrations")
    .argument("<target>", "a revision, heads, or base")
    .option("--purge", "also drop recorded revisions this code does not know")
    .action(
      run(async (target: string, options: DatabaseOptions & { purge?: boolean }) => {
        const result = await withDatabase(options, (ctx) => stamp(ctx, { target, purge: Boolean(options.purge) }), LoadNeed.Metadata);
        respond(options, result, (r) => output.out(`stamped: ${r.fromHeads.join(", ") || "(base)"} -> ${r.toHeads.join(", ") || "(base)"}`));
        warn(result);
      }),
    );
}
