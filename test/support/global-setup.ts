// vitest globalSetup: starts ONE embedded PostgreSQL server (real binaries from npm) for the whole
// test run, on a free loopback port in a temporary directory, and hands its admin URL to the
// test files (inject("postgresAdminUrl")); test/support/postgres.ts creates a database per test
// file on it. The server starts in the background (initdb without fsync, then postgres: ~0.7 s
// on an idle machine) while vitest collects and runs the first files; the first
// createTestDatabase() waits for the status file this setup writes when the server is ready.

import { rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { embeddedServer } from "../../lib/local/embedded-postgres.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** postgres:// URL of the embedded server's `postgres` database, as its superuser. */
    postgresAdminUrl: string;
    /** Appears once the server is up, holding a ServerStatus (JSON). */
    postgresStatusFile: string;
  }
}

/** What the status file says. */
export type ServerStatus = { ready: true; startupMs: number } | { ready: false; error: string };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  const server = await embeddedServer("retort-test-pg-");

  const statusFile = path.join(server.dir, "status.json");
  // Written then renamed, so a reader never sees half a file.
  const writeStatus = async (status: ServerStatus) => {
    await writeFile(`${statusFile}.partial`, JSON.stringify(status));
    await rename(`${statusFile}.partial`, statusFile);
  };
  const settled = server.start().then(
    async () => {
      const startupMs = Math.round(performance.now() - started);
      await writeStatus({ ready: true, startupMs });
      if (process.env["RETORT_TEST_TIMINGS"]) console.log(`embedded PostgreSQL ready on 127.0.0.1:${server.port} in ${startupMs} ms`);
    },
    async (error: unknown) => {
      await writeStatus({ ready: false, error: error instanceof Error ? error.message : String(error) });
    },
  );

  project.provide("postgresAdminUrl", server.url());
  project.provide("postgresStatusFile", statusFile);

  return async () => {
    await settled;
    await server.stop();
  };
}
