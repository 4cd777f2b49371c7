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
  // Internally every revision is an integer (its position in file order) and the edges are
  // compressed adjacency arrays: string-keyed maps and per-node arrays stop scaling linearly
  // past ~10k revisions (cache misses), integer arrays do not.
  private readonly nodes: N[] = [];
  private readonly index = new Map<string, number>();
  /** parent -> children through `revises` and `dependsOn` (what decides order), CSR form. */
  private readonly succStart: Int32Array;
  private readonly succ: Int32Array;
  /** child -> parents through both edge kinds, CSR form. */
  private readonly predStart: Int32Array;
  private readonly pred: Int32Array;
  /** How many revisions revise each revision (what decides heads and branch points). */
  private readonly childCount: Int32Array;
  /** Revisions outside any cycle, bases first; ties broken by file name then id. */
  private readonly order: Int32Array;
  private readonly labels = new Map<string, number>();

  constructor(input: readonly N[]) {
    const byFile = (a: N, b: N) => compare(a.file, b.file) || compare(a.revision, b.revision);
    // Sources already list files in name order; checking that is linear, sorting is not.
    const inOrder = input.every((node, i) => i === 0 || byFile(input[i - 1]!, node) <= 0);
    const sorted = inOrder ? input : [...input].sort(byFile);
    const duplicates = new Map<string, string[]>();
    for (const node of sorted) {
      const first = this.index.get(node.revision);
      if (first !== undefined) {
        const files = duplicates.get(node.revision) ?? [this.nodes[first]!.file];
        files.push(node.file);
        duplicates.set(node.revision, files);
        continue;
      }
      this.index.set(node.revision, this.nodes.length);
      this.nodes.push(node);
    }
    for (const [revision, files] of duplicates) this.problems.push(new DuplicateRevisionError(revision, files));
    const n = this.nodes.length;
    this.nodes.forEach((node, i) => node.branchLabels.forEach((label) => this.labels.set(label, i)));

    // Edges as parallel arrays, then counting-sorted into CSR by source and by target.
    const from: number[] = [];
    const to: number[] = [];
    this.childCount = new Int32Array(n);
    const addEdge = (child: number, revision: string, edge: "revises" | "dependsOn") => {
      const parent = this.index.get(revision);
      if (parent === undefined) {
        const node = this.nodes[child]!;
        const known = [...this.index.keys()].filter((id) => id !== node.revision);
        this.problems.push(new MissingRevisionError(ref(node), revision, edge, nearestIds(revision, known)));
        return;
      }
      from.push(parent);
      to.push(child);
      if (edge === "revises") this.childCount[parent]! += 1;
    };
    for (let child = 0; child < n; child += 1) {
      const node = this.nodes[child]!;
      for (const revision of node.revises) addEdge(child, revision, "revises");
      for (const revision of node.dependsOn) if (!node.revises.includes(revision)) addEdge(child, revision, "dependsOn");
    }
    [this.succStart, this.succ] = compress(n, from, to);
    [this.predStart, this.pred] = compress(n, to, from);
    this.order = this.sortTopologically();
  }

  /** Kahn's algorithm with a heap of file-order positions, so the order is deterministic. */
  private sortTopologically(): Int32Array {
    const n = this.nodes.length;
    const indegree = new Int32Array(n);
    for (let i = 0; i < n; i += 1) indegree[i] = this.predStart[i + 1]! - this.predStart[i]!;
    const heap = new MinHeap();
    for (let i = 0; i < n; i += 1) if (indegree[i] === 0) heap.push(i);
    const order = new Int32Array(n);
    let count = 0;
    while (heap.size > 0) {
      const i = heap.pop();
      order[count++] = i;
      for (let e = this.succStart[i]!; e < this.succStart[i + 1]!; e += 1) {
        const c = this.succ[e]!;
        if (--indegree[c]! === 0) heap.push(c);
      }
    }
    if (count < n) {
      const left = new Uint8Array(n);
      for (let i = 0; i < n; i += 1) if (indegree[i]! > 0) left[i] = 1;
      for (const cycle of this.findCycles(left)) {
        this.problems.push(new CycleError(cycle.map((i) => ref(this.nodes[i]!))));
      }
    }
    return order.subarray(0, count);
  }

  /** Strongly connected components (iterative Tarjan) of size > 1, or self-loops: the cycles. */
  private findCycles(within: Uint8Array): number[][] {
    const n = this.nodes.length;
    const indexOf = new Int32Array(n).fill(-1);
    const low = new Int32Array(n);
    const onStack = new Uint8Array(n);
    const stack: number[] = [];
    const cycles: number[][] = [];
    let counter = 0;
    const successors = (i: number) => [...this.succ.subarray(this.succStart[i]!, this.succStart[i + 1]!)].filter((s) => within[s]);
    for (let start = 0; start < n; start += 1) {
      if (!within[start] || indexOf[start] !== -1) continue;
      const work = [{ node: start, next: 0, succ: successors(start) }];
      indexOf[start] = low[start] = counter++;
      stack.push(start);
      onStack[start] = 1;
      while (work.length > 0) {
        const frame = work[work.length - 1]!;
        if (frame.next < frame.succ.length) {
          const s = frame.succ[frame.next++]!;
          if (indexOf[s] === -1) {
            indexOf[s] = low[s] = counter++;
            stack.push(s);
            onStack[s] = 1;
            work.push({ node: s, next: 0, succ: successors(s) });
          } else if (onStack[s]) {
            low[frame.node] = Math.min(low[frame.node]!, indexOf[s]!);
          }
          continue;
        }
        work.pop();
        const parent = work[work.length - 1];
        if (parent) low[parent.node] = Math.min(low[parent.node]!, low[frame.node]!);
        if (low[frame.node] === indexOf[frame.node]) {
          const component: number[] = [];
          let member: number;
          do {
            member = stack.pop()!;
            onStack[member] = 0;
            component.push(member);
          } while (member !== frame.node);
          if (component.length > 1 || frame.succ.includes(frame.node)) cycles.push(component.reverse());
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
    return this.nodes.length;
  }

  get(revision: string): N | undefined {
    const i = this.index.get(revision);
    return i === undefined ? undefined : this.nodes[i];
  }

  has(revision: string): boolean {
    return this.index.has(revision);
  }

  /** All revisions, bases first (revisions caught in a cycle are left out). */
  topological(): N[] {
    return this.pick(() => true);
  }

  /** Revisions that no revision revises, in graph order. */
  heads(): N[] {
    return this.pick((i) => this.childCount[i] === 0);
  }

  bases(): N[] {
    return this.pick((i) => this.nodes[i]!.revises.length === 0);
  }

  /** Revisions revised by more than one revision: where the graph branches. */
  branchPoints(): N[] {
    return this.pick((i) => this.childCount[i]! > 1);
  }

  /** Revisions that revise more than one revision. */
  mergePoints(): N[] {
    return this.pick((i) => this.nodes[i]!.revises.length > 1);
  }

  /** Revisions in graph order for which `keep` holds. */
  private pick(keep: (i: number) => boolean): N[] {
    const out: N[] = [];
    for (const i of this.order) if (keep(i)) out.push(this.nodes[i]!);
    return out;
  }

  /** Everything that must be applied before (and with `inclusive`, including) the given revisions. */
  ancestors(revisions: Iterable<string>, inclusive = false): Set<string> {
    return this.ids(this.closure(this.indices(revisions), this.predStart, this.pred, inclusive));
  }

  /** Everything that needs any of the given revisions. */
  descendants(revisions: Iterable<string>, inclusive = false): Set<string> {
    return this.ids(this.closure(this.indices(revisions), this.succStart, this.succ, inclusive));
  }

  private indices(revisions: Iterable<string>): number[] {
    const out: number[] = [];
    for (const r of revisions) {
      const i = this.index.get(r);
      if (i !== undefined) out.push(i);
    }
    return out;
  }

  private ids(set: Uint8Array): Set<string> {
    const out = new Set<string>();
    set.forEach((v, i) => v && out.add(this.nodes[i]!.revision));
    return out;
  }

  /** Depth-first reachability over one CSR edge set, as a membership array. */
  private closure(start: readonly number[], offsets: Int32Array, targets: Int32Array, inclusive: boolean): Uint8Array {
    const seen = new Uint8Array(this.nodes.length);
    const stack = [...start];
    if (inclusive) for (const s of start) seen[s] = 1;
    while (stack.length > 0) {
      const i = stack.pop()!;
      for (let e = offsets[i]!; e < offsets[i + 1]!; e += 1) {
        const next = targets[e]!;
        if (!seen[next]) {
          seen[next] = 1;
          stack.push(next);
        }
      }
    }
    return seen;
  }

  /** The smallest set of revisions whose ancestry is `applied`: what the version table stores. */
  headsOf(applied: ReadonlySet<string>): string[] {
    const member = new Uint8Array(this.nodes.length);
    for (const i of this.indices(applied)) member[i] = 1;
    return this.headsOfMembers(member).map((n) => n.revision);
  }

  private headsOfMembers(member: Uint8Array): N[] {
    return this.pick((i) => {
      if (!member[i]) return false;
      for (let e = this.succStart[i]!; e < this.succStart[i + 1]!; e += 1) if (member[this.succ[e]!]) return false;
      return true;
    });
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
    if (this.index.has(target)) return target;
    const labelled = this.labels.get(target);
    if (labelled !== undefined) return this.nodes[labelled]!.revision;
    if (PREFIX.test(target)) {
      const candidates = this.nodes.filter((n) => n.revision.startsWith(target));
      if (candidates.length === 1) return candidates[0]!.revision;
      if (candidates.length > 1) throw new AmbiguousRevisionError(target, candidates.map(ref));
    }
    throw new UnknownRevisionError(target, nearestIds(target, [...this.index.keys(), ...this.labels.keys()]));
  }

  /** The applied revisions as a membership array; rejects database heads no file defines. */
  private appliedMembers(currentHeads: readonly string[]): Uint8Array {
    for (const head of currentHeads) {
      if (!this.index.has(head)) {
        throw new UnknownRevisionError(
          head,
          nearestIds(head, this.index.keys()),
          "recorded as applied in the database, but no migration file defines it",
        );
      }
    }
    return this.closure(this.indices(currentHeads), this.predStart, this.pred, true);
  }

  /**
   * The revisions to apply, in order, to go from `currentHeads` to `target` (default `heads`).
   * `+N` means the next N revisions of the full plan. Already-applied targets give an empty plan.
   */
  upgradePlan(currentHeads: readonly string[], target = "heads"): N[] {
    this.assertSound();
    const applied = this.appliedMembers(currentHeads);
    const relative = RELATIVE.exec(target);
    if (relative) {
      const steps = Number(relative[2]);
      if (relative[1] === "-") {
        throw new NotReachableError(`'${target}' goes down; run \`retort downgrade ${target}\``, []);
      }
      const pending = this.pick((i) => !applied[i]);
      if (steps > pending.length) {
        throw new NotReachableError(
          `Can't upgrade ${target}: only ${pending.length} revision(s) are pending; run \`retort status\``,
          pending.map((n) => n.revision),
        );
      }
      return pending.slice(0, steps);
    }
    const needed = this.closure(this.indices(this.resolve(target)), this.predStart, this.pred, true);
    return this.pick((i) => needed[i] === 1 && !applied[i]);
  }

  /**
   * The revisions to revert, newest first, to go from `currentHeads` down to `target`: a revision
   * (its descendants are reverted, other branches stay), `-N` (the last N applied) or `base`.
   */
  downgradePlan(currentHeads: readonly string[], target: string): N[] {
    this.assertSound();
    const applied = this.appliedMembers(currentHeads);
    const newestFirst = this.pick((i) => applied[i] === 1).reverse();
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
    const targets = this.indices(this.resolve(target));
    for (const t of targets) {
      if (!applied[t]) {
        const node = this.nodes[t]!;
        throw new NotReachableError(
          `Can't downgrade to ${node.revision} (${node.file}): it is not applied (database heads: ` +
            `${currentHeads.join(", ") || "none"}); run \`retort upgrade ${node.revision}\` to go up to it instead`,
          [node.revision],
          [node.file],
        );
      }
    }
    const revert = this.closure(targets, this.succStart, this.succ, false);
    return newestFirst.filter((n) => revert[this.index.get(n.revision)!] === 1);
  }
}

function ref(node: RevisionNode): RevisionRef {
  return { revision: node.revision, file: node.file, message: node.message };
}

/** Counting sort of edges by `key` into compressed rows: offsets (n + 1) and the other ends. */
function compress(n: number, key: readonly number[], other: readonly number[]): [Int32Array, Int32Array] {
  const offsets = new Int32Array(n + 1);
  for (const k of key) offsets[k + 1]! += 1;
  for (let i = 0; i < n; i += 1) offsets[i + 1]! += offsets[i]!;
  const fill = offsets.slice(0, n);
  const targets = new Int32Array(key.length);
  key.forEach((k, e) => (targets[fill[k]!++] = other[e]!));
  return [offsets, targets];
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
