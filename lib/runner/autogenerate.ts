// `retort revision --autogenerate -m MSG --from <url> | --from-sql <file>`: a migration written from
// the difference between the schema the code's heads build (on a scratch database) and a reference,
// then proven before it is written: applied on top of the heads it must leave no difference with
// the reference, and `validate`'s checks of it (run again, downgrade back to the heads' schema,
// upgrade again) must pass. A proof that fails still writes the file, with the reason, since a
// person can finish what the planner could not; --no-verify skips the proof.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { DirectorySource, type MigrationSource } from "../revision/loader.ts";
import type { Migration } from "../revision/migration.ts";
import type { SchemaDifference } from "../schema/diff.ts";
import type { SqlExecutor } from "../sql/executor.ts";
import { planMigration, type Rename } from "./autogenerate-plan.ts";
import { type Context, loadSoundGraph } from "./context.ts";
import { compareSchemas, headsSchema, readReference, type Schema } from "./diff.ts";
import { dialectOf } from "./database.ts";
import { newRevisionId, revisesFor, revisionText, UsageError, type WrittenRevision, writeRevision } from "./revision.ts";
import { validate } from "./validate.ts";

export interface AutogenerateOptions {
  message: string;
  /** A database URL whose schema the migration should reach; only read. */
  from?: string;
  /** A SQL file of the schema the migration should reach. */
  fromSql?: string;
  /** `table.old=new` (a column) or `old=new` (a table), `schema.` in front outside the default schema. */
  renames?: readonly string[];
  /** The revision to build on when there are several heads (or `base`). */
  head?: string;
  /** Write without proving the migration first. */
  noVerify?: boolean;
  /** Opens scratch databases. @default new in-memory PGlites */
  open?: () => Promise<SqlExecutor>;
}

export interface AutogenerateResult {
  /** The file written; null when the reference has the heads' schema (nothing to write). */
  written: WrittenRevision | null;
  /** Possible renames, and what no migration can make (column order). */
  notes: string[];
  /** Lint rules the upgrade's destructive steps trip (drop-column, drop-table): `retort lint` stops on them. */
  destructive: string[];
  /** The proof: null with --no-verify or when nothing was written. */
  verification: Verification | null;
}

export interface Verification {
  ok: boolean;
  /** What still differs from the reference after the upgrade, each with its sentence. */
  leftOver: Array<SchemaDifference & { message: string }>;
  /** `validate`'s findings for the new revision (re-run, downgrade, upgrade again). */
  findings: string[];
}

const COMMAND = "revision --autogenerate";

const LEFT_OVER = { added: "is in the reference only", removed: "is still there, not in the reference", changed: "still differs from the reference" };

export async function autogenerate(ctx: Context, options: AutogenerateOptions): Promise<AutogenerateResult> {
  const message = options.message.trim();
  if (!message) throw new UsageError('A message is required: retort revision --autogenerate -m "add email to users" --from <database URL>');
  if ((options.from === undefined) === (options.fromSql === undefined)) {
    throw new UsageError("revision --autogenerate writes the migration to one reference: give --from <database URL> or --from-sql <file>");
  }
  const { map, migrations } = await loadSoundGraph(ctx);
  const revises = revisesFor(map, options.head);
  const source: MigrationSource = { location: ctx.source.location, load: async () => ({ migrations, problems: [] }) };
  const defaultSchema = ctx.database?.defaultSchema ?? "public";
  const reference = await readReference(options);
  const heads = await headsSchema({ command: COMMAND, map, source, defaultSchema, open: options.open, heads: revises });
  const renames = (options.renames ?? []).map((r) => parseRename(r, heads, reference, defaultSchema));

  // The scratch databases the schemas were read on are embedded PostgreSQL, as is every target.
  const dialect = dialectOf("pglite://")!;
  const plan = planMigration(heads, reference, { dialect, defaultSchema, renames });
  if (plan.empty) return { written: null, notes: plan.notes, destructive: [], verification: null };

  const revision = newRevisionId(map);
  const body = { upgrade: plan.upgrade, downgrade: plan.downgrade, notes: plan.notes, transactional: plan.transactional };
  // One text, proven and then written: the file is the bytes the proof loaded.
  const text = revisionText(ctx, { revision, message, revises, body });
  const verification = options.noVerify ? null : await verify(ctx, { migrations, revises, defaultSchema, reference, open: options.open, text, revision });
  const written = await writeRevision(ctx, map, { message, revises, revision, text });
  return { written, notes: plan.notes, destructive: plan.destructive, verification };
}

/**
 * The new migration, loaded from a temporary directory as the loader loads any file, applied on
 * top of the heads: the schema must be the reference's (the column order aside, which PostgreSQL
 * cannot change); then `validate` from the heads checks it runs again, downgrades and upgrades.
 */
async function verify(
  ctx: Context,
  input: {
    migrations: Migration[];
    revises: string[];
    defaultSchema: string;
    reference: Schema;
    open: (() => Promise<SqlExecutor>) | undefined;
    text: string;
    revision: string;
  },
): Promise<Verification> {
  const dir = await mkdtemp(path.join(tmpdir(), "retort-autogenerate-"));
  try {
    const file = path.join(dir, `${new Date().toISOString().slice(0, 10).replaceAll("-", "")}_autogenerate.ts`);
    await writeFile(file, input.text);
    const loaded = await new DirectorySource(dir).load();
    const problem = loaded.problems[0];
    if (problem || loaded.migrations.length !== 1) {
      return { ok: false, leftOver: [], findings: [`the written migration does not load: ${problem?.message ?? "no migration in it"}`] };
    }
    const migrations = [...input.migrations, loaded.migrations[0]!];
    const source: MigrationSource = { location: ctx.source.location, load: async () => ({ migrations, problems: [] }) };
    const withNew = await loadSoundGraph({ ...ctx, source });
    let after: Schema;
    try {
      after = await headsSchema({
        command: COMMAND,
        map: withNew.map,
        source,
        defaultSchema: input.defaultSchema,
        open: input.open,
        heads: [input.revision],
        why: "to apply the new migration on top of the heads",
      });
    } catch (error) {
      return { ok: false, leftOver: [], findings: [(error as Error).message] };
    }
    const leftOver = compareSchemas(after, input.reference, input.defaultSchema, LEFT_OVER).filter((d) => !onlyColumnOrder(d));
    const from = input.revises.length === 1 ? { from: input.revises[0]! } : {};
    const validated = await validate({ ...ctx, source }, { ...from, ...(input.open ? { open: input.open } : {}) });
    const mine = validated.results.find((r) => r.revision === input.revision);
    // A downgrade adds a dropped column back at the end: validate names the order, which no migration can restore.
    const findings = [
      ...validated.problems.map((p) => p.message),
      ...(mine ? mine.findings.filter((f) => !f.differences?.length || !f.differences.every(onlyColumnOrder)).map((f) => f.message) : ["validate did not reach the new revision"]),
    ];
    return { ok: leftOver.length === 0 && findings.length === 0, leftOver, findings };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A table whose columns are the same in another order: PostgreSQL adds a column at the end, and cannot reorder. */
function onlyColumnOrder(d: SchemaDifference): boolean {
  return d.object === "table" && d.kind === "changed" && (d.changes?.every((c) => c.property === "column order") ?? false);
}

/**
 * `--rename`: `[schema.]table.old=new` renames a column (the table named as in the reference), and
 * `[schema.]old=new` a table. Checked against both schemas: the old name must be in the heads'
 * schema and the new one in the reference.
 */
export function parseRename(text: string, heads: Schema, reference: Schema, defaultSchema: string): Rename {
  const m = /^([^=]+)=([^=.]+)$/.exec(text.trim());
  const bad = (why: string) => new UsageError(`--rename ${text}: ${why}`);
  if (!m) throw bad("write it as table.old_column=new_column, or old_table=new_table (schema.table.old=new outside the default schema)");
  const parts = m[1]!.split(".");
  const to = m[2]!;
  const table = (schema: string, name: string, schema2: Schema) => schema2.snapshot.tables.find((t) => t.schema === schema && t.name === name);
  const asTable = (schema: string, from: string): Rename | undefined => (table(schema, from, heads) ? { kind: "table", schema, from, to } : undefined);
  let rename: Rename | undefined;
  if (parts.length === 1) rename = asTable(defaultSchema, parts[0]!);
  else if (parts.length === 2) {
    rename = asTable(parts[0]!, parts[1]!) ?? { kind: "column", schema: defaultSchema, table: parts[0]!, from: parts[1]!, to };
  } else if (parts.length === 3) rename = { kind: "column", schema: parts[0]!, table: parts[1]!, from: parts[2]!, to };
  if (!rename) throw bad(`there is no table ${parts.join(".")} in the heads' schema`);
  if (rename.kind === "table") {
    if (!table(rename.schema, to, reference)) throw bad(`the reference has no table ${to} to rename ${rename.from} to`);
    return rename;
  }
  const after = table(rename.schema, rename.table, reference);
  if (!after) throw bad(`the reference has no table ${rename.table}`);
  // The table may itself be renamed: its columns are looked up under the name it had in the heads.
  const before = heads.snapshot.tables.find((t) => t.schema === rename.schema && t.name === rename.table);
  if (before && !before.columns.some((c) => c.name === rename.from)) throw bad(`table ${rename.table} has no column ${rename.from} in the heads' schema`);
  if (!after.columns.some((c) => c.name === to)) throw bad(`table ${rename.table} has no column ${to} in the reference`);
  return rename;
}
