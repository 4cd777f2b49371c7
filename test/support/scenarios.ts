// One database per target for a test file, and a fresh schema on it per scenario: the runner's
// tables and the migrations' objects live in that schema, so scenarios share the database without
// meeting. Every call goes through a CountingExecutor the test can reset and read.
import { afterAll, beforeAll } from "vitest";
import type { Context } from "../../lib/runner/context.ts";
import { databaseContext } from "../../lib/runner/database.ts";
import { CountingExecutor } from "../../lib/sql/counting-executor.ts";
import type { SqlExecutor } from "../../lib/sql/executor.ts";
import type { TestDatabase } from "./databases.ts";
import { type InlineMigration, memorySource } from "./memory-source.ts";

export interface Scenarios {
  /** The database itself, for looking at what a run did. */
  readonly executor: SqlExecutor;
  /** What the runner sent. */
  readonly counting: CountingExecutor;
  /** A context over a new schema, with these migrations as its source. */
  scenario(defs: InlineMigration[]): Promise<Context & { schema: string }>;
}

/** Call inside a describe block: opens the target's database before its tests, closes it after. */
export function useScenarios(target: TestDatabase, prefix: string): Scenarios {
  let executor: SqlExecutor | undefined;
  let counting: CountingExecutor | undefined;
  let n = 0;
  beforeAll(async () => {
    executor = await target.open();
    counting = new CountingExecutor(executor);
  });
  afterAll(() => executor?.close());
  return {
    get executor() {
      return executor!;
    },
    get counting() {
      return counting!;
    },
    async scenario(defs) {
      const schema = `${prefix}_${++n}`;
      await executor!.query(`CREATE SCHEMA ${schema}`);
      return {
        schema,
        source: memorySource(defs),
        database: databaseContext(counting!, { versionSchema: schema, defaultSchema: schema, lockKey: schema }),
      };
    },
  };
}
