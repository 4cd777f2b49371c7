// DynamoDB with retort's lock table, for tests and benchmarks: dynalite behind the fault-injecting
// front (dynamodb-local.ts) on a random loopback port, a real SDK client pointed at it (SDK retries
// off: retort's own retries are under test), and the environment a child `retort` process needs.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type LocalDynamo, startLocalDynamo } from "./dynamodb-local.ts";
import { countCalls, type CallCounter } from "../state/dynamo-client.ts";
import { createLockTable } from "../state/dynamo-table.ts";

export interface LocalLockTable {
  local: LocalDynamo;
  client: DynamoDBClient;
  calls: CallCounter;
  /** The lock table, created empty. */
  table: string;
  /** Environment for child processes: the SDK's endpoint variable and dummy credentials. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export function localDynamoClient(url: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: url,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
}

export async function startLocalLockTable(table = "retort-local"): Promise<LocalLockTable> {
  const local = await startLocalDynamo();
  const client = localDynamoClient(local.url);
  await createLockTable(client, table);
  const calls = countCalls(client);
  return {
    local,
    client,
    calls,
    table,
    env: {
      AWS_ENDPOINT_URL_DYNAMODB: local.url,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
    },
    async close() {
      client.destroy();
      await local.close();
    },
  };
}
