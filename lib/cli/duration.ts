// Durations on the command line (`--wait 60s`, `--lease 2m`): lib/duration.ts reads them; a value
// that is not one is bad usage, as commander reports it.
import { InvalidArgumentError } from "commander";
import { DURATION_EXAMPLES, durationMs } from "../duration.ts";

/** Milliseconds, or InvalidArgumentError (commander reports it as bad usage). */
export function parseDuration(value: string): number {
  const ms = durationMs(value);
  if (ms === undefined) throw new InvalidArgumentError(`expected a duration such as ${DURATION_EXAMPLES}, not ${JSON.stringify(value)}`);
  return ms;
}
