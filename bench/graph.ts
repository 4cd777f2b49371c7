// Graph benchmark: `check` (the runner function, on an in-memory source, so file I/O is not
// measured) and a full upgrade plan on generated graphs of 10k and 100k revisions with branches,
// merges and dependsOn edges. Goal: linear growth (ratio <= 12 for 10x the revisions).
import { performance } from "node:perf_hooks";
import { RevisionMap } from "../lib/revision/graph.ts";
import type { LoadResult } from "../lib/revision/loader.ts";
import type { Migration } from "../lib/revision/migration.ts";
import { check } from "../lib/runner/check.ts";
import { median, printTable } from "./report.ts";

/** A main line; every 40 revisions it splits into two branches of 15 that merge again. */
export function generateGraph(size: number): Migration[] {
  const out: Migration[] = [];
  // Ids look like real ones (random hex), derived from the index so runs are repeatable. Ids
  // loaded from migration files are string literals, which V8 interns; built ones are ropes
  // (padStart) that every Map lookup would first have to flatten, so they are interned too.
  const intern = (text: string) => Object.keys({ [text]: 0 })[0]!;
  const id = (i: number) => intern(((i * 2654435761) % 2 ** 48).toString(16).padStart(12, "0"));
  const add = (revises: string[], dependsOn: string[] = []) => {
    const i = out.length;
    out.push({
      revision: id(i),
      revises,
      dependsOn,
      branchLabels: [],
      message: `revision ${i}`,
      createdAt: undefined,
      transactional: true,
      irreversible: false,
      file: `migrations/20260101_r${String(i).padStart(7, "0")}.ts`,
      checksum: "",
      upgrade: async () => {},
      downgrade: async () => {},
    });
    return id(i);
  };
  let head = add([]);
  while (out.length < size) {
    if (out.length % 40 === 0 && size - out.length > 32) {
      let left = head;
      let right = head;
      for (let k = 0; k < 15; k += 1) {
        left = add([left]);
        right = add([right], k === 7 ? [left] : []);
      }
      head = add([left, right]);
    } else {
      head = add([head]);
    }
  }
  return out;
}

/** Median of `runs` timings, after warm-up runs that let the JIT settle (a plan of 10k takes well under a millisecond). */
function time(fn: () => unknown, runs: number, warmUp = 3): number {
  for (let r = 0; r < warmUp; r += 1) fn();
  const samples: number[] = [];
  for (let r = 0; r < runs; r += 1) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

async function timeAsync(fn: () => Promise<unknown>, runs: number, warmUp = 2): Promise<number> {
  for (let r = 0; r < warmUp; r += 1) await fn();
  const samples: number[] = [];
  for (let r = 0; r < runs; r += 1) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

const CHECK_RUNS = 11;
const PLAN_RUNS = 25;

export async function benchGraph(): Promise<void> {
  const rows: Record<string, number>[] = [];
  for (const size of [10_000, 100_000]) {
    const migrations = generateGraph(size);
    const source = { location: "generated", load: async (): Promise<LoadResult> => ({ migrations, problems: [] }) };
    const checkMs = await timeAsync(async () => {
      const result = await check({ source });
      if (!result.ok) throw new Error(JSON.stringify(result.problems[0]));
    }, CHECK_RUNS);
    const map = new RevisionMap(migrations);
    const planMs = time(() => {
      if (map.upgradePlan([]).length !== size) throw new Error("plan is incomplete");
    }, PLAN_RUNS);
    rows.push({ revisions: size, checkMs, planMs });
  }
  printTable(
    `Graph: check (median of ${CHECK_RUNS} after 2 warm-up runs) and full upgrade plan (median of ${PLAN_RUNS} after 3)`,
    ["revisions", "check ms", "plan ms"],
    rows.map((r) => [String(r.revisions), r.checkMs!.toFixed(1), r.planMs!.toFixed(2)]),
  );
  const [small, large] = rows;
  console.log(
    `growth for 10x revisions: check ${(large!.checkMs! / small!.checkMs!).toFixed(1)}x, ` +
      `plan ${(large!.planMs! / small!.planMs!).toFixed(1)}x (goal <= 12x)`,
  );
}
