// `retort upgrade`, `retort safe-upgrade` and `retort downgrade`: small wrappers choosing the
// direction and mode of the engine in migrate.ts.
import { RetortError } from "../errors.ts";
import { checkGraph } from "./check.ts";
import { type Context, loadGraph, loadSoundGraph } from "./context.ts";
import { Direction } from "../revision/migration.ts";
import { migrate, type MigrateOptions, type MigrateResult } from "./migrate.ts";

export class CheckFailedError extends RetortError {
  override readonly code: string = "check-failed";
  protected override details(): Record<string, unknown> {
    return { problems: this.problems };
  }
  override name = "CheckFailedError";
  constructor(readonly problems: { code: string; message: string }[]) {
    super(
      `safe-upgrade refused to start: \`retort check\` found ${problems.length} problem(s); nothing was changed:\n` +
        problems.map((p) => `  ${p.code}: ${p.message}`).join("\n"),
    );
  }
}

/** Strict: a plain operation on an existing object fails with the database's message. */
export async function upgrade(ctx: Context, options: { target?: string } & TransactionOptions = {}): Promise<MigrateResult> {
  const { map } = await loadSoundGraph(ctx);
  return migrate(ctx, map, {
    command: "upgrade",
    direction: Direction.Up,
    target: options.target ?? "heads",
    mode: "strict",
    ...transactionOptions(options),
  });
}

/** Refuses a graph `check` objects to; then every operation skips what already exists. */
export async function safeUpgrade(
  ctx: Context,
  options: { target?: string; allowUnknownRevisions?: boolean; limit?: number } & Pick<MigrateOptions, "deadline" | "onMigration"> & TransactionOptions = {},
): Promise<MigrateResult> {
  const graph = await loadGraph(ctx);
  const checked = checkGraph(graph);
  if (!checked.ok) throw new CheckFailedError(checked.problems);
  return migrate(ctx, graph.map, {
    command: "safe-upgrade",
    direction: Direction.Up,
    target: options.target ?? "heads",
    mode: "safe",
    ...(options.allowUnknownRevisions ? { allowUnknownRevisions: true } : {}),
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
    ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
    ...(options.onMigration ? { onMigration: options.onMigration } : {}),
    ...transactionOptions(options),
  });
}

/** Reverts along the graph; operations run in safe mode so a retried downgrade converges. */
export async function downgrade(ctx: Context, options: { target: string; limit?: number } & TransactionOptions): Promise<MigrateResult> {
  const { map } = await loadSoundGraph(ctx);
  return migrate(ctx, map, {
    command: "downgrade",
    direction: Direction.Down,
    target: options.target,
    mode: "safe",
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
    ...transactionOptions(options),
  });
}

type TransactionOptions = Pick<MigrateOptions, "transactionPerMigration" | "migrationTimeoutMs" | "lockTimeoutMs" | "lockAttempts" | "onLockRetry">;

/** The command's choice, when it made one; otherwise the database context's (migrate.ts). */
const transactionOptions = (options: TransactionOptions): TransactionOptions => ({
  ...(options.transactionPerMigration === undefined ? {} : { transactionPerMigration: options.transactionPerMigration }),
  ...(options.migrationTimeoutMs === undefined ? {} : { migrationTimeoutMs: options.migrationTimeoutMs }),
  ...(options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs }),
  ...(options.lockAttempts === undefined ? {} : { lockAttempts: options.lockAttempts }),
  ...(options.onLockRetry === undefined ? {} : { onLockRetry: options.onLockRetry }),
});
