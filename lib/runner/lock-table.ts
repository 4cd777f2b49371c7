// `retort lock-table create`: the DynamoDB table for the lock and the history, with the key
// schema of lib/state/dynamo-table.ts. For local use and tests; production tables come from the
// MigrationRunner construct.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createDynamoClient } from "../state/dynamo-client.ts";
import { createLockTable, type CreateTableResult } from "../state/dynamo-table.ts";
import { UsageError } from "./revision.ts";

export async function createLockTableCommand(table: string | undefined, client?: DynamoDBClient): Promise<CreateTableResult> {
  if (!table) throw new UsageError("Name the table: retort lock-table create --lock-table <name> (or set RETORT_LOCK_TABLE)");
  const own = client ?? createDynamoClient();
  try {
    return await createLockTable(own, table);
  } finally {
    if (!client) own.destroy();
  }
}
