// Human renderings of the two CI commands that judge migrations, `validate` and `lint`.
import type { LintResult } from "../lint/lint.ts";
import type { LintRule } from "../lint/rule.ts";
import type { ValidateResult, ValidationStatus } from "../runner/validate.ts";
import { type Output, table } from "./output.ts";

const STATUS_WORDS: Record<ValidationStatus, string> = {
  ok: "ok",
  irreversible: "irreversible",
  "not-reversible": "not reversible",
  "not-idempotent": "not idempotent",
  failed: "failed",
  "not-run": "not run",
};

export function validated(output: Output, r: ValidateResult): void {
  const { color } = output;
  for (const p of r.problems) output.out(`${color.red(p.code)}  ${p.message}`);
  if (r.results.length === 0) {
    output.out(r.problems.length ? color.red("validate: the migrations cannot be walked until `retort check` passes") : "validate: no revisions to validate");
    return;
  }
  output.out(`validate ${r.results.length} revision(s) on ${r.database}${r.from.length ? ` after ${r.from.join(", ")}` : ""}: upgrade, upgrade again, downgrade, upgrade again`);
  const paint = (status: ValidationStatus, text: string) =>
    status === "ok" ? color.green(text) : status === "irreversible" ? color.cyan(text) : status === "not-run" ? color.dim(text) : color.red(text);
  const rows: string[][] = [];
  for (const e of r.results) {
    const note =
      e.status === "irreversible"
        ? color.dim("marked irreversible: downgrade not checked")
        : e.status === "not-run"
          ? color.dim(`after ${e.blockedBy} failed`)
          : color.dim(`${e.durationMs} ms`);
    rows.push([`  ${paint(e.status, STATUS_WORDS[e.status])}`, color.bold(e.revision), e.message, note]);
  }
  // What went wrong goes under its revision, outside the table so long lines do not widen it.
  table(rows).forEach((line, i) => {
    output.out(line);
    for (const f of r.results[i]!.findings) {
      const lines = f.differences?.length ? f.differences.map((d) => d.message) : [f.message];
      for (const text of lines) output.out(`      ${color.yellow(text)}`);
    }
  });
  const counts = new Map<ValidationStatus, number>();
  for (const e of r.results) counts.set(e.status, (counts.get(e.status) ?? 0) + 1);
  const summary = [...counts].map(([s, n]) => `${n} ${STATUS_WORDS[s]}`).join(", ");
  output.out(`${r.ok ? color.green("ok") : color.red("failed")}  ${r.results.length} revision(s): ${summary} (${(r.durationMs / 1000).toFixed(1)} s)`);
}

export function linted(output: Output, r: LintResult): void {
  const { color } = output;
  for (const f of r.findings) {
    output.out(`${color.yellow(f.code)}  ${color.bold(f.revision)}  ${color.dim(f.file)}`);
    output.out(`    ${f.operation ? `${f.operation}: ` : ""}${f.message}`);
    output.out(`    ${color.green("safer:")} ${f.saferWay}`);
  }
  for (const p of r.problems) output.out(`${color.red("problem")}  ${color.bold(p.revision)}  ${color.dim(p.file)}\n    ${p.message}`);
  for (const a of r.allowed) output.out(color.dim(`allowed ${a.code}  ${a.revision}  ${a.operation ?? a.file}: ${a.reason}`));
  for (const u of r.unusedAllows) output.out(color.dim(`unused allow ${u.code}  ${u.revision} (${u.file}): no finding to allow; remove it`));
  const scope = `${r.revisions} revision(s)${r.from.length ? ` after ${r.from.join(", ")}` : ""} with ${r.rules} rules`;
  if (r.ok) output.out(`${color.green("ok")}  ${scope}: no findings${r.allowed.length ? ` (${r.allowed.length} allowed)` : ""}`);
  else {
    output.out(
      `${color.red("findings")}  ${scope}: ${r.findings.length} finding(s)${r.problems.length ? `, ${r.problems.length} problem(s)` : ""}` +
        `${r.allowed.length ? `, ${r.allowed.length} allowed` : ""}; fix them, or accept one with \`lint: { allow: ["<code>: <reason>"] }\``,
    );
  }
}

export function rules(output: Output, list: readonly LintRule[]): void {
  for (const line of table(list.map((r) => [output.color.yellow(r.code), r.category, r.description]))) output.out(line);
}
