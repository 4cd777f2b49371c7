// `retort check`: every consistency problem of the migrations, without a database, in one run.
import { MultipleHeadsError, type ProblemData } from "../revision/errors.ts";
import { type Context, type LoadedGraph, loadGraph } from "./context.ts";

export interface CheckResult {
  ok: boolean;
  revisions: number;
  heads: string[];
  problems: ProblemData[];
}

export async function check(ctx: Context): Promise<CheckResult> {
  return checkGraph(await loadGraph(ctx));
}

/** The check of an already loaded graph (safe-upgrade runs it before taking the lock). */
export function checkGraph({ migrations, map, problems }: LoadedGraph): CheckResult {
  const heads = map.heads();
  const all = [...problems];
  // A dangling edge splits the graph, so its head count would only echo that problem.
  if (heads.length > 1 && !problems.some((p) => p.code === "missing-revision")) {
    all.push(new MultipleHeadsError(heads.map((h) => ({ revision: h.revision, file: h.file, message: h.message }))));
  }
  return {
    ok: all.length === 0,
    revisions: migrations.length,
    heads: heads.map((h) => h.revision),
    problems: all.map((p) => p.toJSON()),
  };
}
