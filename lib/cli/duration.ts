// Durations on the command line (`--wait 60s`, `--lease 2m`): a number with a unit (ms, s, m, h);
// a bare number is seconds.
import { InvalidArgumentError } from "commander";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds, or InvalidArgumentError (commander reports it as bad usage). */
export function parseDuration(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!m) throw new InvalidArgumentError(`expected a duration such as 500ms, 30s, 5m or 1h, not ${JSON.stringify(value)}`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? "s"]!);
}
