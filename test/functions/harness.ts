// The local AWS the handler tests run against: the RDS Data API endpoint in front of a scratch
// database on the embedded PostgreSQL server, dynalite with retort's lock table, the SDK's own
// endpoint variables pointing at both, Lambda contexts, CloudFormation custom-resource events as
// CloudFormation sends them, and the CDK Provider framework's onEvent/isComplete protocol (its
// Reason formatting included, so the 4 KB limit is tested on what CloudFormation would receive).
import { randomUUID } from "node:crypto";
import type { Context as LambdaContext } from "aws-lambda";
import { Logger } from "@aws-lambda-powertools/logger";
import { ON_ROLLBACK, PROPERTIES, RESOURCE_TYPE, ENV } from "../../functions/constants.ts";
import { createHandlers, type HandlerOptions, type Handlers } from "../../functions/handlers.ts";
import type { DeployEvent } from "../../functions/deploy-hook.ts";
import { provide as provideWith, RESPONSE_LIMIT } from "../../functions/provider-protocol.ts";
import { startDataApiEndpoint, type DataApiEndpoint } from "../../lib/local/data-api-endpoint.ts";
import { startLocalDynamo, type LocalDynamo } from "../../lib/local/dynamodb-local.ts";
import { checksum } from "../../lib/revision/loader.ts";
import { type BundledMigration, manifestHash } from "../../lib/revision/bundle.ts";
import { type MigrationDefinition } from "../../lib/revision/migration.ts";
import { PgExecutor } from "../../lib/sql/pg-executor.ts";
import { createDynamoClient } from "../../lib/state/dynamo-client.ts";
import { DynamoLock } from "../../lib/state/dynamo-lock.ts";
import { createLockTable } from "../../lib/state/dynamo-table.ts";
import { ARNS } from "../local/harness.ts";
import { createTestDatabase } from "../support/postgres.ts";

export const TABLE = "retort-test-locks";

export interface LocalAws {
  /** The handlers' environment (what the construct sets). */
  env: Record<string, string>;
  /** The database itself, for assertions. */
  db: PgExecutor;
  /** The DynamoDB lock the handlers use, for assertions. */
  lock: DynamoLock;
  lockKey: string;
  dataApi: DataApiEndpoint;
  dynamo: LocalDynamo;
  /** The heads the version table holds. */
  heads(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A fresh database behind a fresh Data API endpoint, and dynalite with the lock table. A short
 * `statementTimeoutMs` makes the endpoint answer a longer statement with StatementTimeoutException
 * while it runs on, as the Data API does after 45 s.
 */
export async function startLocalAws(options: { statementTimeoutMs?: number } = {}): Promise<LocalAws> {
  const database = await createTestDatabase();
  const db = new PgExecutor(database.url);
  const dataApi = await startDataApiEndpoint({ backend: db, ...ARNS, ...options });
  const dynamo = await startLocalDynamo();
  Object.assign(process.env, {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_ENDPOINT_URL_RDS_DATA: dataApi.url,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
  });
  const client = createDynamoClient();
  await createLockTable(client, TABLE);
  const env = {
    [ENV.clusterArn]: ARNS.resourceArn,
    [ENV.secretArn]: ARNS.secretArn,
    [ENV.database]: database.name,
    [ENV.table]: TABLE,
    [ENV.schema]: "public",
    AWS_ENDPOINT_URL_RDS_DATA: dataApi.url,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
  };
  return {
    env,
    db,
    lock: new DynamoLock({ table: TABLE, client }),
    lockKey: `${ARNS.resourceArn}/${database.name}`,
    dataApi,
    dynamo,
    async heads() {
      const result = await db.query<{ version_num: string }>("SELECT version_num FROM retort_version ORDER BY 1");
      return result.rows.map((r) => r.version_num);
    },
    async close() {
      client.destroy();
      await dataApi.close();
      await dynamo.close();
      await db.close();
      await database.drop();
    },
  };
}

/** A migration as a test writes it; the bundle gives it a file name and a checksum. */
export type TestMigration = Pick<MigrationDefinition, "revision" | "revises" | "upgrade" | "downgrade"> &
  Partial<Pick<MigrationDefinition, "message" | "transactional">>;

/** A migration creating a one-column table (and dropping it on the way down, unless told otherwise). */
export function tableMigration(
  revision: string,
  revises: string | null,
  name: string,
  downgrade?: TestMigration["downgrade"],
): TestMigration {
  return {
    revision,
    revises,
    message: `create ${name}`,
    async upgrade(op) {
      await op.safeCreateTable(name, { columns: [{ name: "id", type: "bigint", primaryKey: true }] });
    },
    downgrade:
      downgrade ??
      (async (op) => {
        await op.safeDropTable(name);
      }),
  };
}

/** Bundled migrations as the generated entry passes them: file, checksum, module. */
export function bundle(defs: readonly TestMigration[]): BundledMigration[] {
  return defs.map((d, i) => {
    const file = `migrations/202601${String(i + 1).padStart(2, "0")}_m_${d.revision}.ts`;
    const definition = { message: `migration ${d.revision}`, ...d };
    return {
      file,
      checksum: checksum(`${file}\n${d.upgrade.toString()}\n${d.downgrade.toString()}`),
      module: { default: definition },
    };
  });
}

/** The lines the handlers logged, parsed (Powertools writes one JSON object per line). */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];
  readonly logger: Logger;

  constructor() {
    const capture = this;
    this.logger = new Logger({ serviceName: "retort", logLevel: "DEBUG" });
    // Powertools prints through its own console; route that console's writes here.
    const sink = (text: string) => {
      capture.raw.push(text);
      for (const line of text.split("\n").filter(Boolean)) {
        try {
          capture.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          capture.lines.push({ message: line });
        }
      }
    };
    const console = { log: sink, info: sink, warn: sink, error: sink, debug: sink, trace: sink };
    Object.defineProperty(this.logger, "console", { value: console, configurable: true });
  }

  text(): string {
    return this.raw.join("\n");
  }
}

export function handlersFor(local: LocalAws, migrations: readonly TestMigration[] | readonly BundledMigration[], options: Partial<HandlerOptions> = {}) {
  const first = migrations[0] as Partial<BundledMigration> | undefined;
  // Bundled entries (eager or string) carry their file's checksum; a TestMigration has none.
  const bundled = first && "checksum" in first ? (migrations as BundledMigration[]) : bundle(migrations as TestMigration[]);
  const logs = options.logger ? undefined : new LogCapture();
  const handlers = createHandlers({
    migrations: bundled,
    env: () => local.env,
    ...(logs ? { logger: logs.logger } : {}),
    ...options,
  });
  return { handlers, bundled, hash: manifestHash(bundled), logs: logs! };
}

/** A Lambda context whose clock runs: `budgetMs` from now. */
export function lambdaContext(options: { budgetMs?: number; functionName?: string } = {}): LambdaContext {
  const deadline = Date.now() + (options.budgetMs ?? 15 * 60_000);
  const functionName = options.functionName ?? "retort-runner";
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: "512",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "2026/01/01/[$LATEST]0123456789abcdef",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

export const STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/app/5b3c1a40-0000-11f0-9a1b-0e1f2a3b4c5d";
/** A pre-signed S3 URL, as CloudFormation sends it; its signature must never reach a log. */
export const RESPONSE_URL =
  "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws%3Acloudformation?X-Amz-Signature=deadbeefSECRETsignature";

export interface HookProps {
  manifestHash: string;
  onRollback?: "keep" | "downgrade";
  runnerVersionArn?: string;
}

function resourceProperties(props: HookProps): Record<string, string> {
  return {
    ServiceToken: "arn:aws:lambda:us-east-1:123456789012:function:app-DeployProviderframeworkonEvent",
    [PROPERTIES.manifestHash]: props.manifestHash,
    [PROPERTIES.onRollback]: props.onRollback ?? ON_ROLLBACK.keep,
    ...(props.runnerVersionArn ? { [PROPERTIES.runnerVersion]: props.runnerVersionArn } : {}),
  };
}

const common = () => ({
  ServiceToken: "arn:aws:lambda:us-east-1:123456789012:function:app-DeployProviderframeworkonEvent",
  ResponseURL: RESPONSE_URL,
  StackId: STACK_ID,
  RequestId: randomUUID(),
  LogicalResourceId: "MigrationsDeployHookE1472544",
  ResourceType: RESOURCE_TYPE,
});

export const cfn = {
  create: (props: HookProps): DeployEvent => ({ ...common(), RequestType: "Create", ResourceProperties: resourceProperties(props) }) as DeployEvent,
  update: (physicalId: string, props: HookProps, old: HookProps): DeployEvent =>
    ({
      ...common(),
      RequestType: "Update",
      PhysicalResourceId: physicalId,
      ResourceProperties: resourceProperties(props),
      OldResourceProperties: resourceProperties(old),
    }) as DeployEvent,
  delete: (physicalId: string, props: HookProps): DeployEvent =>
    ({ ...common(), RequestType: "Delete", PhysicalResourceId: physicalId, ResourceProperties: resourceProperties(props) }) as DeployEvent,
};

/** The Provider framework's protocol with a fresh Lambda context per invocation. */
export function provide(
  handlers: Handlers,
  event: DeployEvent,
  options: { context?: () => LambdaContext; maxPolls?: number; pollIntervalMs?: number } = {},
) {
  return provideWith(handlers, event, {
    context: options.context ?? (() => lambdaContext()),
    ...(options.maxPolls ? { maxPolls: options.maxPolls } : {}),
    ...(options.pollIntervalMs ? { pollIntervalMs: options.pollIntervalMs } : {}),
  });
}

export { RESPONSE_LIMIT };

/** aws-local-stepfunctions targets Node 22; Node 20 lacks Promise.withResolvers. */
export function polyfillWithResolvers(): void {
  const P = Promise as unknown as { withResolvers?: () => unknown };
  P.withResolvers ??= function withResolvers<T>() {
    let resolve!: (value: T) => void;
    let reject!: (reason: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
