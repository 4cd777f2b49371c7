// The IAM actions retort's functions are granted, the runner's and a fleet's alike: only the calls
// the code makes.
/**
 * The Data API calls the runner makes (lib/sql/data-api-executor.ts), and nothing else:
 * ExecuteStatement and the three transaction calls. A batch of statements goes as one
 * ExecuteStatement, so BatchExecuteStatement is not granted.
 */
export const DATA_API_ACTIONS = [
  "rds-data:ExecuteStatement",
  "rds-data:BeginTransaction",
  "rds-data:CommitTransaction",
  "rds-data:RollbackTransaction",
] as const;

/**
 * The lock and the history: conditional writes, consistent reads, Queries of the runs and their
 * revisions, and a finished run's revisions written in batches.
 */
export const TABLE_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:Query",
  "dynamodb:BatchWriteItem",
] as const;

