// The one DynamoDB table that holds the locks and the history, and its key design. Every item of
// a target database lives in that target's partition, so the lock item and the newest runs are
// each one request away:
//
//   pk (S)                 sk (S)                          item
//   TARGET#<lock key>      LOCK                            the lock: holder, lease, fencing token
//   TARGET#<lock key>      RUN#<token, 12 digits>          one run (command, status, heads, ...)
//   TARGET#<lock key>      REV#<token>#<revision>#<u|d>    one revision a run applied (u) or reverted (d)
//
// Runs are keyed by their fencing token: it strictly increases per target and every run that
// writes history holds the lock, so token order is run order with no clock involved. "Newest N
// runs" is one Query: pk = TARGET#key AND begins_with(sk, "RUN#"), descending, Limit N. A run's
// revisions are one Query on begins_with(sk, "REV#<token>#"), put in order by their `at` and
// `seq` attributes (a run touches a revision once per direction). History items may carry `ttl`
// (epoch seconds) for optional expiry; the lock item never does (its expiry is checked in the
// write condition, not left to TTL).
import {
  type AttributeValue,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import { sleep } from "./dynamo-client.ts";

export const TABLE_KEYS = { partition: "pk", sort: "sk" } as const;
/** The attribute a table's TTL setting may name to expire old history items. */
export const TTL_ATTRIBUTE = "ttl";

const TOKEN_DIGITS = 12;

export const keys = {
  partition: (lockKey: string) => `TARGET#${lockKey}`,
  lock: "LOCK",
  runPrefix: "RUN#",
  run: (token: number) => `RUN#${pad(token)}`,
  revisionPrefix: (token: number) => `REV#${pad(token)}#`,
  revision: (token: number, revision: string, direction: "upgrade" | "downgrade") =>
    `REV#${pad(token)}#${revision}#${direction === "upgrade" ? "u" : "d"}`,
};

function pad(token: number): string {
  return String(token).padStart(TOKEN_DIGITS, "0");
}

export type Item = Record<string, AttributeValue>;

/** The key attributes of an item. */
export function itemKey(lockKey: string, sort: string): Item {
  return { [TABLE_KEYS.partition]: { S: keys.partition(lockKey) }, [TABLE_KEYS.sort]: { S: sort } };
}

// Plain values to attribute values and back, for the few shapes the lock and history store.
export const attr = {
  s: (value: string): AttributeValue => ({ S: value }),
  n: (value: number): AttributeValue => ({ N: String(value) }),
  list: (values: readonly string[]): AttributeValue => ({ L: values.map((v) => ({ S: v })) }),
  json: (value: unknown): AttributeValue => ({ S: JSON.stringify(value) }),
};

export const read = {
  s: (item: Item | undefined, name: string): string | undefined => item?.[name]?.S,
  n: (item: Item | undefined, name: string): number | undefined => {
    const n = item?.[name]?.N;
    return n === undefined ? undefined : Number(n);
  },
  json: <T>(item: Item | undefined, name: string): T | undefined => {
    const s = item?.[name]?.S;
    return s === undefined ? undefined : (JSON.parse(s) as T);
  },
};

export type Plain = string | number | readonly string[];

/** A flat record as an item: strings, numbers and string lists; undefined and "" are left out. */
export function marshal(record: Readonly<Record<string, Plain | undefined>>): Item {
  const item: Item = {};
  for (const [name, value] of Object.entries(record)) {
    if (value === undefined || value === "") continue;
    item[name] = typeof value === "string" ? attr.s(value) : typeof value === "number" ? attr.n(value) : attr.list(value);
  }
  return item;
}

/** An item as a flat record (the inverse of marshal). */
export function unmarshal(item: Item): Record<string, string | number | string[]> {
  const record: Record<string, string | number | string[]> = {};
  for (const [name, value] of Object.entries(item)) {
    if (value.S !== undefined) record[name] = value.S;
    else if (value.N !== undefined) record[name] = Number(value.N);
    else if (value.L !== undefined) record[name] = value.L.map((v) => v.S ?? "");
  }
  return record;
}

export type CreateTableResult = { kind: "created"; table: string } | { kind: "exists"; table: string };

/**
 * Creates the table with the key schema above (on demand), and waits until it is active. For
 * local use and tests; production tables come from the MigrationRunner construct (with
 * point-in-time recovery, and TTL on `ttl` if old history should expire).
 */
export async function createLockTable(client: DynamoDBClient, table: string, timeoutMs = 60_000): Promise<CreateTableResult> {
  let kind: CreateTableResult["kind"] = "created";
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: TABLE_KEYS.partition, AttributeType: "S" },
          { AttributeName: TABLE_KEYS.sort, AttributeType: "S" },
        ],
        KeySchema: [
          { AttributeName: TABLE_KEYS.partition, KeyType: "HASH" },
          { AttributeName: TABLE_KEYS.sort, KeyType: "RANGE" },
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    kind = "exists";
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    const schema = Table?.KeySchema ?? [];
    const matches =
      schema.length === 2 &&
      schema.some((k) => k.AttributeName === TABLE_KEYS.partition && k.KeyType === "HASH") &&
      schema.some((k) => k.AttributeName === TABLE_KEYS.sort && k.KeyType === "RANGE");
    if (!matches) {
      throw new Error(
        `DynamoDB table ${table} exists but its key schema is not retort's (pk: S HASH, sk: S RANGE); ` +
          "pick another --lock-table name",
      );
    }
    if (Table?.TableStatus === "ACTIVE") return { kind, table };
    if (Date.now() > deadline) throw new Error(`DynamoDB table ${table} did not become ACTIVE within ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}
