// Shared set-up for the Data API tests: the backends the local endpoint runs over (PGlite in
// memory, and a scratch PostgreSQL database from the embedded server), a real SDK client pointed
// at the endpoint, and a backend wrapper that makes marked statements slow without blocking the
// event loop (PGlite runs a statement synchronously, so pg_sleep would freeze the HTTP server too).

import { RDSDataClient } from "@aws-sdk/client-rds-data";
import { startDataApiEndpoint, type DataApiEndpoint, type DataApiEndpointOptions } from "../../lib/local/data-api-endpoint.ts";
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

/** An error as the SDK throws it: the HTTP status, the fault side and StatementTimeout's extra. */
export type SdkError = Error & { $metadata?: { httpStatusCode?: number }; $fault?: string; dbConnectionId?: number };

/** Resolves to the error a promise rejects with (fails the test when it resolves). */
export async function failure(promise: Promise<unknown>): Promise<SdkError> {
  try {
    await promise;
  } catch (error) {
    return error as SdkError;
  }
  throw new Error("expected the call to fail");
}

/**
 * For a describe block over one backend: the endpoint (ARNS and database "retort" configured) in
 * front of it, with statements marked SLOW taking `slowMs` longer, a real SDK client for it, and
 * more endpoints over the same backend with their own options, closed after each test.
 */
export class EndpointFixture {
  backend!: OpenBackend;
  executor!: SqlExecutor;
  endpoint!: DataApiEndpoint;
  client!: RDSDataClient;
  readonly #extra: Array<{ endpoint: DataApiEndpoint; client: RDSDataClient }> = [];

  constructor(
    private readonly factory: BackendFactory,
    private readonly slowMs: number,
  ) {}

  async open(): Promise<this> {
    this.backend = await this.factory.open();
    this.executor = slowBackend(this.backend.executor, this.slowMs);
    this.endpoint = await startDataApiEndpoint({ backend: this.executor, ...ARNS, database: "retort" });
    this.client = sdkClient(this.endpoint.url);
    return this;
  }

  /** Another endpoint over the same backend (by default), with its own options and no ARNs. */
  async endpointWith(
    options: Omit<DataApiEndpointOptions, "backend">,
    over: SqlExecutor = this.executor,
  ): Promise<{ endpoint: DataApiEndpoint; client: RDSDataClient }> {
    const endpoint = await startDataApiEndpoint({ backend: over, ...options });
    const client = sdkClient(endpoint.url);
    this.#extra.push({ endpoint, client });
    return { endpoint, client };
  }

  /** Clears injected faults and closes the endpoints endpointWith started. */
  async afterEach(): Promise<void> {
    this.endpoint.faults.clear();
    while (this.#extra.length > 0) {
      const { endpoint, client } = this.#extra.pop()!;
      client.destroy();
      await endpoint.close();
    }
  }

  async close(): Promise<void> {
    this.client?.destroy();
    await this.endpoint?.close();
    await this.backend?.close();
  }
}

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
  endpoint: DataApiEndpoint;
  executor(): import("../../lib/sql/data-api-executor.ts").DataApiExecutor;
  close(): Promise<void>;
}

export async function dataApiOverPostgres(
  options: { statementTimeoutMs?: number; requestTimeoutMs?: number; setUp?: (url: string) => Promise<void> } = {},
): Promise<DataApiOverPostgres> {
  const { DataApiExecutor } = await import("../../lib/sql/data-api-executor.ts");
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
