// Names the CDK construct (infra/) and the Lambda handlers (functions/) must agree on: handler
// exports, environment variables, custom-resource properties, the commands and rollback steps.
// Both sides import them from here, so the compiler ties the two together. No imports: this file
// is bundled into the Lambda and loaded by the CDK app alike.

/** The handlers the generated Lambda entry exports; each function's `handler` is one of these. */
export const HANDLERS = {
  /** Manual invoke: `{"command": "status"}`. */
  manual: "manual",
  /** Custom resource (CDK Provider framework): onEvent. */
  onEvent: "onEvent",
  /** Custom resource: isComplete, polled until the upgrade is done. */
  isComplete: "isComplete",
  /** The rollback state machine's tasks: `{"step": "plan" | ...}`. */
  rollbackStep: "rollbackStep",
  /** The fleet state machine's tasks: `{"step": "read-targets" | "upgrade-target" | "summarize"}`. */
  fleetStep: "fleetStep",
  /** The fleet's deploy hook (a second custom resource, after the runner's): onEvent starts the execution. */
  fleetOnEvent: "fleetOnEvent",
  /** The fleet's deploy hook: isComplete, polled until the execution ends (onDeploy "wait"). */
  fleetIsComplete: "fleetIsComplete",
} as const;
export type HandlerName = (typeof HANDLERS)[keyof typeof HANDLERS];
/** The MigrationRunner's own functions' handlers; a MigrationFleet's functions run the others. */
export const RUNNER_HANDLERS = [HANDLERS.manual, HANDLERS.onEvent, HANDLERS.isComplete, HANDLERS.rollbackStep] as const;

/** Environment variables of the runner functions. None holds a secret: the secret's ARN is not one. */
export const ENV = {
  clusterArn: "RETORT_CLUSTER_ARN",
  secretArn: "RETORT_SECRET_ARN",
  database: "RETORT_DATABASE",
  /** The DynamoDB table holding the lock and the run history. */
  table: "RETORT_TABLE",
  /** Schema of retort's version tables in the target database. */
  schema: "RETORT_SCHEMA",
  /** "true": every migration commits on its own (MigrationRunnerProps.transactionPerMigration). */
  transactionPerMigration: "RETORT_TRANSACTION_PER_MIGRATION",
  /**
   * Seconds after a deploy's onEvent that its isComplete polls keep waiting while retort's own lock
   * is held by another runner; the construct derives it from the Provider's total timeout.
   */
  deployLockWait: "RETORT_DEPLOY_LOCK_WAIT_SECONDS",
  /** Seconds one migration may run before the run fails naming it (MigrationRunnerProps.migrationTimeout). */
  migrationTimeout: "RETORT_MIGRATION_TIMEOUT_SECONDS",
  /**
   * Milliseconds a migration's statement may wait for a lock on its first try, before it is
   * rolled back and tried again; "0": no limit (MigrationRunnerProps.lockTimeout).
   */
  lockTimeout: "RETORT_LOCK_TIMEOUT_MS",
  /** The fleet state machine the fleet's deploy hook starts (MigrationFleet, onDeploy "wait" or "start"). */
  fleetStateMachine: "RETORT_FLEET_STATE_MACHINE_ARN",
  /**
   * Seconds a fleet target keeps waiting while another runner holds its lock or a statement of an
   * earlier invocation still runs, before it is reported failed (MigrationFleet.lockWait).
   */
  fleetLockWait: "RETORT_FLEET_LOCK_WAIT_SECONDS",
  /** Powertools' own variables, set by the construct. */
  serviceName: "POWERTOOLS_SERVICE_NAME",
  logLevel: "POWERTOOLS_LOG_LEVEL",
} as const;
export type EnvName = (typeof ENV)[keyof typeof ENV];

/** What a manual invoke may ask for. */
export const COMMANDS = ["status", "check", "safe-upgrade", "upgrade", "downgrade", "stamp", "history"] as const;
export type CommandName = (typeof COMMANDS)[number];

/** The rollback state machine's tasks, in the order they run. */
export const ROLLBACK_STEPS = {
  plan: "plan",
  requestApproval: "request-approval",
  acquire: "acquire",
  downgrade: "downgrade",
  release: "release",
  /** The execution ended (TIMED_OUT, ABORTED, FAILED): sent by the EventBridge rule, not a state. */
  end: "end",
} as const;
export type RollbackStepName = (typeof ROLLBACK_STEPS)[keyof typeof ROLLBACK_STEPS];

/** The deploy hook's CloudFormation resource type. */
export const RESOURCE_TYPE = "Custom::RetortMigrations";

/** The deploy hook's resource properties (CloudFormation passes them as strings). */
export const PROPERTIES = {
  /** The bundle's manifest hash: a deploy that changes migrations changes it, so the hook runs. */
  manifestHash: "ManifestHash",
  /** Changes on every synth when runOnEveryDeploy is set. */
  deployNonce: "DeployNonce",
  /** 'keep' or 'downgrade': what an Update finding the database ahead of this code does. */
  onRollback: "OnRollback",
  /** The runner function version built with this deploy's code (only with onRollback 'downgrade'). */
  runnerVersion: "RunnerVersionArn",
  /**
   * The database migrated: cluster ARN, database and version schema. A deploy that points the
   * construct at another one changes it, so the hook runs there (the functions' environment alone
   * would not).
   */
  target: "Target",
} as const;

/** What a CloudFormation rollback does to a database that is ahead of the rolled-back code. */
export const ON_ROLLBACK = { keep: "keep", downgrade: "downgrade" } as const;
export type OnRollback = (typeof ON_ROLLBACK)[keyof typeof ON_ROLLBACK];

/** The attributes the deploy hook returns (`resource.getAttString(...)`). */
export const ATTRIBUTES = {
  outcome: "Outcome",
  fromHeads: "FromHeads",
  toHeads: "ToHeads",
  message: "Message",
} as const;

/** The deploy hook's outcomes, as its `Outcome` attribute says. */
export const OUTCOMES = {
  upgraded: "upgraded",
  /** Create or Update with nothing pending: the database was already at the bundled heads. */
  upToDate: "up-to-date",
  databaseAhead: "database-ahead",
  downgraded: "downgraded",
  retained: "retained",
} as const;
export type Outcome = (typeof OUTCOMES)[keyof typeof OUTCOMES];

/** The fleet state machine's tasks, in the order they run. */
export const FLEET_STEPS = {
  readTargets: "read-targets",
  upgradeTarget: "upgrade-target",
  summarize: "summarize",
} as const;
export type FleetStepName = (typeof FLEET_STEPS)[keyof typeof FLEET_STEPS];

/** What a deploy does with the fleet once the runner's own target is upgraded (MigrationFleet.onDeploy). */
export const FLEET_ON_DEPLOY = {
  /** Start the fleet and wait for it: the deploy fails when more targets fail than tolerated. */
  wait: "wait",
  /** Start the fleet and go on: the deploy does not wait for it (its ARN is an output). */
  start: "start",
  /** Nothing: the fleet runs only when started. */
  none: "none",
} as const;
export type FleetOnDeploy = (typeof FLEET_ON_DEPLOY)[keyof typeof FLEET_ON_DEPLOY];

/** How the fleet state machine fans out over the targets (MigrationFleet.mapMode). */
export const FLEET_MAP_MODE = {
  /** A Map whose results travel in the execution's state: up to a few hundred targets. */
  inline: "inline",
  /** A Distributed Map: the targets and the results are objects in the work bucket, one child execution per target. */
  distributed: "distributed",
  /** ReadTargets picks one by the count (MigrationFleet.inlineLimit). */
  auto: "auto",
} as const;
export type FleetMapMode = (typeof FLEET_MAP_MODE)[keyof typeof FLEET_MAP_MODE];

/**
 * The fleet's objects in its work bucket all live under this prefix (one folder per execution),
 * so the roles' S3 grants stop at it.
 */
export const FLEET_WORK_PREFIX = "retort-fleet";

/** The fleet's deploy hook's CloudFormation resource type. */
export const FLEET_RESOURCE_TYPE = "Custom::RetortFleet";

/** The fleet deploy hook's resource properties. */
export const FLEET_PROPERTIES = {
  /** The bundle's manifest hash: new migrations start the fleet. */
  manifestHash: "ManifestHash",
  /** The targets as the construct names them (or their source): another list starts the fleet. */
  targets: "Targets",
  /** "wait" or "start". */
  onDeploy: "OnDeploy",
  /** Changes on every synth when runOnEveryDeploy is set. */
  deployNonce: "DeployNonce",
} as const;

/** The attributes the fleet's deploy hook returns. */
export const FLEET_ATTRIBUTES = {
  executionArn: "ExecutionArn",
  /** The execution's status when the hook answered: SUCCEEDED (wait) or RUNNING (start). */
  status: "Status",
  message: "Message",
} as const;
