// What a failed group means and how the run reports it: outcome unknown, stopped at the deadline,
// or a migration that failed (blamed on the one that caused it, its message saying what to run
// next); and whether the group is worth running again one migration at a time.
import { RetortError } from "../errors.ts";
import type { RunMode } from "../ops/operations.ts";
import type { Direction, Migration } from "../revision/migration.ts";
import { ConnectionError, isOutcomeUnknown, SqlError, StatementBlockedError } from "../sql/errors.ts";
import { LeaseLostError } from "../state/lock.ts";
import { FENCED_OUT_SQLSTATE, VERSION_CONFLICT_SQLSTATE } from "../state/version-table.ts";
import { DeadlineReachedError, MigrationError, MigrationTimeoutError } from "./errors.ts";
import type { Member } from "./group-runner.ts";
import { LockTimeoutError } from "./lock-retry.ts";
import type { MigrateResult, RevisionResult } from "./migrate.ts";

/** Reports how a group of `ran` failed: its outcome unknown, the run stopped, or a migration refused. */
export function settleFailure(
  result: MigrateResult,
  ran: readonly Member[],
  options: { direction: Direction; mode: RunMode },
  error: unknown,
): void {
  if (isOutcomeUnknown(error)) settleUnknown(result, ran, options, error);
  else if (error instanceof DeadlineReachedError) settleStopped(result, ran, options, error);
  else if (error instanceof MigrationTimeoutError) settle(result, ran[ran.length - 1]!, options, error);
  else if (stopsTheRun(error)) settle(result, ran[0]!, options, error);
  else settle(result, ran[ran.length - 1]!, options, error, ran.length);
}

/**
 * Whether a failed group is worth running again one migration at a time to find which one fails:
 * yes when the database refused a statement or a migration threw, since then nothing committed.
 * Not when the run must stop (lease lost, fenced out), nor when the outcome is unknown (a lost
 * connection, a Data API timeout): the database may still be working on it.
 */
export function replayable(error: unknown): boolean {
  return !isOutcomeUnknown(error) && !stopsTheRun(error) && !(error instanceof ConnectionError);
}

/** An error's code for a run's report; a migration's own exception is a failed migration. */
export function codeOf(error: unknown, fallback = "migration-failed"): string {
  return error instanceof RetortError ? error.code : fallback;
}

/** Records a migration's failure in its entry and in the run's result. */
function settle(
  result: MigrateResult,
  { entry, migration, partial }: Member,
  options: { direction: Direction; mode: RunMode },
  error: unknown,
  groupSize = 1,
): void {
  entry.status = "failed";
  // Nothing of it stays unless it ran outside a transaction, from the start or from a statement on.
  const atomic = migration.transactional && !partial;
  if (atomic) settleOperations(entry, "rolled-back");
  let detail = explain(error, options.mode, migration, atomic);
  if (groupSize > 1) {
    detail +=
      `; it ran in one transaction with the ${groupSize - 1} revision(s) before it, ` +
      "so their outcome is unknown too: run `retort status`";
  }
  const failure = new MigrationError(migration, options.direction, detail, { cause: error });
  entry.error = failure.message;
  result.error = {
    code: codeOf(error),
    message: failure.message,
    revision: migration.revision,
    file: migration.file,
    ...(error instanceof SqlError && error.sqlState ? { sqlState: error.sqlState } : {}),
    ...(error instanceof LockTimeoutError ? { blockers: error.blockers } : {}),
  };
}

/** A group stopped at the run's deadline: the one in flight failed, nothing of the group applied. */
function settleStopped(result: MigrateResult, ran: readonly Member[], options: { direction: Direction }, error: DeadlineReachedError): void {
  const { entry, migration } = ran[ran.length - 1]!;
  const before = ran.length > 1 ? ` nor of the ${ran.length - 1} revision(s) grouped with it` : "";
  const failure = new MigrationError(migration, options.direction, `${error.message}; nothing of it${before} was applied`, { cause: error });
  entry.status = "failed";
  settleOperations(entry, "rolled-back");
  entry.error = failure.message;
  result.error = { code: error.code, message: failure.message, revision: migration.revision, file: migration.file, outcome: "stopped" };
}

/**
 * A group whose outcome is unknown (its statement outlived the call): every migration in it is
 * reported as such, since they commit together or not at all, and none as failed.
 */
function settleUnknown(result: MigrateResult, ran: readonly Member[], options: { direction: Direction }, error: unknown): void {
  const first = ran[0]!.migration;
  const last = ran[ran.length - 1]!.migration;
  const which = ran.length === 1 ? `${first.revision} (${first.file})` : `${first.revision} (${first.file}) to ${last.revision} (${last.file})`;
  const message =
    `${options.direction} of ${which}: the outcome is unknown: ${(error as Error).message}. ` +
    "The statement may still be running on the database and may yet commit; run `retort status` once it has finished " +
    "(a run started meanwhile refuses, naming it)";
  for (const member of ran) {
    member.entry.status = "unknown";
    member.entry.error = message;
    settleOperations(member.entry, "unknown");
  }
  result.error = {
    code: codeOf(error, "outcome-unknown"),
    message,
    revision: last.revision,
    file: last.file,
    outcome: "unknown",
    ...(error instanceof StatementBlockedError ? { blockers: error.blockers } : {}),
  };
}

/** The operations a revision sent, once its transaction did not commit: none of them is applied. */
function settleOperations(entry: RevisionResult, status: "rolled-back" | "unknown"): void {
  entry.operations = entry.operations.map((o) => (o.status === "applied" ? { ...o, status } : o));
}

/** PostgreSQL's "already exists" family. */
const EXISTS = new Set(["42P07", "42701", "42710", "42P06", "42P16"]);

/** The database's message plus what to do next. */
function explain(error: unknown, mode: RunMode, migration: Migration, atomic: boolean): string {
  const message = error instanceof Error ? error.message : String(error);
  // An unknown outcome never comes here (settleUnknown reports it).
  const state = atomic
    ? "nothing of this revision was applied"
    : migration.transactional
      ? "a statement of it commits on its own, so what it committed before the failure stays applied; `retort safe-upgrade` converges from there"
      : "it is not transactional, so statements before the failure stay applied; `retort safe-upgrade` converges from there";
  // Both say what happened and what to run next; nothing of the revision was sent or committed.
  if (error instanceof LeaseLostError) return message;
  if (error instanceof SqlError && error.sqlState === FENCED_OUT_SQLSTATE) return message;
  if (error instanceof SqlError && error.sqlState === VERSION_CONFLICT_SQLSTATE) return `${message}; ${state}`;
  // Not the migration's fault: its message says who was in the way and what to do.
  if (error instanceof LockTimeoutError) return `${message}. ${state[0]!.toUpperCase()}${state.slice(1)}`;
  if (mode === "strict" && error instanceof SqlError && error.sqlState && EXISTS.has(error.sqlState)) {
    return (
      `${message}; ${state}. The object already exists: run \`retort safe-upgrade\` to skip what exists, ` +
      `or \`retort stamp ${migration.revision}\` if this revision was applied by hand`
    );
  }
  return `${message}; ${state}. Fix the migration and run the command again`;
}

/** The run lost its right to write (lease lost, fenced out) or stopped a migration (deadline, time limit). */
function stopsTheRun(error: unknown): boolean {
  return (
    error instanceof LeaseLostError ||
    error instanceof DeadlineReachedError ||
    // Run again, it would hang again.
    error instanceof MigrationTimeoutError ||
    (error instanceof SqlError && error.sqlState === FENCED_OUT_SQLSTATE)
  );
}
