// The lock key names the database, not the URL's spelling: 127.0.0.1 and localhost (or a DNS
// name and an IP) gave two DynamoDB lock items and two fence rows for one database, so the lock
// did not keep their runners apart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../lib/runner/database.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database?.drop());

describe("the lock key of a PostgreSQL server", () => {
  it("is the same whichever way the server is named, and differs between databases", async () => {
    const spelled = (host: string) => {
      const url = new URL(database.url);
      url.hostname = host;
      return url.toString();
    };
    const keys: string[] = [];
    for (const url of [spelled("127.0.0.1"), spelled("localhost")]) {
      const db = await openDatabase(url);
      keys.push(db.lockKey);
      await db.close();
    }
    expect(keys[0]).toBe(keys[1]);
    expect(keys[0]).toMatch(new RegExp(`^postgres://\\d+/${database.name}$`));

    const other = await createTestDatabase();
    try {
      const db = await openDatabase(other.url);
      expect(db.lockKey).not.toBe(keys[0]);
      await db.close();
    } finally {
      await other.drop();
    }
  });
});
