// MigrationRunner's props checked directly, without synthesizing a stack: what validateProps
// settles and refuses, and the deploy and rollback timings derived from the props.
import { App, Duration, Stack } from "aws-cdk-lib";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { describe, expect, it } from "vitest";
import { deployLockWaitSeconds, deployPollInterval, deployTimeout, type MigrationRunnerProps, rollbackTimeouts, validateProps } from "../../infra/migration-runner-props.ts";

const CLUSTER = "arn:aws:rds:eu-west-1:123456789012:cluster:app";
const secret = Secret.fromSecretCompleteArn(new Stack(new App(), "Test"), "Secret", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf");
const props = (extra: Partial<MigrationRunnerProps> = {}): MigrationRunnerProps => ({
  clusterArn: CLUSTER,
  secret,
  databaseName: "app",
  migrationsDirectory: "migrations",
  ...extra,
});

describe("validateProps", () => {
  it("settles the cluster's ARN and the secret", () => {
    expect(validateProps(props())).toEqual({ clusterArn: CLUSTER, secret });
  });

  it("refuses a prop by name, with what it accepts", () => {
    expect(() => validateProps(props({ memorySize: 64 }))).toThrow("MigrationRunner: props.memorySize must be from 128 to 10240 MB, not 64");
    expect(() => validateProps(props({ versionSchema: "a-b" }))).toThrow('MigrationRunner: props.versionSchema "a-b" is not a schema name');
    expect(() => validateProps(props({ deployTimeout: Duration.minutes(2) }))).toThrow(/props\.deployTimeout \(2 minutes\) leaves a deploy 40 s/);
  });
});

describe("the timings derived from the props", () => {
  it("default the deploy to an hour polled every 10 s, leaving the rest after two polls and a minute for a held lock", () => {
    expect(deployTimeout(props()).toSeconds()).toBe(3600);
    expect(deployPollInterval(props()).toSeconds()).toBe(10);
    expect(deployLockWaitSeconds(3600, 10)).toBe(3520);
  });

  it("default a rollback's limit to 6 hours, plus the approval's wait when one is required", () => {
    const hours = (p: Partial<MigrationRunnerProps>) => {
      const { approvalTimeout, rollbackTimeout } = rollbackTimeouts(props(p));
      return [approvalTimeout.toHours(), rollbackTimeout.toHours()];
    };
    expect(hours({})).toEqual([24, 6]);
    expect(hours({ requireApproval: true })).toEqual([24, 30]);
    expect(hours({ requireApproval: true, approvalTimeout: Duration.hours(1), rollbackTimeout: Duration.hours(3) })).toEqual([1, 3]);
  });
});
