// The manual invoke: `{"command": "status"}` and friends, answered with the same JSON as the
// CLI's `--json`. Parsing and validating the event is all this file decides; each command is one
// runner function.
import { RetortError } from "../lib/errors.ts";
import { check } from "../lib/runner/check.ts";
import { type Context, requireDatabase } from "../lib/runner/context.ts";
import { history, revisionInfos } from "../lib/runner/heads.ts";
import { Direction } from "../lib/revision/migration.ts";
import { offlineSql } from "../lib/runner/offline-sql.ts";
import { runs } from "../lib/runner/runs.ts";
import { stamp } from "../lib/runner/stamp.ts";
import { status } from "../lib/runner/status.ts";
import { downgrade, safeUpgrade, upgrade } from "../lib/runner/upgrade.ts";
import { COMMANDS, type CommandName } from "./constants.ts";

export type ManualEvent =
  | { command: "status" | "check" }
  | { command: "history"; runs?: boolean; limit?: number }
  | { command: "safe-upgrade" | "upgrade"; target?: string; dryRun?: boolean }
  | { command: "downgrade"; target: string; dryRun?: boolean }
  | { command: "stamp"; target: string; purge?: boolean };

/** An event the runner cannot act on; the message says what a good one looks like. */
export class ValidationError extends RetortError {
  override readonly code: string = "invalid-event";
  protected override details(): Record<string, unknown> {
    return { allowedCommands: this.allowedCommands };
  }
  override name = "ValidationError";
  readonly allowedCommands = COMMANDS;
}

const EXAMPLE =
  '{"command": "status"}, {"command": "downgrade", "target": "<revision>|-1|base", "dryRun": true} or {"command": "history", "runs": true}';
const FIELDS: Record<CommandName, readonly string[]> = {
  status: [],
  check: [],
  history: ["runs", "limit"],
  "safe-upgrade": ["target", "dryRun"],
  upgrade: ["target", "dryRun"],
  downgrade: ["target", "dryRun"],
  stamp: ["target", "purge"],
};

export function parseManualEvent(event: unknown): ManualEvent {
  const fail = (problem: string): never => {
    throw new ValidationError(
      `Invalid event for the retort runner: ${problem}. Allowed commands: ${COMMANDS.join(", ")}; e.g. ${EXAMPLE}`,
    );
  };
  if (typeof event !== "object" || event === null || Array.isArray(event)) {
    return fail(`expected a JSON object, got ${Array.isArray(event) ? "an array" : event === null ? "null" : typeof event}`);
  }
  const e = event as Record<string, unknown>;
  if (e["command"] === undefined) return fail('"command" is missing');
  const command = e["command"];
  if (typeof command !== "string" || !(COMMANDS as readonly string[]).includes(command)) {
    return fail(`unknown command ${JSON.stringify(command)}`);
  }
  const name = command as CommandName;
  const allowed = FIELDS[name];
  const extra = Object.keys(e).filter((k) => k !== "command" && !allowed.includes(k));
  if (extra.length > 0) {
    return fail(
      `"${name}" takes ${allowed.length ? allowed.map((f) => `"${f}"`).join(", ") : "no other field"}, not ${extra.map((k) => `"${k}"`).join(", ")}`,
    );
  }
  if (e["target"] !== undefined && (typeof e["target"] !== "string" || e["target"].trim() === "")) {
    return fail('"target" must be a non-empty string (a revision, a prefix, heads, base, +N or -N)');
  }
  if (e["limit"] !== undefined && (!Number.isInteger(e["limit"]) || (e["limit"] as number) < 1)) {
    return fail('"limit" must be a positive integer');
  }
  for (const flag of ["dryRun", "purge", "runs"]) {
    if (e[flag] !== undefined && typeof e[flag] !== "boolean") return fail(`"${flag}" must be true or false`);
  }
  if ((name === "downgrade" || name === "stamp") && e["target"] === undefined) {
    return fail(`"${name}" needs a "target"`);
  }
  return e as unknown as ManualEvent;
}

/** Runs one manual command; the result is plain JSON. */
export async function runManual(ctx: Context, event: ManualEvent): Promise<unknown> {
  switch (event.command) {
    case "status":
      return status(ctx);
    case "check":
      return check(ctx);
    case "history":
      // The revisions (as `retort history --json`), or with "runs" the audit trail (`history --runs`).
      if (event.runs) return runs(ctx, { revisions: true, ...(event.limit ? { limit: event.limit } : {}) });
      return revisionInfos((await history(ctx)).revisions);
    case "stamp":
      return stamp(ctx, { target: event.target, purge: event.purge === true });
    case "safe-upgrade":
    case "upgrade": {
      const target = event.target ?? "heads";
      if (event.dryRun) return dryRun(ctx, event.command, Direction.Up, target);
      return event.command === "upgrade" ? upgrade(ctx, { target }) : safeUpgrade(ctx, { target });
    }
    case "downgrade":
      if (event.dryRun) return dryRun(ctx, event.command, Direction.Down, event.target);
      return downgrade(ctx, { target: event.target });
  }
}

export interface DryRunResult {
  command: string;
  dryRun: true;
  target: string;
  fromHeads: string[];
  sql: string;
}

/** The SQL a run would send from the database's current heads, without changing anything. */
async function dryRun(ctx: Context, command: string, direction: Direction, target: string): Promise<DryRunResult> {
  const db = requireDatabase(ctx, command);
  const { heads } = await db.versionTable.read(db.executor);
  if (heads.length > 1) {
    throw new ValidationError(
      `"dryRun" renders SQL from one database head, and the database has ${heads.length} (${heads.join(", ")}); ` +
        `run {"command": "${command}"} without "dryRun", or merge the heads first`,
    );
  }
  const sql = await offlineSql(ctx, { direction, target, from: heads[0] ?? "base", mode: command === "upgrade" ? "strict" : "safe" });
  return { command, dryRun: true, target, fromHeads: heads, sql };
}
