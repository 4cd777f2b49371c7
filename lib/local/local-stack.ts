// The local stack behind `retort local`: opens the database a URL names (embedded PGlite in
// .retort/local by default, or any PostgreSQL) and serves the RDS Data API in front of it on
// 127.0.0.1, so the AWS SDK, a Lambda handler run locally or retort's own Data API adapter can be
// pointed at it with AWS_ENDPOINT_URL_RDS_DATA.

import { createServer } from "node:net";
import { DEFAULT_DATABASE_URL, maskPassword, openExecutor, parseDatabaseUrl } from "../sql/connect.ts";
import { ConnectionError } from "../sql/errors.ts";
import type { SqlExecutor } from "../sql/executor.ts";
import { assertTimeouts, startDataApiEndpoint, type DataApiEndpoint } from "./data-api-endpoint.ts";

export interface LocalStackOptions {
  /**
   * TCP port on 127.0.0.1 for the Data API.
   * @default 0 (a free port, reported in `url`)
   */
  port?: number;
  /**
   * The database behind it: `pglite://[dir]`, `pglite://memory` or `postgres://...` (the --db
   * forms; a `data-api://` URL is refused, the stack is the Data API).
   * @default "pglite://" (embedded PGlite in .retort/local)
   */
  db?: string;
  /** Resolve a relative pglite:// directory against this instead of the working directory. */
  cwd?: string;
  /**
   * Idle time after which an open Data API transaction is rolled back
   * (`--transaction-idle-timeout`).
   * @default 180000 (the service's 3 minutes)
   */
  transactionTimeoutMs?: number;
  /**
   * How long one call may run before it is answered with StatementTimeoutException
   * (`--statement-timeout`): shorten it to see how code copes with the service's limit.
   * @default 45000 (the service's 45 s)
   */
  statementTimeoutMs?: number;
}

export interface LocalStack {
  /** `http://127.0.0.1:PORT`: the value for AWS_ENDPOINT_URL_RDS_DATA. */
  readonly url: string;
  readonly port: number;
  /** What the endpoint serves, safe to print (no password). */
  readonly database: string;
  /** The endpoint itself (call log, fault injection) for tests and demos. */
  readonly endpoint: DataApiEndpoint;
  /** Stops serving, rolls back open transactions and closes the database. */
  close(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const db = options.db ?? DEFAULT_DATABASE_URL;
  if (parseDatabaseUrl(db).kind === "data-api") {
    throw new ConnectionError(
      `retort local serves the Data API itself, so its database must be pglite:// or postgres://, ` +
        `not ${maskPassword(db)}. Drop --db to use the embedded database in .retort/local.`,
    );
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`--port must be an integer from 0 to 65535, not ${String(options.port)}`);
  }
  const timeouts = {
    ...(options.transactionTimeoutMs === undefined ? {} : { transactionTimeoutMs: options.transactionTimeoutMs }),
    ...(options.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: options.statementTimeoutMs }),
  };
  assertTimeouts(timeouts);
  // Fail on a taken port before opening the database, which can take seconds.
  if (port !== 0) await assertPortFree(port);
  const backend: SqlExecutor = await openExecutor(db, options.cwd === undefined ? {} : { cwd: options.cwd });
  let endpoint: DataApiEndpoint;
  try {
    endpoint = await startDataApiEndpoint({ backend, port, ...timeouts });
  } catch (error) {
    await backend.close();
    throw portError(port, error);
  }
  let closed = false;
  return {
    url: endpoint.url,
    port: endpoint.port,
    database: backend.description,
    endpoint,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await endpoint.close();
      } finally {
        await backend.close();
      }
    },
  };
}

function portError(port: number, error: unknown): unknown {
  if ((error as { code?: unknown }).code !== "EADDRINUSE") return error;
  return new ConnectionError(
    `Port ${port} on 127.0.0.1 is already in use (another \`retort local\`?). Stop it, or pick ` +
      `another port with --port (0 picks a free one).`,
    { cause: error },
  );
}

function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error) => reject(portError(port, error)));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
  });
}
