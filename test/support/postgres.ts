// Scratch databases on the embedded PostgreSQL server that test/support/global-setup.ts starts:
// each test file gets its own, so files stay isolated while vitest runs them in parallel.

import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import pg from "pg";
import { inject } from "vitest";
import type { ServerStatus } from "./global-setup.ts";

export interface TestDatabase {
  /** postgres:// URL of the new database (superuser credentials). */
  url: string;
  /** The database's name. */
  name: string;
  /** Drops the database, closing any connection still open to it. */
  drop(): Promise<void>;
}

/**
 * The admin URL of the embedded server (its `postgres` database). The server may still be
 * starting: await postgresServerReady() before connecting with it.
 */
export function postgresAdminUrl(): string {
  const url = inject("postgresAdminUrl");
  if (!url) throw new Error("No embedded PostgreSQL server: is test/support/global-setup.ts registered in vitest.config.ts?");
  return url;
}

let serverReady: Promise<void> | undefined;

/** Waits until the global setup reports the server up (it starts in the background). */
export function postgresServerReady(): Promise<void> {
  serverReady ??= (async () => {
    const file = inject("postgresStatusFile");
    const deadline = Date.now() + 120_000;
    for (;;) {
      let text: string | undefined;
      try {
        text = await readFile(file, "utf8");
      } catch {
        // not written yet
      }
      if (text !== undefined) {
        const status = JSON.parse(text) as ServerStatus;
        if (status.ready) return;
        throw new Error(status.error);
      }
      if (Date.now() > deadline) throw new Error("The embedded PostgreSQL server did not start within 120 s");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return serverReady;
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  await postgresServerReady();
  const client = new pg.Client({ connectionString: postgresAdminUrl(), connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Creates a uniquely named, empty database. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `retort_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await admin((client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(postgresAdminUrl());
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

/** The lock key retort uses for a postgres:// URL (the server's name for the database). */
export async function lockKeyOf(url: string): Promise<string> {
  const { openDatabase } = await import("../../lib/runner/database.ts");
  const db = await openDatabase(url);
  try {
    return db.lockKey;
  } finally {
    await db.close();
  }
}
