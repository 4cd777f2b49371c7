// The History port on DynamoDB, in the lock's table and the target's partition (key design in
// dynamo-table.ts): a run item keyed by its fencing token, and one item per revision. Items are
// only ever added; a run item changes once more when the run ends (or is declared abandoned).
// Attributes are the records' own fields, flat (abandoned -> abandonedAt/By/ByToken).
import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { createDynamoClient, type RetryOptions, sleep, withDynamoRetry } from "./dynamo-client.ts";
import { attr, type Item, itemKey, keys, marshal, type Plain, TABLE_KEYS, TTL_ATTRIBUTE, unmarshal } from "./dynamo-table.ts";
import {
  DEFAULT_RUNS_LIMIT,
  type History,
  type RevisionRecord,
  type RunOutcome,
  type RunRecord,
  RunStatus,
  runFromLease,
  sortRevisions,
} from "./history.ts";
import type { LockInfo } from "./lock.ts";

export interface DynamoHistoryOptions {
  table: string;
  /** @default createDynamoClient() */
  client?: DynamoDBClient;
  retry?: RetryOptions;
  /** Write `ttl` so a table with TTL enabled on it expires history after this many days. @default never */
  retainDays?: number;
}

/** DynamoDB's limit for one BatchWriteItem. */
const BATCH_WRITE_MAX = 25;

export class DynamoHistory implements History {
  readonly description: string;
  readonly client: DynamoDBClient;

  constructor(private readonly options: DynamoHistoryOptions) {
    this.client = options.client ?? createDynamoClient();
    this.description = `DynamoDB table ${options.table}`;
  }

  async start(run: RunRecord): Promise<void> {
    try {
      await this.call((c) =>
        c.send(
          new PutItemCommand({
            TableName: this.options.table,
            Item: { ...itemKey(run.target, keys.run(run.token)), ...this.runItem(run) },
            // A successor that already declared this run dead keeps its word.
            ConditionExpression: "attribute_not_exists(#sk)",
            ExpressionAttributeNames: { "#sk": TABLE_KEYS.sort },
          }),
        ),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async finish(run: RunRecord, outcome: RunOutcome, revisions: readonly RevisionRecord[]): Promise<void> {
    await Promise.all([
      this.updateRun(run.target, run.token, set(marshal(outcome))),
      this.putAll(
        revisions.map(({ lockRetries, ...r }) => ({
          ...itemKey(run.target, keys.revision(run.token, r.revision, r.direction)),
          // The lock retries, nested records, as one JSON string attribute.
          ...marshal({ type: "revision", ...r, ...(lockRetries ? { lockRetries: JSON.stringify(lockRetries) } : {}), ...this.ttl() }),
        })),
      ),
    ]);
  }

  async abandon(lease: LockInfo, by: { description: string; token: number; at: string }): Promise<boolean> {
    const { status: _status, ...stub } = this.runItem(runFromLease(lease));
    const update = set(marshal({ status: RunStatus.Abandoned, abandonedAt: by.at, abandonedBy: by.description, abandonedByToken: by.token }));
    // Fields of a run that died before recording its start come from the lease.
    Object.entries(stub).forEach(([name, value], i) => {
      update.UpdateExpression += `, #f${i} = if_not_exists(#f${i}, :f${i})`;
      update.ExpressionAttributeNames[`#f${i}`] = name;
      update.ExpressionAttributeValues[`:f${i}`] = value;
    });
    try {
      await this.updateRun(lease.key, lease.token, {
        ...update,
        ConditionExpression: "attribute_not_exists(#status) OR #status = :started",
        ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ":started": attr.s(RunStatus.Started) },
      });
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async runs(target: string, options: { limit?: number } = {}): Promise<RunRecord[]> {
    const page = await this.query(target, keys.runPrefix, { ScanIndexForward: false, Limit: options.limit ?? DEFAULT_RUNS_LIMIT });
    return (page.Items ?? []).map((item) => toRun(target, item));
  }

  async revisions(run: RunRecord): Promise<RevisionRecord[]> {
    const out: RevisionRecord[] = [];
    let start: Item | undefined;
    do {
      const page = await this.query(run.target, keys.revisionPrefix(run.token), start ? { ExclusiveStartKey: start } : {});
      out.push(...(page.Items ?? []).map(toRevision));
      start = page.LastEvaluatedKey;
    } while (start);
    return sortRevisions(out);
  }

  /** One call, with retries of throttling and 5xx. */
  private call<T>(send: (client: DynamoDBClient) => Promise<T>): Promise<T> {
    return withDynamoRetry(() => send(this.client), this.options.retry);
  }

  private updateRun(target: string, token: number, input: Omit<UpdateItemCommandInput, "TableName" | "Key">) {
    return this.call((c) =>
      c.send(new UpdateItemCommand({ TableName: this.options.table, Key: itemKey(target, keys.run(token)), ...input })),
    );
  }

  /** One consistent Query of a target's partition for the sort keys starting with `prefix`. */
  private query(target: string, prefix: string, extra: Pick<QueryCommandInput, "ScanIndexForward" | "Limit" | "ExclusiveStartKey">) {
    return this.call((c) =>
      c.send(
        new QueryCommand({
          TableName: this.options.table,
          KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
          ExpressionAttributeNames: { "#pk": TABLE_KEYS.partition, "#sk": TABLE_KEYS.sort },
          ExpressionAttributeValues: { ":pk": attr.s(keys.partition(target)), ":prefix": attr.s(prefix) },
          ConsistentRead: true,
          ...extra,
        }),
      ),
    );
  }

  private ttl(): Record<string, Plain> {
    const days = this.options.retainDays;
    return days === undefined ? {} : { [TTL_ATTRIBUTE]: Math.floor(Date.now() / 1000) + Math.round(days * 86_400) };
  }

  private runItem(run: RunRecord): Item {
    const { target: _target, abandoned: _abandoned, ...fields } = run;
    return marshal({ type: "run", ...fields, ...this.ttl() });
  }

  /** BatchWriteItem in chunks of 25, resending what DynamoDB reports unprocessed. */
  private async putAll(items: Item[]): Promise<void> {
    for (let i = 0; i < items.length; i += BATCH_WRITE_MAX) {
      let requests: WriteRequest[] = items.slice(i, i + BATCH_WRITE_MAX).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; requests.length > 0; attempt += 1) {
        if (attempt > 8) throw new Error(`DynamoDB left ${requests.length} history item(s) unprocessed in ${this.options.table}`);
        if (attempt > 0) await sleep(Math.min(1000, 50 * 2 ** attempt));
        const { UnprocessedItems } = await this.call((c) =>
          c.send(new BatchWriteItemCommand({ RequestItems: { [this.options.table]: requests } })),
        );
        requests = UnprocessedItems?.[this.options.table] ?? [];
      }
    }
  }
}

/** `SET #a = :a, ...` for every attribute of `item`. */
function set(item: Item): {
  UpdateExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, AttributeValue>;
} {
  const names = Object.keys(item);
  return {
    UpdateExpression: `SET ${names.map((n) => `#${n} = :${n}`).join(", ")}`,
    ExpressionAttributeNames: Object.fromEntries(names.map((n) => [`#${n}`, n])),
    ExpressionAttributeValues: Object.fromEntries(names.map((n) => [`:${n}`, item[n]!])),
  };
}

function toRun(target: string, item: Item): RunRecord {
  const { pk: _pk, sk: _sk, type: _type, ttl: _ttl, abandonedAt, abandonedBy, abandonedByToken, ...fields } = unmarshal(item);
  return {
    ...(fields as unknown as Omit<RunRecord, "target">),
    target,
    ...(abandonedAt ? { abandoned: { at: String(abandonedAt), by: String(abandonedBy ?? ""), token: Number(abandonedByToken ?? 0) } } : {}),
  };
}

function toRevision(item: Item): RevisionRecord {
  const { pk: _pk, sk: _sk, type: _type, ttl: _ttl, lockRetries, ...fields } = unmarshal(item);
  // Empty strings and lists are not stored; they come back as such. Items written before lock
  // retries were recorded have none.
  const defaults = { message: "", file: "", checksum: "", skipped: [] };
  return { ...defaults, ...fields, ...(typeof lockRetries === "string" ? { lockRetries: JSON.parse(lockRetries) as RevisionRecord["lockRetries"] } : {}) } as unknown as RevisionRecord;
}
