// MigrationFleet: `safe-upgrade` over many targets (databases, or tenant schemas in them) with a
// Step Functions Map, using the MigrationRunner's bundle (the same migrations and handlers) and
// its lock and history table. The targets come from the construct (`targets`) or are read when
// an execution starts (`targetsTable`, `targetsObject`). Its functions have a role of their own:
// the Data API on the clusters the targets name (plus `clusterArns`), the secrets they name (plus
// `secretArns`), the lock table, and the targets' table or object; nothing on "*". On deploy, a
// second custom resource starts the fleet once the runner's own target is upgraded, and by default
// waits for it. Past a few hundred targets the fan-out is a Distributed Map, its targets and
// results objects in a work bucket (the construct's own, or `workBucket`), where the role may
// read and write the fleet's prefix alone. The state machine itself: fleet-state-machine.ts.
import { createHash } from "node:crypto";
import { Arn, ArnFormat, CfnOutput, CustomResource, Duration, RemovalPolicy, Stack, Token, Validations } from "aws-cdk-lib";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as cr from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";
import {
  ENV,
  FLEET_MAP_MODE,
  FLEET_ON_DEPLOY,
  FLEET_PROPERTIES,
  FLEET_RESOURCE_TYPE,
  FLEET_WORK_PREFIX,
  type FleetMapMode,
  type FleetOnDeploy,
  HANDLERS,
} from "../functions/constants.ts";
import { checkFleetTargets, type FleetTarget, targetDatabase, type TargetSource } from "../functions/fleet-targets.ts";
import { FleetDefinition, MAX_CONCURRENCY } from "./fleet-state-machine.ts";
import { DATA_API_ACTIONS, TABLE_ACTIONS } from "./iam-actions.ts";
import type { MigrationRunner } from "./migration-runner.ts";

export type { FleetTarget } from "../functions/fleet-targets.ts";

export interface MigrationFleetProps {
  /** The runner whose migrations (its bundle) and lock and history table the fleet uses. */
  readonly runner: MigrationRunner;
  /**
   * The targets: `{ name, db, schema? }`, `db` a `data-api://<cluster ARN>?secret=<secret ARN>&database=<name>`
   * URL. Give exactly one of targets, targetsTable and targetsObject.
   * @default - none
   */
  readonly targets?: FleetTarget[];
  /**
   * A DynamoDB table whose items are the targets (string attributes name, db and optionally schema;
   * nothing else), read with one Scan when an execution starts.
   * @default - none
   */
  readonly targetsTable?: dynamodb.ITable;
  /** An S3 object holding a JSON array of targets, or { "targets": [...] }, read when an execution starts. @default - none */
  readonly targetsObject?: { bucket: s3.IBucket; key: string };
  /**
   * Clusters the targets may name besides those in `targets`: required with targetsTable or
   * targetsObject, whose targets are known only at run time.
   * @default - the clusters `targets` names
   */
  readonly clusterArns?: string[];
  /** Secrets the targets may name besides those in `targets` (complete ARNs, or partial ones). @default - the secrets `targets` names */
  readonly secretArns?: string[];
  /** Targets upgraded at once: at most 40 in an inline Map, 10,000 in a Distributed Map. @default 4 */
  readonly maxConcurrency?: number;
  /**
   * How the state machine fans out: "inline", a Map whose results travel in the execution's state
   * (up to `inlineLimit` targets, see there); "distributed", a Distributed Map, one child execution
   * per target, its targets and results objects in `workBucket`; "auto", ReadTargets picks by the
   * count (with `targets`, the count known now, the construct picks).
   * @default "auto"
   */
  readonly mapMode?: FleetMapMode;
  /**
   * With mapMode "auto": the most targets an inline Map takes. The state at its largest (after
   * Summarize) holds each target (measured: 259 bytes with Aurora and Secrets Manager ARNs) and its
   * summary line twice, in the Map's results and in the summary (176 bytes upgraded, 434 failed
   * with a typical database message), plus the summary's message (at most 8,000 characters):
   * 200 targets that all fail take about 225 KB of the 256 KiB, the margin for longer names and
   * messages; 200 upgraded ones, about 125 KB. Their history (some ten events per target and
   * invocation) stays far from the 25,000 events allowed.
   * @default 200
   */
  readonly inlineLimit?: number;
  /**
   * With a Distributed Map: where its objects go, under `retort-fleet/<execution name>/`
   * (targets.json, the Map's results, summary.json). Bring one with your own lifecycle rules.
   * @default - a bucket of the construct's (private, S3-managed encryption, SSL only, objects
   * expire after 30 days, retained when the stack is deleted)
   */
  readonly workBucket?: s3.IBucket;
  /**
   * The share of targets (0 to 100 %) that may fail while the execution (and a deploy waiting for it)
   * still succeeds; the failures are in the summary either way.
   * @default 0
   */
  readonly toleratedFailurePercentage?: number;
  /**
   * What a deploy does once the runner's own target is upgraded: "wait" starts the fleet and waits,
   * failing the deploy (naming the failed targets and their errors' codes) when more fail than
   * tolerated; "start" starts it and goes on (the execution's ARN is an output); "none" leaves it
   * to be started by hand.
   * @default "wait"
   */
  readonly onDeploy?: FleetOnDeploy;
  /** Start the fleet on every deploy, not only on deploys that change the migrations or the targets. @default false */
  readonly runOnEveryDeploy?: boolean;
  /**
   * How long a deploy waits for the fleet (onDeploy "wait"): past it the deploy fails, and the
   * execution runs on. At most 1 hour (CloudFormation's limit), a whole number of deployPollInterval.
   * @default Duration.hours(1)
   */
  readonly deployTimeout?: Duration;
  /** How often the deploy checks the execution. @default Duration.seconds(30) */
  readonly deployPollInterval?: Duration;
  /** The longest an execution may run. @default Duration.hours(24) */
  readonly fleetTimeout?: Duration;
  /**
   * How long a target waits while another runner holds its lock (or a statement of an earlier
   * invocation still runs) before it counts as failed.
   * @default Duration.minutes(10)
   */
  readonly lockWait?: Duration;
}

export class MigrationFleet extends Construct {
  /** Start it with `{}`; its output is the summary. */
  readonly stateMachine: sfn.StateMachine;
  /** The fleet-step function (ReadTargets, UpgradeTarget, Summarize). */
  readonly stepFunction: lambda.IFunction;
  /** Its role: the Data API and secrets of the targets, the lock table, the targets' source. */
  readonly role: iam.Role;
  /** The deploy hook starting the fleet; undefined with onDeploy "none". */
  readonly deployHook?: CustomResource;
  /** The Distributed Map's objects (the construct's bucket or props.workBucket); undefined when the fan-out is inline only. */
  readonly workBucket?: s3.IBucket;

  constructor(scope: Construct, id: string, props: MigrationFleetProps) {
    super(scope, id);
    const { runner } = props;
    const fail = (message: string): never => {
      throw new Error(`MigrationFleet: ${message}`);
    };
    const sources = [props.targets && "targets", props.targetsTable && "targetsTable", props.targetsObject && "targetsObject"].filter(Boolean);
    if (sources.length !== 1) {
      fail(`give exactly one of props.targets, props.targetsTable and props.targetsObject${sources.length > 1 ? `, not ${sources.join(" and ")}` : ""}`);
    }
    const requestedMode = props.mapMode ?? FLEET_MAP_MODE.auto;
    if (!Object.values(FLEET_MAP_MODE).includes(requestedMode)) {
      fail(`props.mapMode must be "inline", "distributed" or "auto", not ${JSON.stringify(requestedMode)}`);
    }
    if (props.inlineLimit !== undefined && requestedMode !== FLEET_MAP_MODE.auto) fail(`props.inlineLimit is for mapMode "auto" only, not "${requestedMode}"`);
    const inlineLimit = props.inlineLimit ?? INLINE_LIMIT;
    if (!Number.isInteger(inlineLimit) || inlineLimit < 1 || inlineLimit > MAX_INLINE_LIMIT) {
      fail(`props.inlineLimit must be a whole number from 1 to ${MAX_INLINE_LIMIT} (past it the upgraded targets' lines alone fill the execution's 256 KiB state), not ${inlineLimit}`);
    }
    // With the targets listed here, "auto" is decided now: one Map, no bucket for a short list.
    const mapMode =
      requestedMode === FLEET_MAP_MODE.auto && props.targets
        ? props.targets.length > inlineLimit
          ? FLEET_MAP_MODE.distributed
          : FLEET_MAP_MODE.inline
        : requestedMode;
    const maxConcurrency = props.maxConcurrency ?? 4;
    const concurrencyLimit = mapMode === FLEET_MAP_MODE.inline ? MAX_CONCURRENCY.inline : MAX_CONCURRENCY.distributed;
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1 || maxConcurrency > concurrencyLimit) {
      const why =
        mapMode === FLEET_MAP_MODE.inline
          ? `an inline Map runs at most 40 at once${requestedMode === FLEET_MAP_MODE.auto ? `; mapMode "auto" chose one for the ${props.targets!.length} target(s)` : ""}`
          : "a Distributed Map runs at most 10,000 child executions at once";
      fail(`props.maxConcurrency must be a whole number from 1 to ${concurrencyLimit} (${why}), not ${maxConcurrency}`);
    }
    const tolerated = props.toleratedFailurePercentage ?? 0;
    if (typeof tolerated !== "number" || !(tolerated >= 0 && tolerated <= 100)) {
      fail(`props.toleratedFailurePercentage must be from 0 to 100, not ${tolerated}`);
    }
    const onDeploy = props.onDeploy ?? FLEET_ON_DEPLOY.wait;
    if (!Object.values(FLEET_ON_DEPLOY).includes(onDeploy)) fail(`props.onDeploy must be "wait", "start" or "none", not ${JSON.stringify(onDeploy)}`);

    const pollS = stackValue((props.deployPollInterval ?? Duration.seconds(30)).toMilliseconds());
    const deployS = stackValue((props.deployTimeout ?? Duration.hours(1)).toMilliseconds());
    if (pollS !== undefined && deployS !== undefined) {
      if (pollS < 1000 || pollS % 1000 !== 0) fail(`props.deployPollInterval must be a whole number of seconds, at least 1, not ${pollS / 1000} s`);
      if (deployS > 3600_000 || deployS % pollS !== 0) {
        fail(`props.deployTimeout must be at most 1 hour (CloudFormation's limit for a custom resource) and a whole number of props.deployPollInterval (${pollS / 1000} s), not ${deployS / 1000} s`);
      }
    }
    // The prop's targets are checked now, with the checks ReadTargets makes again at run time (a
    // URL holding tokens, such as a cluster's ARN from this app, with stand-ins for them).
    const targets: FleetTarget[] = props.targets ?? [];
    if (props.targets) {
      try {
        checkFleetTargets(targets.map(checkable), "props.targets");
      } catch (error) {
        fail((error as Error).message);
      }
    }
    const databases = targets.map(tokenDatabase);
    const clusterArns = unique([...databases.map((d) => d.clusterArn), ...(props.clusterArns ?? [])]);
    const secretArns = unique([...databases.map((d) => d.secretArn), ...(props.secretArns ?? [])]);
    if (clusterArns.length === 0) {
      fail("props.clusterArns must name the clusters the targets read at run time may be on: the fleet's role may use the Data API on those alone");
    }
    if (secretArns.length === 0) {
      fail("props.secretArns must name the secrets the targets read at run time may use: the fleet's role may read those alone");
    }
    for (const arn of clusterArns) {
      if (!Token.isUnresolved(arn) && !/^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z0-9-]+$/.test(arn)) {
        fail(`${JSON.stringify(arn)} (props.clusterArns) is not an Aurora cluster ARN (arn:aws:rds:<region>:<account>:cluster:<name>)`);
      }
    }

    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "retort fleet: the Data API on the targets' clusters, their secrets, the lock table and the targets' source",
    });
    this.role.addToPolicy(new iam.PolicyStatement({ sid: "DataApi", actions: [...DATA_API_ACTIONS], resources: clusterArns }));
    this.role.addToPolicy(
      new iam.PolicyStatement({ sid: "DatabaseSecrets", actions: ["secretsmanager:GetSecretValue"], resources: secretArns.map(secretResource) }),
    );
    this.role.addToPolicy(new iam.PolicyStatement({ sid: "LockAndHistory", actions: [...TABLE_ACTIONS], resources: [runner.table.tableArn] }));

    let source: TargetSource;
    if (props.targetsTable) {
      source = { table: props.targetsTable.tableName };
      this.role.addToPolicy(new iam.PolicyStatement({ sid: "TargetsTable", actions: ["dynamodb:Scan"], resources: [props.targetsTable.tableArn] }));
      props.targetsTable.encryptionKey?.grantDecrypt(this.role);
    } else if (props.targetsObject) {
      const { bucket, key } = props.targetsObject;
      source = { bucket: bucket.bucketName, key };
      this.role.addToPolicy(new iam.PolicyStatement({ sid: "TargetsObject", actions: ["s3:GetObject"], resources: [bucket.arnForObjects(key)] }));
      bucket.encryptionKey?.grantDecrypt(this.role);
    } else {
      source = { targets };
    }

    if (mapMode !== FLEET_MAP_MODE.inline) {
      this.workBucket =
        props.workBucket ??
        new s3.Bucket(this, "WorkBucket", {
          blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
          encryption: s3.BucketEncryption.S3_MANAGED,
          enforceSSL: true,
          // An execution's objects matter while it runs and for a look afterwards; the history
          // table keeps each target's runs.
          lifecycleRules: [{ expiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
          removalPolicy: RemovalPolicy.RETAIN,
        });
      this.role.addToPolicy(
        new iam.PolicyStatement({ sid: "WorkObjects", actions: ["s3:GetObject", "s3:PutObject"], resources: [this.workBucket.arnForObjects(`${FLEET_WORK_PREFIX}/*`)] }),
      );
      this.workBucket.encryptionKey?.grantEncryptDecrypt(this.role);
    }

    const timeout = Duration.seconds(stackValue(runner.runnerFunction.timeout?.toSeconds()) ?? 900);
    this.stepFunction = runner.bundledFunction(this, "Step", {
      handler: HANDLERS.fleetStep,
      description: "retort fleet state machine tasks (read targets, upgrade one target, summarize)",
      role: this.role,
      environment: {
        ...runner.settingsEnvironment,
        [ENV.fleetLockWait]: String((props.lockWait ?? Duration.minutes(10)).toSeconds()),
      },
    });

    const retention = logs.RetentionDays.THREE_MONTHS;
    const definition = new FleetDefinition(this, "Definition", {
      stepFunction: this.stepFunction,
      source,
      maxConcurrency,
      toleratedFailurePercentage: tolerated,
      taskTimeout: timeout.plus(Duration.minutes(1)),
      mapMode,
      inlineLimit,
      workBucket: this.workBucket,
    });
    this.stateMachine = new sfn.StateMachine(this, "StateMachine", {
      definitionBody: sfn.DefinitionBody.fromChainable(definition.startState),
      stateMachineType: sfn.StateMachineType.STANDARD,
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      timeout: props.fleetTimeout ?? Duration.hours(24),
      comment: "retort fleet: safe-upgrade of every target; start with {}",
      logs: {
        destination: new logs.LogGroup(this, "StateMachineLogs", { retention, removalPolicy: RemovalPolicy.RETAIN }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: true,
      },
    });

    // The Distributed Map reads and writes the work objects itself (its ItemReader and ResultWriter).
    this.workBucket?.encryptionKey?.grantEncryptDecrypt(this.stateMachine);

    if (onDeploy !== FLEET_ON_DEPLOY.none) this.deployHook = this.createDeployHook(props, onDeploy, source);
    this.acknowledgeNagFindings();
  }

  /** Lets a principal start the fleet and read its executions. */
  grantStart(grantee: iam.IGrantable): iam.Grant {
    const grant = this.stateMachine.grantStartExecution(grantee);
    this.stateMachine.grantRead(grantee);
    return grant;
  }

  private createDeployHook(props: MigrationFleetProps, onDeploy: Exclude<FleetOnDeploy, "none">, source: TargetSource): CustomResource {
    const { runner } = props;
    // A role of its own: it only starts and reads executions of this state machine.
    const role = new iam.Role(this, "DeployRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "retort fleet deploy hook: start and read executions of the fleet state machine",
    });
    role.addToPolicy(new iam.PolicyStatement({ sid: "StartFleet", actions: ["states:StartExecution"], resources: [this.stateMachine.stateMachineArn] }));
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: "ReadFleetExecutions",
        actions: ["states:DescribeExecution"],
        resources: [
          Arn.format(
            { service: "states", resource: "execution", resourceName: `${this.stateMachine.stateMachineName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME },
            Stack.of(this),
          ),
        ],
      }),
    );
    const environment = { [ENV.fleetStateMachine]: this.stateMachine.stateMachineArn, [ENV.serviceName]: "retort", [ENV.logLevel]: "INFO" };
    const onEvent = runner.bundledFunction(this, "DeployOnEvent", {
      handler: HANDLERS.fleetOnEvent,
      description: "retort fleet deploy hook: onEvent (starts the fleet)",
      role,
      environment,
    });
    const isComplete = runner.bundledFunction(this, "DeployIsComplete", {
      handler: HANDLERS.fleetIsComplete,
      description: "retort fleet deploy hook: isComplete (waits for the fleet)",
      role,
      environment,
    });
    const retention = logs.RetentionDays.THREE_MONTHS;
    const provider = new cr.Provider(this, "DeployProvider", {
      onEventHandler: onEvent,
      isCompleteHandler: isComplete,
      queryInterval: props.deployPollInterval ?? Duration.seconds(30),
      totalTimeout: props.deployTimeout ?? Duration.hours(1),
      logGroup: new logs.LogGroup(this, "DeployProviderLogs", { retention, removalPolicy: RemovalPolicy.RETAIN }),
      waiterStateMachineLogOptions: {
        destination: new logs.LogGroup(this, "DeployWaiterLogs", { retention, removalPolicy: RemovalPolicy.RETAIN }),
        level: sfn.LogLevel.ALL,
      },
    });
    const properties: Record<string, string> = {
      [FLEET_PROPERTIES.manifestHash]: runner.manifestHash,
      [FLEET_PROPERTIES.onDeploy]: onDeploy,
      // Another list (or source) starts the fleet too; a digest keeps the property small.
      [FLEET_PROPERTIES.targets]: createHash("sha256").update(JSON.stringify(Stack.of(this).resolve(source))).digest("hex"),
    };
    if (props.runOnEveryDeploy) properties[FLEET_PROPERTIES.deployNonce] = new Date().toISOString();
    const resource = new CustomResource(this, "DeployHook", {
      serviceToken: provider.serviceToken,
      resourceType: FLEET_RESOURCE_TYPE,
      properties,
    });
    // After the runner's own target: the fleet runs the code that deploy just applied there.
    if (runner.deployHook) resource.node.addDependency(runner.deployHook);
    new CfnOutput(this, "FleetExecutionArn", {
      description: "The fleet execution this deploy started",
      value: resource.getAttString("ExecutionArn"),
    });
    this.deployFunctions = [onEvent, isComplete];
    return resource;
  }

  private deployFunctions: lambda.IFunction[] = [];

  /** The cdk-nag (AwsSolutions) findings the fleet accepts, each with its reason. */
  private acknowledgeNagFindings(): void {
    const stack = Stack.of(this);
    const arnOf = (fn: lambda.IFunction) => `<${stack.resolve(stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction))}.Arn>`;
    for (const fn of [this.stepFunction, ...this.deployFunctions]) {
      Validations.of(fn).acknowledge({
        id: "AwsSolutions-L1",
        reason: "Node.js 22 is the runtime retort is built and tested for (its code runs on Node 20 and 22); moving to a newer one is a deliberate, tested change",
      });
    }
    Validations.of(this.stateMachine).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::${arnOf(this.stepFunction)}:*]`,
        reason: "Step Functions' Lambda task grant covers the function's versions and aliases (<arn>:*); it is still the one fleet-step function",
      },
      {
        id: "AwsSolutions-IAM5[Resource::*]",
        reason: "CloudWatch Logs delivery actions (logs:CreateLogDelivery and friends) do not support resource-level permissions; Step Functions needs them to write the execution log",
      },
      {
        id: "AwsSolutions-SF2",
        reason: "Every task is one Lambda invocation whose structured logs carry the target and the fencing token, and the execution log records ALL events; X-Ray would add a Resource:* permission for no further insight",
      },
    );
    if (this.workBucket) {
      const workObjects = `AwsSolutions-IAM5[Resource::${nagResource(stack.resolve(this.workBucket.arnForObjects(`${FLEET_WORK_PREFIX}/*`)))}]`;
      Validations.of(this.role).acknowledge({
        id: workObjects,
        reason: "An execution's work objects are named after it (retort-fleet/<execution name>/...), known only when it starts; the grant is GetObject and PutObject under the fleet's prefix of its work bucket",
      });
      Validations.of(this.stateMachine).acknowledge({
        id: workObjects,
        reason: "The Distributed Map's ItemReader and ResultWriter read an execution's targets object and write its results under retort-fleet/<execution name>/, named when it starts; the grant stops at the fleet's prefix of its work bucket",
      });
      // The child executions' grants CDK gives a Distributed Map: their names are generated as they start.
      const childGrants = this.stateMachine.node.findChild("DistributedMapPolicy") as iam.Policy;
      const statements = (stack.resolve(childGrants.document) as { Statement: { Resource: unknown }[] }).Statement;
      for (const resource of statements.flatMap((statement) => [statement.Resource].flat()).map(nagResource).filter((r) => r.includes("*"))) {
        Validations.of(childGrants).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${resource}]`,
          reason: "A Distributed Map starts one child execution per target and describes, stops or redrives them by names generated as they start; the grant is on executions of this one state machine",
        });
      }
      if (this.node.tryFindChild("WorkBucket")) {
        Validations.of(this.workBucket).acknowledge({
          id: "AwsSolutions-S1",
          reason: "The work bucket holds only the fleet's own objects of an execution (its targets, results and summary), written by the fleet's role and the state machine, whose execution log records every step; access logs would need a second bucket for no further insight",
        });
      }
    }
    if (this.deployHook) {
      // How cdk-nag writes the ARN: tokens as <Ref> or <LogicalId.Attribute>, a stack's known region and account as they are.
      const region = Token.isUnresolved(stack.region) ? "<AWS::Region>" : stack.region;
      const account = Token.isUnresolved(stack.account) ? "<AWS::AccountId>" : stack.account;
      const machine = stack.resolve(stack.getLogicalId(this.stateMachine.node.defaultChild as sfn.CfnStateMachine));
      Validations.of(this.node.findChild("DeployRole")).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${region}:${account}:execution:<${machine}.Name>:*]`,
        reason: "An execution's ARN is known only once it starts; the grant is limited to executions of this one state machine, and to DescribeExecution",
      });
      const provider = this.node.findChild("DeployProvider");
      const frameworkArn = (name: string) => arnOf(provider.node.findChild(name) as lambda.Function);
      const invokeReason = "The CDK Provider framework grants lambda:InvokeFunction on the user handler and its versions (<arn>:*); the functions are this construct's own";
      const [onEvent, isComplete] = this.deployFunctions;
      Validations.of(provider).acknowledge(
        {
          id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
          reason: "The CDK Provider framework's own functions use the AWS managed basic execution role (log writing only); their code is CDK's, not retort's",
        },
        { id: `AwsSolutions-IAM5[Resource::${arnOf(onEvent!)}:*]`, reason: invokeReason },
        { id: `AwsSolutions-IAM5[Resource::${arnOf(isComplete!)}:*]`, reason: invokeReason },
        { id: `AwsSolutions-IAM5[Resource::${frameworkArn("framework-isComplete")}:*]`, reason: invokeReason },
        { id: `AwsSolutions-IAM5[Resource::${frameworkArn("framework-onTimeout")}:*]`, reason: invokeReason },
        {
          id: "AwsSolutions-SF1",
          reason: "The Provider framework's waiter state machine only polls isComplete; the fleet's own execution log records ALL events",
        },
        {
          id: "AwsSolutions-SF2",
          reason: "The Provider framework's waiter state machine is CDK's internal poller; tracing it adds a Resource:* permission for no insight",
        },
      );
    }
  }
}

/** MigrationFleetProps.inlineLimit's default: see there for the measured sizes behind it. */
const INLINE_LIMIT = 200;
/** At about 415 targets (259 + 2 × 176 bytes each) even upgraded ones fill the execution's state. */
const MAX_INLINE_LIMIT = 400;

/** Stand-ins for a URL's tokens, resolved only at deploy: the checks see well-formed ARNs. */
const STAND_IN = {
  cluster: "arn:aws:rds:us-east-1:000000000000:cluster:token",
  secret: "arn:aws:secretsmanager:us-east-1:000000000000:secret:token-AbCdEf",
  database: "token",
};

/** A target as the checks see it: a `data-api://` URL's tokens replaced by stand-ins. */
function checkable(target: FleetTarget): FleetTarget {
  if (typeof target?.db !== "string" || !Token.isUnresolved(target.db)) return target;
  const parts = splitDataApi(target.db);
  if (!parts) return target;
  const stand = (value: string, standIn: string) => (Token.isUnresolved(value) ? standIn : value);
  const params = new URLSearchParams(parts.query);
  const secret = params.get("secret");
  const database = params.get("database");
  if (secret) params.set("secret", stand(secret, STAND_IN.secret));
  if (database) params.set("database", stand(database, STAND_IN.database));
  return { ...target, db: `data-api://${stand(parts.cluster, STAND_IN.cluster)}?${params.toString()}` };
}

/** The cluster and secret a target's URL names, tokens kept (for the role's policy). */
function tokenDatabase(target: FleetTarget): { clusterArn: string; secretArn: string } {
  if (!Token.isUnresolved(target.db)) return targetDatabase(target);
  const parts = splitDataApi(target.db)!;
  return { clusterArn: parts.cluster, secretArn: new URLSearchParams(parts.query).get("secret")! };
}

function splitDataApi(db: string): { cluster: string; query: string } | undefined {
  const m = /^data-api:\/\/([^?]+)\?(.*)$/.exec(db.trim());
  return m ? { cluster: m[1]!, query: m[2]! } : undefined;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/**
 * GetSecretValue's resource for a secret ARN: itself when complete (its name ends in the six
 * characters Secrets Manager adds), else the ARN with those six characters left open.
 */
function secretResource(arn: string): string {
  if (Token.isUnresolved(arn) || /-[A-Za-z0-9]{6}$/.test(arn)) return arn;
  return `${arn}-??????`;
}

/**
 * A resolved resource as cdk-nag names it in a finding: an Fn::Join's parts, a Ref as <Name>, a
 * GetAtt as <Resource.Attribute>, any other function as its JSON.
 */
function nagResource(resolved: unknown): string {
  const join = (resolved as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
  return (join ? join[1] : [resolved])
    .map((part) => {
      if (typeof part === "string") return part;
      const fn = part as { Ref?: string; "Fn::GetAtt"?: string[] };
      if (fn.Ref) return `<${fn.Ref}>`;
      if (fn["Fn::GetAtt"]) return `<${fn["Fn::GetAtt"].join(".")}>`;
      return JSON.stringify(part);
    })
    .join("");
}

/** A number the app knows at synth; undefined for a token. */
function stackValue(n: number | undefined): number | undefined {
  return n === undefined || Token.isUnresolved(n) ? undefined : n;
}
