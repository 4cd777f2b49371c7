// The programmatic runner: each `retort <command>` as a function for scripts, test set-ups and
// applications that migrate on start. Options mirror the CLI's (and its environment variables);
// results are what the command prints with --json. A command that opens a database closes it
// before it returns. The runner is imported when a function is first called, so a migration
// file importing `defineMigration` from the same entry loads none of it.
import type { CheckResult } from "./runner/check.ts";
import type { RevisionInfo } from "./runner/heads.ts";
import type { LintResult } from "./lint/lint.ts";
import type { MigrateOptions as RunOptions, MigrateResult } from "./runner/migrate.ts";
import type { StampResult } from "./runner/stamp.ts";
import type { StatusResult } from "./runner/status.ts";
import type { ValidateResult } from "./runner/validate.ts";
import type { DatabaseOptions, ProjectOptions } from "./runner/session.ts";

export type { ProjectOptions, DatabaseOptions };
export type { CheckResult, RevisionInfo, LintResult, MigrateResult, StampResult, StatusResult, ValidateResult };

export interface MigrateOptions extends DatabaseOptions {
  /** Commit every migration on its own. @default false: consecutive migrations share a transaction */
  transactionPerMigration?: boolean;
  /** The longest one migration may run before the run fails naming it (ms). @default 15 minutes */
  migrationTimeoutMs?: number;
  /**
   * How long a statement may wait for a lock (ms) before its transaction rolls back and is tried
   * again, up to `lockAttempts` tries, each waiting longer; 0: wait without limit (a maintenance
   * window). A migration's own `lockTimeout` comes first. @default 5000
   */
  lockTimeoutMs?: number;
  /** Tries in all before a migration that cannot get its locks fails (code `lock-timeout`). @default 8 */
  lockAttempts?: number;
  /** Called as each try whose lock_timeout ran out is given up, while the run goes on. */
  onLockRetry?: RunOptions["onLockRetry"];
}

/** The run options of `options` that were given. */
function runOptions(options: MigrateOptions): Pick<RunOptions, "transactionPerMigration" | "migrationTimeoutMs" | "lockTimeoutMs" | "lockAttempts" | "onLockRetry"> {
  return {
    ...(options.transactionPerMigration !== undefined ? { transactionPerMigration: options.transactionPerMigration } : {}),
    ...(options.migrationTimeoutMs !== undefined ? { migrationTimeoutMs: options.migrationTimeoutMs } : {}),
    ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
    ...(options.lockAttempts !== undefined ? { lockAttempts: options.lockAttempts } : {}),
    ...(options.onLockRetry ? { onLockRetry: options.onLockRetry } : {}),
  };
}

const session = () => import("./runner/session.ts");

/** Graph consistency, without a database (`retort check`). */
export async function check(options: ProjectOptions = {}): Promise<CheckResult> {
  const [{ projectContext }, runner] = await Promise.all([session(), import("./runner/check.ts")]);
  return runner.check(projectContext(options));
}

/** The heads of the revision graph (`retort heads --json`). */
export async function heads(options: ProjectOptions = {}): Promise<{ heads: string[] }> {
  const [{ projectContext }, runner] = await Promise.all([session(), import("./runner/heads.ts")]);
  const result = await runner.heads(projectContext(options));
  return { heads: result.heads.map((h) => h.revision) };
}

/** Every revision, bases first (`retort history --json`). */
export async function history(options: ProjectOptions = {}): Promise<{ revisions: RevisionInfo[] }> {
  const [{ projectContext }, runner] = await Promise.all([session(), import("./runner/heads.ts")]);
  return runner.revisionInfos((await runner.history(projectContext(options))).revisions);
}

/** Code heads against database heads: pending, drift, unknown revisions, the lock (`retort status`). */
export async function status(options: DatabaseOptions = {}): Promise<StatusResult> {
  const [{ withDatabase }, runner] = await Promise.all([session(), import("./runner/status.ts")]);
  return withDatabase(options, runner.status, "metadata");
}

/** The database's heads (`retort current`). */
export async function current(options: DatabaseOptions = {}): Promise<{ heads: string[] }> {
  const [{ withDatabase }, runner] = await Promise.all([session(), import("./runner/status.ts")]);
  return withDatabase(options, runner.current, "metadata");
}

/**
 * Applies pending revisions up to `target` (default: all heads), every operation skipping what
 * already exists (`retort safe-upgrade`). Refuses to start, throwing, when `check` finds a problem
 * or the database records revisions the code does not have (unless `allowUnknownRevisions`). A
 * migration that fails does not throw: the result's `error` says which, and what ran.
 */
export async function safeUpgrade(options: MigrateOptions & { target?: string; allowUnknownRevisions?: boolean } = {}): Promise<MigrateResult> {
  const [{ withDatabase }, runner] = await Promise.all([session(), import("./runner/upgrade.ts")]);
  return withDatabase(options, (ctx) =>
    runner.safeUpgrade(ctx, {
      ...(options.target !== undefined ? { target: options.target } : {}),
      ...(options.allowUnknownRevisions ? { allowUnknownRevisions: true } : {}),
      ...runOptions(options),
    }),
  );
}

/** The same, strict: a plain operation on an existing object fails (`retort upgrade`). */
export async function upgrade(options: MigrateOptions & { target?: string } = {}): Promise<MigrateResult> {
  const [{ withDatabase }, runner] = await Promise.all([session(), import("./runner/upgrade.ts")]);
  return withDatabase(options, (ctx) =>
    runner.upgrade(ctx, { ...(options.target !== undefined ? { target: options.target } : {}), ...runOptions(options) }),
  );
}

/** Reverts along the graph to `target`: a revision, `-N` or `base` (`retort downgrade`). */
export async function downgrade(options: MigrateOptions & { target: string }): Promise<MigrateResult> {
  const [{ withDatabase }, runner] = await Promise.all([session(), import("./runner/upgrade.ts")]);
  return withDatabase(options, (ctx) => runner.downgrade(ctx, { target: options.target, ...runOptions(options) }));
}

/** Records the database as being at `target` without running migrations (`retort stamp`). */
export async function stamp(options: DatabaseOptions & { target: string; purge?: boolean }): Promise<StampResult> {
  const [{ withDatabase }, runner] = await Promise.all([session(), import("./runner/stamp.ts")]);
  return withDatabase(options, (ctx) => runner.stamp(ctx, { target: options.target, purge: Boolean(options.purge) }), "metadata");
}

/** Every migration on a scratch embedded database: upgrade, re-run, downgrade, upgrade (`retort validate`). */
export async function validate(options: ProjectOptions & { from?: string } = {}): Promise<ValidateResult> {
  const [{ projectContext }, runner] = await Promise.all([session(), import("./runner/validate.ts")]);
  return runner.validate(projectContext(options), options.from !== undefined ? { from: options.from } : {});
}

/** Dangerous operations in the migrations' upgrades, without a database (`retort lint`). */
export async function lint(options: ProjectOptions & { from?: string } = {}): Promise<LintResult> {
  const [{ projectContext }, runner] = await Promise.all([session(), import("./runner/lint.ts")]);
  return runner.lint(projectContext(options), options.from !== undefined ? { from: options.from } : {});
}
