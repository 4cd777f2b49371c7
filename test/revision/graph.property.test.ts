import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RevisionMap, type RevisionNode } from "../../lib/revision/graph.ts";

/** A random DAG: node i may revise or depend on any earlier node, so there is never a cycle. */
const dag = fc
  .integer({ min: 1, max: 40 })
  .chain((size) =>
    fc.tuple(
      ...Array.from({ length: size }, (_, i) =>
        fc.record({
          revises: i === 0 ? fc.constant<number[]>([]) : fc.uniqueArray(fc.nat(i - 1), { maxLength: 3 }),
          dependsOn: i === 0 ? fc.constant<number[]>([]) : fc.uniqueArray(fc.nat(i - 1), { maxLength: 1 }),
        }),
      ),
    ),
  )
  .map((specs) =>
    specs.map(
      (s, i): RevisionNode => ({
        revision: `r${i}`,
        revises: s.revises.map((p) => `r${p}`),
        dependsOn: s.dependsOn.filter((p) => !s.revises.includes(p)).map((p) => `r${p}`),
        branchLabels: [],
        message: `m${i}`,
        // Shuffled file names, so file order is not the topological order.
        file: `f${(i * 7919) % 1009}.ts`,
      }),
    ),
  );

function respectsEdges(order: RevisionNode[], pre: ReadonlySet<string> = new Set()): boolean {
  const seen = new Set(pre);
  for (const node of order) {
    if (![...node.revises, ...node.dependsOn].every((p) => seen.has(p))) return false;
    seen.add(node.revision);
  }
  return true;
}

describe("on random DAGs", () => {
  it("the full upgrade plan applies every revision once, after all it revises and depends on", () => {
    fc.assert(
      fc.property(dag, (nodes) => {
        const map = new RevisionMap(nodes);
        expect(map.problems).toEqual([]);
        const plan = map.upgradePlan([]);
        expect(plan).toHaveLength(nodes.length);
        expect(respectsEdges(plan)).toBe(true);
      }),
    );
  });

  it("heads are exactly the revisions nobody revises", () => {
    fc.assert(
      fc.property(dag, (nodes) => {
        const revised = new Set(nodes.flatMap((n) => n.revises));
        const expected = nodes.filter((n) => !revised.has(n.revision)).map((n) => n.revision).sort();
        expect(new RevisionMap(nodes).heads().map((h) => h.revision).sort()).toEqual(expected);
      }),
    );
  });

  it("from any applied state, the plan to heads completes it and respects every edge", () => {
    fc.assert(
      fc.property(dag, fc.array(fc.nat(), { maxLength: 4 }), (nodes, picks) => {
        const map = new RevisionMap(nodes);
        const current = map.headsOf(map.ancestors(picks.map((p) => `r${p % nodes.length}`), true));
        const applied = map.ancestors(current, true);
        const plan = map.upgradePlan(current);
        expect(plan.every((n) => !applied.has(n.revision))).toBe(true);
        expect(applied.size + plan.length).toBe(nodes.length);
        expect(respectsEdges(plan, applied)).toBe(true);
      }),
    );
  });

  it("downgrading to base reverts each revision before anything it builds on", () => {
    fc.assert(
      fc.property(dag, (nodes) => {
        const map = new RevisionMap(nodes);
        const all = map.heads().map((h) => h.revision);
        const revert = map.downgradePlan(all, "base");
        expect(revert).toHaveLength(nodes.length);
        expect(respectsEdges([...revert].reverse())).toBe(true);
      }),
    );
  });

  it("a merge revision over all heads leaves exactly one head", () => {
    fc.assert(
      fc.property(dag, (nodes) => {
        const heads = new RevisionMap(nodes).heads().map((h) => h.revision);
        const merged = new RevisionMap([
          ...nodes,
          { revision: "merge", revises: heads, dependsOn: [], branchLabels: [], message: "merge", file: "zz.ts" },
        ]);
        expect(merged.heads().map((h) => h.revision)).toEqual(["merge"]);
        expect(merged.problems).toEqual([]);
      }),
    );
  });

  it("the order does not depend on the order the files were read in", () => {
    fc.assert(
      fc.property(dag, fc.nat(), (nodes, seed) => {
        const shuffled = [...nodes].sort((a, b) => ((a.revision.length * seed) % 7) - ((b.revision.length * seed) % 7) || (a.file < b.file ? 1 : -1));
        const ids = (m: RevisionMap) => m.topological().map((n) => n.revision);
        expect(ids(new RevisionMap(shuffled))).toEqual(ids(new RevisionMap(nodes)));
      }),
    );
  });
});
