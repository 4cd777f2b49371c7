// MigrationRunner: what a user adds to their stack. It bundles the migrations into the runner
// Lambda (functions/, via the entry generated in runner-entry.ts), runs `safe-upgrade` on every
// deploy that changes them (a custom resource through the CDK Provider framework), and offers the
// rollback state machine. Access is least privilege: the Data API on the one cluster, the one
// secret, the one lock/history table; operators get access through the grant* methods.
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { CustomResource, Duration, RemovalPolicy, Stack, Token, Validations } from "aws-cdk-lib";
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
import { writeRunnerEntry } from "./runner-entry.ts";

export interface MigrationRunnerProps {
  /**
   * The Aurora PostgreSQL cluster, with the Data API enabled (`enableDataApi: true`). Give either
   * this or `clusterArn`.
   * @default - none; `clusterArn` and `secret` are required instead
   */
  readonly cluster?: rds.IDatabaseCluster;
  /**
   * The ARN of a cluster defined elsewhere, with the Data API enabled.
   * @default - the ARN of `cluster`
   */
  readonly clusterArn?: string;
  /**
   * The secret holding the database user's credentials, read by the Data API.
   * @default - the cluster's own secret, when `cluster` is a DatabaseCluster created in this app
   */
  readonly secret?: secretsmanager.ISecret;
  /** The database to migrate, in the cluster. */
  readonly databaseName: string;
  /** The directory of migration files (`YYYYMMDD_<slug>.ts`), bundled into the runner at synth. */
  readonly migrationsDirectory: string;
  /**
   * Schema of retort's version tables in the database.
   * @default "public"
   */
  readonly versionSchema?: string;
  /**
   * Commit every migration on its own. By default consecutive migrations share a transaction (up
   * to 1000 migrations or 5 s), which costs fewer Data API calls; per-migration commits hold each
   * table's locks for less time, for migrations on busy tables.
   * @default false
   */
  readonly transactionPerMigration?: boolean;
  /**
   * The longest one migration may run: past it, its transaction is cancelled and rolled back and
   * the run fails naming it. A deploy's invocation ends sooner anyway (props.timeout), and a
   * revision that cannot finish within one invocation fails the deploy naming it.
   * @default Duration.minutes(15)
   */
  readonly migrationTimeout?: Duration;
  /**
   * An existing lock and history table (partition key `pk`, sort key `sk`, both strings).
   * @default - a table is created: on-demand, point-in-time recovery, removal policy RETAIN
   */
  readonly table?: dynamodb.ITable;
  /**
   * Run `safe-upgrade` during deploys (the custom resource). Without it the runner is only invoked
   * by hand or by the rollback state machine.
   * @default true
   */
  readonly runOnDeploy?: boolean;
  /**
   * Run the deploy hook on every deploy, not only on deploys that change the migrations (it then
   * also repairs a database changed by hand since the last deploy).
   * @default false
   */
  readonly runOnEveryDeploy?: boolean;
  /**
   * What a CloudFormation rollback does when the database is ahead of the rolled-back code:
   * 'keep' reports "database ahead of this code" and leaves the schema; 'downgrade' reverts it
   * to the older code's head with the newer deploy's runner version.
   * @default 'keep'
   */
  readonly onRollback?: OnRollback;
  /**
   * Timeout of each runner invocation (a manual command, a deploy-hook poll, a rollback step).
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;
  /**
   * How long a deploy may spend applying migrations before it fails (the Provider framework's
   * total timeout). At most 1 hour, because CloudFormation waits no longer for a custom resource,
   * and a whole number of deployPollInterval. A deploy that finds retort's lock held by another
   * runner keeps polling for it until two polls and a minute before this, so it must leave at
   * least a minute for that: deployTimeout >= 2 × deployPollInterval + 2 minutes.
   * @default Duration.hours(1)
   */
  readonly deployTimeout?: Duration;
  /**
   * How often the Provider framework polls the deploy hook while an upgrade runs: a whole number
   * of seconds, at least 1, that divides deployTimeout.
   * @default Duration.seconds(10)
   */
  readonly deployPollInterval?: Duration;
  /**
   * Retention of the runner's and the state machine's logs.
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Memory of the runner function, in MB.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Pause each rollback after planning until an operator approves it with the task token
   * (SendTaskSuccess).
   * @default false
   */
  readonly requireApproval?: boolean;
  /**
   * How long a rollback waits for approval before failing. It must leave the execution time to
   * revert at least one revision: rollbackTimeout - approvalTimeout >= timeout + 1 minute.
   * @default Duration.hours(24)
   */
  readonly approvalTimeout?: Duration;
  /**
   * The longest a rollback execution may run, the approval's wait included. An execution that
   * reaches it (or is stopped) has its lock freed and its run recorded as abandoned at once.
   * @default Duration.hours(6), plus approvalTimeout when requireApproval is set
   */
  readonly rollbackTimeout?: Duration;
  /**
   * The project the migrations and the lock file belong to (esbuild runs here).
   * @default - the nearest directory above the working directory with a package lock file
   */
  readonly projectRoot?: string;
}

/**
 * The Data API calls the runner makes (lib/sql/data-api-executor.ts), and nothing else:
 * ExecuteStatement and the three transaction calls. A batch of statements goes as one
 * ExecuteStatement, so BatchExecuteStatement is not granted.
 */
const DATA_API_ACTIONS = [
  "rds-data:ExecuteStatement",
  "rds-data:BeginTransaction",
  "rds-data:CommitTransaction",
  "rds-data:RollbackTransaction",
] as const;

/** The lock and the history: conditional writes, consistent reads, one Query for the newest runs. */
const TABLE_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:Query",
  "dynamodb:BatchWriteItem",
] as const;

const LOCK_FILES = ["package-lock.json", "pnpm-lock.yaml", "yarn.lock", "bun.lockb", "bun.lock"];

/** What esbuild adds first: ESM output still lets bundled CommonJS modules `require` built-ins. */
const REQUIRE_SHIM = "import { createRequire as __retortRequire } from 'node:module'; const require = __retortRequire(import.meta.url);";

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

  constructor(scope: Construct, id: string, props: MigrationRunnerProps) {
    super(scope, id);
    const resolved = validate(props);
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

    const environment: Record<string, string> = {
      [ENV.clusterArn]: this.clusterArn,
      [ENV.secretArn]: this.secret.secretArn,
      [ENV.database]: props.databaseName,
      [ENV.table]: this.table.tableName,
      [ENV.schema]: props.versionSchema ?? "public",
      ...(props.transactionPerMigration ? { [ENV.transactionPerMigration]: "true" } : {}),
      ...(props.migrationTimeout ? { [ENV.migrationTimeout]: String(props.migrationTimeout.toSeconds()) } : {}),
      // A deploy that finds the lock held keeps polling until then, with two polls and a minute
      // left of the Provider's total timeout to answer in.
      [ENV.deployLockWait]: String(Math.max(0, deployLockWaitSeconds(deployTimeout(props).toSeconds(), deployPollInterval(props).toSeconds()))),
      [ENV.serviceName]: "retort",
      [ENV.logLevel]: "INFO",
    };
    const fn = (name: string, handler: HandlerName, description: string) => {
      const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention, removalPolicy: RemovalPolicy.RETAIN });
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
          resources: [logGroup.logGroupArn],
        }),
      );
      return new nodejs.NodejsFunction(this, name, {
        entry,
        handler,
        description,
        projectRoot,
        depsLockFilePath: lockFile,
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: props.memorySize ?? 512,
        timeout,
        role: this.role,
        logGroup,
        environment,
        bundling: {
          format: nodejs.OutputFormat.ESM,
          target: "node22",
          minify: true,
          keepNames: true,
          sourceMap: false,
          // The SDK is bundled (pinned versions); the Lambda client is only needed for
          // onRollback 'downgrade', and the runtime's own copy serves it. esbuild is reached only
          // by the CLI's directory loader, never in the Lambda.
          externalModules: ["@aws-sdk/client-lambda", "esbuild"],
          mainFields: ["module", "main"],
          banner: REQUIRE_SHIM,
          // Migration files import `defineMigration` from "retort-migrate": this same package,
          // bundled once with the handlers.
          esbuildArgs: { "--alias": `${PACKAGE_NAME}=${ownFile("index")}` },
          forceDockerBundling: false,
        },
      });
    };
    this.runnerFunction = fn("Runner", HANDLERS.manual, `retort runner for ${props.databaseName}: manual invoke {"command": "status"}`);
    this.onEventFunction = fn("DeployOnEvent", HANDLERS.onEvent, "retort deploy hook: onEvent");
    this.isCompleteFunction = fn("DeployIsComplete", HANDLERS.isComplete, "retort deploy hook: isComplete (applies migrations)");
    this.rollbackStepFunction = fn("RollbackStep", HANDLERS.rollbackStep, "retort rollback state machine tasks");

    this.rollbackStateMachine = this.createStateMachine(props, timeout, retention);
    if (props.runOnDeploy ?? true) this.deployHook = this.createDeployHook(props, onRollback, retention);
    this.acknowledge();
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

  /**
   * The cdk-nag (AwsSolutions) findings this construct accepts, each with its reason, so a user's
   * stack that runs cdk-nag has none left from here.
   */
  private acknowledge(): void {
    const stack = Stack.of(this);
    const arnOf = (fn: lambda.IFunction) => `<${stack.resolve(stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction))}.Arn>`;
    for (const fn of [this.runnerFunction, this.onEventFunction, this.isCompleteFunction, this.rollbackStepFunction]) {
      Validations.of(fn).acknowledge({
        id: "AwsSolutions-L1",
        reason: "Node.js 22 is the runtime retort is built and tested for (its code runs on Node 20 and 22); moving to a newer one is a deliberate, tested change",
      });
    }
    Validations.of(this.rollbackStateMachine).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::${arnOf(this.rollbackStepFunction)}:*]`,
        reason: "Step Functions' Lambda task grant covers the function's versions and aliases (<arn>:*); it is still the one rollback-step function",
      },
      {
        id: "AwsSolutions-IAM5[Resource::*]",
        reason: "CloudWatch Logs delivery actions (logs:CreateLogDelivery and friends) do not support resource-level permissions; Step Functions needs them to write the execution log",
      },
      {
        id: "AwsSolutions-SF2",
        reason: "Every step is one Lambda invocation whose structured logs carry the execution, the step and the fencing token, and the execution log records ALL events; X-Ray would add a Resource:* permission for no further insight",
      },
    );
    const provider = this.deployHook ? this.node.findChild("DeployProvider") : undefined;
    if (provider) {
      const frameworkArn = (name: string) => {
        const fn = provider.node.findChild(name) as lambda.Function;
        return arnOf(fn);
      };
      const invokeReason =
        "The CDK Provider framework grants lambda:InvokeFunction on the user handler and its versions (<arn>:*); the functions are this construct's own";
      Validations.of(provider).acknowledge(
        {
          id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
          reason: "The CDK Provider framework's own functions use the AWS managed basic execution role (log writing only); their code is CDK's, not retort's",
        },
        { id: `AwsSolutions-IAM5[Resource::${arnOf(this.onEventFunction)}:*]`, reason: invokeReason },
        { id: `AwsSolutions-IAM5[Resource::${arnOf(this.isCompleteFunction)}:*]`, reason: invokeReason },
        { id: `AwsSolutions-IAM5[Resource::${frameworkArn("framework-isComplete")}:*]`, reason: invokeReason },
        { id: `AwsSolutions-IAM5[Resource::${frameworkArn("framework-onTimeout")}:*]`, reason: invokeReason },
        {
          id: "AwsSolutions-SF1",
          reason: "The Provider framework's waiter state machine only polls isComplete; the deploy hook's own functions log every decision and revision",
        },
        {
          id: "AwsSolutions-SF2",
          reason: "The Provider framework's waiter state machine is CDK's internal poller; tracing it adds a Resource:* permission for no insight",
        },
      );
    }
    if (this.node.tryFindChild("InvokeNewerRunner")) {
      Validations.of(this.node.findChild("InvokeNewerRunner")).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${arnOf(this.runnerFunction)}:*]`,
        reason:
          "onRollback 'downgrade': during a CloudFormation rollback the older deploy hook invokes the newer deploy's runner version, whose number the older template cannot know; the grant is limited to versions of this one runner function",
      });
    }
  }
}

interface ResolvedProps {
  clusterArn: string;
  secret: secretsmanager.ISecret;
}

/** Checks the props; every error names the prop and what it accepts. */
function validate(props: MigrationRunnerProps): ResolvedProps {
  const fail = (message: string): never => {
    throw new Error(`MigrationRunner: ${message}`);
  };
  if (props.cluster && props.clusterArn) fail("give props.cluster or props.clusterArn, not both");
  if (!props.cluster && !props.clusterArn) fail("props.cluster (an IDatabaseCluster with the Data API enabled) or props.clusterArn is required");
  const secret = props.secret ?? (props.cluster instanceof rds.DatabaseCluster ? props.cluster.secret : undefined);
  if (!secret) {
    fail(
      props.cluster
        ? "props.secret is required: props.cluster has no secret of its own (an imported cluster, or credentials not generated by CDK)"
        : "props.secret is required with props.clusterArn",
    );
  }
  const clusterArn = props.clusterArn ?? props.cluster!.clusterArn;
  if (!Token.isUnresolved(clusterArn) && !/^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z0-9-]+$/.test(clusterArn)) {
    fail(`props.clusterArn ${JSON.stringify(clusterArn)} is not an Aurora cluster ARN (arn:aws:rds:<region>:<account>:cluster:<name>)`);
  }
  if (!Token.isUnresolved(props.databaseName) && !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(props.databaseName)) {
    fail(`props.databaseName ${JSON.stringify(props.databaseName)} is not a PostgreSQL database name (letters, digits, _ and $, at most 63)`);
  }
  if (props.versionSchema !== undefined && !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(props.versionSchema)) {
    fail(`props.versionSchema ${JSON.stringify(props.versionSchema)} is not a schema name`);
  }
  const dir = path.resolve(props.migrationsDirectory);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    fail(`props.migrationsDirectory ${JSON.stringify(props.migrationsDirectory)} is not a directory (resolved to ${dir}); create it with \`retort revision -m "first"\``);
  }
  if (props.onRollback !== undefined && !Object.values(ON_ROLLBACK).includes(props.onRollback)) {
    fail(`props.onRollback must be 'keep' or 'downgrade', not ${JSON.stringify(props.onRollback)}`);
  }
  const minutes = (d: Duration | undefined) => (d && !Token.isUnresolved(d.toSeconds()) ? d.toMinutes({ integral: false }) : undefined);
  const timeout = minutes(props.timeout);
  if (timeout !== undefined && (timeout < 1 || timeout > 15)) fail(`props.timeout must be from 1 to 15 minutes (a Lambda limit), not ${timeout}`);
  validateDeployTiming(props, fail);
  if (props.memorySize !== undefined && (props.memorySize < 128 || props.memorySize > 10240)) {
    fail(`props.memorySize must be from 128 to 10240 MB, not ${props.memorySize}`);
  }
  const { approvalTimeout, rollbackTimeout } = rollbackTimeouts(props);
  const [approval, limit] = [minutes(approvalTimeout), minutes(rollbackTimeout)];
  const step = (timeout ?? 15) + 1;
  if (props.requireApproval && approval !== undefined && limit !== undefined && limit - approval < step) {
    fail(
      `props.rollbackTimeout (${limit} minutes) leaves no time to roll back after the approval's wait (props.approvalTimeout, ${approval} minutes): ` +
        `an approved rollback needs at least one step (${step} minutes) before the execution's limit. Raise rollbackTimeout to at least ${approval + step} minutes or lower approvalTimeout`,
    );
  }
  const perMigration = props.migrationTimeout && !Token.isUnresolved(props.migrationTimeout.toMilliseconds()) ? props.migrationTimeout.toMilliseconds() : undefined;
  if (perMigration !== undefined && (perMigration < 1000 || perMigration % 1000 !== 0)) {
    fail(`props.migrationTimeout must be a whole number of seconds, at least 1, not ${perMigration} ms`);
  }
  if (props.runOnEveryDeploy && props.runOnDeploy === false) fail("props.runOnEveryDeploy needs props.runOnDeploy (it is false)");
  return { clusterArn, secret: secret! };
}

function findProjectRoot(from: string): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (LOCK_FILES.some((f) => existsSync(path.join(dir, f)))) return dir;
    if (path.dirname(dir) === dir) {
      throw new Error(`MigrationRunner: no package lock file above ${from}; set props.projectRoot to your project's directory`);
    }
  }
}

/** The approval's wait and the execution's limit; the limit leaves time to revert after approval. */
function rollbackTimeouts(props: MigrationRunnerProps): { approvalTimeout: Duration; rollbackTimeout: Duration } {
  const approvalTimeout = props.approvalTimeout ?? Duration.hours(24);
  const rollbackTimeout = props.rollbackTimeout ?? (props.requireApproval ? approvalTimeout.plus(Duration.hours(6)) : Duration.hours(6));
  return { approvalTimeout, rollbackTimeout };
}

/**
 * CloudFormation waits at most an hour for a custom resource (ServiceTimeout is 1 to 3600 s). The
 * Provider framework's totalTimeout is documented with that limit but not checked against it: a
 * longer one builds a waiter that keeps polling after CloudFormation has failed the deploy.
 */
const DEPLOY_TIMEOUT_LIMIT_S = 3600;

/** A held lock is waited for at least this long: past a dead runner's lease (30 s by default). */
const MIN_DEPLOY_LOCK_WAIT_S = 60;

/** What a deploy keeps, after its last two polls, to answer CloudFormation in. */
const DEPLOY_ANSWER_S = 60;

/** What a deploy leaves for waiting on a held lock: two polls and a minute are kept to answer in. */
function deployLockWaitSeconds(timeoutS: number, pollS: number): number {
  return timeoutS - 2 * pollS - DEPLOY_ANSWER_S;
}

/**
 * deployTimeout and deployPollInterval become the Provider's totalTimeout and queryInterval. The
 * Provider turns them into a Step Functions retry (IntervalSeconds = the poll, a positive whole
 * number; MaxAttempts = timeout / poll, which must come out whole, or it throws naming neither
 * prop), and the deploy hook's lock wait is derived from both; so they are checked together here,
 * each message naming what was set and what would do instead.
 */
function validateDeployTiming(props: MigrationRunnerProps, fail: (message: string) => never): void {
  const ms = (d: Duration | undefined) => (d && !Token.isUnresolved(d.toMilliseconds()) ? d.toMilliseconds() : undefined);
  const [timeoutMs, pollMs] = [ms(deployTimeout(props)), ms(deployPollInterval(props))];
  if (timeoutMs === undefined || pollMs === undefined) return;
  if (timeoutMs % 1000 !== 0 || timeoutMs > DEPLOY_TIMEOUT_LIMIT_S * 1000) {
    fail(
      `props.deployTimeout must be a whole number of seconds, at most 1 hour (CloudFormation waits no longer for a custom resource; ` +
        `the Provider framework's totalTimeout), not ${span(timeoutMs / 1000)}`,
    );
  }
  if (pollMs % 1000 !== 0 || pollMs < 1000) {
    fail(`props.deployPollInterval must be a whole number of seconds, at least 1, not ${span(pollMs / 1000)} (Step Functions retries the Provider's isComplete after a whole number of seconds)`);
  }
  const [timeoutS, pollS] = [timeoutMs / 1000, pollMs / 1000];
  const givenTimeout = `props.deployTimeout (${props.deployTimeout ? "" : "the default, "}${span(timeoutS)})`;
  const givenPoll = `props.deployPollInterval (${props.deployPollInterval ? "" : "the default, "}${span(pollS)})`;
  const largestDivisor = (n: number, atMost: number) => {
    for (let d = Math.floor(atMost); d >= 1; d--) if (n % d === 0) return d;
    return undefined;
  };
  const lockWait = deployLockWaitSeconds(timeoutS, pollS);
  if (lockWait < MIN_DEPLOY_LOCK_WAIT_S) {
    const neededTimeout = Math.ceil((2 * pollS + DEPLOY_ANSWER_S + MIN_DEPLOY_LOCK_WAIT_S) / pollS) * pollS;
    const poll = largestDivisor(timeoutS, (timeoutS - DEPLOY_ANSWER_S - MIN_DEPLOY_LOCK_WAIT_S) / 2);
    const remedies = [
      ...(neededTimeout <= DEPLOY_TIMEOUT_LIMIT_S ? [`raise deployTimeout to at least ${neededTimeout} s`] : []),
      ...(poll !== undefined ? [`lower deployPollInterval to at most ${poll} s`] : []),
    ].join(" or ") || "set deployTimeout to at least 2 × deployPollInterval + 2 minutes, within 1 hour";
    fail(
      `${givenTimeout} leaves a deploy ${lockWait > 0 ? `${lockWait} s` : "no time"} to wait for retort's lock when another runner holds it, after two polls of ` +
        `${givenPoll} and a minute to answer in; it needs at least ${MIN_DEPLOY_LOCK_WAIT_S} s, longer than a dead runner's lease. ` +
        `${remedies.charAt(0).toUpperCase()}${remedies.slice(1)}.`,
    );
  }
  if (timeoutS % pollS !== 0) {
    const below = Math.floor(timeoutS / pollS) * pollS;
    const above = below + pollS;
    const timeouts = above <= DEPLOY_TIMEOUT_LIMIT_S ? `${below} s or ${above} s` : `${below} s`;
    fail(
      `${givenTimeout} is not a whole number of ${givenPoll}: the Provider framework polls a whole number of times. ` +
        `Set deployTimeout to ${timeouts}, or deployPollInterval to a divisor of ${timeoutS} s such as ${largestDivisor(timeoutS, pollS)} s`,
    );
  }
}

/** A length of time as a message shows it: whole hours or minutes, else seconds. */
function span(seconds: number): string {
  const whole = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (seconds > 0 && seconds % 3600 === 0) return whole(seconds / 3600, "hour");
  if (seconds > 0 && seconds % 60 === 0) return whole(seconds / 60, "minute");
  return `${seconds} s`;
}

function deployTimeout(props: MigrationRunnerProps): Duration {
  return props.deployTimeout ?? Duration.hours(1);
}

function deployPollInterval(props: MigrationRunnerProps): Duration {
  return props.deployPollInterval ?? Duration.seconds(10);
}
