// Human and JSON renderings of command results. Kept apart from main.ts so each is small.
import type { Migration } from "../revision/migration.ts";
import type { CheckResult } from "../runner/check.ts";
import type { HistoryEntry } from "../runner/heads.ts";
import { describeLockRetry } from "../runner/lock-retry.ts";
import type { MigrateResult } from "../runner/migrate.ts";
import type { WrittenRevision } from "../runner/revision.ts";
import type { RunsResult } from "../runner/runs.ts";
import type { StatusResult } from "../runner/status.ts";
import type { UnlockResult } from "../runner/unlock.ts";
import { type RunRecord, runNumber } from "../state/history.ts";
import { describeHolder, isExpired, type LockInfo } from "../state/lock.ts";
import { type Output, table } from "./output.ts";

export function check(output: Output, result: CheckResult): void {
  const { color } = output;
  if (result.ok) {
    output.out(
      `${color.green("ok")}  ${result.revisions} revision(s), head ${result.heads.join(", ") || "(none)"}; no problems`,
    );
    return;
  }
  output.out(`${color.red("problems")}  ${result.problems.length} found in ${result.revisions} revision(s):`);
  for (const line of table(result.problems.map((p) => [`  ${color.yellow(p.code)}`, p.message]))) output.out(line);
}

export function heads(output: Output, list: Migration[]): void {
  if (list.length === 0) {
    output.out('no revisions yet; write one with `retort revision -m "..."`');
    return;
  }
  for (const line of table(list.map((h) => [output.color.bold(h.revision), "(head)", h.message, output.color.dim(h.file)]))) {
    output.out(line);
  }
}

/** Alembic's shape: newest first, `parents -> revision (head), message`. */
export function history(output: Output, entries: HistoryEntry[], verbose: boolean): void {
  const { color } = output;
  for (const e of [...entries].reverse()) {
    const m = e.migration;
    const parents = m.revises.length === 0 ? "<base>" : m.revises.join(", ");
    const tags = [e.isHead && "head", e.isBranchPoint && "branchpoint", e.isMergePoint && "mergepoint"].filter(Boolean);
    output.out(`${parents} -> ${color.bold(m.revision)}${tags.length ? ` (${tags.join(") (")})` : ""}, ${m.message}`);
    if (verbose) {
      const details: string[][] = [["    file", m.file]];
      if (m.createdAt) details.push(["    created", m.createdAt]);
      if (m.dependsOn.length) details.push(["    depends on", m.dependsOn.join(", ")]);
      if (m.branchLabels.length) details.push(["    labels", m.branchLabels.join(", ")]);
      if (!m.transactional) details.push(["    transactional", "no"]);
      if (m.irreversible) details.push(["    irreversible", "yes"]);
      for (const line of table(details)) output.out(color.dim(line));
    }
  }
}

export function written(output: Output, w: WrittenRevision): void {
  if (w.createdDirectory) output.out(`created ${w.createdDirectory}/`);
  output.out(`wrote ${output.color.bold(w.file)}`);
  output.out(`  revision ${w.revision}, revises ${w.revises.length ? w.revises.join(", ") : "nothing (a new base)"}`);
}

export function migrated(output: Output, r: MigrateResult): void {
  const { color } = output;
  const heads = (h: string[]) => h.join(", ") || "(base)";
  if (r.results.length === 0) {
    output.out(`${r.command}: nothing to do; database at ${heads(r.toHeads)}`);
    return;
  }
  const rows: string[][] = [];
  for (const e of r.results) {
    const mark =
      e.status === "applied"
        ? color.green(e.direction === "upgrade" ? "applied" : "reverted")
        : e.status === "failed"
          ? color.red("failed")
          : e.status === "unknown"
            ? color.yellow("unknown")
            : color.dim("not run");
    rows.push([`  ${mark}`, color.bold(e.revision), e.message, color.dim(`${e.durationMs} ms`)]);
    for (const o of e.operations.filter((o) => o.status === "skipped")) {
      rows.push(["", "", color.yellow(`skipped ${o.operation}: ${o.reason}`), ""]);
    }
    for (const retry of e.lockRetries ?? []) rows.push(["", "", color.yellow(`lock: ${describeLockRetry(retry, undefined, { brief: true })}`), ""]);
  }
  output.out(`${r.command} ${headList(r.fromHeads)} -> ${headList(r.toHeads)}`);
  for (const line of table(rows)) output.out(line);
  output.out(`${r.applied} revision(s) ${r.results[0]!.direction === "upgrade" ? "applied" : "reverted"}, ${r.skippedOperations} operation(s) skipped`);
  if (r.error) output.err(`${color.red("error:")} ${r.error.message}`);
}

export function status(output: Output, s: StatusResult): void {
  const { color } = output;
  const list = (items: string[]) => (items.length ? items.join(", ") : color.dim("none"));
  const rows: string[][] = [
    ["code heads", list(s.codeHeads)],
    ["database heads", list(s.databaseHeads)],
    ["pending", s.pending.length ? color.yellow(`${s.pending.length} revision(s)`) : color.green("none: up to date")],
    ...s.pending.map((p) => ["", `${p.revision}  ${p.message}  ${color.dim(p.file)}`]),
    ["drift", s.drift.length ? color.yellow(`${s.drift.length} applied file(s) changed since`) : color.dim("none")],
    ...s.drift.map((d) => ["", `${d.revision}  ${d.file}  applied ${d.appliedAt}`]),
    ["unknown", s.unknown.length ? color.red(`${list(s.unknown)} (in the database, not in the code)`) : color.dim("none")],
    ["lock", lockLine(output, s.lock)],
    ...(s.runs ? [["last runs", s.runs.length ? "" : color.dim("none recorded")], ...s.runs.map((r) => ["", runLine(output, r)])] : []),
  ];
  for (const line of table(rows)) output.out(line);
}

function lockLine(output: Output, lock: LockInfo | null): string {
  if (!lock) return output.color.dim("free");
  const held = `held by ${describeHolder(lock)}`;
  return isExpired(lock) ? `${held} ${output.color.yellow("(expired: the next run takes it over)")}` : held;
}

const headList = (h: readonly string[] | undefined) => (h?.length ? h.join(", ") : "(base)");

/** One run on one line: when, what, how it ended. */
function runLine(output: Output, r: RunRecord): string {
  const { color } = output;
  const status =
    r.status === "succeeded"
      ? color.green(r.status)
      : r.status === "started"
        ? color.cyan(r.status)
        : r.status === "unknown"
          ? color.yellow(r.status)
          : color.red(r.status);
  const change = r.fromHeads || r.toHeads ? ` ${headList(r.fromHeads)} -> ${headList(r.toHeads)}` : "";
  // `applied` counts the revisions a run changed: a downgrade (or a rollback) reverted them.
  const verb = r.command === "downgrade" || r.command === "rollback" ? "reverted" : "applied";
  const counts = r.applied !== undefined ? `, ${r.applied} ${verb}, ${r.skippedOperations ?? 0} skipped` : "";
  return `#${runNumber(r)}  ${r.startedAt}  ${r.command}  ${status}${change}${counts}`;
}

export function runs(output: Output, result: RunsResult): void {
  const { color } = output;
  if (result.runs.length === 0) {
    output.out(`no runs recorded for ${result.target} (history: ${result.history})`);
    return;
  }
  output.out(color.dim(`runs on ${result.target}, newest first (history: ${result.history})`));
  for (const r of result.runs) {
    output.out(runLine(output, r));
    const who = [r.actor, r.requestId ? `Lambda request ${r.requestId}` : `${r.host} pid ${r.pid}`, r.stackId && `stack ${r.stackId}`];
    const details: string[][] = [["    by", who.filter(Boolean).join(", ")]];
    if (r.durationMs !== undefined) details.push(["    took", `${r.durationMs} ms`]);
    if (r.abandoned) details.push(["    abandoned", `at ${r.abandoned.at} by ${r.abandoned.by} (token ${r.abandoned.token})`]);
    if (r.lockRetries) details.push(["    lock retries", `${r.lockRetries} (lock_timeout ran out; see each revision)`]);
    if (r.error) details.push(["    error", r.error]);
    for (const rev of r.revisions ?? []) {
      details.push([`    ${rev.direction === "upgrade" ? "applied" : "reverted"}`, `${rev.revision} ${rev.message} (${rev.durationMs} ms)${rev.status === "failed" ? ` ${color.red("failed")}` : ""}`]);
      for (const skip of rev.skipped) details.push(["", color.yellow(`skipped ${skip}`)]);
      for (const retry of rev.lockRetries ?? []) details.push(["", color.yellow(`lock: ${describeLockRetry(retry, undefined, { brief: true })}`)]);
    }
    for (const line of table(details)) output.out(color.dim(line));
  }
}

export function unlocked(output: Output, r: UnlockResult): void {
  if (!r.broken) {
    output.out(`the lock for ${r.key} was free; fencing token moved to ${r.token}`);
    return;
  }
  output.out(`broke the lock for ${r.key}, held by ${describeHolder(r.broken)}`);
  output.out(`fencing token is now ${r.token}: that runner's next transaction will be refused${r.abandoned ? "; its run is recorded as abandoned" : ""}`);
}
