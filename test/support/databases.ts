// The databases integration tests run on: in-memory PGlite, a scratch database on the embedded
// PostgreSQL server (test/support/postgres.ts), and the Data API adapter driving the real SDK
// against the local endpoint in front of such a database. Each open() gives a fresh database;
// close() releases everything it started. Also a session that counts round trips.
import { startDataApiEndpoint } from "../../lib/local/data-api-endpoint.ts";
import { DataApiExecutor } from "../../lib/sql/data-api-executor.ts";
import type { QueryOptions, QueryResult, SqlExecutor, SqlParams, SqlSession } from "../../lib/sql/executor.ts";
import { PgExecutor } from "../../lib/sql/pg-executor.ts";
import { PgliteExecutor } from "../../lib/sql/pglite-executor.ts";
import { ARNS, sdkClient } from "../local/harness.ts";
import { createTestDatabase } from "./postgres.ts";

export interface TestDatabase {
  readonly name: string;
  open(): Promise<SqlExecutor>;
}

/** Replaces an executor's close() so it also releases what was started for it. */
function closing(executor: SqlExecutor, release: () => Promise<void>): SqlExecutor {
  const close = executor.close.bind(executor);
  return Object.assign(executor, {
    async close() {
      await close();
      await release();
    },
  });
}

export const pglite: TestDatabase = { name: "PGlite", open: () => PgliteExecutor.open() };

export const postgresql: TestDatabase = {
  name: "PostgreSQL",
  async open() {
    const database = await createTestDatabase();
    return closing(await PgExecutor.open(database.url), () => database.drop());
  },
};

/** The Data API adapter, through the local endpoint (real SDK client), in front of `backend`. */
export async function throughDataApi(backend: SqlExecutor): Promise<SqlExecutor> {
  const endpoint = await startDataApiEndpoint({ backend, ...ARNS });
  const client = sdkClient(endpoint.url);
  const executor = new DataApiExecutor({ ...ARNS, database: "retort", client });
  return closing(executor, async () => {
    client.destroy();
    await endpoint.close();
    await backend.close();
  });
}

export const dataApiOverPostgres: TestDatabase = {
  name: "Data API -> PostgreSQL",
  open: async () => throughDataApi(await postgresql.open()),
};

/** PGlite and PostgreSQL; with `dataApi`, also the Data API endpoint in front of PostgreSQL. */
export async function testDatabases(options: { dataApi?: boolean } = {}): Promise<TestDatabase[]> {
  return [pglite, postgresql, ...(options.dataApi ? [dataApiOverPostgres] : [])];
}

/** Wraps a session and records every statement sent through it. */
export class CountingSession implements SqlSession {
  readonly calls: Array<{ sql: string; params?: SqlParams }> = [];
  constructor(private readonly inner: SqlSession) {}

  get count(): number {
    return this.calls.length;
  }

  query<Row = Record<string, unknown>>(sql: string, params?: SqlParams, options?: QueryOptions): Promise<QueryResult<Row>> {
    this.calls.push(params === undefined ? { sql } : { sql, params });
    return this.inner.query<Row>(sql, params, options);
  }
}
