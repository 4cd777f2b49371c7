// What a fleet run reports, the same from the CLI (`retort fleet upgrade --json`) and from the
// fleet state machine: per target where it started and ended, what it applied and skipped, how
// long it took, and for a failed one its error's code; then whether the failures stayed within
// the tolerated share.
import type { MigrateResult } from "../runner/migrate.ts";
import type { FleetTarget } from "./targets.ts";

export interface FleetTargetResult {
  name: string;
  schema?: string;
  /** `upgraded`: it applied something; `up-to-date`: nothing was pending; `failed`: see `error`. */
  status: "upgraded" | "up-to-date" | "failed";
  fromHeads: string[];
  toHeads: string[];
  applied: number;
  skippedOperations: number;
  durationMs: number;
  error?: { code: string; message: string; revision?: string; file?: string; sqlState?: string };
}

export interface FleetSummary {
  command: "fleet upgrade";
  targets: number;
  upgraded: number;
  upToDate: number;
  failed: number;
  /** The share of targets allowed to fail (0 to 1) before the run as a whole fails. */
  tolerate: number;
  /** True when the failures stayed within `tolerate`. */
  ok: boolean;
  durationMs: number;
  results: FleetTargetResult[];
}

/** One target's line of the summary, from its run's result (or the error that stopped it before one). */
export function targetResult(target: FleetTarget, run: MigrateResult | { error: unknown }, durationMs: number): FleetTargetResult {
  const base = { name: target.name, ...(target.schema ? { schema: target.schema } : {}), durationMs: Math.round(durationMs) };
  if (!("command" in run)) {
    const error = run.error as { code?: unknown; message?: unknown };
    return {
      ...base,
      status: "failed",
      fromHeads: [],
      toHeads: [],
      applied: 0,
      skippedOperations: 0,
      error: { code: typeof error?.code === "string" ? error.code : "error", message: String(error?.message ?? run.error) },
    };
  }
  const status = run.error ? "failed" : run.applied > 0 ? "upgraded" : "up-to-date";
  return {
    ...base,
    status,
    fromHeads: run.fromHeads,
    toHeads: run.toHeads,
    applied: run.applied,
    skippedOperations: run.skippedOperations,
    ...(run.error
      ? {
          error: {
            code: run.error.code ?? "migration-failed",
            message: run.error.message,
            ...(run.error.revision ? { revision: run.error.revision } : {}),
            ...(run.error.file ? { file: run.error.file } : {}),
            ...(run.error.sqlState ? { sqlState: run.error.sqlState } : {}),
          },
        }
      : {}),
  };
}

/** The summary of every target's result; `tolerate` is a share, 0 to 1. */
export function summarize(results: FleetTargetResult[], tolerate: number, durationMs: number): FleetSummary {
  const failed = results.filter((r) => r.status === "failed").length;
  return {
    command: "fleet upgrade",
    targets: results.length,
    upgraded: results.filter((r) => r.status === "upgraded").length,
    upToDate: results.filter((r) => r.status === "up-to-date").length,
    failed,
    tolerate,
    ok: failed <= Math.floor(results.length * tolerate + 1e-9),
    durationMs: Math.round(durationMs),
    results,
  };
}
