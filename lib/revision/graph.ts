// The revision graph. Built once from plain revision nodes, it answers heads, bases, ancestry and
// plans; it does no I/O. Structural problems (duplicates, dangling edges, cycles) are collected
// as data at build time so `check` can report all of them at once; operations that need a sound
// graph throw the first one. Everything is linear (or n log n) in the number of revisions.
import {
  AmbiguousRevisionError,
  CycleError,
  DuplicateRevisionError,
  MissingRevisionError,
  MultipleHeadsError,
  NotReachableError,
  type RevisionError,
  type RevisionRef,
  UnknownRevisionError,
} from "./errors.ts";
import { MinHeap } from "./heap.ts";
import { nearestIds } from "./nearest.ts";

export interface RevisionNode {
  revision: string;
  revises: readonly string[];
  dependsOn: readonly string[];
  branchLabels: readonly string[];
  message: string;
  file: string;
}

const RELATIVE = /^([+-])(\d+)$/;
const PREFIX = /^[0-9a-f]{4,12}$/;

export class RevisionMap<N extends RevisionNode = RevisionNode> {
  /** Duplicates, dangling edges and cycles found while building, in file order. */
  readonly problems: RevisionError[] = [];
  private readonly byId = new Map<string, N>();
  /** Edges parent -> child through `revises` (what decides heads). */
  private readonly children = new Map<string, string[]>();
  /** Edges parent -> child through `revises` and `dependsOn` (what decides order). */
  private readonly successors = new Map<string, string[]>();
  /** Known parents of each revision through both edge kinds. */
  private readonly predecessors = new Map<string, string[]>();
  /** Every revision outside a cycle, bases first; ties broken by file name then id. */
  private readonly order: N[] = [];
  private readonly rank = new Map<string, number>();
  private readonly labels = new Map<string, string>();

  constructor(nodes: readonly N[]) {
    const sorted = [...nodes].sort((a, b) => compare(a.file, b.file) || compare(a.revision, b.revision));
    const duplicates = new Map<string, string[]>();
    for (const node of sorted) {
      const first = this.byId.get(node.revision);
      if (first) {
        const files = duplicates.get(node.revision) ?? [first.file];
        files.push(node.file);
        duplicates.set(node.revision, files);
        continue;
      }
      this.byId.set(node.revision, node);
      for (const label of node.branchLabels) this.labels.set(label, node.revision);
    }
    for (const [revision, files] of duplicates) this.problems.push(new DuplicateRevisionError(revision, files));

    for (const node of this.byId.values()) {
      this.predecessors.set(node.revision, []);
      for (const [edge, parents] of [
        ["revises", node.revises],
        ["dependsOn", node.dependsOn],
      ] as const) {
        for (const parent of parents) {
          if (!this.byId.has(parent)) {
            this.problems.push(
              new MissingRevisionError(ref(node), parent, edge, nearestIds(parent, this.byId.keys())),
            );
            continue;
          }
          if (edge === "revises") push(this.children, parent, node.revision);
          push(this.successors, parent, node.revision);
          this.predecessors.get(node.revision)!.push(parent);
        }
      }
    }
    this.sortTopologically();
  }

  /** Kahn's algorithm with a heap, so the order is deterministic; leftovers sit on or after cycles. */
  private sortTopologically(): void {
    const nodes = [...this.byId.values()];
    const index = new Map(nodes.map((n, i) => [n.revision, i]));
    const indegree = nodes.map((n) => new Set(this.predecessors.get(n.revision)).size);
    const heap = new MinHeap();
    indegree.forEach((d, i) => d === 0 && heap.push(i));
    while (heap.size > 0) {
      const i = heap.pop();
      const node = nodes[i]!;
      this.rank.set(node.revision, this.order.length);
      this.order.push(node);
      for (const child of new Set(this.successors.get(node.revision) ?? [])) {
        const c = index.get(child)!;
        if (--indegree[c]! === 0) heap.push(c);
      }
    }
    if (this.order.length < nodes.length) {
      const left = nodes.filter((n) => !this.rank.has(n.revision)).map((n) => n.revision);
      for (const cycle of this.findCycles(new Set(left))) {
        this.problems.push(new CycleError(cycle.map((r) => ref(this.byId.get(r)!))));
      }
    }
  }

  /** Strongly connected components (iterative Tarjan) of size > 1, or self-loops: the cycles. */
  private findCycles(within: Set<string>): string[][] {
    const indexOf = new Map<string, number>();
    const low = new Map<string, number>();
    const onStack = new Set<string>();
    const stack: string[] = [];
    const cycles: string[][] = [];
    let counter = 0;
    for (const start of within) {
      if (indexOf.has(start)) continue;
      const work: { node: string; next: number }[] = [{ node: start, next: 0 }];
      indexOf.set(start, counter);
      low.set(start, counter++);
      stack.push(start);
      onStack.add(start);
      while (work.length > 0) {
        const frame = work[work.length - 1]!;
        const succ = (this.successors.get(frame.node) ?? []).filter((s) => within.has(s));
        if (frame.next < succ.length) {
          const s = succ[frame.next++]!;
          if (!indexOf.has(s)) {
            indexOf.set(s, counter);
            low.set(s, counter++);
            stack.push(s);
            onStack.add(s);
            work.push({ node: s, next: 0 });
          } else if (onStack.has(s)) {
            low.set(frame.node, Math.min(low.get(frame.node)!, indexOf.get(s)!));
          }
          continue;
        }
        work.pop();
        const parent = work[work.length - 1];
        if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
        if (low.get(frame.node) === indexOf.get(frame.node)) {
          const component: string[] = [];
          let member: string;
          do {
            member = stack.pop()!;
            onStack.delete(member);
            component.push(member);
          } while (member !== frame.node);
          const selfLoop = (this.successors.get(frame.node) ?? []).includes(frame.node);
          if (component.length > 1 || selfLoop) cycles.push(component.reverse());
        }
      }
    }
    return cycles;
  }

  /** Throws the first structural problem; plans need a sound graph. */
  assertSound(): void {
    if (this.problems.length > 0) throw this.problems[0];
  }

  get size(): number {
    return this.byId.size;
  }

  get(revision: string): N | undefined {
    return this.byId.get(revision);
  }

  has(revision: string): boolean {
    return this.byId.has(revision);
  }

  /** All revisions, bases first (revisions caught in a cycle are left out). */
  topological(): N[] {
    return [...this.order];
  }

  /** Revisions that no revision revises, in graph order. */
  heads(): N[] {
    return this.order.filter((n) => !this.children.has(n.revision));
  }

  bases(): N[] {
    return this.order.filter((n) => n.revises.length === 0);
  }

  /** Revisions revised by more than one revision: where the graph branches. */
  branchPoints(): N[] {
    return this.order.filter((n) => (this.children.get(n.revision)?.length ?? 0) > 1);
  }

  /** Revisions that revise more than one revision. */
  mergePoints(): N[] {
    return this.order.filter((n) => n.revises.length > 1);
  }

  childrenOf(revision: string): string[] {
    return [...(this.children.get(revision) ?? [])];
  }

  /** Everything that must be applied before (and with `inclusive`, including) the given revisions. */
  ancestors(revisions: Iterable<string>, inclusive = false): Set<string> {
    return this.closure(revisions, this.predecessors, inclusive);
  }

  /** Everything that needs any of the given revisions. */
  descendants(revisions: Iterable<string>, inclusive = false): Set<string> {
    return this.closure(revisions, this.successors, inclusive);
  }

  private closure(start: Iterable<string>, edges: Map<string, string[]>, inclusive: boolean): Set<string> {
    const seen = new Set<string>();
    const stack: string[] = [];
    for (const s of start) {
      if (inclusive) seen.add(s);
      stack.push(s);
    }
    while (stack.length > 0) {
      for (const next of edges.get(stack.pop()!) ?? []) {
        if (!seen.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
    return seen;
  }

  /** The smallest set of revisions whose ancestry is `applied`: what the version table stores. */
  headsOf(applied: ReadonlySet<string>): string[] {
    return this.order
      .filter((n) => applied.has(n.revision))
      .filter((n) => !(this.successors.get(n.revision) ?? []).some((c) => applied.has(c)))
      .map((n) => n.revision);
  }

  /**
   * Resolves a target to revision ids: `heads`, `head` (only when unique), `base` (none), a full id,
   * a unique prefix of at least 4 hex digits, a branch label, or `<label or id>@head`.
   */
  resolve(target: string): string[] {
    if (target === "heads") return this.heads().map((n) => n.revision);
    if (target === "base") return [];
    if (target === "head") {
      const heads = this.heads();
      if (heads.length !== 1) throw new MultipleHeadsError(heads.map(ref));
      return [heads[0]!.revision];
    }
    const at = target.lastIndexOf("@");
    if (at > 0 && target.slice(at + 1) === "head") {
      const branch = this.resolveOne(target.slice(0, at));
      const onBranch = this.descendants([branch], true);
      const heads = this.heads().filter((n) => onBranch.has(n.revision));
      if (heads.length !== 1) {
        throw new MultipleHeadsError(heads.map(ref), `Branch '${target.slice(0, at)}' has`);
      }
      return [heads[0]!.revision];
    }
    return [this.resolveOne(target)];
  }

  private resolveOne(target: string): string {
    if (this.byId.has(target)) return target;
    const labelled = this.labels.get(target);
    if (labelled) return labelled;
    if (PREFIX.test(target)) {
      const candidates = [...this.byId.keys()].filter((id) => id.startsWith(target));
      if (candidates.length === 1) return candidates[0]!;
      if (candidates.length > 1) {
        throw new AmbiguousRevisionError(target, candidates.map((c) => ref(this.byId.get(c)!)));
      }
    }
    throw new UnknownRevisionError(target, nearestIds(target, [...this.byId.keys(), ...this.labels.keys()]));
  }

  /** Rejects database heads that no migration file defines. */
  private appliedSet(currentHeads: readonly string[]): Set<string> {
    for (const head of currentHeads) {
      if (!this.byId.has(head)) {
        throw new UnknownRevisionError(
          head,
          nearestIds(head, this.byId.keys()),
          "recorded as applied in the database, but no migration file defines it",
        );
      }
    }
    return this.ancestors(currentHeads, true);
  }

  /**
   * The revisions to apply, in order, to go from `currentHeads` to `target` (default `heads`).
   * `+N` means the next N revisions of the full plan. Already-applied targets give an empty plan.
   */
  upgradePlan(currentHeads: readonly string[], target = "heads"): N[] {
    this.assertSound();
    const applied = this.appliedSet(currentHeads);
    const relative = RELATIVE.exec(target);
    if (relative) {
      const steps = Number(relative[2]);
      if (relative[1] === "-") {
        throw new NotReachableError(`'${target}' goes down; run \`retort downgrade ${target}\``, []);
      }
      const pending = this.order.filter((n) => !applied.has(n.revision));
      if (steps > pending.length) {
        throw new NotReachableError(
          `Can't upgrade ${target}: only ${pending.length} revision(s) are pending; run \`retort status\``,
          pending.map((n) => n.revision),
        );
      }
      return pending.slice(0, steps);
    }
    const needed = this.ancestors(this.resolve(target), true);
    return this.order.filter((n) => needed.has(n.revision) && !applied.has(n.revision));
  }

  /**
   * The revisions to revert, newest first, to go from `currentHeads` down to `target`: a revision
   * (its descendants are reverted, other branches stay), `-N` (the last N applied) or `base`.
   */
  downgradePlan(currentHeads: readonly string[], target: string): N[] {
    this.assertSound();
    const applied = this.appliedSet(currentHeads);
    const newestFirst = this.order.filter((n) => applied.has(n.revision)).reverse();
    const relative = RELATIVE.exec(target);
    if (relative) {
      const steps = Number(relative[2]);
      if (relative[1] === "+") {
        throw new NotReachableError(`'${target}' goes up; run \`retort upgrade ${target}\``, []);
      }
      if (steps > newestFirst.length) {
        throw new NotReachableError(
          `Can't downgrade ${target}: only ${newestFirst.length} revision(s) are applied; ` +
            "run `retort downgrade base` to revert everything",
          newestFirst.map((n) => n.revision),
        );
      }
      return newestFirst.slice(0, steps);
    }
    if (target === "base") return newestFirst;
    const targets = this.resolve(target);
    for (const t of targets) {
      if (!applied.has(t)) {
        const node = this.byId.get(t)!;
        throw new NotReachableError(
          `Can't downgrade to ${t} (${node.file}): it is not applied (database heads: ` +
            `${currentHeads.join(", ") || "none"}); run \`retort upgrade ${t}\` to go up to it instead`,
          [t],
          [node.file],
        );
      }
    }
    const revert = this.descendants(targets);
    return newestFirst.filter((n) => revert.has(n.revision));
  }
}

function ref(node: RevisionNode): RevisionRef {
  return { revision: node.revision, file: node.file, message: node.message };
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
