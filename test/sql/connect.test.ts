// Database URLs (--db / RETORT_DB): every accepted form, every way to get one wrong, and opening
// executors, including an unreachable PostgreSQL that must fail fast with a useful message.

import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  ACCEPTED_FORMS,
  DatabaseUrlError,
  defaultDatabaseUrl,
  maskPassword,
  openExecutor,
  parseDatabaseUrl,
} from "../../lib/sql/connect.ts";
import { ConnectionError } from "../../lib/sql/errors.ts";
import { PgExecutor } from "../../lib/sql/pg-executor.ts";

const CLUSTER = "arn:aws:rds:eu-west-1:123456789012:cluster:prod-db";
const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf";

describe("parseDatabaseUrl", () => {
  it("reads the pglite forms", () => {
    expect(parseDatabaseUrl("pglite://")).toEqual({ kind: "pglite", dataDir: ".retort/local" });
    expect(parseDatabaseUrl("pglite://memory")).toEqual({ kind: "pglite-memory" });
    expect(parseDatabaseUrl("pglite://data/dev")).toEqual({ kind: "pglite", dataDir: "data/dev" });
    expect(parseDatabaseUrl("pglite://./db")).toEqual({ kind: "pglite", dataDir: "./db" });
    expect(parseDatabaseUrl("pglite:///var/lib/retort")).toEqual({ kind: "pglite", dataDir: "/var/lib/retort" });
    expect(parseDatabaseUrl("  PGLITE://memory ")).toEqual({ kind: "pglite-memory" });
  });

  it("reads postgres:// and postgresql:// URLs", () => {
    expect(parseDatabaseUrl("postgres://app:s3cret@db.example.com:6543/orders")).toEqual({
      kind: "postgres",
      url: "postgres://app:s3cret@db.example.com:6543/orders",
      host: "db.example.com",
      port: 6543,
      database: "orders",
      user: "app",
    });
    expect(parseDatabaseUrl("postgresql://localhost/app")).toMatchObject({ kind: "postgres", host: "localhost", port: 5432, database: "app", user: undefined });
    expect(parseDatabaseUrl("postgres://u@[::1]:5433/d")).toMatchObject({ host: "[::1]", port: 5433 });
  });

  it("reads data-api:// URLs, whose ARNs contain colons", () => {
    expect(parseDatabaseUrl(`data-api://${CLUSTER}?secret=${SECRET}&database=app`)).toEqual({
      kind: "data-api",
      resourceArn: CLUSTER,
      secretArn: SECRET,
      database: "app",
      region: "eu-west-1",
    });
    // Percent-encoded ARNs and other partitions work too.
    const gov = "arn:aws-us-gov:rds:us-gov-west-1:123456789012:cluster:c1";
    const govSecret = "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:s-AbCdEf";
    expect(
      parseDatabaseUrl(`data-api://${encodeURIComponent(gov)}?database=app&secret=${encodeURIComponent(govSecret)}`),
    ).toMatchObject({ resourceArn: gov, secretArn: govSecret, region: "us-gov-west-1" });
  });

  it("accepts every form its own help lists", () => {
    for (const [form] of ACCEPTED_FORMS) expect(() => parseDatabaseUrl(form)).not.toThrow();
  });
});

describe("malformed database URLs", () => {
  const cases: Array<[string, RegExp]> = [
    ["", /empty/],
    ["just-a-path", /no scheme/],
    ["mysql://localhost/app", /scheme "mysql:" is not supported/],
    ["pglite:memory", /must be followed by "\/\/"/],
    ["pglite://dir?mode=fast", /directory only/],
    ["postgres://", /no host|well-formed/],
    ["postgres://user:hunter2@db:99999/app", /well-formed|out of range/],
    ["postgres://user:hunter2@db/app/extra", /not a database name/],
    ["data-api://", /no cluster ARN/],
    [`data-api://arn:aws:rds:eu-west-1:123:cluster:x?secret=${SECRET}&database=a`, /not an Aurora cluster ARN/],
    [`data-api://arn:aws:rds:eu-west-1:123456789012:db:instance1?secret=${SECRET}&database=a`, /not an Aurora cluster ARN/],
    [`data-api://${CLUSTER}?database=app`, /no \?secret=/],
    [`data-api://${CLUSTER}?secret=arn:aws:iam::123456789012:role/x&database=app`, /not a Secrets Manager secret ARN/],
    [`data-api://${CLUSTER}?secret=${SECRET}`, /no &database=/],
    [`data-api://${CLUSTER}?secret=${SECRET}&database=app&db=other`, /unknown parameter "db"/],
    [`data-api://${CLUSTER}%ZZ?secret=${SECRET}&database=app`, /malformed %-escape/],
  ];

  it.each(cases)("refuses %j", (url, problem) => {
    let error: unknown;
    try {
      parseDatabaseUrl(url);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DatabaseUrlError);
    const message = (error as DatabaseUrlError).message;
    expect(message).toMatch(problem);
    expect(message).toContain(JSON.stringify(maskPassword(url)));
    expect(message).not.toContain("hunter2");
    // Every accepted form is shown as an example.
    expect(message).toContain("pglite://memory");
    expect(message).toContain("postgres://user:password@localhost:5432/app");
    expect(message).toContain("data-api://arn:aws:rds:");
    expect(message).toMatch(/--db or RETORT_DB/);
  });
});

describe("maskPassword and defaultDatabaseUrl", () => {
  it("masks only the password", () => {
    expect(maskPassword("postgres://app:s3cret@h:5432/db")).toBe("postgres://app:***@h:5432/db");
    expect(maskPassword("postgres://app:p@ss:w0rd@h/db")).toBe("postgres://app:***@h/db");
    expect(maskPassword("postgres://app@h/db")).toBe("postgres://app@h/db");
    expect(maskPassword("pglite://memory")).toBe("pglite://memory");
    expect(maskPassword("not a url")).toBe("not a url");
  });

  it("reads RETORT_DB, defaulting to the embedded database", () => {
    expect(defaultDatabaseUrl({})).toBe("pglite://");
    expect(defaultDatabaseUrl({ RETORT_DB: "  " })).toBe("pglite://");
    expect(defaultDatabaseUrl({ RETORT_DB: " postgres://h/db " })).toBe("postgres://h/db");
  });
});

describe("openExecutor", () => {
  const temp: string[] = [];
  afterAll(async () => {
    await Promise.all(temp.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("opens PGlite in a directory it creates (parents too), and the data persists", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "retort-connect-"));
    temp.push(root);
    const first = await openExecutor("pglite://nested/dir/db", { cwd: root });
    expect(first.kind).toBe("pglite");
    expect(first.description).toContain(path.join(root, "nested/dir/db"));
    await first.query("CREATE TABLE kept (id int4)");
    await first.query("INSERT INTO kept VALUES (7)");
    await first.close();
    expect((await stat(path.join(root, "nested/dir/db"))).isDirectory()).toBe(true);
    const second = await openExecutor(`pglite://${path.join(root, "nested/dir/db")}`);
    try {
      expect((await second.query("SELECT id FROM kept")).rows).toEqual([{ id: 7 }]);
    } finally {
      await second.close();
    }
  });

  it("refuses a directory that holds other files rather than creating a database among them", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "retort-connect-"));
    temp.push(root);
    await writeFile(path.join(root, "notes.txt"), "not a database");
    const error = await openExecutor(`pglite://${root}`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).message).toContain(root);
    expect((error as Error).message).toMatch(/PG_VERSION/);
    expect(await readdir(root)).toEqual(["notes.txt"]);
  });

  it("builds a Data API executor without calling AWS", async () => {
    const executor = await openExecutor(`data-api://${CLUSTER}?secret=${SECRET}&database=app`);
    expect(executor.kind).toBe("data-api");
    expect(executor.description).toContain(CLUSTER);
    await executor.close();
  });

  it("refuses a malformed URL before opening anything", async () => {
    await expect(openExecutor("postgres://")).rejects.toBeInstanceOf(DatabaseUrlError);
  });
});

describe("unreachable PostgreSQL", () => {
  /** A loopback port with nothing listening on it. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  it("fails at once with a ConnectionError naming host:port and database, never the password", async () => {
    const port = await closedPort();
    const started = Date.now();
    let error: unknown;
    try {
      await openExecutor(`postgres://migrator:hunter2@127.0.0.1:${port}/orders`);
    } catch (e) {
      error = e;
    }
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(ConnectionError);
    const message = (error as Error).message;
    expect(message).toContain(`127.0.0.1:${port}`);
    expect(message).toContain('database "orders"');
    expect(message).toContain("ECONNREFUSED");
    expect(message).toMatch(/--db.*RETORT_DB/);
    expect(message).not.toContain("hunter2");
  });

  it("gives up after connectionTimeoutMillis when the server never answers", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      const executor = new PgExecutor(`postgres://u:hunter2@127.0.0.1:${port}/app`, { connectionTimeoutMillis: 300 });
      const error = await executor.query("SELECT 1").then(
        () => undefined,
        (e: unknown) => e,
      );
      await executor.close();
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as Error).message).toMatch(/timeout/i);
      expect((error as Error).message).not.toContain("hunter2");
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
