// Round-trip benchmark: Data API calls per migration for a generated set of 50 migrations (~150
// operations), counted on the real Data API adapter talking to the local endpoint over PGlite.
// retort's runner (introspect once, consecutive migrations in one transaction, DDL in DO blocks)
// against a naive runner in the same process that introspects before every operation and runs
// each statement on its own. Then what the lock and the history add: in the target database (the
// CLI without --lock-table), and in DynamoDB on dynalite (the Lambda), calls counted by an SDK
// middleware. Last, the schema snapshot's calls against the number of tables.
import { performance } from "node:perf_hooks";
import pg from "pg";
import { DynamoHistory } from "../lib/state/dynamo-history.ts";
import { DynamoLock } from "../lib/state/dynamo-lock.ts";
import { DatabaseHistory } from "../lib/state/database-history.ts";
import { startDataApiEndpoint } from "../lib/local/data-api-endpoint.ts";
import { introspect } from "../lib/dialect/postgres/introspect.ts";
import { createOperations } from "../lib/ops/operations.ts";
import type { SinkStatement, StatementSink } from "../lib/ops/sink.ts";
import { RevisionMap } from "../lib/revision/graph.ts";
import type { LoadResult } from "../lib/revision/loader.ts";
import type { Migration } from "../lib/revision/migration.ts";
import { databaseContext } from "../lib/runner/database.ts";
import { holdTransaction } from "../lib/runner/held-transaction.ts";
import { safeUpgrade } from "../lib/runner/upgrade.ts";
import { CountingExecutor } from "../lib/sql/counting-executor.ts";
import { DataApiExecutor, createDataApiClient } from "../lib/sql/data-api-executor.ts";
import type { QueryResult, SqlExecutor, SqlParams, SqlSession } from "../lib/sql/executor.ts";
import { PgExecutor } from "../lib/sql/pg-executor.ts";
import { PgliteExecutor } from "../lib/sql/pglite-executor.ts";
import { VersionTable } from "../lib/state/version-table.ts";
import { postgres } from "../lib/dialect/postgres/index.ts";
import { startLocalLockTable } from "../lib/local/dynamodb-table.ts";
import { createManyTables } from "../lib/local/many-tables.ts";
import { generateMigrations } from "./generate.ts";
import { startBenchServer } from "./postgres-server.ts";
import { printTable } from "./report.ts";

const ARNS = {
  resourceArn: "arn:aws:rds:us-east-1:000000000000:cluster:bench",
  secretArn: "arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-AbCdEf",
};

/** A Data API executor over a fresh in-memory PGlite behind the local endpoint, counting calls. */
async function dataApi(): Promise<{ executor: CountingExecutor; close(): Promise<void> }> {
  const backend = await PgliteExecutor.open();
  const endpoint = await startDataApiEndpoint({ backend, ...ARNS });
  // The product's own path: the SDK reads the endpoint from AWS_ENDPOINT_URL_RDS_DATA.
  process.env.AWS_ENDPOINT_URL_RDS_DATA = endpoint.url;
  process.env.AWS_REGION ??= "us-east-1";
  process.env.AWS_ACCESS_KEY_ID ??= "bench";
  process.env.AWS_SECRET_ACCESS_KEY ??= "bench";
  const client = createDataApiClient();
  const executor = new CountingExecutor(new DataApiExecutor({ ...ARNS, database: "bench", client }));
  return {
    executor,
    async close() {
      await executor.close();
      client.destroy();
      await endpoint.close();
      await backend.close();
    },
  };
}

/** Introspects before every statement and sends each on its own: what a simple runner does. */
class NaiveSink implements StatementSink {
  constructor(private readonly session: SqlSession) {}
  async statement(s: SinkStatement): Promise<void> {
    await introspect(this.session, ["public"]);
    await this.session.query(s.sql, s.params);
  }
  query(sql: string, params?: SqlParams): Promise<QueryResult> {
    return this.session.query(sql, params);
  }
}

async function naiveRun(executor: SqlExecutor, migrations: Migration[]): Promise<void> {
  const table = new VersionTable("public", postgres);
  for (const sql of table.createStatements()) await executor.query(sql);
  let heads: string[] = [];
  for (const m of migrations) {
    const tx = await holdTransaction(executor);
    try {
      const snapshot = await introspect(tx.session, ["public"]);
      const ops = createOperations({ snapshot, mode: "safe", sink: new NaiveSink(tx.session), defaultSchema: "public", dialect: postgres });
      await m.upgrade(ops);
      await tx.session.query(postgres.renderBlock([], table.transition({ from: heads, to: [m.revision] }))!);
      await tx.commit();
      heads = [m.revision];
    } catch (error) {
      await tx.rollback();
      throw error;
    }
  }
}

export async function benchRoundTrips(): Promise<void> {
  const migrations = generateMigrations(50);
  const operations = await countOperations(migrations);
  const source = { location: "generated", load: async (): Promise<LoadResult> => ({ migrations, problems: [] }) };

  const ours = await dataApi();
  let start = performance.now();
  const result = await safeUpgrade({ source, database: databaseContext(ours.executor) });
  if (result.error) throw new Error(result.error.message);
  const oursMs = performance.now() - start;
  const oursCalls = ours.executor.count;
  ours.executor.reset();
  await safeUpgrade({ source, database: databaseContext(ours.executor) });
  const rerunCalls = ours.executor.count;
  await ours.close();

  // The history in the target database, as the CLI keeps it without a lock table.
  const inDatabase = await dataApi();
  await safeUpgrade({ source, database: databaseContext(inDatabase.executor, { history: new DatabaseHistory(inDatabase.executor, "public", postgres) }) });
  const inDatabaseCalls = inDatabase.executor.count;
  await inDatabase.close();

  // The lock and the history in DynamoDB, as the Lambda keeps them: the lease is fenced, so every
  // transaction also claims the fence (inside its first DO block: no call of its own).
  const dynamo = await startLocalLockTable("retort-bench");
  const locked = await dataApi();
  const table = { table: dynamo.table, client: dynamo.client };
  await safeUpgrade({ source, database: databaseContext(locked.executor, { lock: new DynamoLock(table), history: new DynamoHistory(table) }) });
  const lockedCalls = locked.executor.count;
  const lockedDynamo = dynamo.calls.total;
  const lockedByOperation = dynamo.calls.byOperation;
  await locked.close();
  await dynamo.close();

  const naive = await dataApi();
  start = performance.now();
  await naiveRun(naive.executor, migrations);
  const naiveMs = performance.now() - start;
  const naiveCalls = naive.executor.count;
  await naive.close();

  const per = (calls: number) => (calls / migrations.length).toFixed(2);
  printTable(
    `Round trips: ${migrations.length} migrations, ${operations} operations, Data API -> local endpoint -> PGlite`,
    ["runner", "calls", "calls/migration", "ms"],
    [
      ["retort safe-upgrade", String(oursCalls), per(oursCalls), oursMs.toFixed(0)],
      ["retort re-run (up to date)", String(rerunCalls), per(rerunCalls), ""],
      ["retort + history in the database", String(inDatabaseCalls), per(inDatabaseCalls), ""],
      [`retort + DynamoDB lock and history (+${lockedDynamo} DynamoDB calls)`, String(lockedCalls), per(lockedCalls), ""],
      ["naive (introspect per op)", String(naiveCalls), per(naiveCalls), naiveMs.toFixed(0)],
    ],
  );
  console.log(`retort makes ${(naiveCalls / oursCalls).toFixed(1)}x fewer calls than the naive runner (goal: <= 1.5 calls/migration)`);
  console.log(
    `the history in the database adds ${inDatabaseCalls - oursCalls} Data API calls per run (creating its table on first use); ` +
      `the DynamoDB lock and history add ${lockedCalls - oursCalls} Data API and ${lockedDynamo} DynamoDB calls per run ` +
      `(${Object.entries(lockedByOperation).map(([op, n]) => `${op} ${n}`).join(", ")}) ` +
      `(${((lockedCalls - oursCalls + lockedDynamo) / migrations.length).toFixed(2)} per migration here)`,
  );
  await benchSchemaSize();
}

/** Runs every upgrade against an empty snapshot with a sink that only counts. */
async function countOperations(migrations: Migration[]): Promise<number> {
  new RevisionMap(migrations).assertSound();
  let snapshot = (await import("../lib/schema/snapshot.ts")).emptySnapshot(["public"]);
  let count = 0;
  for (const m of migrations) {
    const ops = createOperations({
      snapshot,
      mode: "safe",
      defaultSchema: "public",
      dialect: postgres,
      sink: { statement() {}, query: async () => ({ rows: [], columns: [], rowCount: 0 }) },
    });
    await m.upgrade(ops);
    count += ops.results.length;
    snapshot = ops.snapshot;
  }
  return count;
}

/**
 * The snapshot's cost against the size of the schema: Data API calls (pages under the 1 MiB
 * response limit) and time, for 100 to 10,000 tables (a tenth of them partitions), through the
 * local endpoint in front of an embedded PostgreSQL server.
 */
async function benchSchemaSize(): Promise<void> {
  const server = await startBenchServer();
  const rows: string[][] = [];
  try {
    for (const tables of [100, 1_000, 10_000]) {
      const database = await server.createDatabase();
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      const partitions = tables / 10;
      const plain = tables - partitions - 1;
      await createManyTables(admin, plain, partitions);
      await admin.end();
      const backend = new PgExecutor(database.url);
      const endpoint = await startDataApiEndpoint({ backend, ...ARNS });
      process.env.AWS_ENDPOINT_URL_RDS_DATA = endpoint.url;
      const client = createDataApiClient();
      const executor = new CountingExecutor(new DataApiExecutor({ ...ARNS, database: "bench", client }));
      const started = performance.now();
      const snapshot = await postgres.introspect(executor, ["public"]);
      const ms = performance.now() - started;
      if (snapshot.tables.length !== tables) throw new Error(`read ${snapshot.tables.length} tables of ${tables}`);
      rows.push([String(tables), String(executor.count), ms.toFixed(0)]);
      client.destroy();
      await endpoint.close();
      await backend.close();
      await database.drop();
    }
  } finally {
    await server.stop();
  }
  printTable(
    `Schema snapshot against schema size: Data API -> local endpoint (1 MiB response limit) -> PostgreSQL ${server.version}`,
    ["tables (10% partitions)", "calls", "ms"],
    rows,
  );
}
if (import.meta.url === `file://${process.argv[1]}`) await benchRoundTrips();
