// `retort unlock --force`: break the lock of a target whose holder is gone, without waiting for
// its lease to expire. The fencing token is bumped (past the highest token the database has seen,
// so a recreated lock table cannot leave every later run refused), which fences the old holder
// out should it still be alive; its run is recorded as abandoned.
import type { ForceReleaseResult } from "../state/lock.ts";
import { type Context, requireDatabase } from "./context.ts";
import { UsageError } from "./revision.ts";

export interface UnlockResult extends ForceReleaseResult {
  /** Where the lock lives. */
  lock: string;
  /** Whether the broken holder's run was recorded as abandoned. */
  abandoned: boolean;
}

export async function unlock(ctx: Context, options: { force?: boolean }): Promise<UnlockResult> {
  const db = requireDatabase(ctx, "unlock");
  if (!options.force) {
    throw new UsageError(
      `unlock breaks the migration lock for ${db.lockKey} whoever holds it, even a runner that is still working ` +
        "(its next transaction is then refused by fencing). Check `retort status` first, then run `retort unlock --force`",
    );
  }
  const minToken = await db.versionTable.fenceToken(db.executor, db.lockKey, db.lock.description);
  const result = await db.lock.forceRelease(db.lockKey, minToken === null ? {} : { minToken });
  let abandoned = false;
  if (result.broken && db.history) {
    abandoned = await db.history.abandon(result.broken, {
      description: "retort unlock --force",
      token: result.token,
      at: new Date().toISOString(),
    });
  }
  return { ...result, lock: db.lock.description, abandoned };
}
