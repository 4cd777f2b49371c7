// `retort check`: every consistency problem of the migrations, without a database, in one run.
import type { BundleManifest } from "../revision/bundle.ts";
import { MultipleHeadsError, type ProblemData } from "../revision/errors.ts";
import { LoadNeed } from "../revision/loader.ts";
import { type Context, type LoadedGraph, loadGraph } from "./context.ts";

export interface CheckResult {
  ok: boolean;
  revisions: number;
  heads: string[];
  problems: ProblemData[];
  /** The files and checksums the migrations were bundled from, when they come from a bundle. */
  bundle?: BundleManifest;
}

export async function check(ctx: Context): Promise<CheckResult> {
  const result = checkGraph(await loadGraph(ctx, LoadNeed.Checked));
  return ctx.source.manifest ? { ...result, bundle: ctx.source.manifest } : result;
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
