// The lint engine: dry-runs each migration's upgrade and downgrade without a database (the same
// offline machinery as `upgrade --sql`, starting from an empty schema at base), turns what they
// do into targets, asks every rule about every target, and applies each migration's
// `lint: { allow: ["code: reason"] }`. Pure apart from running the migrations' own functions.
import type { Dialect } from "../dialect/dialect.ts";
import { emptySnapshot, type SchemaSnapshot } from "../schema/snapshot.ts";
import { describeOperation } from "../ops/describe.ts";
import type { ExecuteOp } from "../schema/operation.ts";
import type { RevisionMap } from "../revision/graph.ts";
import { parseLintAllow, type Migration } from "../revision/migration.ts";
import { nearestIds } from "../revision/nearest.ts";
import { type DryRun, dryRun } from "../ops/dry-run.ts";
import { Direction } from "../revision/migration.ts";
import { splitStatements } from "../sql/lexer.ts";
import type { LintRule, RuleCategory } from "./rule.ts";
import { RULES } from "./rules/index.ts";
import type { LintedMigration, LintedOperation, LintSubject, LintTarget, RawStatement } from "./subject.ts";

export interface LintFinding {
  code: string;
  category: RuleCategory;
  revision: string;
  file: string;
  /** The operation, as run results name it ("createIndex ix_users_email on users"); null for the migration. */
  operation: string | null;
  message: string;
  saferWay: string;
}

/** A finding the migration accepts, with the reason it gives. */
export interface AllowedFinding extends LintFinding {
  reason: string;
}

export interface LintProblem {
  revision: string;
  file: string;
  message: string;
}

export interface LintResult {
  /** No findings that are not allowed, and no problems. */
  ok: boolean;
  /** Where linting started: [] for base, or the heads of --from. */
  from: string[];
  /** How many migrations were linted. */
  revisions: number;
  rules: number;
  findings: LintFinding[];
  allowed: AllowedFinding[];
  /** `allow` entries that matched no finding: stale, worth removing; they do not fail lint. */
  unusedAllows: Array<{ revision: string; file: string; code: string; reason: string }>;
  /** What kept lint from judging a migration: a dry run that throws, an allow naming no rule. */
  problems: LintProblem[];
}

export interface LintOptions {
  /** Lint the revisions after these (the database's heads, say); @default [] (all, from base) */
  from?: readonly string[];
  /** @default every rule */
  rules?: readonly LintRule[];
  /** @default "public" */
  defaultSchema?: string;
  /** The database's language the migrations are dry-run in. */
  dialect: Dialect;
}

export async function lintMigrations(map: RevisionMap<Migration>, options: LintOptions): Promise<LintResult> {
  const dialect = options.dialect;
  const defaultSchema = options.defaultSchema ?? "public";
  const rules = options.rules ?? RULES;
  const from = [...(options.from ?? [])];
  const dry = (m: Migration, direction: Direction, snapshot: SchemaSnapshot): Promise<DryRun> =>
    dryRun(m, direction, snapshot, { dialect, defaultSchema, mode: "safe", reads: "simulate" });

  const result: LintResult = {
    ok: true,
    from,
    revisions: 0,
    rules: rules.length,
    findings: [],
    allowed: [],
    unusedAllows: [],
    problems: [],
  };
  const full = map.upgradePlan([], "heads");
  const reached = map.ancestors(from, true);
  let snapshot = emptySnapshot([defaultSchema]);
  for (const m of full.filter((m) => reached.has(m.revision))) {
    snapshot = (await dry(m, Direction.Up, snapshot).catch(() => ({ snapshot }))).snapshot;
  }

  const linted: LintedMigration[] = [];
  const plan = map.upgradePlan(from, "heads");
  for (const m of plan) {
    const problem = (message: string) => result.problems.push({ revision: m.revision, file: m.file, message });
    let up: DryRun;
    try {
      up = await dry(m, Direction.Up, snapshot);
    } catch (error) {
      problem(`its upgrade cannot be dry-run (${messageOf(error)}); run \`retort validate\` to try it on a scratch database`);
      continue;
    }
    let downgradeSteps = 0;
    try {
      const down = await dry(m, Direction.Down, up.snapshot);
      downgradeSteps = down.results.length + down.reads.length;
    } catch (error) {
      problem(`its downgrade cannot be dry-run (${messageOf(error)}); run \`retort validate\` to try it on a scratch database`);
      downgradeSteps = -1;
    }
    linted.push(lintedMigration(m, linted.length, snapshot, up, downgradeSteps, dialect, defaultSchema));
    snapshot = up.snapshot;
  }
  result.revisions = plan.length;

  const known = new Set(rules.map((r) => r.code));
  for (const m of linted) {
    const migration = map.get(m.revision)!;
    const allows = new Map<string, string>();
    for (const entry of migration.lint?.allow ?? []) {
      const parsed = parseLintAllow(entry);
      if (parsed === undefined) continue; // the loader refuses these
      if (!known.has(parsed.code)) {
        const near = nearestIds(parsed.code, known, 1);
        result.problems.push({
          revision: m.revision,
          file: m.file,
          message: `lint.allow names rule "${parsed.code}", which does not exist${near.length ? ` (did you mean ${near.join(", ")}?)` : ""}; run \`retort lint --rules\` for the list`,
        });
        continue;
      }
      allows.set(parsed.code, parsed.reason);
    }
    const used = new Set<string>();
    for (const target of targetsOf(m)) {
      const subject: LintSubject = { target, migration: m, all: linted, defaultSchema, dialect };
      for (const rule of rules) {
        const verdict = rule.check(subject);
        if (verdict.kind !== "non-compliant") continue;
        const finding: LintFinding = {
          code: rule.code,
          category: rule.category,
          revision: m.revision,
          file: m.file,
          operation: describeTarget(target, defaultSchema),
          message: verdict.message,
          saferWay: verdict.saferWay,
        };
        const reason = allows.get(rule.code);
        if (reason === undefined) result.findings.push(finding);
        else {
          used.add(rule.code);
          result.allowed.push({ ...finding, reason });
        }
      }
    }
    for (const [code, reason] of allows) {
      if (!used.has(code)) result.unusedAllows.push({ revision: m.revision, file: m.file, code, reason });
    }
  }
  result.ok = result.findings.length === 0 && result.problems.length === 0;
  return result;
}

function lintedMigration(
  m: Migration,
  position: number,
  before: SchemaSnapshot,
  up: DryRun,
  downgradeSteps: number,
  dialect: Dialect,
  defaultSchema: string,
): LintedMigration {
  const operations: LintedOperation[] = up.results.map((r, index) => ({
    operation: r.operation,
    index,
    statements: r.operation.kind === "execute" ? rawStatements(r.operation, dialect, defaultSchema) : [],
  }));
  const holdsTransaction =
    m.transactional &&
    (up.reads.length > 0 ||
      up.results.some(
        (r) =>
          r.kind === "applied" &&
          r.statements.some((s) => (s.params !== undefined && Object.keys(s.params).length > 0) || !dialect.classifyStatement(s.sql).combinable),
      ));
  return {
    revision: m.revision,
    file: m.file,
    message: m.message,
    transactional: m.transactional,
    irreversible: m.irreversible,
    position,
    before,
    operations,
    reads: up.reads,
    // A downgrade that could not be dry-run is not called empty.
    downgradeSteps: downgradeSteps < 0 ? 1 : downgradeSteps,
    holdsTransaction,
  };
}

function rawStatements(op: ExecuteOp, dialect: Dialect, defaultSchema: string): RawStatement[] {
  return splitStatements(op.sql).map((sql) => ({
    sql,
    facts: dialect.readStatement(sql, defaultSchema),
    transactional: dialect.classifyStatement(sql).transactional,
  }));
}

/** The migration itself, then each operation followed by its statements and their facts, then the reads. */
function targetsOf(m: LintedMigration): LintTarget[] {
  const targets: LintTarget[] = [{ kind: "migration" }];
  for (const operation of m.operations) {
    targets.push({ kind: "operation", operation });
    for (const statement of operation.statements) {
      targets.push({ kind: "statement", operation, statement });
      for (const fact of statement.facts) targets.push({ kind: "fact", operation, statement, fact });
    }
  }
  for (const sql of m.reads) targets.push({ kind: "read", sql });
  return targets;
}

function describeTarget(target: LintTarget, defaultSchema: string): string | null {
  switch (target.kind) {
    case "migration":
      return null;
    case "operation":
    case "statement":
    case "fact":
      return describeOperation(target.operation.operation, defaultSchema);
    case "read": {
      const text = target.sql.replace(/\s+/g, " ").trim();
      return `query ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
