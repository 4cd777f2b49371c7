// How long the CI commands take: `validate` (every migration applied, re-run, downgraded and
// re-applied on one scratch PGlite) and `lint` (dry runs, no database), on the example migrations
// and on a generated set.
import { performance } from "node:perf_hooks";
import { DirectorySource, type MigrationSource } from "../lib/revision/loader.ts";
import { lint } from "../lib/runner/lint.ts";
import { validate } from "../lib/runner/validate.ts";
import { generateMigrations } from "./generate.ts";
import { printTable } from "./report.ts";

function generated(count: number): MigrationSource {
  const migrations = generateMigrations(count);
  return { location: `generated (${count})`, load: async () => ({ migrations, problems: [] }) };
}

async function time<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await fn();
  return [result, performance.now() - started];
}

export async function benchValidate(): Promise<void> {
  const rows: string[][] = [];
  for (const [name, source] of [
    ["example migrations (7)", new DirectorySource("migrations")],
    ["generated (50)", generated(50)],
  ] as const) {
    const [validated, validateMs] = await time(() => validate({ source }));
    const [linted, lintMs] = await time(() => lint({ source }));
    rows.push([
      name,
      `${(validateMs / 1000).toFixed(2)} s`,
      `${(validateMs / Math.max(1, validated.results.length)).toFixed(0)} ms`,
      `${lintMs.toFixed(0)} ms`,
      validated.ok ? "ok" : "FAILED",
      `${linted.findings.length}`,
    ]);
  }
  printTable("validate and lint (validate includes opening PGlite)", ["set", "validate", "per revision", "lint", "validate", "lint findings"], rows);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchValidate();
