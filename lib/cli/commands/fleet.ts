// `retort fleet upgrade` and `retort fleet status`: every target of a list (a JSON file, or
// dynamodb://<table>), each a database and optionally a tenant's schema in it, at most
// --concurrency at once; the same semantics and summary as the fleet state machine.
import { InvalidArgumentError, Option } from "commander";
import { fleetStatus, type FleetProgress, fleetUpgrade, type FleetStatus } from "../../fleet/fleet.ts";
import type { FleetSummary } from "../../fleet/summary.ts";
import { readTargets } from "../../fleet/targets.ts";
import { dialectOf } from "../../runner/database.ts";
import { defaultDirectory } from "../../runner/session.ts";
import { parseDuration } from "../duration.ts";
import { type CliKit, ExitCode, parseCount, parseLockTimeout, parseMigrationTimeout } from "../kit.ts";
import type { Output } from "../output.ts";

interface FleetCliOptions {
  dir: string;
  json?: boolean;
  targets: string;
  concurrency: number;
  lockTable?: string;
  wait?: number;
  lease?: number;
}

export function registerFleet({ program, run, respond, context, lockTableOption, output }: CliKit): void {
  const fleet = program.command("fleet").description("migrate many targets (databases, tenant schemas) from one list");
  const fleetCommand = (name: string, description: string) =>
    fleet
      .command(name)
      .description(description)
      .requiredOption("--targets <file|dynamodb://table>", 'the targets: a JSON file of [{ "name", "db", "schema"? }] (or { "targets": [...] }), or a DynamoDB table of them')
      .addOption(new Option("--concurrency <n>", "targets run at once").argParser(parseCount).default(4))
      .addOption(new Option("--dir <dir>", "migrations directory").default(defaultDirectory()))
      .option("--json", "print machine-readable JSON")
      .addOption(lockTableOption());

  fleetCommand("upgrade", "safe-upgrade every target; exit 1 when more than --tolerate of them failed, naming them")
    .addOption(new Option("--tolerate <percent>", "the share of targets that may fail, such as 10%").argParser(parsePercent).default(0, "0%"))
    .addOption(new Option("--wait <duration>", "how long each target waits for its lock (default: fail at once)").argParser(parseDuration))
    .addOption(new Option("--lease <duration>", "lease duration, renewed while a target runs (default 30s)").argParser(parseDuration))
    .option("--transaction-per-migration", "commit every migration on its own")
    .addOption(new Option("--migration-timeout <duration>", "the longest one migration may run (default 15m)").argParser(parseMigrationTimeout))
    .addOption(new Option("--lock-timeout <duration>", "how long a statement may wait for a lock before its migration is retried (default 5s; 0: no limit)").argParser(parseLockTimeout))
    .action(
      run(async (options: FleetCliOptions & { tolerate: number; transactionPerMigration?: boolean; migrationTimeout?: number; lockTimeout?: number }) => {
        const targets = await readTargets(options.targets, dialectOf);
        const progress = progressLine(options);
        const summary = await fleetUpgrade(context(options), targets, {
          ...common(options),
          tolerate: options.tolerate,
          ...(options.transactionPerMigration ? { transactionPerMigration: true } : {}),
          ...(options.migrationTimeout !== undefined ? { migrationTimeoutMs: options.migrationTimeout } : {}),
          ...(options.lockTimeout !== undefined ? { lockTimeoutMs: options.lockTimeout } : {}),
          onProgress: progress.update,
        });
        progress.end();
        respond(options, summary, (s) => printUpgrade(output, s));
        return summary.ok ? ExitCode.Ok : ExitCode.Problem;
      }),
    );

  fleetCommand("status", "where every target is against the code: up to date, behind, ahead, drifted, locked")
    .action(
      run(async (options: FleetCliOptions) => {
        const targets = await readTargets(options.targets, dialectOf);
        const progress = progressLine(options);
        const result = await fleetStatus(context(options), targets, { ...common(options), onProgress: progress.update });
        progress.end();
        respond(options, result, (r) => printStatus(output, r));
        return result.results.some((r) => r.state === "unreachable") ? ExitCode.Problem : ExitCode.Ok;
      }),
    );
}

function common(options: FleetCliOptions) {
  return {
    concurrency: options.concurrency,
    ...(options.lockTable ? { lockTable: options.lockTable } : {}),
    ...(options.wait !== undefined ? { lockWaitMs: options.wait } : {}),
    ...(options.lease !== undefined ? { leaseMs: options.lease } : {}),
  };
}

/** --tolerate: 0% to 100% (the % may be left out), as a share from 0 to 1. */
function parsePercent(value: string): number {
  const match = /^(\d+(?:\.\d+)?)%?$/.exec(value.trim());
  const percent = match ? Number(match[1]) : NaN;
  if (!(percent >= 0 && percent <= 100)) throw new InvalidArgumentError(`expected a share from 0% to 100%, such as 10%, not ${JSON.stringify(value)}`);
  return percent / 100;
}

/** On a terminal (and without --json), one line on stderr rewritten as targets start and end. */
function progressLine(options: { json?: boolean }): { update: (p: FleetProgress) => void; end: () => void } {
  const tty = Boolean(process.stderr.isTTY) && !options.json;
  let shown = false;
  return {
    update: (p) => {
      if (!tty) return;
      process.stderr.write(`\r\u001b[Kfleet: ${p.done}/${p.total} done, ${p.failed} failed, ${p.running} running`);
      shown = true;
    },
    end: () => {
      if (shown) process.stderr.write("\r\u001b[K");
    },
  };
}

const heads = (list: readonly string[]) => list.join(", ") || "(base)";

function printUpgrade(output: Output, s: FleetSummary): void {
  const { color } = output;
  for (const r of s.results) {
    const where = r.schema ? `${r.name} (${r.schema})` : r.name;
    if (r.status === "failed") {
      output.out(`${color.red("failed")}      ${where}: ${r.error?.code}: ${r.error?.message}`);
    } else if (r.status === "upgraded") {
      output.out(`${color.green("upgraded")}    ${where}: ${heads(r.fromHeads)} -> ${heads(r.toHeads)}, ${r.applied} applied, ${r.skippedOperations} skipped, ${r.durationMs} ms`);
    } else {
      output.out(`${color.dim("up to date")}  ${where}: ${heads(r.toHeads)}, ${r.durationMs} ms`);
    }
  }
  const tolerated = `${Math.round(s.tolerate * 1000) / 10}%`;
  output.out(
    `${s.targets} targets in ${s.durationMs} ms: ${s.upgraded} upgraded, ${s.upToDate} up to date, ${s.failed} failed (tolerated: ${tolerated})`,
  );
  if (!s.ok) {
    const failed = s.results.filter((r) => r.status === "failed").map((r) => `${r.name} (${r.error?.code})`);
    output.err(
      `${color.red("error:")} ${failed.length} of ${s.targets} targets failed, more than the ${tolerated} tolerated: ${failed.join(", ")}; ` +
        "fix them and run `retort fleet upgrade` again (the others are up to date and cost one read each)",
    );
  }
}

function printStatus(output: Output, r: FleetStatus): void {
  const { color } = output;
  output.out(`code heads: ${heads(r.codeHeads)}`);
  for (const t of r.results) {
    const where = t.schema ? `${t.name} (${t.schema})` : t.name;
    const lock = t.locked ? color.yellow(" [locked]") : "";
    const detail =
      t.state === "behind"
        ? `${t.pending} pending`
        : t.state === "ahead"
          ? `records ${t.unknown.join(", ")}, which this code does not have`
          : t.state === "drifted"
            ? `${t.drift} applied file(s) changed since`
            : t.state === "unreachable"
              ? `${t.error?.code}: ${t.error?.message}`
              : heads(t.databaseHeads);
    const state = t.state === "up-to-date" ? color.green(t.state) : t.state === "unreachable" ? color.red(t.state) : color.yellow(t.state);
    output.out(`${state.padEnd(10)}  ${where}: ${detail}${lock}`);
  }
  output.out(`${r.upToDate} of ${r.targets} targets up to date`);
}
