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
} as const;
export type HandlerName = (typeof HANDLERS)[keyof typeof HANDLERS];

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
