// MigrationFleet's template, asserted resource by resource: the fleet-step function on the runner's
// bundle, IAM scoped to the clusters and secrets the targets name (plus clusterArns/secretArns),
// the lock table and the targets' source, nothing on "*"; the state machine's shape, inline or with
// a Distributed Map and its work bucket (S3 grants on the fleet's prefix alone); the deploy hook
// after the runner's; cdk-nag with nothing unacknowledged; and props refused by name.
import { App, CfnParameter, Duration, Stack, Validations } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { ENV, FLEET_PROPERTIES, FLEET_RESOURCE_TYPE, HANDLERS, RESOURCE_TYPE } from "../../functions/constants.ts";
import { distributedState, FLEET_STATES } from "../../infra/fleet-state-machine.ts";
import { MigrationFleet, type MigrationFleetProps, MigrationRunner } from "../../infra/migration-runner.ts";

const CLUSTER = "arn:aws:rds:eu-west-1:123456789012:cluster:app";
const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf";
const TENANTS_CLUSTER = "arn:aws:rds:eu-west-1:123456789012:cluster:tenants";
const TENANTS_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenants-db-XyZ123";
const url = (cluster: string, secret: string, database: string) => `data-api://${cluster}?secret=${secret}&database=${database}`;

const TARGETS = [
  { name: "tenant_01", db: url(TENANTS_CLUSTER, TENANTS_SECRET, "saas"), schema: "tenant_01" },
  { name: "tenant_02", db: url(TENANTS_CLUSTER, TENANTS_SECRET, "saas"), schema: "tenant_02" },
  { name: "reporting", db: url(CLUSTER, SECRET, "reporting") },
];

function build(fleet: (stack: Stack) => Omit<MigrationFleetProps, "runner">, options: { nag?: boolean } = {}) {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Test", { env: { account: "123456789012", region: "eu-west-1" } });
  const runner = new MigrationRunner(stack, "Migrations", {
    clusterArn: CLUSTER,
    secret: Secret.fromSecretCompleteArn(stack, "Secret", SECRET),
    databaseName: "app",
    migrationsDirectory: "migrations",
  });
  const construct = new MigrationFleet(stack, "Fleet", { runner, ...fleet(stack) });
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, runner, fleet: construct, template: Template.fromStack(stack) };
}

const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => stack.resolve(stack.getLogicalId(construct.node.defaultChild as never)) as string;

interface Definition {
  StartAt: string;
  States: Record<string, Record<string, any>>;
}

/** The fleet state machine's definition, a token as <LogicalId> or <LogicalId.Attribute>. */
function definitionOf(template: Template): Definition {
  const [machine] = Object.entries(template.findResources("AWS::StepFunctions::StateMachine")).filter(([id]) => id.startsWith("FleetStateMachine"));
  const body = machine![1]["Properties"]["DefinitionString"] as { "Fn::Join": [string, unknown[]] };
  const token = (p: unknown) => {
    const fn = p as { Ref?: string; "Fn::GetAtt"?: string[] };
    return typeof p === "string" ? p : `<${fn.Ref ?? fn["Fn::GetAtt"]!.join(".")}>`;
  };
  return JSON.parse(body["Fn::Join"][1].map(token).join("")) as Definition;
}

/** The statements of a role's policies (its default policy and any other attached to it). */
function statementsOf(template: Template, roleId: string): { Action: string | string[]; Resource: unknown; Sid?: string }[] {
  return Object.values(template.findResources("AWS::IAM::Policy"))
    .filter((p) => (p["Properties"]["Roles"] as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => p["Properties"]["PolicyDocument"]["Statement"]);
}

describe("a fleet over the construct's targets", () => {
  const { stack, runner, fleet, template } = build(() => ({ targets: TARGETS }));
  const roleId = logicalId(stack, fleet.role);

  it("runs the fleet step on the runner's bundle, with the runner's settings and its own role", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      Handler: `index.${HANDLERS.fleetStep}`,
      Role: { "Fn::GetAtt": [roleId, "Arn"] },
      Environment: {
        Variables: Match.objectEquals({
          [ENV.table]: { Ref: logicalId(stack, runner.table as dynamodb.Table) },
          [ENV.fleetLockWait]: "600",
          [ENV.serviceName]: "retort",
          [ENV.logLevel]: "INFO",
        }),
      },
    });
  });

  it("may use the Data API on the targets' clusters and their secrets alone, the lock table, and nothing on *", () => {
    const statements = statementsOf(template, roleId);
    const bySid = Object.fromEntries(statements.filter((s) => s.Sid).map((s) => [s.Sid, s]));
    expect(bySid["DataApi"]).toMatchObject({
      Action: ["rds-data:ExecuteStatement", "rds-data:BeginTransaction", "rds-data:CommitTransaction", "rds-data:RollbackTransaction"],
      Resource: [TENANTS_CLUSTER, CLUSTER],
    });
    expect(bySid["DatabaseSecrets"]).toMatchObject({ Action: "secretsmanager:GetSecretValue", Resource: [TENANTS_SECRET, SECRET] });
    expect(bySid["LockAndHistory"]).toMatchObject({ Resource: { "Fn::GetAtt": [logicalId(stack, runner.table as dynamodb.Table), "Arn"] } });
    expect(statements.map((s) => s.Sid ?? (s.Action as string[]).join(","))).toEqual([
      "DataApi",
      "DatabaseSecrets",
      "LockAndHistory",
      "logs:CreateLogStream,logs:PutLogEvents",
    ]);
    expect(JSON.stringify(statements)).not.toContain('"*"');
    // The runner's own role is unchanged: its one cluster and secret.
    const runnerData = statementsOf(template, logicalId(stack, runner.role)).find((s) => s.Sid === "DataApi");
    expect(runnerData?.Resource).toBe(CLUSTER);
  });

  it("is a Standard state machine: ReadTargets, a Map of UpgradeTarget loops at most 4 at once, Summarize, a verdict", () => {
    const definition = definitionOf(template);
    expect(definition.StartAt).toBe(FLEET_STATES.readTargets);
    expect(Object.keys(definition.States).sort()).toEqual(
      [FLEET_STATES.readTargets, FLEET_STATES.upgradeTargets, FLEET_STATES.summarize, FLEET_STATES.withinTolerance, FLEET_STATES.succeeded, FLEET_STATES.failed, FLEET_STATES.stepFailed].sort(),
    );
    expect(definition.States[FLEET_STATES.readTargets]!["Parameters"]).toEqual({ step: "read-targets", source: { targets: TARGETS } });
    const map = definition.States[FLEET_STATES.upgradeTargets]!;
    expect(map).toMatchObject({ Type: "Map", ItemsPath: "$.read.targets", MaxConcurrency: 4, ItemProcessor: { ProcessorConfig: { Mode: "INLINE" } } });
    expect(Object.keys(map["ItemProcessor"]["States"]).sort()).toEqual(
      [FLEET_STATES.upgradeTarget, FLEET_STATES.targetDone, FLEET_STATES.continueTarget, FLEET_STATES.targetResult, FLEET_STATES.targetFailed].sort(),
    );
    expect(definition.States[FLEET_STATES.summarize]!["Parameters"]).toMatchObject({ toleratedFailurePercentage: 0 });
    template.hasResourceProperties("AWS::StepFunctions::StateMachine", {
      DefinitionString: Match.anyValue(),
      LoggingConfiguration: { Level: "ALL", IncludeExecutionData: true },
    });
  });

  it('starts the fleet on deploy after the runner\'s hook, and waits for it ("wait", the default)', () => {
    const hooks = template.findResources(FLEET_RESOURCE_TYPE);
    const [[, hook]] = Object.entries(hooks) as [string, { Properties: Record<string, unknown>; DependsOn: string[] }][];
    expect(hook!.Properties).toMatchObject({ [FLEET_PROPERTIES.onDeploy]: "wait", [FLEET_PROPERTIES.manifestHash]: runner.manifestHash });
    expect(hook!.Properties[FLEET_PROPERTIES.targets]).toMatch(/^[0-9a-f]{64}$/);
    const [runnerHook] = Object.keys(template.findResources(RESOURCE_TYPE));
    expect(hook!.DependsOn).toContain(runnerHook);
    // The hook's own role: start this state machine, read its executions; nothing else.
    const deployRole = logicalId(stack, fleet.node.findChild("DeployRole") as never);
    const statements = statementsOf(template, deployRole);
    expect(statements.filter((s) => s.Sid).map((s) => [s.Sid, s.Action])).toEqual([
      ["StartFleet", "states:StartExecution"],
      ["ReadFleetExecutions", "states:DescribeExecution"],
    ]);
    expect(JSON.stringify(statements)).not.toContain('"*"');
    template.hasOutput("*", { Value: { "Fn::GetAtt": [Match.stringLikeRegexp("^FleetDeployHook"), "ExecutionArn"] } });
  });
});

describe("targets naming this app's resources (tokens)", () => {
  it("are checked with stand-ins and granted by reference", () => {
    const tokenTargets = (stack: Stack, schema = "tenant_01") => {
      const cluster = new CfnParameter(stack, "ClusterName", { type: "String" });
      const secret = new Secret(stack, "TenantsSecret");
      return [{ name: "t", db: `data-api://arn:aws:rds:eu-west-1:123456789012:cluster:${cluster.valueAsString}?secret=${secret.secretArn}&database=saas`, schema }];
    };
    const { stack, fleet, template } = build((s) => ({ targets: tokenTargets(s) }));
    const bySid = Object.fromEntries(statementsOf(template, logicalId(stack, fleet.role)).filter((s) => s.Sid).map((s) => [s.Sid, s]));
    expect(bySid["DataApi"]!.Resource).toEqual({ "Fn::Join": ["", ["arn:aws:rds:eu-west-1:123456789012:cluster:", { Ref: "ClusterName" }]] });
    expect(bySid["DatabaseSecrets"]!.Resource).toEqual({ Ref: expect.stringMatching(/^TenantsSecret/) });
    expect(() => build((s) => ({ targets: tokenTargets(s, "x".repeat(64)) }))).toThrow(/props\.targets: target 1 \("t"\): "schema": /);
  });
});

describe("targets read at run time", () => {
  it("from a DynamoDB table: Scan on that table, the Data API on clusterArns, GetSecretValue on secretArns", () => {
    const { stack, fleet, template } = build((s) => ({
      targetsTable: new dynamodb.Table(s, "Tenants", { partitionKey: { name: "name", type: dynamodb.AttributeType.STRING } }),
      clusterArns: [TENANTS_CLUSTER],
      secretArns: ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenants-db"],
      onDeploy: "none",
    }));
    const statements = statementsOf(template, logicalId(stack, fleet.role));
    const bySid = Object.fromEntries(statements.filter((s) => s.Sid).map((s) => [s.Sid, s]));
    expect(bySid["DataApi"]!.Resource).toBe(TENANTS_CLUSTER);
    // A partial ARN: the six characters Secrets Manager adds are left open, nothing more.
    expect(bySid["DatabaseSecrets"]!.Resource).toBe("arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenants-db-??????");
    expect(bySid["TargetsTable"]).toMatchObject({ Action: "dynamodb:Scan", Resource: { "Fn::GetAtt": [expect.stringMatching(/^Tenants/), "Arn"] } });
    expect(Object.keys(template.findResources(FLEET_RESOURCE_TYPE))).toEqual([]);
  });

  it("from an S3 object: GetObject on that one object", () => {
    const { stack, fleet, template } = build((s) => ({
      targetsObject: { bucket: s3.Bucket.fromBucketName(s, "Bucket", "fleet-config"), key: "prod/targets.json" },
      clusterArns: [TENANTS_CLUSTER],
      secretArns: [TENANTS_SECRET],
      onDeploy: "start",
    }));
    const statements = statementsOf(template, logicalId(stack, fleet.role));
    expect(statements.find((s) => s.Sid === "TargetsObject")).toMatchObject({
      Action: "s3:GetObject",
      Resource: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":s3:::fleet-config/prod/targets.json"]] },
    });
    template.hasResourceProperties(FLEET_RESOURCE_TYPE, { [FLEET_PROPERTIES.onDeploy]: "start" });
  });
});

describe("a Distributed Map", () => {
  const itemStates = [FLEET_STATES.upgradeTarget, FLEET_STATES.targetDone, FLEET_STATES.continueTarget, FLEET_STATES.targetResult, FLEET_STATES.targetFailed];

  it('mapMode "distributed": ReadTargets writes the list to the work bucket, the Map reads it and exports its results there, Summarize reads them', () => {
    const { stack, fleet, template } = build(() => ({ targets: TARGETS, mapMode: "distributed", maxConcurrency: 500 }));
    const bucket = logicalId(stack, fleet.workBucket as s3.Bucket);
    const work = { bucket: `<${bucket}>`, "executionName.$": "$$.Execution.Name" };
    const definition = definitionOf(template);
    expect(Object.keys(definition.States).sort()).toEqual(
      [FLEET_STATES.readTargets, FLEET_STATES.distributedUpgradeTargets, FLEET_STATES.summarize, FLEET_STATES.withinTolerance, FLEET_STATES.succeeded, FLEET_STATES.failed, FLEET_STATES.stepFailed].sort(),
    );
    // No inlineLimit: the list always goes to the bucket.
    expect(definition.States[FLEET_STATES.readTargets]!["Parameters"]).toEqual({ step: "read-targets", source: { targets: TARGETS }, work });
    const map = definition.States[FLEET_STATES.distributedUpgradeTargets]!;
    expect(map).toMatchObject({
      Type: "Map",
      MaxConcurrency: 500,
      ToleratedFailurePercentage: 100,
      ItemSelector: { "target.$": "$$.Map.Item.Value", "input.$": "$$.Execution.Input", progress: {} },
      ItemReader: {
        Resource: "arn:<AWS::Partition>:states:::s3:getObject",
        ReaderConfig: { InputType: "JSON" },
        Parameters: { Bucket: `<${bucket}>`, "Key.$": "$.read.itemsObject.key" },
      },
      ResultWriter: { Resource: "arn:<AWS::Partition>:states:::s3:putObject", Parameters: { Bucket: `<${bucket}>`, "Prefix.$": "$.read.resultsPrefix" } },
      ItemProcessor: { ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" }, StartAt: distributedState(FLEET_STATES.upgradeTarget) },
      ResultPath: "$.results",
      Next: FLEET_STATES.summarize,
    });
    expect(map).not.toHaveProperty("ItemsPath");
    expect(Object.keys(map["ItemProcessor"]["States"]).sort()).toEqual(itemStates.map(distributedState).sort());
    expect(definition.States[FLEET_STATES.summarize]!["Parameters"]).toEqual({
      step: "summarize",
      "results.$": "$.results",
      toleratedFailurePercentage: 0,
      "startedAt.$": "$$.Execution.StartTime",
      work,
    });
  });

  it('mapMode "auto" over a run-time source: ManyTargets? sends ReadTargets\' answer to either Map, the inline one at most 40 at once', () => {
    const { template } = build((s) => ({
      targetsTable: dynamodb.Table.fromTableName(s, "Tenants", "tenants"),
      clusterArns: [TENANTS_CLUSTER],
      secretArns: [TENANTS_SECRET],
      maxConcurrency: 100,
    }));
    const definition = definitionOf(template);
    expect(definition.States[FLEET_STATES.readTargets]!).toMatchObject({ Next: FLEET_STATES.manyTargets, Parameters: { work: { inlineLimit: 200 } } });
    expect(definition.States[FLEET_STATES.manyTargets]).toEqual({
      Type: "Choice",
      Choices: [{ Variable: "$.read.mode", StringEquals: "distributed", Next: FLEET_STATES.distributedUpgradeTargets }],
      Default: FLEET_STATES.upgradeTargets,
    });
    expect(definition.States[FLEET_STATES.upgradeTargets]).toMatchObject({ ItemsPath: "$.read.targets", MaxConcurrency: 40, Next: FLEET_STATES.summarize });
    expect(definition.States[FLEET_STATES.distributedUpgradeTargets]).toMatchObject({ MaxConcurrency: 100, Next: FLEET_STATES.summarize });
    // The same item states in both, the Distributed Map's prefixed (a state machine's names are unique).
    expect(Object.keys(definition.States[FLEET_STATES.upgradeTargets]!["ItemProcessor"]["States"]).sort()).toEqual([...itemStates].sort());
  });

  it('mapMode "auto" over listed targets decides now: inline, with no bucket, up to inlineLimit; distributed past it', () => {
    const inline = build(() => ({ targets: TARGETS }));
    expect(inline.fleet.workBucket).toBeUndefined();
    inline.template.resourceCountIs("AWS::S3::Bucket", 0);
    expect(Object.keys(definitionOf(inline.template).States)).not.toContain(FLEET_STATES.manyTargets);
    const distributed = build(() => ({ targets: TARGETS, inlineLimit: 2 }));
    distributed.template.resourceCountIs("AWS::S3::Bucket", 1);
    const states = definitionOf(distributed.template).States;
    expect(Object.keys(states)).toContain(FLEET_STATES.distributedUpgradeTargets);
    expect(Object.keys(states)).not.toContain(FLEET_STATES.upgradeTargets);
  });

  it("has a private, encrypted, SSL-only work bucket whose objects expire, retained; the roles may use its retort-fleet/ prefix alone", () => {
    const { stack, fleet, template } = build(() => ({ targets: TARGETS, mapMode: "distributed" }));
    const bucket = logicalId(stack, fleet.workBucket as s3.Bucket);
    template.hasResource("AWS::S3::Bucket", {
      Properties: {
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 30, Status: "Enabled" })] },
      },
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: { Statement: [Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } })] },
    });
    const prefix = { "Fn::Join": ["", [{ "Fn::GetAtt": [bucket, "Arn"] }, "/retort-fleet/*"]] };
    const fleetStatements = statementsOf(template, logicalId(stack, fleet.role));
    expect(fleetStatements.filter((st) => [st.Action].flat().some((a) => a.startsWith("s3:")))).toEqual([
      { Sid: "WorkObjects", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject"], Resource: prefix },
    ]);
    expect(JSON.stringify(fleetStatements)).not.toContain('"*"');
    // The state machine's ItemReader and ResultWriter: the same prefix, not CDK's whole-bucket grant.
    const machineStatements = statementsOf(template, logicalId(stack, fleet.stateMachine.role as iam.Role));
    const s3Statements = machineStatements.filter((st) => [st.Action].flat().some((a) => a.startsWith("s3:")));
    expect(s3Statements.map((st) => st.Resource)).toEqual([prefix, prefix]);
    expect(s3Statements.flatMap((st) => [st.Action].flat()).sort()).toEqual(
      ["s3:AbortMultipartUpload", "s3:GetObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"].sort(),
    );
    // The child executions: started, described, stopped and redriven; executions of this state machine only.
    const children = machineStatements.filter((st) => [st.Action].flat().some((a) => a.startsWith("states:")));
    expect(children.flatMap((st) => [st.Action].flat()).sort()).toEqual(
      ["states:DescribeExecution", "states:RedriveExecution", "states:StartExecution", "states:StopExecution"].sort(),
    );
    expect(JSON.stringify(children)).toContain(logicalId(stack, fleet.stateMachine));
  });

  it("uses a bucket given as workBucket, granted on its retort-fleet/ prefix", () => {
    const { stack, fleet, template } = build((s) => ({ targets: TARGETS, mapMode: "distributed", workBucket: s3.Bucket.fromBucketName(s, "Work", "my-fleet-work") }));
    template.resourceCountIs("AWS::S3::Bucket", 0);
    expect(fleet.workBucket?.bucketName).toBe("my-fleet-work");
    const work = statementsOf(template, logicalId(stack, fleet.role)).find((st) => st.Sid === "WorkObjects");
    expect(work?.Resource).toEqual({ "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":s3:::my-fleet-work/retort-fleet/*"]] });
  });
});

describe("props", () => {
  it("are refused by name", () => {
    expect(() => build(() => ({}))).toThrow("MigrationFleet: give exactly one of props.targets, props.targetsTable and props.targetsObject");
    expect(() => build((s) => ({ targets: TARGETS, targetsTable: dynamodb.Table.fromTableName(s, "T", "t") }))).toThrow(/, not targets and targetsTable$/);
    expect(() => build((s) => ({ targetsTable: dynamodb.Table.fromTableName(s, "T", "t") }))).toThrow(/props\.clusterArns must name the clusters/);
    expect(() => build(() => ({ targets: [{ name: "a", db: "postgres://localhost/app" }] }))).toThrow(
      /^MigrationFleet: props\.targets: target 1 \("a"\): "db" must be a data-api:\/\//,
    );
    expect(() => build(() => ({ targets: [TARGETS[0]!, TARGETS[0]!] }))).toThrow('props.targets: targets 1 and 2 are both named "tenant_01"');
    expect(() => build(() => ({ targets: [{ ...TARGETS[0]!, owner: "x" } as never] }))).toThrow('props.targets: target 1 has "owner", which a target does not take');
    expect(() => build(() => ({ targets: TARGETS, maxConcurrency: 0 }))).toThrow(/props\.maxConcurrency must be a whole number from 1 to 40/);
    expect(() => build(() => ({ targets: TARGETS, mapMode: "inline", maxConcurrency: 41 }))).toThrow(
      "props.maxConcurrency must be a whole number from 1 to 40 (an inline Map runs at most 40 at once), not 41",
    );
    expect(() => build(() => ({ targets: TARGETS, maxConcurrency: 41 }))).toThrow(/\(an inline Map runs at most 40 at once; mapMode "auto" chose one for the 3 target\(s\)\), not 41$/);
    expect(() => build(() => ({ targets: TARGETS, mapMode: "distributed", maxConcurrency: 10_001 }))).toThrow(
      "props.maxConcurrency must be a whole number from 1 to 10000 (a Distributed Map runs at most 10,000 child executions at once), not 10001",
    );
    expect(() => build(() => ({ targets: TARGETS, mapMode: "parallel" as never }))).toThrow('props.mapMode must be "inline", "distributed" or "auto", not "parallel"');
    for (const inlineLimit of [0, 2.5, 401]) {
      expect(() => build(() => ({ targets: TARGETS, inlineLimit }))).toThrow(new RegExp(`props\\.inlineLimit must be a whole number from 1 to 400 .*, not ${inlineLimit}$`));
    }
    expect(() => build(() => ({ targets: TARGETS, mapMode: "inline", inlineLimit: 50 }))).toThrow('props.inlineLimit is for mapMode "auto" only, not "inline"');
    expect(() => build(() => ({ targets: TARGETS, toleratedFailurePercentage: 120 }))).toThrow(/props\.toleratedFailurePercentage must be from 0 to 100/);
    expect(() => build(() => ({ targets: TARGETS, onDeploy: "later" as never }))).toThrow(/props\.onDeploy must be "wait", "start" or "none"/);
    expect(() => build(() => ({ targets: TARGETS, deployTimeout: Duration.hours(2) }))).toThrow(/props\.deployTimeout must be at most 1 hour .* not 7200 s/);
    expect(() => build(() => ({ targets: TARGETS, deployTimeout: Duration.seconds(100), deployPollInterval: Duration.seconds(30) }))).toThrow(
      /whole number of props\.deployPollInterval \(30 s\), not 100 s/,
    );
  });
});

describe("cdk-nag", () => {
  it("AwsSolutions finds nothing unacknowledged on a fleet of each source, inline, auto and distributed", { timeout: 300_000 }, () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const env = { account: "123456789012", region: "eu-west-1" };
    const sources: Record<string, (stack: Stack) => Omit<MigrationFleetProps, "runner">> = {
      Listed: () => ({ targets: TARGETS }),
      Table: (s) => ({
        targetsTable: dynamodb.Table.fromTableName(s, "Tenants", "tenants"),
        clusterArns: [TENANTS_CLUSTER],
        // A partial ARN (its six characters left open).
        secretArns: ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenants-db"],
        onDeploy: "start",
      }),
      Object: (s) => ({
        targetsObject: { bucket: s3.Bucket.fromBucketName(s, "Bucket", "fleet-config"), key: "targets.json" },
        clusterArns: [TENANTS_CLUSTER],
        secretArns: [TENANTS_SECRET],
        onDeploy: "none",
      }),
      // A Distributed Map over listed targets, its work objects in a bucket of the user's.
      Distributed: (s) => ({ targets: TARGETS, mapMode: "distributed", workBucket: s3.Bucket.fromBucketName(s, "Work", "my-fleet-work") }),
    };
    for (const [name, fleet] of Object.entries(sources)) {
      // One stack with its account and region unknown until deploy (tokens in the ARNs).
      const stack = new Stack(app, name, name === "Table" ? {} : { env });
      const runner = new MigrationRunner(stack, "Migrations", {
        clusterArn: CLUSTER,
        secret: Secret.fromSecretCompleteArn(stack, "Secret", SECRET),
        databaseName: "app",
        migrationsDirectory: "migrations",
      });
      new MigrationFleet(stack, "Fleet", { runner, ...fleet(stack) });
    }
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // A finding without an acknowledgement interrupts synthesis with the report.
    expect(app.synth().stacks.map((s) => s.stackName).sort()).toEqual(["Distributed", "Listed", "Object", "Table"]);
  });
});
