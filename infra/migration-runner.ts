// MigrationRunner, the construct a user adds to their stack: the runner Lambda with the migrations bundled, the
// deploy hook that runs `safe-upgrade` when they change, the rollback state machine, least-privilege IAM and
// the grant* methods. Its props and their checks: migration-runner-props.ts; cdk-nag: migration-runner-nag.ts.
import { existsSync } from "node:fs";
import path from "node:path";
import { CustomResource, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as eventTargets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as rds from "aws-cdk-lib/aws-rds";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as cr from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";
import { ENV, HANDLERS, type HandlerName, ON_ROLLBACK, type OnRollback, PROPERTIES, RESOURCE_TYPE, ROLLBACK_STEPS } from "../functions/constants.ts";
import { TABLE_KEYS, TTL_ATTRIBUTE } from "../lib/state/dynamo-table.ts";
import { RollbackDefinition } from "./rollback-state-machine.ts";
import { ownFile, PACKAGE_NAME } from "../lib/own-files.ts";
import { BUNDLE_TARGET, writeRunnerEntry } from "./runner-entry.ts";
import { acknowledgeNagFindings } from "./migration-runner-nag.ts";
import { deployLockWaitSeconds, deployPollInterval, deployTimeout, type MigrationRunnerProps, rollbackTimeouts, validateProps } from "./migration-runner-props.ts";

import { DATA_API_ACTIONS, TABLE_ACTIONS } from "./iam-actions.ts";

export type { MigrationRunnerProps } from "./migration-runner-props.ts";
export { MigrationFleet, type MigrationFleetProps, type FleetTarget } from "./migration-fleet.ts";

/** SDK clients the runner imports only where they are needed, from the Lambda runtime's own SDK. */
const PROVIDED_BY_THE_RUNTIME = ["@aws-sdk/client-lambda", "@aws-sdk/client-s3", "@aws-sdk/client-sfn"];

const LOCK_FILES = ["package-lock.json", "pnpm-lock.yaml", "yarn.lock", "bun.lockb", "bun.lock"];

/** What esbuild adds first: ESM output still lets bundled CommonJS modules `require` built-ins. */
export const REQUIRE_SHIM = "import { createRequire as __retortRequire } from 'node:module'; const require = __retortRequire(import.meta.url);";

export class MigrationRunner extends Construct {
  /** The runner function: manual invoke (`{"command": "status"}`). */
  readonly runnerFunction: nodejs.NodejsFunction;
  /** The deploy hook's onEvent and isComplete handlers (Provider framework user functions). */
  readonly onEventFunction: nodejs.NodejsFunction;
  readonly isCompleteFunction: nodejs.NodejsFunction;
  /** The rollback state machine's task handler. */
  readonly rollbackStepFunction: nodejs.NodejsFunction;
  /** The execution role all four functions share (their permissions are the same). */
  readonly role: iam.Role;
  /** The lock and history table. */
  readonly table: dynamodb.ITable;
  /** Start it with `{"target": "<revision>|-N|base"}` to downgrade the database. */
  readonly rollbackStateMachine: sfn.StateMachine;
  /** The deploy hook; undefined when `runOnDeploy` is false. */
  readonly deployHook?: CustomResource;
  /** The sha256 of the bundled migrations' manifest (files and checksums). */
  readonly manifestHash: string;
  readonly clusterArn: string;
  readonly secret: secretsmanager.ISecret;
  /**
   * The variables every runner function reads whatever database it migrates (the lock table, the
   * transaction and time limits): a MigrationFleet's functions get them too.
   */
  readonly settingsEnvironment: Readonly<Record<string, string>>;
  /** How the runner's code is built: a MigrationFleet's functions run the same bundle. */
  private readonly build: {
    entry: string;
    lockFile: string;
    projectRoot: string;
    memorySize: number;
    timeout: Duration;
    retention: logs.RetentionDays;
  };

  constructor(scope: Construct, id: string, props: MigrationRunnerProps) {
    super(scope, id);
    const resolved = validateProps(props);
    if (props.cluster instanceof rds.DatabaseCluster) {
      const cfn = props.cluster.node.defaultChild as rds.CfnDBCluster;
      // Checked at synth, so enabling the Data API after this construct was created still counts.
      this.node.addValidation({
        validate: () =>
          Stack.of(this).resolve(cfn.enableHttpEndpoint) === true
            ? []
            : ["MigrationRunner: props.cluster must have the Data API enabled (`enableDataApi: true` on the DatabaseCluster); retort runs every statement through it"],
      });
    }
    this.clusterArn = resolved.clusterArn;
    this.secret = resolved.secret;
    const onRollback = props.onRollback ?? ON_ROLLBACK.keep;
    const timeout = props.timeout ?? Duration.minutes(15);
    const retention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;

    const projectRoot = props.projectRoot ?? findProjectRoot(process.cwd());
    const lockFile = LOCK_FILES.map((f) => path.join(projectRoot, f)).find((f) => existsSync(f));
    if (!lockFile) {
      throw new Error(`MigrationRunner: props.projectRoot ${projectRoot} has no package lock file (${LOCK_FILES.join(", ")})`);
    }
    const { entry, manifest } = writeRunnerEntry(props.migrationsDirectory, projectRoot);
    this.manifestHash = manifest.hash;

    this.table = props.table ?? this.createTable();
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `retort runner for ${props.databaseName}: Data API on one cluster, one secret, one table`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({ sid: "DataApi", actions: [...DATA_API_ACTIONS], resources: [this.clusterArn] }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "DatabaseSecret",
        actions: ["secretsmanager:GetSecretValue"],
        resources: [this.secret.secretFullArn ?? `${this.secret.secretArn}-??????`],
      }),
    );
    this.secret.encryptionKey?.grantDecrypt(this.role);
    this.role.addToPolicy(
      new iam.PolicyStatement({ sid: "LockAndHistory", actions: [...TABLE_ACTIONS], resources: [this.table.tableArn] }),
    );

    this.settingsEnvironment = {
      [ENV.table]: this.table.tableName,
      ...(props.transactionPerMigration ? { [ENV.transactionPerMigration]: "true" } : {}),
      ...(props.migrationTimeout ? { [ENV.migrationTimeout]: String(props.migrationTimeout.toSeconds()) } : {}),
      ...(props.lockTimeout ? { [ENV.lockTimeout]: String(props.lockTimeout.toMilliseconds()) } : {}),
      [ENV.serviceName]: "retort",
      [ENV.logLevel]: "INFO",
    };
    const environment: Record<string, string> = {
      [ENV.clusterArn]: this.clusterArn,
      [ENV.secretArn]: this.secret.secretArn,
      [ENV.database]: props.databaseName,
      [ENV.schema]: props.versionSchema ?? "public",
      ...this.settingsEnvironment,
      // A deploy that finds the lock held keeps polling until then, with two polls and a minute
      // left of the Provider's total timeout to answer in.
      [ENV.deployLockWait]: String(Math.max(0, deployLockWaitSeconds(deployTimeout(props).toSeconds(), deployPollInterval(props).toSeconds()))),
    };
    this.build = { entry, lockFile, projectRoot, memorySize: props.memorySize ?? 512, timeout, retention };
    const fn = (name: string, handler: HandlerName, description: string) =>
      this.bundledFunction(this, name, { handler, description, role: this.role, environment });
    this.runnerFunction = fn("Runner", HANDLERS.manual, `retort runner for ${props.databaseName}: manual invoke {"command": "status"}`);
    this.onEventFunction = fn("DeployOnEvent", HANDLERS.onEvent, "retort deploy hook: onEvent");
    this.isCompleteFunction = fn("DeployIsComplete", HANDLERS.isComplete, "retort deploy hook: isComplete (applies migrations)");
    this.rollbackStepFunction = fn("RollbackStep", HANDLERS.rollbackStep, "retort rollback state machine tasks");

    this.rollbackStateMachine = this.createStateMachine(props, timeout, retention);
    if (props.runOnDeploy ?? true) this.deployHook = this.createDeployHook(props, onRollback, retention);
    acknowledgeNagFindings(this);
  }

  /**
   * A function running the runner's bundle (its migrations, its handlers) with `handler`, its own
   * log group (whose writing `role` is granted) and `environment`: the runner's own functions, and
   * a MigrationFleet's, which have roles of their own.
   */
  bundledFunction(
    scope: Construct,
    id: string,
    options: { handler: HandlerName; description: string; role: iam.Role; environment: Record<string, string> },
  ): nodejs.NodejsFunction {
    const { entry, lockFile, projectRoot, memorySize, timeout, retention } = this.build;
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention, removalPolicy: RemovalPolicy.RETAIN });
    options.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [logGroup.logGroupArn],
      }),
    );
    return new nodejs.NodejsFunction(scope, id, {
      entry,
      handler: options.handler,
      description: options.description,
      projectRoot,
      depsLockFilePath: lockFile,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize,
      timeout,
      role: options.role,
      logGroup,
      environment: options.environment,
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: BUNDLE_TARGET,
        minify: true,
        keepNames: true,
        sourceMap: false,
        // The SDK is bundled (pinned versions); the Lambda, S3 and Step Functions clients are
        // needed only by onRollback 'downgrade' and a MigrationFleet, and the runtime's own copy
        // serves them. esbuild is reached only by the CLI's directory loader, never in the Lambda.
        externalModules: [...PROVIDED_BY_THE_RUNTIME, "esbuild"],
        mainFields: ["module", "main"],
        banner: REQUIRE_SHIM,
        // Migration files import `defineMigration` from "retort-migrate": this same package,
        // bundled once with the handlers.
        esbuildArgs: { "--alias": `${PACKAGE_NAME}=${ownFile("index")}` },
        forceDockerBundling: false,
      },
    });
  }

  /** Lets a principal invoke the runner by hand (`{"command": "status"}`). */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return this.runnerFunction.grantInvoke(grantee);
  }

  /** Lets a principal start rollbacks and approve or reject them. */
  grantStartRollback(grantee: iam.IGrantable): iam.Grant {
    const grant = this.rollbackStateMachine.grantStartExecution(grantee);
    this.rollbackStateMachine.grantTaskResponse(grantee);
    this.rollbackStateMachine.grantRead(grantee);
    return grant;
  }

  /** Lets a principal read the lock and the run history (the audit trail). */
  grantReadHistory(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadData(grantee);
  }

  private createTable(): dynamodb.Table {
    return new dynamodb.Table(this, "LockTable", {
      partitionKey: { name: TABLE_KEYS.partition, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sort, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      // The history is the audit trail: it outlives the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  private createStateMachine(props: MigrationRunnerProps, timeout: Duration, retention: logs.RetentionDays): sfn.StateMachine {
    const approval = rollbackTimeouts(props);
    const definition = new RollbackDefinition(this, "RollbackDefinition", {
      stepFunction: this.rollbackStepFunction,
      requireApproval: props.requireApproval ?? false,
      approvalTimeout: approval.approvalTimeout,
      taskTimeout: timeout.plus(Duration.minutes(1)),
    });
    const machine = new sfn.StateMachine(this, "Rollback", {
      definitionBody: sfn.DefinitionBody.fromChainable(definition.startState),
      stateMachineType: sfn.StateMachineType.STANDARD,
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      timeout: approval.rollbackTimeout,
      comment: `retort rollback of ${props.databaseName}: start with {"target": "<revision>|-N|base"}`,
      logs: {
        destination: new logs.LogGroup(this, "RollbackLogs", { retention, removalPolicy: RemovalPolicy.RETAIN }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: true,
      },
    });
    // However an execution ends, its lock is freed: one that timed out or was stopped never reaches
    // ReleaseLock, so its status change sends the `end` step (which leaves a released lock alone).
    new events.Rule(this, "RollbackEnded", {
      description: `retort: free the migration lock of a rollback of ${props.databaseName} that timed out, was stopped or failed`,
      eventPattern: {
        source: ["aws.states"],
        detailType: ["Step Functions Execution Status Change"],
        detail: { stateMachineArn: [machine.stateMachineArn], status: ["FAILED", "TIMED_OUT", "ABORTED"] },
      },
      targets: [
        new eventTargets.LambdaFunction(this.rollbackStepFunction, {
          event: events.RuleTargetInput.fromObject({
            step: ROLLBACK_STEPS.end,
            executionArn: events.EventField.fromPath("$.detail.executionArn"),
            status: events.EventField.fromPath("$.detail.status"),
          }),
          retryAttempts: 20,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });
    return machine;
  }

  private createDeployHook(props: MigrationRunnerProps, onRollback: OnRollback, retention: logs.RetentionDays): CustomResource {
    const provider = new cr.Provider(this, "DeployProvider", {
      onEventHandler: this.onEventFunction,
      isCompleteHandler: this.isCompleteFunction,
      queryInterval: deployPollInterval(props),
      totalTimeout: deployTimeout(props),
      logGroup: new logs.LogGroup(this, "DeployProviderLogs", { retention, removalPolicy: RemovalPolicy.RETAIN }),
      waiterStateMachineLogOptions: {
        destination: new logs.LogGroup(this, "DeployWaiterLogs", { retention, removalPolicy: RemovalPolicy.RETAIN }),
        level: sfn.LogLevel.ALL,
      },
    });
    const properties: Record<string, string> = {
      [PROPERTIES.manifestHash]: this.manifestHash,
      [PROPERTIES.onRollback]: onRollback,
      // Another cluster, database or schema is a change of the resource, so the hook runs there.
      [PROPERTIES.target]: `${this.clusterArn}/${props.databaseName}/${props.versionSchema ?? "public"}`,
    };
    if (props.runOnEveryDeploy) properties[PROPERTIES.deployNonce] = new Date().toISOString();
    if (onRollback === ON_ROLLBACK.downgrade) {
      // A rollback runs the older code; this deploy's version stays until the rollback's cleanup,
      // so the older deploy hook can ask it to downgrade what it applied.
      properties[PROPERTIES.runnerVersion] = this.runnerFunction.currentVersion.functionArn;
      // A separate policy: the functions depend on the role's default policy, which must not
      // depend on a function in turn.
      new iam.Policy(this, "InvokeNewerRunner", {
        roles: [this.role],
        statements: [
          new iam.PolicyStatement({
            actions: ["lambda:InvokeFunction"],
            resources: [`${this.runnerFunction.functionArn}:*`],
          }),
        ],
      });
    }
    const resource = new CustomResource(this, "DeployHook", {
      serviceToken: provider.serviceToken,
      resourceType: RESOURCE_TYPE,
      properties,
    });
    // The writer instance must be up before the first statement.
    if (props.cluster) resource.node.addDependency(props.cluster);
    return resource;
  }
}

function findProjectRoot(from: string): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (LOCK_FILES.some((f) => existsSync(path.join(dir, f)))) return dir;
    if (path.dirname(dir) === dir) {
      throw new Error(`MigrationRunner: no package lock file above ${from}; set props.projectRoot to your project's directory`);
    }
  }
}
