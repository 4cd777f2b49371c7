// `retort lint [--from <rev>]`: the lint rules over the pending migrations, without a database:
// every migration from base, or those after --from (the revision production is at).
import { DEFAULT_SCHEMA } from "../constants.ts";
import { type LintResult, lintMigrations } from "../lint/lint.ts";
import { type Context, loadSoundGraph, requireDialect } from "./context.ts";

export async function lint(ctx: Context, options: { from?: string } = {}): Promise<LintResult> {
  const { map } = await loadSoundGraph(ctx);
  const from = options.from === undefined || options.from === "base" ? [] : map.resolve(options.from);
  return lintMigrations(map, { from, defaultSchema: ctx.database?.defaultSchema ?? DEFAULT_SCHEMA, dialect: requireDialect(ctx, "lint") });
}
