// Renders the revision graph as Mermaid or Graphviz DOT text (pure). Edges point from a revision
// to the revisions that build on it; `dependsOn` edges are dashed.
import type { RevisionMap, RevisionNode } from "./graph.ts";

export const GraphFormat = { Mermaid: "mermaid", Dot: "dot" } as const;
export type GraphFormat = (typeof GraphFormat)[keyof typeof GraphFormat];

export interface RenderOptions {
  /** Revisions applied to a database, drawn differently from pending ones. */
  applied?: ReadonlySet<string>;
}

export function renderGraph(map: RevisionMap, format: GraphFormat, options: RenderOptions = {}): string {
  return format === GraphFormat.Dot ? renderDot(map, options) : renderMermaid(map, options);
}

function edges(map: RevisionMap): { from: string; to: string; dashed: boolean }[] {
  return map.topological().flatMap((n: RevisionNode) => [
    ...n.revises.map((p) => ({ from: p, to: n.revision, dashed: false })),
    ...n.dependsOn.map((p) => ({ from: p, to: n.revision, dashed: true })),
  ]);
}

function label(n: RevisionNode, heads: Set<string>): string {
  const tags = [heads.has(n.revision) ? "head" : "", ...n.branchLabels.map((l) => `@${l}`)].filter(Boolean);
  return `${n.revision}${tags.length ? ` (${tags.join(", ")})` : ""}\n${n.message}`;
}

function renderMermaid(map: RevisionMap, { applied }: RenderOptions): string {
  const heads = new Set(map.heads().map((h) => h.revision));
  const escape = (s: string) => s.replace(/"/g, "#quot;").replace(/\n/g, "<br/>");
  const lines = ["flowchart TD"];
  for (const n of map.topological()) lines.push(`  r${n.revision}["${escape(label(n, heads))}"]`);
  for (const e of edges(map)) lines.push(`  r${e.from} ${e.dashed ? "-.->" : "-->"} r${e.to}`);
  if (applied) {
    lines.push("  classDef applied fill:#d4edda,stroke:#2e7d32");
    lines.push("  classDef pending fill:#fff3cd,stroke:#b8860b");
    for (const n of map.topological()) lines.push(`  class r${n.revision} ${applied.has(n.revision) ? "applied" : "pending"}`);
  }
  return lines.join("\n");
}

function renderDot(map: RevisionMap, { applied }: RenderOptions): string {
  const heads = new Set(map.heads().map((h) => h.revision));
  const quote = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
  const lines = ["digraph retort {", "  node [shape=box];"];
  for (const n of map.topological()) {
    const attrs = [`label=${quote(label(n, heads))}`];
    if (applied) attrs.push(`style=filled`, `fillcolor=${applied.has(n.revision) ? '"#d4edda"' : '"#fff3cd"'}`);
    lines.push(`  ${quote(n.revision)} [${attrs.join(", ")}];`);
  }
  for (const e of edges(map)) lines.push(`  ${quote(e.from)} -> ${quote(e.to)}${e.dashed ? " [style=dashed]" : ""};`);
  lines.push("}");
  return lines.join("\n");
}
