// MigrationRunner's template, asserted resource by resource (not a snapshot): the functions'
// runtime, architecture and handlers, IAM scoped to the exact ARNs, the table, the custom
// resource's properties, the state machine's states; and props refused with the prop's name.
import { App, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as rds from "aws-cdk-lib/aws-rds";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { describe, expect, it } from "vitest";
import { ENV, PROPERTIES, RESOURCE_TYPE, RUNNER_HANDLERS } from "../../functions/constants.ts";
import { MigrationRunner, type MigrationRunnerProps } from "../../infra/migration-runner.ts";
import { ROLLBACK_STATES } from "../../infra/rollback-state-machine.ts";
import { readManifest } from "../../lib/revision/bundle.ts";

const CLUSTER = "arn:aws:rds:eu-west-1:123456789012:cluster:app";
const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf";

/** A stack with the runner over an existing cluster (ARN + secret); bundling is skipped here. */
function build(
  props: Partial<MigrationRunnerProps> = {},
  extra?: (stack: Stack) => Partial<MigrationRunnerProps>,
  then?: (stack: Stack, runner: MigrationRunner) => void,
) {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Test", { env: { account: "123456789012", region: "eu-west-1" } });
  const runner = new MigrationRunner(stack, "Migrations", {
    clusterArn: CLUSTER,
    secret: Secret.fromSecretCompleteArn(stack, "Secret", SECRET),
    databaseName: "app",
    migrationsDirectory: "migrations",
    ...props,
    ...extra?.(stack),
  });
  then?.(stack, runner);
  return { app, stack, runner, template: Template.fromStack(stack) };
}

/** A state machine's definition text, with its tokens (ARNs) replaced by "ARN". */
function definitionText(resource: { Properties: { DefinitionString: unknown } }): string {
  const body = resource.Properties.DefinitionString as string | { "Fn::Join": [string, unknown[]] };
  return typeof body === "string" ? body : body["Fn::Join"][1].map((p) => (typeof p === "string" ? p : "ARN")).join("");
}

const { stack, runner, template } = build();
const ref = (construct: { node: { defaultChild?: unknown } }) => stack.resolve(stack.getLogicalId(construct.node.defaultChild as never));

describe("the runner functions", () => {
  it("are Node.js 22 on ARM64 with the handlers and environment the runtime reads", () => {
    for (const handler of RUNNER_HANDLERS) {
      template.hasResourceProperties("AWS::Lambda::Function", {
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        Handler: `index.${handler}`,
        Timeout: 900,
        MemorySize: 512,
        Environment: {
          Variables: {
            [ENV.clusterArn]: CLUSTER,
            [ENV.secretArn]: SECRET,
            [ENV.database]: "app",
            [ENV.table]: { Ref: ref(runner.table as dynamodb.Table) },
            [ENV.schema]: "public",
          },
        },
      });
    }
  });

  it("commit each migration on its own only when the construct says so", () => {
    // The runner's own four functions (the Provider framework adds functions of its own).
    const variables = (t: Template) =>
      Object.values(t.findResources("AWS::Lambda::Function"))
        .map((f) => f["Properties"]["Environment"]?.["Variables"] ?? {})
        .filter((v) => v[ENV.clusterArn] !== undefined);
    expect(variables(template).map((v) => v[ENV.transactionPerMigration])).toEqual([undefined, undefined, undefined, undefined]);
    const perMigration = build({ transactionPerMigration: true }).template;
    expect(variables(perMigration).map((v) => v[ENV.transactionPerMigration])).toEqual(["true", "true", "true", "true"]);
    expect(variables(template).map((v) => v[ENV.migrationTimeout])).toEqual([undefined, undefined, undefined, undefined]);
    const limited = build({ migrationTimeout: Duration.minutes(5) }).template;
    expect(variables(limited).map((v) => v[ENV.migrationTimeout])).toEqual(["300", "300", "300", "300"]);
    // The lock timeout: the runner's default (5 s) unless set; 0 turns it off.
    expect(variables(template).map((v) => v[ENV.lockTimeout])).toEqual([undefined, undefined, undefined, undefined]);
    expect(variables(build({ lockTimeout: Duration.seconds(2) }).template).map((v) => v[ENV.lockTimeout])).toEqual(["2000", "2000", "2000", "2000"]);
    expect(variables(build({ lockTimeout: Duration.millis(0) }).template).map((v) => v[ENV.lockTimeout])).toEqual(["0", "0", "0", "0"]);
  });

  it("tell the deploy hook how long it may wait for a held lock: the Provider's total timeout less two polls and a minute", () => {
    const variables = (t: Template) =>
      Object.values(t.findResources("AWS::Lambda::Function"))
        .map((f) => f["Properties"]["Environment"]?.["Variables"] ?? {})
        .filter((v) => v[ENV.clusterArn] !== undefined);
    // Defaults: 1 hour, polled every 10 s.
    expect(new Set(variables(template).map((v) => v[ENV.deployLockWait]))).toEqual(new Set([String(3600 - 20 - 60)]));
    const short = build({ deployTimeout: Duration.minutes(5), deployPollInterval: Duration.seconds(30) }).template;
    expect(new Set(variables(short).map((v) => v[ENV.deployLockWait]))).toEqual(new Set([String(300 - 60 - 60)]));
  });

  it("share one role with no managed policy", () => {
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: "lambda.amazonaws.com" } })] },
      ManagedPolicyArns: Match.absent(),
    });
    const roleRef = { "Fn::GetAtt": [ref(runner.role), "Arn"] };
    expect(Object.values(template.findResources("AWS::Lambda::Function", { Properties: { Role: roleRef } }))).toHaveLength(4);
  });

  it("may use the Data API on the one cluster, the one secret, the one table, their own logs, and nothing else", () => {
    const logs = (name: string) => ({ "Fn::GetAtt": [stack.resolve(stack.getLogicalId(runner.node.findChild(`${name}Logs`).node.defaultChild as never)), "Arn"] });
    template.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: ref(runner.role) }],
      PolicyDocument: {
        Statement: [
          {
            Sid: "DataApi",
            Effect: "Allow",
            Action: [
              "rds-data:ExecuteStatement",
              "rds-data:BeginTransaction",
              "rds-data:CommitTransaction",
              "rds-data:RollbackTransaction",
            ],
            Resource: CLUSTER,
          },
          { Sid: "DatabaseSecret", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: SECRET },
          {
            Sid: "LockAndHistory",
            Effect: "Allow",
            Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchWriteItem"],
            Resource: { "Fn::GetAtt": [ref(runner.table as dynamodb.Table), "Arn"] },
          },
          ...["Runner", "DeployOnEvent", "DeployIsComplete", "RollbackStep"].map((name) => ({
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
            Resource: logs(name),
          })),
        ],
      },
    });
    // No other policy is attached to the runner's role.
    expect(Object.keys(template.findResources("AWS::IAM::Policy", { Properties: { Roles: [{ Ref: ref(runner.role) }] } }))).toHaveLength(1);
  });
});

describe("the lock and history table", () => {
  it("is created on demand, with point-in-time recovery, retained with the stack gone", () => {
    template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: {
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
        AttributeDefinitions: [
          { AttributeName: "pk", AttributeType: "S" },
          { AttributeName: "sk", AttributeType: "S" },
        ],
        BillingMode: "PAY_PER_REQUEST",
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
    });
  });

  it("an existing table is used instead, and only it is granted", () => {
    const existing = "arn:aws:dynamodb:eu-west-1:123456789012:table/shared-locks";
    const { template: t } = build({}, (s) => ({ table: dynamodb.Table.fromTableArn(s, "Shared", existing) }));
    t.resourceCountIs("AWS::DynamoDB::Table", 0);
    t.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: "LockAndHistory", Resource: existing })]) },
    });
    t.hasResourceProperties("AWS::Lambda::Function", { Environment: { Variables: Match.objectLike({ [ENV.table]: "shared-locks" }) } });
  });
});

describe("the deploy hook", () => {
  it("carries the migrations' manifest hash, so a deploy that changes migrations runs it", () => {
    expect(runner.manifestHash).toBe(readManifest("migrations").hash);
    template.hasResourceProperties(RESOURCE_TYPE, {
      ServiceToken: Match.anyValue(),
      [PROPERTIES.manifestHash]: runner.manifestHash,
      [PROPERTIES.onRollback]: "keep",
      [PROPERTIES.runnerVersion]: Match.absent(),
      [PROPERTIES.deployNonce]: Match.absent(),
    });
  });

  it("carries the target (cluster, database, version schema), so pointing the construct elsewhere runs it", () => {
    template.hasResourceProperties(RESOURCE_TYPE, { [PROPERTIES.target]: `${CLUSTER}/app/public` });
    const moved = build({ databaseName: "billing", versionSchema: "ops" });
    moved.template.hasResourceProperties(RESOURCE_TYPE, { [PROPERTIES.target]: `${CLUSTER}/billing/ops`, [PROPERTIES.manifestHash]: runner.manifestHash });
  });

  it("runOnEveryDeploy adds a per-synth nonce; runOnDeploy false removes the resource", () => {
    build({ runOnEveryDeploy: true }).template.hasResourceProperties(RESOURCE_TYPE, { [PROPERTIES.deployNonce]: Match.stringLikeRegexp("^\\d{4}-") });
    build({ runOnDeploy: false }).template.resourceCountIs(RESOURCE_TYPE, 0);
  });

  it("onRollback 'downgrade' records this deploy's runner version and may invoke only the runner's versions", () => {
    const { template: t, runner: r, stack: s } = build({ onRollback: "downgrade" });
    const fn = s.resolve(s.getLogicalId(r.runnerFunction.node.defaultChild as never));
    t.hasResourceProperties(RESOURCE_TYPE, { [PROPERTIES.onRollback]: "downgrade", [PROPERTIES.runnerVersion]: { Ref: Match.stringLikeRegexp("CurrentVersion") } });
    t.hasResourceProperties("AWS::IAM::Policy", {
      PolicyName: Match.stringLikeRegexp("InvokeNewerRunner"),
      PolicyDocument: {
        Statement: [{ Effect: "Allow", Action: "lambda:InvokeFunction", Resource: { "Fn::Join": ["", [{ "Fn::GetAtt": [fn, "Arn"] }, ":*"]] } }],
      },
    });
  });

  it("polls isComplete within the configured total timeout", () => {
    const { template: t } = build({ deployTimeout: Duration.minutes(50), deployPollInterval: Duration.seconds(20) });
    const waiter = Object.entries(t.findResources("AWS::StepFunctions::StateMachine")).find(([id]) => id.includes("waiter"))![1];
    const retry = JSON.parse(definitionText(waiter as never)).States["framework-isComplete-task"].Retry;
    expect(retry).toEqual([expect.objectContaining({ IntervalSeconds: 20, MaxAttempts: 150, BackoffRate: 1 })]);
  });
});

describe("the rollback state machine", () => {
  const machines = template.findResources("AWS::StepFunctions::StateMachine", { Properties: { StateMachineType: "STANDARD", LoggingConfiguration: Match.anyValue() } });
  const rollback = Object.values(machines).find((m) => JSON.stringify(m).includes(ROLLBACK_STATES.downgrade))!;
  const definition = JSON.parse(definitionText(rollback as never)) as { StartAt: string; States: Record<string, Record<string, unknown>> };

  it("is Standard, logs every event, and plans, locks, downgrades one revision at a time and releases", () => {
    expect(rollback["Properties"]["LoggingConfiguration"]).toMatchObject({ Level: "ALL", IncludeExecutionData: true });
    // A missing target fails before any Lambda call, with what to start the execution with.
    expect(definition.StartAt).toBe(ROLLBACK_STATES.checkInput);
    expect(Object.keys(definition.States).sort()).toEqual(
      [
        ROLLBACK_STATES.checkInput,
        ROLLBACK_STATES.invalidInput,
        ROLLBACK_STATES.plan,
        "AnythingToRevert?",
        ROLLBACK_STATES.nothingToRevert,
        ROLLBACK_STATES.acquire,
        ROLLBACK_STATES.downgrade,
        ROLLBACK_STATES.done,
        ROLLBACK_STATES.release,
        ROLLBACK_STATES.releaseAfterFailure,
        ROLLBACK_STATES.succeeded,
        ROLLBACK_STATES.failed,
      ].sort(),
    );
    expect(definition.States[ROLLBACK_STATES.downgrade]).toMatchObject({
      Parameters: { step: "downgrade", "target.$": "$.target", "lease.$": "$.lease", "approved.$": "$.plan.revisions" },
      Catch: [{ ErrorEquals: ["States.ALL"], Next: ROLLBACK_STATES.releaseAfterFailure, ResultPath: "$.error" }],
    });
    expect(definition.States[ROLLBACK_STATES.done]).toMatchObject({ Default: ROLLBACK_STATES.downgrade });
    expect(definition.States[ROLLBACK_STATES.failed]).toMatchObject({ Type: "Fail", CausePath: "$.error.Cause", ErrorPath: "$.error.Error" });
  });

  it("retries Lambda's transient errors on every task", () => {
    for (const [name, state] of Object.entries(definition.States).filter(([, s]) => s["Type"] === "Task")) {
      expect(state["Retry"], name).toEqual([
        expect.objectContaining({
          ErrorEquals: ["Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException"],
          MaxAttempts: 6,
          BackoffRate: 2,
        }),
      ]);
    }
  });

  it("requireApproval adds a task-token wait before the lock is taken", () => {
    const { template: t } = build({ requireApproval: true, approvalTimeout: Duration.hours(4) });
    t.hasResourceProperties("AWS::StepFunctions::StateMachine", {
      DefinitionString: { "Fn::Join": ["", Match.arrayWith([Match.stringLikeRegexp(`"${ROLLBACK_STATES.approval}":\\{"Next":"${ROLLBACK_STATES.acquire}"`)])] },
    });
    t.hasResourceProperties("AWS::StepFunctions::StateMachine", {
      DefinitionString: { "Fn::Join": ["", Match.arrayWith([Match.stringLikeRegexp("lambda:invoke.waitForTaskToken")])] },
    });
  });
});

describe("grants", () => {
  it("grantInvoke, grantStartRollback and grantReadHistory give an operator exactly that", () => {
    let operator!: iam.Role;
    const { stack: s, template: t } = build({}, undefined, (s, r) => {
      operator = new iam.Role(s, "Operator", { assumedBy: new iam.AccountRootPrincipal() });
      r.grantInvoke(operator);
      r.grantStartRollback(operator);
      r.grantReadHistory(operator);
    });
    const operatorPolicy = Object.values(t.findResources("AWS::IAM::Policy", { Properties: { Roles: [{ Ref: s.resolve(s.getLogicalId(operator.node.defaultChild as never)) }] } }));
    const actions = operatorPolicy.flatMap((p) => p["Properties"]["PolicyDocument"]["Statement"]).flatMap((st: { Action: string | string[] }) => st.Action);
    expect(actions).toEqual(
      expect.arrayContaining(["lambda:InvokeFunction", "states:StartExecution", "states:SendTaskSuccess", "states:SendTaskFailure", "dynamodb:Query", "dynamodb:GetItem"]),
    );
    expect(actions).not.toContain("dynamodb:PutItem");
  });
});

describe("props", () => {
  const refused = (props: Partial<MigrationRunnerProps>, message: RegExp, extra?: (stack: Stack) => Partial<MigrationRunnerProps>) =>
    expect(() => build(props, extra)).toThrow(message);

  it("are validated, each error naming the prop", () => {
    refused({ secret: undefined }, /props\.secret is required with props\.clusterArn/);
    refused({ clusterArn: "my-cluster" }, /props\.clusterArn "my-cluster" is not an Aurora cluster ARN/);
    refused({ databaseName: "app; drop" }, /props\.databaseName "app; drop" is not a PostgreSQL database name/);
    refused({ migrationsDirectory: "no/such/dir" }, /props\.migrationsDirectory "no\/such\/dir" is not a directory/);
    refused({ onRollback: "revert" as never }, /props\.onRollback must be 'keep' or 'downgrade', not "revert"/);
    refused({ timeout: Duration.minutes(20) }, /props\.timeout must be from 1 to 15 minutes/);
    refused({ runOnDeploy: false, runOnEveryDeploy: true }, /props\.runOnEveryDeploy needs props\.runOnDeploy/);
    refused({ migrationTimeout: Duration.millis(500) }, /props\.migrationTimeout must be a whole number of seconds, at least 1, not 500 ms/);
    refused({ lockTimeout: Duration.minutes(11) }, /props\.lockTimeout must be a whole number of milliseconds from 0 \(no limit\) to 10 minutes, not 660000 ms/);
    refused(
      { requireApproval: true, approvalTimeout: Duration.hours(24), rollbackTimeout: Duration.hours(6) },
      /props\.rollbackTimeout \(360 minutes\) leaves no time to roll back after the approval's wait \(props\.approvalTimeout, 1440 minutes\).*Raise rollbackTimeout to at least 1456 minutes/,
    );
  });

  it("a deploy's timeout is at most CloudFormation's hour, a whole number of polls, and leaves time to wait for the lock", () => {
    // CloudFormation waits at most an hour for a custom resource (ServiceTimeout 1 to 3600 s); the
    // Provider framework builds a longer waiter without complaint, so the construct refuses it.
    refused({ deployTimeout: Duration.minutes(90) }, /props\.deployTimeout must be a whole number of seconds, at most 1 hour .*not 90 minutes/);
    refused({ deployTimeout: Duration.hours(3) }, /props\.deployTimeout must be a whole number of seconds, at most 1 hour .*not 3 hours/);
    refused({ deployTimeout: Duration.millis(300_500) }, /props\.deployTimeout must be a whole number of seconds, at most 1 hour .*not 300\.5 s/);
    // Step Functions retries isComplete every IntervalSeconds, a positive whole number.
    refused({ deployPollInterval: Duration.millis(1500) }, /props\.deployPollInterval must be a whole number of seconds, at least 1, not 1\.5 s/);
    refused({ deployPollInterval: Duration.millis(500) }, /props\.deployPollInterval must be a whole number of seconds, at least 1, not 0\.5 s/);
    // The Provider framework polls a whole number of times (it throws otherwise, naming neither prop).
    refused(
      { deployPollInterval: Duration.seconds(7) },
      /props\.deployTimeout \(the default, 1 hour\) is not a whole number of props\.deployPollInterval \(7 s\).*Set deployTimeout to 3598 s, or deployPollInterval to a divisor of 3600 s such as 6 s/,
    );
    refused(
      { deployTimeout: Duration.seconds(1000), deployPollInterval: Duration.seconds(30) },
      /props\.deployTimeout \(1000 s\) is not a whole number of props\.deployPollInterval \(30 s\).*Set deployTimeout to 990 s or 1020 s, or deployPollInterval to a divisor of 1000 s such as 25 s/,
    );
    // The lock wait is what is left after two polls and a minute; less than a minute is refused.
    refused(
      { deployTimeout: Duration.minutes(2) },
      /props\.deployTimeout \(2 minutes\) leaves a deploy 40 s to wait for retort's lock.*props\.deployPollInterval \(the default, 10 s\).*Raise deployTimeout to at least 140 s\.$/,
    );
    refused(
      { deployTimeout: Duration.minutes(10), deployPollInterval: Duration.minutes(5) },
      /props\.deployTimeout \(10 minutes\) leaves a deploy no time to wait for retort's lock.*props\.deployPollInterval \(5 minutes\).*Raise deployTimeout to at least 900 s or lower deployPollInterval to at most 200 s/,
    );
    refused(
      { deployTimeout: Duration.hours(1), deployPollInterval: Duration.minutes(30) },
      /props\.deployTimeout \(1 hour\) leaves a deploy no time to wait for retort's lock.*Lower deployPollInterval to at most 1200 s\.$/,
    );
    // The defaults, the limit itself, and the smallest timeout the default poll allows all pass.
    expect(() => build({})).not.toThrow();
    expect(() => build({ deployTimeout: Duration.hours(1), deployPollInterval: Duration.seconds(5) })).not.toThrow();
    expect(() => build({ deployTimeout: Duration.seconds(140) })).not.toThrow();
  });

  it("an approval's wait fits inside the execution: by default the limit is the wait plus 6 hours", () => {
    const limit = (props: Partial<MigrationRunnerProps>) =>
      Object.values(build(props).template.findResources("AWS::StepFunctions::StateMachine"))[0]!["Properties"]["DefinitionString"];
    // The machine's own TimeoutSeconds comes after its states' (each task has one too).
    const seconds = (props: Partial<MigrationRunnerProps>) => [...JSON.stringify(limit(props)).matchAll(/TimeoutSeconds\\":(\d+)/g)].at(-1)?.[1];
    expect(seconds({})).toBe(String(6 * 3600));
    expect(seconds({ requireApproval: true })).toBe(String(30 * 3600));
    expect(seconds({ requireApproval: true, approvalTimeout: Duration.hours(1) })).toBe(String(7 * 3600));
  });

  it("a cluster comes with the Data API enabled, and not together with clusterArn", () => {
    const cluster = (s: Stack, dataApi: boolean) =>
      new rds.DatabaseCluster(s, "Db", {
        engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_6 }),
        vpc: new ec2.Vpc(s, "Vpc", { natGateways: 0, subnetConfiguration: [{ name: "db", subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] }),
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        writer: rds.ClusterInstance.serverlessV2("Writer"),
        enableDataApi: dataApi,
      });
    refused({}, /give props\.cluster or props\.clusterArn, not both/, (s) => ({ cluster: cluster(s, true) }));
    // Checked at synth: enabling the Data API after the construct was made still counts.
    refused({ clusterArn: undefined, secret: undefined }, /\[Test\/Migrations\] MigrationRunner: props\.cluster must have the Data API enabled/, (s) => ({
      cluster: cluster(s, false),
    }));
    const ok = build({ clusterArn: undefined, secret: undefined }, (s) => ({ cluster: cluster(s, true) }));
    ok.template.hasResourceProperties("AWS::RDS::DBCluster", { EnableHttpEndpoint: true });
    ok.template.hasResource(RESOURCE_TYPE, { DependsOn: Match.arrayWith([Match.stringLikeRegexp("DbWriter")]) });
  });
});
