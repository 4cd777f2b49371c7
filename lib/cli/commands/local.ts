// `retort local`: the RDS Data API served on 127.0.0.1 in front of a local database, until stopped.
import { Option } from "commander";
import { defaultDatabaseUrl } from "../../sql/connect.ts";
import { type CliKit, parsePort, parseTimerDuration } from "../kit.ts";

export function registerLocal({ program, run, output }: CliKit): void {
  program
    .command("local")
    .description("serve the RDS Data API on 127.0.0.1 in front of a local database, until stopped")
    .addOption(new Option("--port <port>", "TCP port (default: a free one)").argParser((v) => parsePort(v)).default(0))
    .addOption(new Option("--db <url>", "database behind it (pglite://dir, pglite://memory, postgres://...)").default(defaultDatabaseUrl()))
    .addOption(new Option("--statement-timeout <duration>", "answer a call running longer with StatementTimeoutException (default 45s, the service's)").argParser(parseTimerDuration))
    .addOption(
      new Option("--transaction-idle-timeout <duration>", "roll back a transaction no call has used for this long (default 3m, the service's)").argParser(parseTimerDuration),
    )
    .action(
      run(async (options: { port: number; db: string; statementTimeout?: number; transactionIdleTimeout?: number }) => {
        // Imported here: the endpoint and PGlite are slow to load and no other command needs them.
        const { startLocalStack } = await import("../../local/local-stack.ts");
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
}
