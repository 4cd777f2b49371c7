// The runner's configuration from the function's environment, and the lock key it derives.
import { describe, expect, it } from "vitest";
import { ENV } from "../../functions/constants.ts";
import { ConfigurationError, lockKeyOf, readConfig, readSettings, targetConfig } from "../../functions/context.ts";
import { schemaLockKey } from "../../lib/runner/context.ts";
import { lockKeyFor } from "../../lib/runner/database.ts";
import { parseDatabaseUrl } from "../../lib/sql/connect.ts";

const env = {
  [ENV.clusterArn]: "arn:aws:rds:eu-west-1:123456789012:cluster:app",
  [ENV.secretArn]: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-AbCdEf",
  [ENV.database]: "app",
  [ENV.table]: "locks",
};

describe("the runner's configuration", () => {
  it("is read from the variables the construct sets, the schema defaulting to public", () => {
    expect(readConfig(env)).toEqual({
      clusterArn: env[ENV.clusterArn],
      secretArn: env[ENV.secretArn],
      database: "app",
      table: "locks",
      schema: "public",
      transactionPerMigration: false,
      deployLockWaitMs: 600_000,
      migrationTimeoutMs: undefined,
    });
  });

  it("reads the migration time limit as whole seconds of at least one, and refuses anything else by name", () => {
    expect(readConfig({ ...env, [ENV.migrationTimeout]: "300" }).migrationTimeoutMs).toBe(300_000);
    expect(() => readConfig({ ...env, [ENV.migrationTimeout]: "0" })).toThrow(/RETORT_MIGRATION_TIMEOUT_SECONDS is "0"; it must be at least 1 second/);
    expect(() => readConfig({ ...env, [ENV.migrationTimeout]: "5m" })).toThrow(/RETORT_MIGRATION_TIMEOUT_SECONDS is "5m"; it must be a whole number of seconds/);
  });

  it("reads the lock timeout as whole milliseconds, 0 (no limit) included, and refuses anything else by name", () => {
    expect(readConfig(env).lockTimeoutMs).toBeUndefined();
    expect(readConfig({ ...env, [ENV.lockTimeout]: "2500" }).lockTimeoutMs).toBe(2_500);
    expect(readConfig({ ...env, [ENV.lockTimeout]: "0" }).lockTimeoutMs).toBe(0);
    expect(() => readConfig({ ...env, [ENV.lockTimeout]: "5s" })).toThrow(/RETORT_LOCK_TIMEOUT_MS is "5s"; it must be a whole number of milliseconds \(0: no limit\)/);
  });

  it("reads the deploy's lock wait as whole seconds, and refuses anything else by name", () => {
    expect(readConfig({ ...env, [ENV.deployLockWait]: "3520" }).deployLockWaitMs).toBe(3_520_000);
    expect(() => readConfig({ ...env, [ENV.deployLockWait]: "1h" })).toThrow(
      /RETORT_DEPLOY_LOCK_WAIT_SECONDS is "1h"; it must be a whole number of seconds/,
    );
  });

  it("reads transactionPerMigration as true or false, and refuses anything else by name", () => {
    expect(readConfig({ ...env, [ENV.transactionPerMigration]: "true" }).transactionPerMigration).toBe(true);
    expect(readConfig({ ...env, [ENV.transactionPerMigration]: "false" }).transactionPerMigration).toBe(false);
    expect(() => readConfig({ ...env, [ENV.transactionPerMigration]: "yes" })).toThrow(
      /RETORT_TRANSACTION_PER_MIGRATION is "yes"; it must be "true" or "false"/,
    );
  });

  it("names a missing variable", () => {
    const { [ENV.database]: _, ...missing } = env;
    expect(() => readConfig(missing)).toThrow(ConfigurationError);
    expect(() => readConfig(missing)).toThrow(/has no RETORT_DATABASE; it is set by the MigrationRunner construct/);
  });

  it("locks the same key as the CLI does for the same database", () => {
    const url = `data-api://${env[ENV.clusterArn]}?secret=${env[ENV.secretArn]}&database=app`;
    expect(lockKeyOf(readConfig(env))).toBe(lockKeyFor(parseDatabaseUrl(url)));
    // A schema of its own (the CLI's --schema, a fleet's tenant) is a lock of its own.
    expect(lockKeyOf(readConfig({ ...env, [ENV.schema]: "tenant_5" }))).toBe(schemaLockKey(lockKeyFor(parseDatabaseUrl(url)), "tenant_5"));
  });

  it("gives a fleet target its cluster, secret, database and schema, over the function's settings", () => {
    const settings = readSettings({ [ENV.table]: "locks", [ENV.lockTimeout]: "2000" });
    expect(settings).toMatchObject({ table: "locks", lockTimeoutMs: 2000, transactionPerMigration: false });
    const target = { clusterArn: env[ENV.clusterArn], secretArn: env[ENV.secretArn], database: "saas" };
    const tenant = targetConfig(settings, { ...target, schema: "tenant_5" });
    expect(tenant).toMatchObject({ ...target, table: "locks", schema: "tenant_5", defaultSchema: "tenant_5" });
    expect(lockKeyOf(tenant)).toBe(`${env[ENV.clusterArn]}/saas?schema=tenant_5`);
    const whole = targetConfig(settings, target);
    expect(whole.schema).toBe("public");
    expect(whole.defaultSchema).toBeUndefined();
    expect(lockKeyOf(whole)).toBe(`${env[ENV.clusterArn]}/saas`);
  });
});
