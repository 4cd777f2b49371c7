// `retort diff`: the schema the code's heads produce (built on a scratch embedded database, through
// the runner's own engine) against a reference: a database (`--from <url>`, read only) or a
// declarative SQL file (`--from-sql`, applied to a second scratch database). "Has someone changed
// production by hand?" in one command; autogenerate (autogenerate.ts) writes a migration from the same
// difference. retort's own tables are left out of both sides (the dialect's reads skip them).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { RevisionMap } from "../revision/graph.ts";
import type { MigrationSource } from "../revision/loader.ts";
import type { Migration } from "../revision/migration.ts";
import {
  describeDifference,
  DifferenceKind,
  diffSnapshots,
  type DifferenceWording,
  displayRelation,
  type PropertyChange,
  type SchemaDifference,
  SchemaObject,
} from "../schema/diff.ts";
import type { CatalogObject, SchemaSnapshot } from "../schema/snapshot.ts";
import { maskPassword, parseDatabaseUrl } from "../sql/connect.ts";
import type { SqlExecutor } from "../sql/executor.ts";
import type { Dialect } from "../dialect/dialect.ts";
import { splitStatements } from "../sql/lexer.ts";
import { type Context, loadSoundGraph } from "./context.ts";
import { databaseContext, openDatabase } from "./database.ts";
import { UsageError } from "./revision.ts";
import { ScratchDatabase } from "./scratch-database.ts";

export interface DiffOptions {
  /** A database URL to compare with (pglite://, postgres://, data-api://); read only. */
  from?: string;
  /** A SQL file of the schema to compare with, applied to a scratch database. */
  fromSql?: string;
  /** Opens a scratch database. @default a new in-memory PGlite */
  open?: () => Promise<SqlExecutor>;
}

export interface DiffResult {
  /** The code's heads, whose schema is compared. */
  heads: string[];
  /** What it is compared with: the URL (password masked) or the SQL file. */
  reference: string;
  /** True when there is no difference. */
  same: boolean;
  /** Each difference, from the code's side: `added` is in the reference only, `removed` in the code only. */
  differences: (SchemaDifference & { message: string })[];
}

const WORDING: DifferenceWording = {
  added: "is in the reference only",
  removed: "is missing from the reference",
  changed: "differs in the reference",
};


export async function diff(ctx: Context, options: DiffOptions): Promise<DiffResult> {
  if ((options.from === undefined) === (options.fromSql === undefined)) {
    throw new UsageError("diff compares the code's heads with one reference: give --from <database URL> or --from-sql <file>");
  }
  const { map, migrations } = await loadSoundGraph(ctx);
  const source: MigrationSource = { location: ctx.source.location, load: async () => ({ migrations, problems: [] }) };
  const defaultSchema = ctx.database?.defaultSchema ?? "public";
  const heads = map.heads().map((m) => m.revision);

  // The reference first: a file that fails or a database that cannot be reached is reported
  // before the heads are built.
  const reference = await readReference(options);
  const code = await headsSchema({ command: "diff", map, source, defaultSchema, open: options.open });
  const differences = compareSchemas(code, reference, defaultSchema, WORDING);
  return {
    heads,
    reference: options.from !== undefined ? maskPassword(options.from) : options.fromSql!,
    same: differences.length === 0,
    differences,
  };
}

/** Every difference between two schemas, tables first, each with its sentence. */
export function compareSchemas(expected: Schema, actual: Schema, defaultSchema: string, wording: DifferenceWording): (SchemaDifference & { message: string })[] {
  return [...diffSnapshots(expected.snapshot, actual.snapshot, { defaultSchema }), ...diffCatalogObjects(expected.objects, actual.objects, defaultSchema)].map((d) => ({
    ...d,
    message: describeDifference(d, wording),
  }));
}

/** The reference's schema: the database (`from`), or what the SQL file (`fromSql`) builds. */
export async function readReference(options: DiffOptions): Promise<Schema> {
  if (options.fromSql !== undefined) return fromSql(await readSql(options.fromSql), options);
  return fromDatabase(options.from!);
}

/**
 * The schema `heads` (revisions of `map`, all its heads by default) build on a scratch database; a
 * failing migration throws, naming it, the command and `why` the scratch database was upgraded.
 */
export async function headsSchema(options: {
  command: string;
  map: RevisionMap<Migration>;
  source: MigrationSource;
  defaultSchema: string;
  open?: (() => Promise<SqlExecutor>) | undefined;
  heads?: readonly string[];
  why?: string;
}): Promise<Schema> {
  const { command, map, source, defaultSchema, open } = options;
  const scratch = await ScratchDatabase.open({ command, map, source, defaultSchema, ...(open ? { open } : {}) });
  try {
    for (const head of options.heads ?? map.heads().map((m) => m.revision)) await scratch.upgradeTo(head, options.why ?? "to build the heads' schema");
    return { snapshot: await scratch.snapshot(), objects: await scratch.catalogObjects() };
  } finally {
    await scratch.close();
  }
}

async function readSql(file: string): Promise<{ file: string; text: string }> {
  try {
    return { file, text: await readFile(path.resolve(file), "utf8") };
  } catch (error) {
    throw new UsageError(`--from-sql ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** What is compared of a schema: its tables, and its other objects. */
export interface Schema {
  snapshot: SchemaSnapshot;
  objects: CatalogObject[];
}

/** Both sides' schemas read through one session. */
async function readSchema(executor: SqlExecutor, dialect: Dialect): Promise<Schema> {
  const schemas = await dialect.userSchemas(executor);
  return { snapshot: await dialect.introspect(executor, schemas), objects: await dialect.catalogObjects(executor, schemas) };
}

const OBJECT_KINDS: Record<CatalogObject["kind"], SchemaObject> = { enum: SchemaObject.Enum, sequence: SchemaObject.Sequence, view: SchemaObject.View };

/** Enum types, sequences and views only on one side, or with another definition, in name order. */
function diffCatalogObjects(expected: readonly CatalogObject[], actual: readonly CatalogObject[], defaultSchema: string): SchemaDifference[] {
  const key = (o: CatalogObject) => `${o.kind}\u0000${o.schema}\u0000${o.name}`;
  const theirs = new Map(actual.map((o) => [key(o), o]));
  const ours = new Map(expected.map((o) => [key(o), o]));
  const out: SchemaDifference[] = [];
  for (const k of [...new Set([...ours.keys(), ...theirs.keys()])].sort()) {
    const before = ours.get(k);
    const after = theirs.get(k);
    const o = (before ?? after)!;
    const named = { object: OBJECT_KINDS[o.kind], name: displayRelation(o, defaultSchema) };
    if (!after) out.push({ kind: DifferenceKind.Removed, ...named });
    else if (!before) out.push({ kind: DifferenceKind.Added, ...named });
    else {
      const changes: PropertyChange[] = Object.keys({ ...before.definition, ...after.definition })
        .filter((p) => JSON.stringify(before.definition[p]) !== JSON.stringify(after.definition[p]))
        .map((p) => ({ property: p, expected: before.definition[p] ?? null, actual: after.definition[p] ?? null }));
      if (changes.length > 0) out.push({ kind: DifferenceKind.Changed, ...named, changes });
    }
  }
  return out;
}

/** The schema a SQL file builds, on a scratch database; a statement it fails on names the file and the statement. */
async function fromSql(sql: { file: string; text: string }, options: DiffOptions): Promise<Schema> {
  const executor = options.open ? await options.open() : await (await import("../sql/pglite-executor.ts")).PgliteExecutor.open();
  try {
    const statements = splitStatements(sql.text);
    for (const [i, statement] of statements.entries()) {
      try {
        await executor.query(statement);
      } catch (error) {
        throw new UsageError(
          `--from-sql ${sql.file}: statement ${i + 1} of ${statements.length} failed: ${(error as Error).message}\n  ${statement.split("\n")[0]}`,
        );
      }
    }
    return await readSchema(executor, databaseContext(executor).dialect);
  } finally {
    await executor.close();
  }
}

/** The schema of a database, every user schema of it, read without changing anything. */
async function fromDatabase(url: string): Promise<Schema> {
  // Opening an embedded database that is not there would create an empty one to compare with.
  const target = parseDatabaseUrl(url);
  if (target.kind === "pglite" && !existsSync(path.resolve(target.dataDir))) {
    throw new UsageError(`--from ${url}: there is no database in ${path.resolve(target.dataDir)}`);
  }
  const db = await openDatabase(url);
  try {
    return await readSchema(db.executor, db.dialect);
  } finally {
    await db.close();
  }
}
