// Lock benchmark: DynamoDB calls and time for the distributed lock, on dynalite over loopback with
// the real SDK client (lib/local/dynamodb-table.ts); calls are counted by an SDK middleware (every
// HTTP request, retries included). An uncontended acquire + release (goal: 2 calls), a fail-fast
// conflict (goal: 1 call, the holder comes with the refusal), and 16 contenders queueing with
// --wait, each holding the lock for a short piece of work.
import { performance } from "node:perf_hooks";
import { DynamoLock } from "../lib/state/dynamo-lock.ts";
import { currentHolder, LockConflictError } from "../lib/state/lock.ts";
import { startLocalLockTable } from "../lib/local/dynamodb-table.ts";
import { median, printTable } from "./report.ts";

const CYCLES = 50;
const CONTENDERS = 16;
const HOLD_MS = 20;
const ROUNDS = 3;

export async function benchLock(): Promise<void> {
  const dynamo = await startLocalLockTable("retort-bench");
  const { client, calls } = dynamo;
  try {
    const lock = new DynamoLock({ table: "retort-bench", client });
    const rows: string[][] = [];

    // Uncontended: one runner, acquire then release, many times.
    const times: number[] = [];
    calls.reset();
    for (let i = 0; i < CYCLES; i++) {
      const started = performance.now();
      const lease = await lock.acquire("bench/uncontended", currentHolder("safe-upgrade"));
      await lease.release();
      times.push(performance.now() - started);
    }
    rows.push(["uncontended acquire + release", (calls.total / CYCLES).toFixed(1), `${median(times).toFixed(1)} ms`, "per cycle, median"]);

    // Conflict: the second runner is refused with the holder, without waiting.
    const held = await lock.acquire("bench/conflict", currentHolder("safe-upgrade"));
    calls.reset();
    const started = performance.now();
    const refused = await lock.acquire("bench/conflict", currentHolder("upgrade")).catch((e: unknown) => e);
    const conflictMs = performance.now() - started;
    if (!(refused instanceof LockConflictError)) throw new Error("expected a conflict");
    rows.push(["conflict, holder named (fail fast)", String(calls.total), `${conflictMs.toFixed(1)} ms`, "one refusal"]);
    await held.release();

    // 16 contenders, each with its own lock object (as separate runners), queueing with --wait.
    const rounds: { calls: number; ms: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      calls.reset();
      const key = `bench/contended-${round}`;
      const began = performance.now();
      await Promise.all(
        Array.from({ length: CONTENDERS }, async (_, i) => {
          const runner = new DynamoLock({ table: "retort-bench", client });
          const lease = await runner.acquire(key, currentHolder(`runner-${i}`), { waitMs: 120_000 });
          await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
          lease.assertHeld();
          await lease.release();
        }),
      );
      rounds.push({ calls: calls.total, ms: performance.now() - began });
    }
    const mid = [...rounds].sort((a, b) => a.ms - b.ms)[rounds.length >> 1]!;
    rows.push([
      `${CONTENDERS} contenders, ${HOLD_MS} ms work each`,
      `${mid.calls} (${(mid.calls / CONTENDERS).toFixed(1)}/runner)`,
      `${mid.ms.toFixed(0)} ms`,
      `all ${CONTENDERS} served; floor ${CONTENDERS * HOLD_MS} ms of work (median of ${ROUNDS})`,
    ]);

    printTable("DynamoDB lock on dynalite (loopback, real SDK client)", ["case", "DynamoDB calls", "time", "note"], rows);
  } finally {
    await dynamo.close();
  }
}
