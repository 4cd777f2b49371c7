// MigrationRunner's props: their type, the checks on them (plain functions, testable without
// synthesizing; every error names the prop) and the deploy and rollback timings derived from them.
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { Duration, Token } from "aws-cdk-lib";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as logs from "aws-cdk-lib/aws-logs";
import * as rds from "aws-cdk-lib/aws-rds";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { ON_ROLLBACK, type OnRollback } from "../functions/constants.ts";

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
   * How long a migration's statement may wait for a lock before its transaction is rolled back
   * (and the application's queries queued behind it go on); it is then tried again, up to 8 times,
   * each waiting longer (at most 30 s), and fails naming the session holding the lock. A
   * migration's own `lockTimeout` comes first. `Duration.millis(0)`: wait without limit (a
   * maintenance window).
   * @default Duration.seconds(5)
   */
  readonly lockTimeout?: Duration;
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

/** What the props name, settled: the cluster's ARN and the secret the Data API reads. */
export interface ResolvedProps {
  clusterArn: string;
  secret: secretsmanager.ISecret;
}

/**
 * Checks the props and settles the cluster's ARN and secret; every error names the prop and what it
 * accepts. (That a cluster has the Data API enabled is checked by the construct, at synth.)
 */
export function validateProps(props: MigrationRunnerProps): ResolvedProps {
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
  const lockTimeout = props.lockTimeout && !Token.isUnresolved(props.lockTimeout.toMilliseconds()) ? props.lockTimeout.toMilliseconds() : undefined;
  if (lockTimeout !== undefined && (!Number.isInteger(lockTimeout) || lockTimeout < 0 || lockTimeout > 10 * 60_000)) {
    fail(`props.lockTimeout must be a whole number of milliseconds from 0 (no limit) to 10 minutes, not ${lockTimeout} ms`);
  }
  if (props.runOnEveryDeploy && props.runOnDeploy === false) fail("props.runOnEveryDeploy needs props.runOnDeploy (it is false)");
  return { clusterArn, secret: secret! };
}

/** The approval's wait and the execution's limit; the limit leaves time to revert after approval. */
export function rollbackTimeouts(props: MigrationRunnerProps): { approvalTimeout: Duration; rollbackTimeout: Duration } {
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
export function deployLockWaitSeconds(timeoutS: number, pollS: number): number {
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

/** The Provider framework's totalTimeout: props.deployTimeout, by default an hour. */
export function deployTimeout(props: MigrationRunnerProps): Duration {
  return props.deployTimeout ?? Duration.hours(1);
}

/** The Provider framework's queryInterval: props.deployPollInterval, by default 10 seconds. */
export function deployPollInterval(props: MigrationRunnerProps): Duration {
  return props.deployPollInterval ?? Duration.seconds(10);
}
