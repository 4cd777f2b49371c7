// One embedded PostgreSQL server for a benchmark, started the way the tests start theirs
// (test/support/embedded-postgres.ts), with a fresh database per run on it.
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { embeddedPostgres, freeLoopbackPort } from "../test/support/embedded-postgres.ts";

export interface BenchServer {
  /** The server's version, as `SHOW server_version` says. */
  version: string;
  /** Creates an empty database; returns its postgres:// URL and a function dropping it. */
  createDatabase(): Promise<{ url: string; drop(): Promise<void> }>;
  stop(): Promise<void>;
}

export async function startBenchServer(): Promise<BenchServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "retort-bench-pg-"));
  // As root, the server runs as the `postgres` user, which must be able to enter the directory.
  await chmod(dir, 0o755);
  const port = await freeLoopbackPort();
  const password = randomBytes(12).toString("hex");
  const log: string[] = [];
  const server = embeddedPostgres({ dir, port, password, log });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`Could not start the embedded PostgreSQL server: ${(error as Error).message}\n${log.slice(-20).join("\n")}`);
  }
  const url = (database: string) => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
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
      await rm(dir, { recursive: true, force: true });
    },
  };
}
