// Shared set-up for the Data API tests: the backends the local endpoint runs over (PGlite in
// memory, and a scratch PostgreSQL database from the embedded server), a real SDK client pointed
// at the endpoint, and a backend wrapper that makes marked statements slow without blocking the
// event loop (PGlite runs a statement synchronously, so pg_sleep would freeze the HTTP server too).

import { RDSDataClient } from "@aws-sdk/client-rds-data";
import type { QueryOptions, QueryResult, SqlExecutor, SqlParams, SqlSession } from "../../lib/sql/executor.ts";
import { PgExecutor } from "../../lib/sql/pg-executor.ts";
import { PgliteExecutor } from "../../lib/sql/pglite-executor.ts";
import { createTestDatabase } from "../support/postgres.ts";

export const ARNS = {
  resourceArn: "arn:aws:rds:us-east-1:123456789012:cluster:retort-local",
  secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:retort-local-AbCdEf",
} as const;

/** The real SDK client, pointed at a local endpoint, with the SDK's own retries off. */
export function sdkClient(url: string, requestTimeout = 10_000): RDSDataClient {
  return new RDSDataClient({
    endpoint: url,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
    requestHandler: { requestTimeout, throwOnRequestTimeout: true },
  });
}

export interface OpenBackend {
  executor: SqlExecutor;
  close(): Promise<void>;
}

export interface BackendFactory {
  name: string;
  open(): Promise<OpenBackend>;
}

export const backends: BackendFactory[] = [
  {
    name: "PGlite",
    async open() {
      const executor = await PgliteExecutor.open();
      return { executor, close: () => executor.close() };
    },
  },
  {
    name: "PostgreSQL",
    async open() {
      const database = await createTestDatabase();
      const executor = new PgExecutor(database.url);
      return {
        executor,
        async close() {
          await executor.close();
          await database.drop();
        },
      };
    },
  },
];

/** Statements containing this marker take `delayMs` longer (asynchronously) on the backend. */
export const SLOW = "/* slow */";

export function slowBackend(backend: SqlExecutor, delayMs: number): SqlExecutor {
  const delay = () => new Promise((resolve) => setTimeout(resolve, delayMs));
  const wrap = (session: SqlSession): SqlSession => ({
    async query<Row>(sql: string, params?: SqlParams, options?: QueryOptions): Promise<QueryResult<Row>> {
      if (sql.includes(SLOW)) await delay();
      return session.query<Row>(sql, params, options);
    },
  });
  return {
    dialect: backend.dialect,
    kind: backend.kind,
    description: backend.description,
    query: wrap(backend).query,
    transaction: (fn) => backend.transaction((tx) => fn(wrap(tx))),
    close: () => backend.close(),
  };
}

/**
 * The local endpoint in front of a scratch PostgreSQL database, with a real SDK client: `url` to
 * set the database up directly, `executor()` for a Data API executor through the endpoint.
 */
export interface DataApiOverPostgres {
  url: string;
  endpoint: import("../../lib/local/data-api-endpoint.ts").DataApiEndpoint;
  executor(): import("../../lib/sql/data-api-executor.ts").DataApiExecutor;
  close(): Promise<void>;
}

export async function dataApiOverPostgres(
  options: { statementTimeoutMs?: number; requestTimeoutMs?: number; setUp?: (url: string) => Promise<void> } = {},
): Promise<DataApiOverPostgres> {
  const [{ startDataApiEndpoint }, { DataApiExecutor }] = await Promise.all([
    import("../../lib/local/data-api-endpoint.ts"),
    import("../../lib/sql/data-api-executor.ts"),
  ]);
  const database = await createTestDatabase();
  await options.setUp?.(database.url);
  const backend = new PgExecutor(database.url);
  const endpoint = await startDataApiEndpoint({
    backend,
    ...ARNS,
    ...(options.statementTimeoutMs !== undefined ? { statementTimeoutMs: options.statementTimeoutMs } : {}),
  });
  const client = sdkClient(endpoint.url, options.requestTimeoutMs ?? 60_000);
  return {
    url: database.url,
    endpoint,
    executor: () => new DataApiExecutor({ ...ARNS, database: "retort", client }),
    async close() {
      client.destroy();
      await endpoint.close();
      await backend.close();
      await database.drop();
    },
  };
}
