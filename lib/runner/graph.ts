// `retort graph`: the revision graph as Mermaid or DOT text.
import { type GraphFormat, renderGraph } from "../revision/render.ts";
import { LoadNeed } from "../revision/loader.ts";
import { type Context, loadSoundGraph } from "./context.ts";

export async function graph(ctx: Context, format: GraphFormat): Promise<{ format: GraphFormat; text: string }> {
  const { map } = await loadSoundGraph(ctx, LoadNeed.Metadata);
  return { format, text: renderGraph(map, format) };
}
