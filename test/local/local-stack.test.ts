// The local stack behind `retort local`: a Data API on 127.0.0.1 in front of the database a URL
// names, reached the way a developer or a Lambda run locally reaches it (the SDK's own endpoint
// variable and dummy credentials, any ARNs).

import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startLocalStack, type LocalStack } from "../../lib/local/local-stack.ts";
import { DataApiExecutor } from "../../lib/sql/data-api-executor.ts";
import { ConnectionError } from "../../lib/sql/errors.ts";
import { createTestDatabase } from "../support/postgres.ts";

const stacks: LocalStack[] = [];
const cleanups: Array<() => Promise<void>> = [];

async function start(options: Parameters<typeof startLocalStack>[0]): Promise<LocalStack> {
  const stack = await startLocalStack(options);
  stacks.push(stack);
  return stack;
}

/** retort's own Data API adapter, configured only through the SDK's environment variables. */
function adapterFromEnvironment(url: string): DataApiExecutor {
  vi.stubEnv("AWS_ENDPOINT_URL_RDS_DATA", url);
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "local");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "local");
  return new DataApiExecutor({
    // Any well-formed ARNs: the local stack serves whichever cluster and secret it is asked for.
    resourceArn: "arn:aws:rds:us-east-1:000000000000:cluster:anything",
    secretArn: "arn:aws:secretsmanager:us-east-1:000000000000:secret:anything-AbCdEf",
    database: "postgres",
  });
}

afterEach(async () => {
  vi.unstubAllEnvs();
  while (stacks.length > 0) await stacks.pop()!.close();
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe("startLocalStack", () => {
  it("serves the Data API over embedded PGlite, and keeps the data in its directory", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "retort-local-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));

    const first = await start({ db: "pglite://local", cwd: dir });
    expect(first.url).toBe(`http://127.0.0.1:${first.port}`);
    expect(first.database).toContain(path.join(dir, "local"));
    expect(existsSync(path.join(dir, "local"))).toBe(true);
    const db = adapterFromEnvironment(first.url);
    await db.query("CREATE TABLE notes (id int4 PRIMARY KEY, body text)");
    await db.transaction((tx) => tx.query("INSERT INTO notes VALUES (1, :body)", { body: "kept" }));
    await db.close();
    await first.close();

    const second = await start({ db: "pglite://local", cwd: dir });
    const again = adapterFromEnvironment(second.url);
    expect((await again.query("SELECT body FROM notes")).rows).toEqual([{ body: "kept" }]);
    await again.close();
  });

  it("serves the Data API over a PostgreSQL URL", async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const stack = await start({ db: database.url });
    expect(stack.database).not.toContain(new URL(database.url).password);
    const db = adapterFromEnvironment(stack.url);
    expect((await db.query("SELECT current_database() AS name")).rows).toEqual([{ name: database.name }]);
    await db.close();
  });

  it("says so when its port is taken, before opening the database", async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => squatter.close(() => resolve())));
    const port = (squatter.address() as AddressInfo).port;
    const dir = await mkdtemp(path.join(os.tmpdir(), "retort-local-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const error = await startLocalStack({ db: "pglite://local", cwd: dir, port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).message).toMatch(new RegExp(`Port ${port} on 127.0.0.1 is already in use.*--port`));
    // Opening the database creates its directory (see the first test), so its absence shows the
    // port was checked first, whatever the machine's speed.
    expect(existsSync(path.join(dir, "local"))).toBe(false);
  });

  it("refuses a data-api:// database: the stack is the Data API", async () => {
    const url =
      "data-api://arn:aws:rds:us-east-1:123456789012:cluster:c?secret=arn:aws:secretsmanager:us-east-1:123456789012:secret:s&database=app";
    await expect(startLocalStack({ db: url })).rejects.toThrow(/must be pglite:\/\/ or postgres:\/\//);
  });
});
