// DynamoDB for tests: dynalite behind lib/local's fault-injecting front on a random loopback port,
// a real SDK client pointed at it (SDK retries off: retort's own retries are under test), a lock
// table, and the environment a child `retort` process needs to reach the same endpoint.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type LocalDynamo, startLocalDynamo } from "../../lib/local/dynamodb-local.ts";
import { countCalls, type CallCounter } from "../../lib/state/dynamo-client.ts";
import { createLockTable } from "../../lib/state/dynamo-table.ts";

export interface TestDynamo {
  local: LocalDynamo;
  client: DynamoDBClient;
  calls: CallCounter;
  /** A table created for this test file. */
  table: string;
  /** Environment for child processes: the SDK's endpoint variable and dummy credentials. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export function dynamoClient(url: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: url,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
}

export async function startTestDynamo(table = "retort-test"): Promise<TestDynamo> {
  const local = await startLocalDynamo();
  const client = dynamoClient(local.url);
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
