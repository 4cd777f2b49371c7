// One embedded PostgreSQL server for a benchmark, started the way the tests start theirs
// (lib/local/embedded-postgres.ts), with a fresh database per run on it.
import pg from "pg";
import { embeddedServer } from "../lib/local/embedded-postgres.ts";

export interface BenchServer {
  /** The server's version, as `SHOW server_version` says. */
  version: string;
  /** Creates an empty database; returns its postgres:// URL and a function dropping it. */
  createDatabase(): Promise<{ url: string; drop(): Promise<void> }>;
  stop(): Promise<void>;
}

export async function startBenchServer(): Promise<BenchServer> {
  const server = await embeddedServer("retort-bench-pg-");
  try {
    await server.start();
  } catch (error) {
    await server.stop();
    throw error;
  }
  const url = server.url;
  const admin = new pg.Client({ connectionString: url("postgres") });
  await admin.connect();
  const version = (await admin.query<{ server_version: string }>("SHOW server_version")).rows[0]!.server_version;
  let n = 0;
  return {
    version,
    async createDatabase() {
      const name = `bench_${process.pid}_${(n += 1)}`;
      await admin.query(`CREATE DATABASE "${name}"`);
      return { url: url(name), drop: async () => void (await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)) };
    },
    async stop() {
      await admin.end();
      await server.stop();
    },
  };
}
