// `retort validate`: proves, on a scratch database (scratch-database.ts), that every migration
// applies, can run twice (idempotent under safe-upgrade) and is undone by its downgrade
// (reversible): the walk over the revisions, the steps for each, and what it reports.
import { performance } from "node:perf_hooks";
import { describeDifference, diffSnapshots, type DifferenceWording, type SchemaDifference } from "../schema/diff.ts";
import type { SchemaSnapshot } from "../schema/snapshot.ts";
import type { ProblemData } from "../revision/errors.ts";
import type { MigrationSource } from "../revision/loader.ts";
import { Direction, type Migration } from "../revision/migration.ts";
import type { SqlExecutor } from "../sql/executor.ts";
import { checkGraph } from "./check.ts";
import { blocking, type Context, loadGraph } from "./context.ts";
import type { MigrateResult } from "./migrate.ts";
import { ScratchDatabase } from "./scratch-database.ts";

export const ValidationStatus = {
  Ok: "ok",
  /** Marked `irreversible: true`: applied and re-run, its downgrade deliberately not checked. */
  Irreversible: "irreversible",
  NotReversible: "not-reversible",
  NotIdempotent: "not-idempotent",
  /** The upgrade itself failed. */
  Failed: "failed",
  /** Not tried: it comes after a revision whose upgrade failed. */
  NotRun: "not-run",
} as const;
export type ValidationStatus = (typeof ValidationStatus)[keyof typeof ValidationStatus];

export const ValidationStep = {
  Upgrade: "upgrade",
  Rerun: "upgrade-again",
  Downgrade: "downgrade",
  Reupgrade: "upgrade-after-downgrade",
} as const;
export type ValidationStep = (typeof ValidationStep)[keyof typeof ValidationStep];

export interface ValidationFinding {
  step: ValidationStep;
  message: string;
  /** The objects that differ, each with its sentence. */
  differences?: Array<SchemaDifference & { message: string }>;
}

export interface RevisionValidation {
  revision: string;
  message: string;
  file: string;
  checksum: string;
  status: ValidationStatus;
  durationMs: number;
  findings: ValidationFinding[];
  /**
   * Operations the safe re-run applied again because nothing can tell they are done (raw SQL, a
   * column default); they passed because schema and rows stayed the same.
   */
  reapplied: string[];
  /** For not-run: the failed revision it depends on. */
  blockedBy?: string;
}

export interface ValidateResult {
  ok: boolean;
  /** The scratch database, e.g. "PGlite (in memory)". */
  database: string;
  /** Where the walk started: [] for base, or the heads of --from. */
  from: string[];
  /** Problems `retort check` finds in the files (they fail validate too). */
  problems: ProblemData[];
  results: RevisionValidation[];
  durationMs: number;
}

export interface ValidateOptions {
  /** Validate only the revisions after this one; those up to it are applied without checks. */
  from?: string;
  /** Opens a scratch database. @default a new in-memory PGlite */
  open?: () => Promise<SqlExecutor>;
}

/** Findings of a failed step, and the status they give the revision. */
class StepFailed extends Error {
  constructor(
    readonly status: ValidationStatus,
    readonly finding: ValidationFinding,
  ) {
    super(finding.message);
  }
}

const RERUN: DifferenceWording = {
  added: "appeared when the upgrade ran again",
  removed: "disappeared when the upgrade ran again",
  changed: "changed when the upgrade ran again",
};
const DOWNGRADE: DifferenceWording = {
  added: "still present after downgrade",
  removed: "missing after downgrade",
  changed: "changed after downgrade",
};
const REUPGRADE: DifferenceWording = {
  added: "present only after downgrade and upgrade",
  removed: "missing after downgrade and upgrade",
  changed: "differs after downgrade and upgrade",
};

/**
 * One scratch database is used for the whole walk; every step goes through the runner's own
 * engine (migrate.ts), so the version table, the lock and combining statements into DO blocks are
 * exercised as in production. Per revision, in upgrade-plan order (branches and merges included):
 *   1. snapshot A
 *   2. upgrade (strict), snapshot B
 *   3. stamp back and upgrade again in safe mode: schema and rows must still be B
 *   4. downgrade (as `retort downgrade`, safe mode): schema must be A again, object by object
 *   5. upgrade again (strict): must succeed and give B, which also catches what a downgrade left
 *      behind that snapshots do not show (a type, a sequence, a function)
 * A revision marked `irreversible` stops after step 3. A failed revision's descendants are not run;
 * after any failure the scratch database is rebuilt from the revisions that passed, so the walk
 * goes on with the other branches from a known state.
 */
export async function validate(ctx: Context, options: ValidateOptions = {}): Promise<ValidateResult> {
  const started = performance.now();
  const graph = await loadGraph(ctx);
  const problems = checkGraph(graph).problems;
  const result: ValidateResult = { ok: false, database: "", from: [], problems, results: [], durationMs: 0 };
  const done = () => {
    result.durationMs = Math.round(performance.now() - started);
    result.ok = problems.length === 0 && result.results.every((r) => r.status === "ok" || r.status === "irreversible");
    return result;
  };
  if (blocking(graph.problems).length > 0) return done();

  const { map } = graph;
  // The runner's commands load the graph themselves; they get the one already loaded.
  const source: MigrationSource = {
    location: ctx.source.location,
    load: async () => ({ migrations: graph.migrations, problems: [] }),
  };
  const from = options.from === undefined || options.from === "base" ? [] : map.resolve(options.from);
  const defaultSchema = ctx.database?.defaultSchema ?? "public";
  const scratch = await ScratchDatabase.open({ command: "validate", map, source, defaultSchema, ...(options.open ? { open: options.open } : {}) });
  const steps = new Steps(scratch, defaultSchema);
  result.database = scratch.description;
  result.from = from;
  try {
    /** Revisions applied and sound: what a rebuild of the scratch database replays. */
    const good = new Set<string>();
    for (const head of from) await scratch.upgradeTo(head, "--from");
    for (const r of map.ancestors(from, true)) good.add(r);

    /** Revisions whose upgrade failed; everything after them is not run. */
    const failed = new Set<string>();
    for (const migration of map.upgradePlan(from, "heads")) {
      const entry: RevisionValidation = {
        revision: migration.revision,
        message: migration.message,
        file: migration.file,
        checksum: migration.checksum,
        status: ValidationStatus.Ok,
        durationMs: 0,
        findings: [],
        reapplied: [],
      };
      result.results.push(entry);
      const ancestors = map.ancestors([migration.revision]);
      const blocker = [...failed].find((f) => ancestors.has(f));
      if (blocker !== undefined) {
        entry.status = ValidationStatus.NotRun;
        entry.blockedBy = blocker;
        continue;
      }
      const t0 = performance.now();
      try {
        await steps.check(migration, entry);
        good.add(migration.revision);
      } catch (error) {
        if (!(error instanceof StepFailed)) throw error;
        entry.status = error.status;
        entry.findings.push(error.finding);
        if (error.status === ValidationStatus.Failed) failed.add(migration.revision);
        else good.add(migration.revision);
        await steps.rebuild(good);
      }
      entry.durationMs = Math.round(performance.now() - t0);
    }
  } finally {
    await scratch.close();
  }
  return done();
}

/** The steps for each revision, on the scratch database. */
class Steps {
  /** The schema now, when the last step left it known (saves a snapshot per revision). */
  private current: SchemaSnapshot | undefined;

  constructor(
    private readonly scratch: ScratchDatabase,
    private readonly defaultSchema: string,
  ) {}

  /** Puts the scratch database back to exactly the revisions in `good` (after a failure). */
  async rebuild(good: ReadonlySet<string>): Promise<void> {
    this.current = undefined;
    await this.scratch.rebuild(good);
  }

  /** The five steps for one revision; throws StepFailed at the first that fails. */
  async check(migration: Migration, entry: RevisionValidation): Promise<void> {
    const scratch = this.scratch;
    const before = scratch.heads;
    const a = this.current ?? (await scratch.snapshot());
    this.current = undefined;

    const up = await scratch.migrate(Direction.Up, migration.revision, "strict");
    expectOne(up, migration);
    if (up.error) throw new StepFailed(ValidationStatus.Failed, { step: ValidationStep.Upgrade, message: up.error.message });
    const after = scratch.heads;
    const b = await scratch.snapshot();
    const rowsB = await scratch.fingerprints(b);

    // As if the version-table update had been lost: the heads go back, safe-upgrade runs it again.
    await scratch.stamp(before);
    const again = await scratch.migrate(Direction.Up, migration.revision, "safe");
    expectOne(again, migration);
    if (again.error) {
      throw new StepFailed(ValidationStatus.NotIdempotent, {
        step: ValidationStep.Rerun,
        message: `running the upgrade again (safe-upgrade) failed: ${again.error.message}`,
      });
    }
    entry.reapplied = (again.results[0]?.operations ?? []).filter((o) => o.status === "applied").map((o) => o.operation);
    const c = await scratch.snapshot();
    const schemaChanges = differences(b, c, RERUN, this.defaultSchema);
    const rowsC = await scratch.fingerprints(c);
    const rowChanges = [...rowsB].filter(([table, rows]) => rowsC.has(table) && rowsC.get(table) !== rows).map(([table]) => table);
    if (schemaChanges.length > 0 || rowChanges.length > 0) {
      const parts = [
        ...schemaChanges.map((d) => d.message),
        ...rowChanges.map((t) => `rows of table ${t} changed when the upgrade ran again`),
      ];
      throw new StepFailed(ValidationStatus.NotIdempotent, {
        step: ValidationStep.Rerun,
        message: `running the upgrade again (safe-upgrade) changed the database: ${parts.join("; ")}`,
        ...(schemaChanges.length > 0 ? { differences: schemaChanges } : {}),
      });
    }
    if (migration.irreversible) {
      entry.status = ValidationStatus.Irreversible;
      this.current = c;
      return;
    }

    const down = await scratch.migrate(Direction.Down, "-1", "safe");
    expectOne(down, migration);
    if (down.error) {
      throw new StepFailed(ValidationStatus.NotReversible, { step: ValidationStep.Downgrade, message: down.error.message });
    }
    const leftOver = differences(a, await scratch.snapshot(), DOWNGRADE, this.defaultSchema);
    if (leftOver.length > 0) {
      throw new StepFailed(ValidationStatus.NotReversible, {
        step: ValidationStep.Downgrade,
        message: `the downgrade does not restore the schema: ${leftOver.map((d) => d.message).join("; ")}`,
        differences: leftOver,
      });
    }

    const reup = await scratch.migrate(Direction.Up, migration.revision, "strict");
    expectOne(reup, migration);
    if (reup.error) {
      throw new StepFailed(ValidationStatus.NotReversible, {
        step: ValidationStep.Reupgrade,
        message:
          `upgrading again after the downgrade failed, so the downgrade left something behind that the schema ` +
          `snapshot does not show (a type, a sequence, a function, rows): ${reup.error.message}`,
      });
    }
    const e = await scratch.snapshot();
    const drift = differences(b, e, REUPGRADE, this.defaultSchema);
    if (drift.length > 0) {
      throw new StepFailed(ValidationStatus.NotReversible, {
        step: ValidationStep.Reupgrade,
        message: `upgrading again after the downgrade gives another schema: ${drift.map((d) => d.message).join("; ")}`,
        differences: drift,
      });
    }
    if (scratch.heads.join() !== after.join()) throw new Error(`validate: heads ${scratch.heads} after the last step, expected ${after}`);
    this.current = e;
  }
}

/** The engine must have run exactly this revision; anything else is a bug in validate's walk. */
function expectOne(run: MigrateResult, migration: Migration): void {
  const ran = run.results.map((r) => r.revision);
  if (ran.length !== 1 || ran[0] !== migration.revision) {
    throw new Error(`validate expected to run ${migration.revision} alone, but the plan was [${ran.join(", ")}]`);
  }
}

function differences(
  expected: SchemaSnapshot,
  actual: SchemaSnapshot,
  wording: DifferenceWording,
  defaultSchema: string,
): Array<SchemaDifference & { message: string }> {
  return diffSnapshots(expected, actual, { defaultSchema }).map((d) => ({ ...d, message: describeDifference(d, wording) }));
}

