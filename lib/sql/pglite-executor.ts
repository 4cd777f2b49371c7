// SqlExecutor over PGlite, the embedded (WASM) PostgreSQL: the local default, with no server.
// PGlite is one session; its own mutex makes other calls wait while a transaction runs.

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { ExecutorKind, QueryOptions, QueryResult, SqlExecutor, SqlParams, SqlSession } from "./executor.ts";
import { ConnectionError } from "./errors.ts";
import { DirectoryLock, type DirectoryLockOptions, makeDirectory } from "./directory-lock.ts";
import { TransactionGuard, buildResult, mapDriverError, prepareStatement } from "./adapter-kit.ts";
import { TypeNames } from "./pg-types.ts";

/** Session settings that make the text output of dates, times and bytea the same everywhere. */
const SESSION_SETTINGS =
  "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; " +
  "SET bytea_output = 'hex'";

/**
 * A parser/serializer table that answers "identity" for every type OID. Values cross PGlite as
 * PostgreSQL text both ways and lib/sql/values.ts converts them, exactly as for node-postgres.
 */
function identityTable(): Record<number | string, (x: string) => string> {
  return new Proxy(
    {},
    {
      get: () => (x: string) => x,
      // PGlite (re)registers array parsers on refreshArrayTypes(); ignore those writes.
      set: () => true,
    },
  );
}

type Target = PGlite | Transaction;

/**
 * A freshly initialised data directory, as a tarball. Loading it takes ~0.4 s where initdb takes
 * ~2 s (much more on a busy machine), and tests and `validate` open many scratch databases; a
 * project's first `.retort/local` is seeded from it too. It is kept in memory for the process and
 * in a cache file shared by processes (keyed by the PGlite version and user, written atomically,
 * deleted and rebuilt when it fails to load).
 */
let template: Promise<Blob> | undefined;

function templateCacheFile(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const entry = require.resolve("@electric-sql/pglite");
    const pkg = JSON.parse(readFileSync(path.join(path.dirname(entry), "..", "package.json"), "utf8")) as { version?: unknown };
    if (typeof pkg.version !== "string") return undefined;
    const user = process.getuid?.() ?? os.userInfo().username;
    return path.join(os.tmpdir(), `retort-pglite-template-${pkg.version}-${user}.tar`);
  } catch {
    return undefined;
  }
}

async function readTemplate(file: string | undefined): Promise<Blob | undefined> {
  if (file === undefined) return undefined;
  try {
    return new Blob([await readFile(file)]);
  } catch {
    return undefined;
  }
}

async function writeTemplate(file: string | undefined, dump: Blob): Promise<void> {
  if (file === undefined) return;
  const partial = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.partial`;
  try {
    await writeFile(partial, new Uint8Array(await dump.arrayBuffer()));
    await rename(partial, file);
  } catch {
    await rm(partial, { force: true }).catch(() => undefined); // a cache: failing to write is fine
  }
}

/** True when `dir` does not exist or is empty: a new database may be created in it. */
async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return true;
    throw error;
  }
}

/**
 * A new database for the empty or missing directory `dataDir`: created in a staging directory
 * beside it, closed, then renamed into place (rename is atomic), so a process killed meanwhile
 * leaves a staging directory (removed by the next creation) and never a half-made `dataDir`.
 * Called with the directory's lock held.
 */
async function createInPlace(dataDir: string): Promise<void> {
  const parent = path.dirname(dataDir);
  const prefix = `${path.basename(dataDir)}.creating-`;
  await makeDirectory(parent);
  for (const name of await readdir(parent)) {
    if (name.startsWith(prefix)) await rm(path.join(parent, name), { recursive: true, force: true });
  }
  const staging = path.join(parent, `${prefix}${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    await mkdir(staging);
    await (await createNew(staging)).close();
    await rmdirIfEmpty(dataDir);
    await rename(staging, dataDir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
}

async function rmdirIfEmpty(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (error) {
    if ((error as { code?: unknown }).code !== "ENOENT") throw error;
  }
}

/**
 * Refuses a non-empty directory PGlite cannot use: one without a database (PGlite would run initdb
 * among whatever is there; a mistyped path must not get littered), and one an interrupted first
 * run of an older retort left half-created (initdb's files without global/pg_control).
 */
function refuseUnusable(dataDir: string): void {
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
    throw new ConnectionError(
      `${dataDir} is not empty and does not hold a PGlite database (it has no PG_VERSION file). ` +
        `Point --db/RETORT_DB at an existing PGlite directory or at a new or empty one.`,
    );
  }
  if (!existsSync(path.join(dataDir, "global", "pg_control"))) {
    throw new ConnectionError(
      `${dataDir} is a half-created PGlite database: its creation was interrupted (it has PG_VERSION but no ` +
        `global/pg_control), so it holds no data. Delete it (rm -rf ${JSON.stringify(dataDir)}) and run the command again; ` +
        `the database is created anew.`,
    );
  }
}

/** Creates a new database in memory or in an empty directory, from the template when there is one. */
async function createNew(dataDir: string | undefined): Promise<PGlite> {
  const file = templateCacheFile();
  if (!template) {
    const cached = await readTemplate(file);
    if (cached) template ??= Promise.resolve(cached);
  }
  if (template) {
    try {
      return await PGlite.create({ dataDir, loadDataDir: await template });
    } catch {
      // A damaged or incompatible template: forget it, undo a partial extraction, run initdb.
      template = undefined;
      if (file !== undefined) await rm(file, { force: true }).catch(() => undefined);
      if (dataDir !== undefined) {
        await rm(dataDir, { recursive: true, force: true });
        await makeDirectory(dataDir);
      }
    }
  }
  const db = await PGlite.create({ dataDir });
  if (!template) {
    const dump = db.dumpDataDir("none");
    template = dump;
    try {
      await writeTemplate(file, await dump);
    } catch {
      if (template === dump) template = undefined;
    }
  }
  return db;
}

export class PgliteExecutor implements SqlExecutor {
  readonly dialect = "postgresql" as const;
  readonly kind: ExecutorKind = "pglite";
  readonly description: string;
  /** The absolute data directory, or undefined when in memory. */
  readonly dataDir: string | undefined;

  readonly #db: PGlite;
  readonly #types = new TypeNames();
  readonly #guard = new TransactionGuard();
  readonly #lock: DirectoryLock | undefined;
  #closed = false;

  private constructor(db: PGlite, dataDir: string | undefined, lock: DirectoryLock | undefined) {
    this.#db = db;
    this.dataDir = dataDir;
    this.#lock = lock;
    this.description = dataDir === undefined ? "PGlite (in memory)" : `PGlite at ${dataDir}`;
  }

  /**
   * Opens PGlite on `dir` (relative to the working directory) or, without `dir`, in memory. A
   * directory is locked for this process until close() (DirectoryLock: PGlite serves one process;
   * another waits up to `waitMs` or is refused). A missing or empty directory gets a new database,
   * created beside it and moved into place whole, so an interrupted first run leaves no directory
   * rather than a broken one; a directory with other files but no database in it is refused.
   */
  static async open(dir?: string, options: DirectoryLockOptions = {}): Promise<PgliteExecutor> {
    const dataDir = dir === undefined ? undefined : path.resolve(dir);
    const lock = dataDir === undefined ? undefined : await DirectoryLock.acquire(dataDir, options);
    let db: PGlite;
    try {
      if (dataDir === undefined) {
        db = await createNew(undefined);
      } else {
        if (await isEmptyDir(dataDir)) await createInPlace(dataDir);
        else refuseUnusable(dataDir);
        db = await PGlite.create({ dataDir });
      }
      db.parsers = identityTable();
      db.serializers = identityTable();
      await db.exec(SESSION_SETTINGS).catch(async (error: unknown) => {
        await db.close().catch(() => undefined);
        throw error;
      });
    } catch (error) {
      await lock?.release();
      if (error instanceof ConnectionError) throw error;
      throw new ConnectionError(
        `Could not open the embedded PGlite database ${dataDir === undefined ? "in memory" : `at ${dataDir}`}: ` +
          `${error instanceof Error ? error.message : String(error)}. Check that the directory is ` +
          `writable and holds a PGlite database (or is empty), or pick another one with --db/RETORT_DB.`,
        { cause: error },
      );
    }
    return new PgliteExecutor(db, dataDir, lock);
  }

  async query<Row = Record<string, unknown>>(
    sql: string,
    params?: SqlParams,
    _options?: QueryOptions,
  ): Promise<QueryResult<Row>> {
    this.#guard.assertOutside("query");
    this.#assertOpen();
    return this.#run<Row>(this.#db, sql, params);
  }

  async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    this.#guard.assertOutside("transaction");
    this.#assertOpen();
    // Errors from fn pass through untouched; errors from BEGIN/COMMIT/ROLLBACK become SqlError
    // (COMMIT of a transaction in which a statement failed raises 25P02).
    let fromCallback: { error: unknown } | undefined;
    try {
      return await this.#db.transaction(async (pgTx) => {
        try {
          return await this.#guard.run((sql, params) => this.#run(pgTx, sql, params), fn);
        } catch (error) {
          fromCallback = { error };
          throw error;
        }
      });
    } catch (error) {
      if (fromCallback && fromCallback.error === error) throw error;
      throw mapDriverError(error);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#db.close();
    } finally {
      await this.#lock?.release();
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new ConnectionError(`${this.description} has been closed`);
  }

  async #run<Row>(target: Target, sql: string, params: SqlParams | undefined): Promise<QueryResult<Row>> {
    const statement = prepareStatement(sql, params);
    let result;
    try {
      result = await target.query<Array<string | null>>(statement.text, statement.values, { rowMode: "array" });
      // Names of types outside the built-in table, asked on the same session (inside a
      // transaction, the executor itself would wait for the transaction to end).
      await this.#types.resolve(
        result.fields.map((f) => f.dataTypeID),
        async (lookupSql, oids) => {
          const found = await target.query<[string, string]>(lookupSql, [oids], { rowMode: "array" });
          return found.rows.map(([oid, typname]) => ({ oid, typname }));
        },
      );
    } catch (error) {
      throw mapDriverError(error);
    }
    const columns = result.fields.map((f) => ({ name: f.name, typeName: this.#types.name(f.dataTypeID) }));
    return buildResult<Row>(columns, result.rows, result.rowCount);
  }
}
