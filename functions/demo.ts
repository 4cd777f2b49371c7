// `npm start`: the deploy as it runs in AWS, on the local stack. The RDS Data API endpoint in
// front of an in-memory PGlite and dynalite with the lock table stand in for Aurora and DynamoDB;
// the handlers are the ones the runner Lambda exports, over migrations/ bundled as the construct
// bundles them. First CloudFormation's Create of the deploy hook (onEvent, then isComplete polls,
// as the CDK Provider framework drives them), then the manual `{"command": "status"}` invoke.
import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import type { Context as LambdaContext } from "aws-lambda";
import { startLocalDynamo } from "../lib/local/dynamodb-local.ts";
import { startLocalStack } from "../lib/local/local-stack.ts";
import { importBundle } from "../lib/revision/bundle.ts";
import { DirectorySource } from "../lib/revision/loader.ts";
import { GraphFormat } from "../lib/revision/render.ts";
import { graph } from "../lib/runner/graph.ts";
import { createDynamoClient } from "../lib/state/dynamo-client.ts";
import { createLockTable } from "../lib/state/dynamo-table.ts";
import { ENV, ON_ROLLBACK, PROPERTIES, RESOURCE_TYPE } from "./constants.ts";
import type { DeployEvent } from "./deploy-hook.ts";
import { createHandlers } from "./handlers.ts";
import { provide } from "./provider-protocol.ts";

const directory = process.argv[2] ?? "migrations";
const CLUSTER = "arn:aws:rds:us-east-1:000000000000:cluster:local";
const STACK = "arn:aws:cloudformation:us-east-1:000000000000:stack/retort-local/00000000-0000-0000-0000-000000000000";

function context(): LambdaContext {
  const deadline = Date.now() + 15 * 60_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "retort-local",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:retort-local",
    memoryLimitInMB: "512",
    awsRequestId: randomUUID(),
    logGroupName: "/aws/lambda/retort-local",
    logStreamName: "local",
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

// The embedded database persists in .retort/local, so a second `npm start` finds nothing to do.
const stack = await startLocalStack({ db: process.env["RETORT_DB"] ?? "pglite://" });
const dynamo = await startLocalDynamo();
try {
  Object.assign(process.env, {
    AWS_REGION: process.env["AWS_REGION"] ?? "us-east-1",
    AWS_ACCESS_KEY_ID: process.env["AWS_ACCESS_KEY_ID"] ?? "local",
    AWS_SECRET_ACCESS_KEY: process.env["AWS_SECRET_ACCESS_KEY"] ?? "local",
    AWS_ENDPOINT_URL_RDS_DATA: stack.url,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
  });
  const client = createDynamoClient();
  await createLockTable(client, "retort-local");
  client.destroy();
  const env = {
    ...process.env,
    [ENV.clusterArn]: CLUSTER,
    [ENV.secretArn]: "arn:aws:secretsmanager:us-east-1:000000000000:secret:local-AbCdEf",
    [ENV.database]: "postgres",
    [ENV.table]: "retort-local",
  };
  const handlers = createHandlers({
    migrations: await importBundle(directory),
    env: () => env,
    logger: new Logger({ serviceName: "retort", logLevel: "WARN" }),
  });
  const manifestHash = (await handlers.manual({ command: "check" }, context())) as { bundle: { hash: string } };
  const event = {
    RequestType: "Create",
    ServiceToken: "arn:aws:lambda:us-east-1:000000000000:function:retort-local-provider",
    ResponseURL: "https://cloudformation-custom-resource-response.local/",
    StackId: STACK,
    RequestId: randomUUID(),
    LogicalResourceId: "MigrationsDeployHook",
    ResourceType: RESOURCE_TYPE,
    ResourceProperties: {
      ServiceToken: "arn:aws:lambda:us-east-1:000000000000:function:retort-local-provider",
      [PROPERTIES.manifestHash]: manifestHash.bundle.hash,
      [PROPERTIES.onRollback]: ON_ROLLBACK.keep,
    },
  } as DeployEvent;

  console.log(`$ CloudFormation Create ${RESOURCE_TYPE} (deploy hook: onEvent, then isComplete polls) on ${stack.database}`);
  const { response, polls } = await provide(handlers, event, { context });
  console.log(JSON.stringify({ ...response, polls }, null, 2));
  console.log("");
  console.log(`$ aws lambda invoke --payload '{"command": "status"}'`);
  console.log(JSON.stringify(await handlers.manual({ command: "status" }, context()), null, 2));
  console.log("");
  console.log("$ retort graph");
  console.log((await graph({ source: new DirectorySource(directory) }, GraphFormat.Mermaid)).text);
  process.exitCode = response.Status === "SUCCESS" ? 0 : 1;
} finally {
  await stack.close();
  await dynamo.close();
}
