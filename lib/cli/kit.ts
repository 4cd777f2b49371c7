// The CLI kit every file in lib/cli/commands/ registers its commands with: the shared option
// builders, `run` (which records --json and the exit code for main.ts), `respond` (--json or
// human output), the Context helpers, and the parsers of option values.
import { Command, InvalidArgumentError, Option } from "commander";
import type { LoadNeed } from "../revision/loader.ts";
import type { Context } from "../runner/context.ts";
import { defaultDirectory, projectContext, withDatabase as withSession } from "../runner/session.ts";
import { defaultDatabaseUrl } from "../sql/connect.ts";
import { parseDuration } from "./duration.ts";
import type { Output } from "./output.ts";

export const ExitCode = { Ok: 0, Problem: 1, Usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface CommonOptions {
  dir: string;
  json?: boolean;
}

export interface DatabaseOptions extends CommonOptions {
  db: string;
  schema?: string;
  /** DynamoDB table for the lock and the history (--lock-table, RETORT_LOCK_TABLE). */
  lockTable?: string;
  /** --wait, in ms. */
  wait?: number;
  /** --lease, in ms. */
  lease?: number;
  /** --transaction-per-migration (the commands that migrate). */
  transactionPerMigration?: boolean;
  /** --migration-timeout, in ms (the commands that migrate). */
  migrationTimeout?: number;
  /** --lock-timeout, in ms; 0: no limit (the commands that migrate). */
  lockTimeout?: number;
}

/** What the last command run left for main.ts: its exit code, and whether errors print as JSON. */
export interface Outcome {
  exitCode: ExitCode;
  json: boolean;
}

export interface CliKit {
  readonly program: Command;
  readonly output: Output;
  /** Set by `run`; main.ts reads it once parsing is done or has failed. */
  readonly outcome: Outcome;
  /** Declares a command with the options every command shares (--dir, and --json unless `json: false`). */
  command(name: string, description: string, opts?: { json?: boolean }): Command;
  /** A command that talks to the database of --db. */
  dbCommand(name: string, description: string): Command;
  /** A command that takes the lock: it can queue behind a holder and choose its lease. */
  lockingCommand(name: string, description: string): Command;
  /** A command that migrates: it chooses its transactions and the timeout of one migration. */
  migratingCommand(name: string, description: string): Command;
  /** --lock-table, defaulting to RETORT_LOCK_TABLE. */
  lockTableOption(): Option;
  /** Runs a command body, remembering --json for error output and the exit code it returns. */
  run<A extends unknown[]>(body: (...args: A) => Promise<ExitCode | void>): (...args: A) => Promise<void>;
  /** Prints `result` as JSON (of `json(result)` when given) under --json, otherwise with `human`. */
  respond<T>(options: { json?: boolean }, result: T, human: (result: T) => void, json?: (result: T) => unknown): void;
  context(options: CommonOptions & { db?: string }): Context;
  /**
   * Runs `body` with a Context that has the database of --db, closing it afterwards; `need`: how
   * much of the migrations it needs. @default LoadNeed.Code
   */
  withDatabase<T>(options: DatabaseOptions, body: (ctx: Context) => Promise<T>, need?: LoadNeed): Promise<T>;
}

export function cliKit(program: Command, output: Output): CliKit {
  const outcome: Outcome = { exitCode: ExitCode.Ok, json: false };

  const command = (name: string, description: string, opts: { json?: boolean } = { json: true }) => {
    const cmd = program
      .command(name)
      .description(description)
      .addOption(new Option("--dir <dir>", "migrations directory").default(defaultDirectory()));
    if (opts.json) cmd.option("--json", "print machine-readable JSON");
    return cmd;
  };
  const lockTableOption = () =>
    new Option("--lock-table <name>", "DynamoDB table for the lock and the history (default: in-process lock, history in the database)").default(
      process.env.RETORT_LOCK_TABLE?.trim() || undefined,
    );
  const dbCommand = (name: string, description: string) =>
    command(name, description)
      .addOption(new Option("--db <url>", "target database (pglite://dir, postgres://..., data-api://...)").default(defaultDatabaseUrl()))
      .option("--schema <schema>", "the target schema: retort's tables and the migrations' unqualified names (a tenant's)", "public")
      .addOption(lockTableOption());
  const lockingCommand = (name: string, description: string) =>
    dbCommand(name, description)
      .addOption(new Option("--wait <duration>", "wait this long for a held lock, polling (default: fail at once)").argParser(parseDuration))
      .addOption(new Option("--lease <duration>", "lease duration, renewed while the run works (default 30s; from 2s to 24h)").argParser(parseDuration));
  const migratingCommand = (name: string, description: string) =>
    lockingCommand(name, description)
      .option(
        "--transaction-per-migration",
        "commit every migration on its own (default: consecutive migrations share a transaction of up to 1000 migrations or 5 s)",
      )
      .addOption(
        new Option("--migration-timeout <duration>", "the longest one migration may run before the run fails naming it (default 15m)").argParser(
          parseMigrationTimeout,
        ),
      )
      .addOption(
        new Option(
          "--lock-timeout <duration>",
          "how long a statement may wait for a lock before its migration is rolled back and tried again, waiting longer each time (default 5s; 0: no limit)",
        ).argParser(parseLockTimeout),
      );

  return {
    program,
    output,
    outcome,
    command,
    dbCommand,
    lockingCommand,
    migratingCommand,
    lockTableOption,
    run:
      <A extends unknown[]>(body: (...args: A) => Promise<ExitCode | void>) =>
      async (...args: A) => {
        const options = args.findLast((a) => a !== null && typeof a === "object" && !(a instanceof Command)) as
          | CommonOptions
          | undefined;
        outcome.json = Boolean(options?.json);
        outcome.exitCode = (await body(...args)) ?? ExitCode.Ok;
      },
    respond: (options, result, human, json) => {
      if (options.json) output.out(JSON.stringify(json ? json(result) : result));
      else human(result);
    },
    context,
    withDatabase,
  };
}

function context(options: CommonOptions & { db?: string }): Context {
  return projectContext({ dir: options.dir, ...(options.db ? { db: options.db } : {}) });
}

function withDatabase<T>(options: DatabaseOptions, body: (ctx: Context) => Promise<T>, need?: LoadNeed): Promise<T> {
  const { dir, db, schema, lockTable, wait, lease } = options;
  return withSession({ dir, db, ...(schema !== undefined ? { schema } : {}), ...(lockTable ? { lockTable } : {}), ...(wait !== undefined ? { waitMs: wait } : {}), ...(lease !== undefined ? { leaseMs: lease } : {}) }, body, need);
}

/** --migration-timeout: a duration of at least 1s, in ms. */
export function parseMigrationTimeout(value: string): number {
  const ms = parseDuration(value);
  if (ms < 1000) throw new InvalidArgumentError(`expected at least 1s, not ${JSON.stringify(value)}`);
  return ms;
}

/** --lock-timeout: 0 (no limit) or a duration PostgreSQL's lock_timeout holds (at most about 24 days), in ms. */
export function parseLockTimeout(value: string): number {
  const ms = parseDuration(value);
  if (ms > 2 ** 31 - 1) throw new InvalidArgumentError(`expected 0 (no limit) or a duration up to 24 days, such as 5s or 500ms, not ${JSON.stringify(value)}`);
  return ms;
}

/** A count such as --limit: a positive whole number. */
export function parseCount(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError("expected a positive whole number");
  return Number(value);
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError("expected a port number from 0 to 65535");
  return port;
}

/** A duration a timer can wait: above 0 and at most 2^31-1 ms (about 24 days). */
export function parseTimerDuration(value: string): number {
  const ms = parseDuration(value);
  if (ms < 1 || ms > 2 ** 31 - 1) throw new InvalidArgumentError(`expected a duration from 1ms to 24 days, such as 45s or 3m, not ${JSON.stringify(value)}`);
  return ms;
}
