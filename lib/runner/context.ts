// What every command runs over: the migration source now; the executor, lock and history ports
// join it as later layers land. Commands receive a Context and return data; the CLI prints it.
import { RevisionMap } from "../revision/graph.ts";
import type { RevisionError } from "../revision/errors.ts";
import type { MigrationSource } from "../revision/loader.ts";
import type { Migration } from "../revision/migration.ts";

export interface Context {
  source: MigrationSource;
  /** Where `revision` and `reset-heads` write new files (the CLI's --dir). */
  directory?: string;
  /** The clock, injectable so tests are deterministic. */
  now?: () => Date;
}

export interface LoadedGraph {
  migrations: Migration[];
  map: RevisionMap<Migration>;
  /** Loading and structural problems (invalid files, bad names, duplicates, dangling edges, cycles). */
  problems: RevisionError[];
}

export async function loadGraph(ctx: Context): Promise<LoadedGraph> {
  const { migrations, problems } = await ctx.source.load();
  const map = new RevisionMap(migrations);
  return { migrations, map, problems: [...problems, ...map.problems] };
}

/** Problems that make the graph unusable (a bad file name alone does not). */
export function blocking(problems: readonly RevisionError[]): RevisionError[] {
  return problems.filter((p) => p.code !== "bad-filename");
}

/** Loads the graph and throws the first problem that would make any answer wrong. */
export async function loadSoundGraph(ctx: Context): Promise<LoadedGraph> {
  const graph = await loadGraph(ctx);
  const first = blocking(graph.problems)[0];
  if (first) throw first;
  return graph;
}
