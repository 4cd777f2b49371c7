// A transaction held open across calls. SqlExecutor.transaction(fn) scopes a transaction to a
// callback; the group transaction only learns part way through a migration that it needs one (a
// statement with bound values, a read), so it opens one then and ends it when the migration ends.
import type { SqlExecutor, SqlSession } from "../sql/executor.ts";

export interface HeldTransaction {
  session: SqlSession;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

class Rollback extends Error {}

export async function holdTransaction(executor: SqlExecutor): Promise<HeldTransaction> {
  let finish!: (commit: boolean) => void;
  const ended = new Promise<boolean>((resolve) => (finish = resolve));
  let opened!: (session: SqlSession) => void;
  const session = new Promise<SqlSession>((resolve) => (opened = resolve));
  const done = executor.transaction(async (tx) => {
    opened(tx);
    if (!(await ended)) throw new Rollback();
  });
  // If BEGIN itself fails, `done` rejects before the session is ever handed out.
  const tx = await Promise.race([session, done.then(() => Promise.reject(new Error("transaction ended before it began")))]);
  return {
    session: tx,
    commit: async () => {
      finish(true);
      await done;
    },
    rollback: async () => {
      finish(false);
      await done.catch((error) => {
        if (!(error instanceof Rollback)) throw error;
      });
    },
  };
}
