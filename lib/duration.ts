// Durations as people write them (`--wait 60s`, `lockTimeout: "10s"`): a number with a unit (ms,
// s, m, h); a bare number is seconds. Shared by the command line and the migration file format.

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** How a duration is written, for messages. */
export const DURATION_EXAMPLES = "500ms, 30s, 5m or 1h";

/** Milliseconds, rounded to a whole number; undefined for text that is not a duration. */
export function durationMs(value: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  return m ? Math.round(Number(m[1]) * UNITS[m[2] ?? "s"]!) : undefined;
}

/** A duration in the words people write it: "5 s", "7.5 s", "2 min", "200 ms". */
export function describeDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000) return `${Math.round(ms / 100) / 10} s`;
  return `${ms} ms`;
}
