import { describe, expect, it } from "vitest";
import {
  AmbiguousRevisionError,
  CycleError,
  DuplicateRevisionError,
  MissingRevisionError,
  MultipleHeadsError,
  NotReachableError,
  UnknownRevisionError,
} from "../../lib/revision/errors.ts";
import { RevisionMap, type RevisionNode } from "../../lib/revision/graph.ts";

function n(
  revision: string,
  revises: string | string[] | null,
  extra: { dependsOn?: string[]; branchLabels?: string[]; file?: string } = {},
): RevisionNode {
  return {
    revision,
    revises: revises === null ? [] : typeof revises === "string" ? [revises] : revises,
    dependsOn: extra.dependsOn ?? [],
    branchLabels: extra.branchLabels ?? [],
    message: `msg ${revision}`,
    file: extra.file ?? `migrations/2026_${revision}.ts`,
  };
}

const ids = (nodes: RevisionNode[]) => nodes.map((x) => x.revision);

describe("a linear graph", () => {
  const map = new RevisionMap([n("c", "b"), n("a", null), n("b", "a")]);

  it("has one base, one head and orders bases first", () => {
    expect(map.problems).toEqual([]);
    expect(ids(map.bases())).toEqual(["a"]);
    expect(ids(map.heads())).toEqual(["c"]);
    expect(ids(map.topological())).toEqual(["a", "b", "c"]);
  });

  it("plans upgrades from any point, and nothing when up to date", () => {
    expect(ids(map.upgradePlan([]))).toEqual(["a", "b", "c"]);
    expect(ids(map.upgradePlan(["a"]))).toEqual(["b", "c"]);
    expect(ids(map.upgradePlan(["a"], "b"))).toEqual(["b"]);
    expect(ids(map.upgradePlan(["c"]))).toEqual([]);
    expect(ids(map.upgradePlan(["c"], "a"))).toEqual([]);
    expect(ids(map.upgradePlan([], "+2"))).toEqual(["a", "b"]);
  });

  it("plans downgrades newest first", () => {
    expect(ids(map.downgradePlan(["c"], "a"))).toEqual(["c", "b"]);
    expect(ids(map.downgradePlan(["c"], "-1"))).toEqual(["c"]);
    expect(ids(map.downgradePlan(["c"], "base"))).toEqual(["c", "b", "a"]);
    expect(ids(map.downgradePlan(["b"], "b"))).toEqual([]);
  });

  it("refuses relative steps beyond the ends with the counts", () => {
    expect(() => map.upgradePlan(["b"], "+2")).toThrow(
      "Can't upgrade +2: only 1 revision(s) are pending; run `retort status`",
    );
    expect(() => map.downgradePlan(["b"], "-3")).toThrow(
      "Can't downgrade -3: only 2 revision(s) are applied; run `retort downgrade base` to revert everything",
    );
    expect(() => map.upgradePlan([], "-1")).toThrow(NotReachableError);
    expect(() => map.downgradePlan(["c"], "+1")).toThrow(NotReachableError);
  });

  it("refuses to downgrade to a revision that is not applied", () => {
    expect(() => map.downgradePlan(["a"], "c")).toThrow(
      "Can't downgrade to c (migrations/2026_c.ts): it is not applied (database heads: a); " +
        "run `retort upgrade c` to go up to it instead",
    );
  });

  it("rejects database heads that no file defines", () => {
    expect(() => map.upgradePlan(["zz"])).toThrow(UnknownRevisionError);
    expect(() => map.upgradePlan(["zz"])).toThrow(
      "Can't locate revision identified by 'zz' (recorded as applied in the database, but no migration file defines it)",
    );
  });
});

describe("a diamond (branch and merge)", () => {
  // a -> b, a -> c, (b, c) -> d
  const map = new RevisionMap([n("a", null), n("b", "a"), n("c", "a", { branchLabels: ["side"] }), n("d", ["b", "c"])]);

  it("finds the branch point and the merge point", () => {
    expect(ids(map.branchPoints())).toEqual(["a"]);
    expect(ids(map.mergePoints())).toEqual(["d"]);
    expect(ids(map.heads())).toEqual(["d"]);
  });

  it("never applies the merge before both parents", () => {
    expect(ids(map.upgradePlan([]))).toEqual(["a", "b", "c", "d"]);
    expect(ids(map.upgradePlan(["b"]))).toEqual(["c", "d"]);
  });

  it("downgrading to one side reverts only what builds on it", () => {
    expect(ids(map.downgradePlan(["d"], "b"))).toEqual(["d"]);
    expect(ids(map.downgradePlan(["d"], "a"))).toEqual(["d", "c", "b"]);
  });

  it("keeps the minimal set of heads for a partly applied graph", () => {
    expect(map.headsOf(new Set(["a", "b", "c"]))).toEqual(["b", "c"]);
    expect(map.headsOf(map.ancestors(["d"], true))).toEqual(["d"]);
  });

  it("resolves a branch label and label@head", () => {
    expect(map.resolve("side")).toEqual(["c"]);
    expect(map.resolve("side@head")).toEqual(["d"]);
  });
});

describe("two bases and two heads", () => {
  const map = new RevisionMap([n("a1", null), n("a2", "a1"), n("b1", null, { branchLabels: ["billing"] }), n("b2", "b1")]);

  it("lists both and upgrades both to `heads`", () => {
    expect(ids(map.bases())).toEqual(["a1", "b1"]);
    expect(ids(map.heads())).toEqual(["a2", "b2"]);
    expect(ids(map.upgradePlan([]))).toEqual(["a1", "a2", "b1", "b2"]);
    expect(ids(map.upgradePlan([], "billing@head"))).toEqual(["b1", "b2"]);
  });

  it("refuses `head` when there are several, naming each head with its file", () => {
    expect(() => map.resolve("head")).toThrow(MultipleHeadsError);
    expect(() => map.resolve("head")).toThrow(
      "The migrations have 2 heads: a2 (migrations/2026_a2.ts: msg a2), b2 (migrations/2026_b2.ts: msg b2); " +
        "run `retort reset-heads` to merge them, or name one head as the target",
    );
  });

  it("downgrading one branch to base leaves the other", () => {
    expect(ids(map.downgradePlan(["a2", "b2"], "b1"))).toEqual(["b2"]);
  });
});

describe("dependsOn", () => {
  // b depends on x from another branch: x must come first although b does not revise it.
  const map = new RevisionMap([n("a", null), n("b", "a", { dependsOn: ["x"] }), n("x", null, { file: "migrations/9999_x.ts" })]);

  it("orders the dependency first, but does not make it a non-head", () => {
    expect(ids(map.upgradePlan([], "b"))).toEqual(["a", "x", "b"]);
    expect(ids(map.heads())).toEqual(["x", "b"]);
  });

  it("reverts the dependent before its dependency", () => {
    expect(ids(map.downgradePlan(["b"], "-2"))).toEqual(["b", "x"]);
    expect(ids(map.downgradePlan(["b"], "x"))).toEqual(["b"]);
    expect(map.headsOf(new Set(["a", "x", "b"]))).toEqual(["b"]);
  });
});

describe("resolving targets", () => {
  const map = new RevisionMap([
    n("3f9c2a7b1d4e", null),
    n("3f9c99999999", "3f9c2a7b1d4e"),
    n("8a1d0c55e2b9", "3f9c99999999"),
  ]);

  it("accepts a unique prefix of four or more digits", () => {
    expect(map.resolve("8a1d")).toEqual(["8a1d0c55e2b9"]);
    expect(map.resolve("3f9c2")).toEqual(["3f9c2a7b1d4e"]);
  });

  it("names the candidates of an ambiguous prefix", () => {
    expect(() => map.resolve("3f9c")).toThrow(AmbiguousRevisionError);
    expect(() => map.resolve("3f9c")).toThrow(/matches 2 revisions: 3f9c2a7b1d4e .*, 3f9c99999999 .*; give more digits/);
  });

  it("says Can't locate and suggests the nearest ids", () => {
    expect(() => map.resolve("8a1d0c55e2b8")).toThrow(
      "Can't locate revision identified by '8a1d0c55e2b8'; nearest ids: 8a1d0c55e2b9; run `retort history` to list the revisions",
    );
    expect(() => map.resolve("8a1")).toThrow(UnknownRevisionError);
  });

  it("accepts heads, head and base", () => {
    expect(map.resolve("heads")).toEqual(["8a1d0c55e2b9"]);
    expect(map.resolve("head")).toEqual(["8a1d0c55e2b9"]);
    expect(map.resolve("base")).toEqual([]);
  });
});

describe("structural problems are collected, all of them", () => {
  it("a cycle names the revisions on it", () => {
    const map = new RevisionMap([n("a", null), n("b", ["a", "d"]), n("c", "b"), n("d", "c"), n("e", "d")]);
    expect(map.problems).toHaveLength(1);
    const problem = map.problems[0]!;
    expect(problem).toBeInstanceOf(CycleError);
    expect(problem.revisions).toEqual(["b", "c", "d"]);
    expect(problem.message).toMatch(/^Cycle in the revision graph: b -> c -> d -> b \(files migrations\/2026_b.ts/);
    expect(() => map.upgradePlan([])).toThrow(CycleError);
  });

  it("a revision revising itself through dependsOn is a cycle", () => {
    const map = new RevisionMap([n("a", null, { dependsOn: ["a"] })]);
    expect(map.problems.map((p) => p.code)).toEqual(["cycle"]);
  });

  it("a duplicate id names both files", () => {
    const map = new RevisionMap([n("a", null, { file: "m/1.ts" }), n("a", null, { file: "m/2.ts" })]);
    expect(map.problems[0]).toBeInstanceOf(DuplicateRevisionError);
    expect(map.problems[0]!.files).toEqual(["m/1.ts", "m/2.ts"]);
    expect(map.problems[0]!.message).toMatch(/^Revision a is defined by 2 files: m\/1.ts, m\/2.ts;/);
  });

  it("a dangling revises or dependsOn says which file points where", () => {
    const map = new RevisionMap([
      n("aaaaaaaaaaaa", null),
      n("bbbbbbbbbbbb", "aaaaaaaaaaab"),
      n("cccccccccccc", "aaaaaaaaaaaa", { dependsOn: ["ffffffffffff"] }),
    ]);
    expect(map.problems.map((p) => p.code)).toEqual(["missing-revision", "missing-revision"]);
    expect(map.problems[0]).toBeInstanceOf(MissingRevisionError);
    expect(map.problems[0]!.message).toBe(
      "migrations/2026_bbbbbbbbbbbb.ts (revision bbbbbbbbbbbb) revises 'aaaaaaaaaaab', which no migration defines; " +
        "did you mean aaaaaaaaaaaa?; correct the id, or restore the missing migration file, then run `retort check`",
    );
    expect(map.problems[1]!.message).toMatch(/dependsOn 'ffffffffffff', which no migration defines/);
  });
});
