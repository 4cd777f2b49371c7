// `retort <command>`: parses arguments, builds a Context, calls one runner function, prints its
// result (human or --json). Errors are translated here, once, into messages and exit codes:
// 0 ok, 1 a problem was found, 2 bad usage.
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { errorJson } from "../errors.ts";
import { GraphFormat } from "../revision/render.ts";
import { check } from "../runner/check.ts";
import { RULES } from "../lint/rules/index.ts";
import { lint } from "../runner/lint.ts";
import { validate } from "../runner/validate.ts";
import type { Context } from "../runner/context.ts";
import { graph } from "../runner/graph.ts";
import { heads, history, revisionInfos } from "../runner/heads.ts";
import { resetHeads, revision, UsageError } from "../runner/revision.ts";
import { defaultDirectory, projectContext, withDatabase as withSession } from "../runner/session.ts";
import { Direction } from "../revision/migration.ts";
import type { MigrateResult } from "../runner/migrate.ts";
import { runs } from "../runner/runs.ts";
import { unlock } from "../runner/unlock.ts";
import { offlineSql } from "../runner/offline-sql.ts";
import { stamp } from "../runner/stamp.ts";
import { current, status } from "../runner/status.ts";
import { downgrade, safeUpgrade, upgrade } from "../runner/upgrade.ts";
import { DatabaseUrlError, defaultDatabaseUrl } from "../sql/connect.ts";
import { parseDuration } from "./duration.ts";
import { type Output, processOutput } from "./output.ts";
import * as print from "./print.ts";
import * as printCi from "./print-ci.ts";

export const ExitCode = { Ok: 0, Problem: 1, Usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

interface CommonOptions {
  dir: string;
  json?: boolean;
}

function context(options: CommonOptions & { db?: string }): Context {
  return projectContext({ dir: options.dir, ...(options.db ? { db: options.db } : {}) });
}

interface DatabaseOptions extends CommonOptions {
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
}

/** Runs `body` with a Context that has the database of --db, closing it afterwards. */
function withDatabase<T>(options: DatabaseOptions, body: (ctx: Context) => Promise<T>): Promise<T> {
  const { dir, db, schema, lockTable, wait, lease } = options;
  return withSession({ dir, db, ...(schema !== undefined ? { schema } : {}), ...(lockTable ? { lockTable } : {}), ...(wait !== undefined ? { waitMs: wait } : {}), ...(lease !== undefined ? { leaseMs: lease } : {}) }, body);
}

export async function main(argv: readonly string[], output: Output = processOutput()): Promise<ExitCode> {
  let exitCode: ExitCode = ExitCode.Ok;
  let json = false;
  const program = new Command("retort")
    .description("Alembic-style, idempotent schema migrations for Amazon Aurora, run serverless")
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) })
    .showHelpAfterError("(run `retort --help` for the list of commands)");

  /** Declares a command with the options every command shares. */
  const command = (name: string, description: string, opts: { json?: boolean } = { json: true }) => {
    const cmd = program
      .command(name)
      .description(description)
      .addOption(new Option("--dir <dir>", "migrations directory").default(defaultDirectory()));
    if (opts.json) cmd.option("--json", "print machine-readable JSON");
    return cmd;
  };
  /** Runs a command body, remembering --json for error output and the exit code it returns. */
  const run =
    <A extends unknown[]>(body: (...args: A) => Promise<ExitCode | void>) =>
    async (...args: A) => {
      const options = args.findLast((a) => a !== null && typeof a === "object" && !(a instanceof Command)) as
        | CommonOptions
        | undefined;
      json = Boolean(options?.json);
      exitCode = (await body(...args)) ?? ExitCode.Ok;
    };

  const lockTableOption = () =>
    new Option("--lock-table <name>", "DynamoDB table for the lock and the history (default: in-process lock, history in the database)").default(
      process.env.RETORT_LOCK_TABLE?.trim() || undefined,
    );
  /** A command that talks to the database of --db. */
  const dbCommand = (name: string, description: string) =>
    command(name, description)
      .addOption(new Option("--db <url>", "target database (pglite://dir, postgres://..., data-api://...)").default(defaultDatabaseUrl()))
      .option("--schema <schema>", "schema of retort's version tables", "public")
      .addOption(lockTableOption());
  /** A command that takes the lock: it can queue behind a holder and choose its lease. */
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
          (value: string) => {
            const ms = parseDuration(value);
            if (ms < 1000) throw new InvalidArgumentError(`expected at least 1s, not ${JSON.stringify(value)}`);
            return ms;
          },
        ),
      );

  /** Prints a migrate result; a failed revision makes the exit code 1. */
  const migrated = (options: CommonOptions, result: MigrateResult): ExitCode => {
    if (options.json) output.out(JSON.stringify(result));
    else print.migrated(output, result);
    for (const warning of result.warnings ?? []) output.err(`${output.color.yellow("warning:")} ${warning}`);
    return result.error ? ExitCode.Problem : ExitCode.Ok;
  };

  dbCommand("status", "code heads against database heads: pending, drift, unknown revisions, lock").action(
    run(async (options: DatabaseOptions) => {
      const result = await withDatabase(options, status);
      if (options.json) output.out(JSON.stringify(result));
      else print.status(output, result);
    }),
  );

  dbCommand("current", "the database's heads").action(
    run(async (options: DatabaseOptions) => {
      const result = await withDatabase(options, current);
      if (options.json) output.out(JSON.stringify(result));
      else output.out(result.heads.length ? result.heads.join("\n") : "(base: nothing applied)");
    }),
  );

  migratingCommand("safe-upgrade", "apply pending revisions, skipping every object that already exists")
    .argument("[target]", "revision to upgrade to", "heads")
    .option("--allow-unknown", "proceed although the database records revisions this code does not have")
    .action(
      run(async (target: string, options: DatabaseOptions & { allowUnknown?: boolean }) =>
        migrated(options, await withDatabase(options, (ctx) => safeUpgrade(ctx, { target, allowUnknownRevisions: Boolean(options.allowUnknown), transactionPerMigration: options.transactionPerMigration, migrationTimeoutMs: options.migrationTimeout }))),
      ),
    );

  migratingCommand("upgrade", "apply pending revisions strictly: an existing object is an error")
    .argument("[target]", "revision to upgrade to", "heads")
    .option("--sql", "print the SQL instead of running it (no connection)")
    .option("--from <revision>", "with --sql: the revision the database is at", "base")
    .action(
      run(async (target: string, options: DatabaseOptions & { sql?: boolean; from: string }) => {
        if (options.sql) {
          output.out(await offlineSql(context(options), { direction: Direction.Up, target, from: options.from, mode: "strict" }));
          return;
        }
        return migrated(options, await withDatabase(options, (ctx) => upgrade(ctx, { target, transactionPerMigration: options.transactionPerMigration, migrationTimeoutMs: options.migrationTimeout })));
      }),
    );

  migratingCommand("downgrade", "revert revisions along the graph")
    .argument("<target>", "a revision, -N, or base")
    .option("--sql", "print the SQL instead of running it (no connection)")
    .option("--from <revision>", "with --sql: the revision the database is at", "heads")
    .action(
      run(async (target: string, options: DatabaseOptions & { sql?: boolean; from: string }) => {
        if (options.sql) {
          output.out(await offlineSql(context(options), { direction: Direction.Down, target, from: options.from, mode: "safe" }));
          return;
        }
        return migrated(options, await withDatabase(options, (ctx) => downgrade(ctx, { target, transactionPerMigration: options.transactionPerMigration, migrationTimeoutMs: options.migrationTimeout })));
      }),
    );

  lockingCommand("stamp", "record the database as being at a revision, without running migrations")
    .argument("<target>", "a revision, heads, or base")
    .option("--purge", "also drop recorded revisions this code does not know")
    .action(
      run(async (target: string, options: DatabaseOptions & { purge?: boolean }) => {
        const result = await withDatabase(options, (ctx) => stamp(ctx, { target, purge: Boolean(options.purge) }));
        if (options.json) output.out(JSON.stringify(result));
        else output.out(`stamped: ${result.fromHeads.join(", ") || "(base)"} -> ${result.toHeads.join(", ") || "(base)"}`);
        for (const warning of result.warnings ?? []) output.err(`${output.color.yellow("warning:")} ${warning}`);
      }),
    );

  dbCommand("unlock", "break the migration lock of the target (its holder is gone); bumps the fencing token")
    .option("--force", "required: the lock is broken whoever holds it")
    .action(
      run(async (options: DatabaseOptions & { force?: boolean }) => {
        const result = await withDatabase(options, (ctx) => unlock(ctx, { force: Boolean(options.force) }));
        if (options.json) output.out(JSON.stringify(result));
        else print.unlocked(output, result);
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
        const { createLockTableCommand } = await import("../runner/lock-table.ts");
        const result = await createLockTableCommand(options.lockTable);
        if (options.json) output.out(JSON.stringify(result));
        else output.out(result.kind === "created" ? `created DynamoDB table ${result.table}` : `DynamoDB table ${result.table} already exists`);
      }),
    );

  /** A duration a timer can wait: above 0 and at most 2^31-1 ms (about 24 days). */
  const localTimeout = (value: string): number => {
    const ms = parseDuration(value);
    if (ms < 1 || ms > 2 ** 31 - 1) throw new InvalidArgumentError(`expected a duration from 1ms to 24 days, such as 45s or 3m, not ${JSON.stringify(value)}`);
    return ms;
  };
  program
    .command("local")
    .description("serve the RDS Data API on 127.0.0.1 in front of a local database, until stopped")
    .addOption(new Option("--port <port>", "TCP port (default: a free one)").argParser((v) => parsePort(v)).default(0))
    .addOption(new Option("--db <url>", "database behind it (pglite://dir, pglite://memory, postgres://...)").default(defaultDatabaseUrl()))
    .addOption(new Option("--statement-timeout <duration>", "answer a call running longer with StatementTimeoutException (default 45s, the service's)").argParser(localTimeout))
    .addOption(
      new Option("--transaction-idle-timeout <duration>", "roll back a transaction no call has used for this long (default 3m, the service's)").argParser(localTimeout),
    )
    .action(
      run(async (options: { port: number; db: string; statementTimeout?: number; transactionIdleTimeout?: number }) => {
        // Imported here: the endpoint and PGlite are slow to load and no other command needs them.
        const { startLocalStack } = await import("../local/local-stack.ts");
        const stack = await startLocalStack({
          port: options.port,
          db: options.db,
          ...(options.statementTimeout === undefined ? {} : { statementTimeoutMs: options.statementTimeout }),
          ...(options.transactionIdleTimeout === undefined ? {} : { transactionTimeoutMs: options.transactionIdleTimeout }),
        });
        // The URL is the first line of stdout, so scripts can read it with `head -1`.
        output.out(stack.url);
        output.err(`retort local: RDS Data API for ${stack.database}; export AWS_ENDPOINT_URL_RDS_DATA=${stack.url} (Ctrl-C stops)`);
        await new Promise<void>((resolve) => {
          const stop = () => void stack.close().then(resolve);
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
      }),
    );

  command("check", "check the migrations for consistency, without a database").action(
    run(async (options: CommonOptions) => {
      const result = await check(context(options));
      if (options.json) output.out(JSON.stringify(result));
      else print.check(output, result);
      return result.ok ? ExitCode.Ok : ExitCode.Problem;
    }),
  );

  command("validate", "prove every migration applies, runs twice and reverts, on a scratch embedded database")
    .option("--from <revision>", "validate only the revisions after this one")
    .action(
      run(async (options: CommonOptions & { from?: string }) => {
        const result = await validate(context(options), options.from ? { from: options.from } : {});
        if (options.json) output.out(JSON.stringify(result));
        else printCi.validated(output, result);
        return result.ok ? ExitCode.Ok : ExitCode.Problem;
      }),
    );

  command("lint", "check pending migrations for dangerous operations, without a database")
    .option("--from <revision>", "lint only the revisions after this one (the revision production is at)")
    .option("--rules", "list the rules and exit")
    .action(
      run(async (options: CommonOptions & { from?: string; rules?: boolean }) => {
        if (options.rules) {
          if (options.json) output.out(JSON.stringify({ rules: RULES.map(({ code, category, description }) => ({ code, category, description })) }));
          else printCi.rules(output, RULES);
          return ExitCode.Ok;
        }
        const result = await lint(context(options), options.from ? { from: options.from } : {});
        if (options.json) output.out(JSON.stringify(result));
        else printCi.linted(output, result);
        return result.ok ? ExitCode.Ok : ExitCode.Problem;
      }),
    );

  command("heads", "show the current heads of the revision graph").action(
    run(async (options: CommonOptions) => {
      const result = await heads(context(options));
      if (options.json) output.out(JSON.stringify({ heads: result.heads.map((h) => h.revision) }));
      else print.heads(output, result.heads);
    }),
  );

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
          const result = await withDatabase(options, (ctx) => runs(ctx, { limit: options.limit, revisions: Boolean(options.verbose) }));
          if (options.json) output.out(JSON.stringify(result));
          else print.runs(output, result);
          return;
        }
        const result = await history(context(options));
        if (options.json) output.out(JSON.stringify(revisionInfos(result.revisions)));
        else print.history(output, result.revisions, Boolean(options.verbose));
      }),
    );

  command("graph", "render the revision graph", { json: false })
    .addOption(
      new Option("--format <format>", "output format").choices(Object.values(GraphFormat)).default(GraphFormat.Mermaid),
    )
    .action(
      run(async (options: CommonOptions & { format: GraphFormat }) => {
        output.out((await graph(context(options), options.format)).text);
      }),
    );

  command("revision", "write a new migration file based on the single head")
    .requiredOption("-m, --message <message>", "what the migration does")
    .option("--head <revision>", "the revision to build on when there are several heads (or `base`)")
    .action(
      run(async (options: CommonOptions & { message: string; head?: string }) => {
        const written = await revision(context(options), options);
        if (options.json) output.out(JSON.stringify(written));
        else print.written(output, written);
      }),
    );

  command("reset-heads", "write one merge revision over all current heads")
    .option("-m, --message <message>", "message of the merge revision", "merge heads")
    .action(
      run(async (options: CommonOptions & { message: string }) => {
        const result = await resetHeads(context(options), options);
        if (options.json) output.out(JSON.stringify(result));
        else if (result.written) print.written(output, result.written);
        else output.out(`already a single head${result.heads[0] ? ` (${result.heads[0]})` : ""}; nothing written`);
      }),
    );

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

  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    return report(error, output, json);
  }
}

function parseCount(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError("expected a positive whole number");
  return Number(value);
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError("expected a port number from 0 to 65535");
  return port;
}

/** Translates an error into output and an exit code; the only place that does. */
function report(error: unknown, output: Output, json: boolean): ExitCode {
  if (error instanceof CommanderError) {
    // Help and version are "errors" to commander; they exit 0.
    return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  }
  const usage = error instanceof UsageError || error instanceof DatabaseUrlError;
  if (json) {
    output.out(JSON.stringify({ error: errorJson(error) }));
  } else {
    output.err(`${output.color.red("error:")} ${(error as Error).message ?? String(error)}`);
  }
  return usage ? ExitCode.Usage : ExitCode.Problem;
}
