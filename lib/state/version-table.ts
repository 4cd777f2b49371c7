// The version table in the target database: what is applied is recorded there, in the same
// transaction as the migration's DDL, never only in DynamoDB. `retort_version` holds one row per
// current head (Alembic's alembic_version); `retort_revisions` holds every applied revision with
// its checksum and time, so `status` can report drift. Both are created on first use.
// `retort_fence` holds, per lock key, the highest fencing token that has written: every
// migration transaction run under a fenced lease claims it first and is refused when a newer
// token got there (DESIGN.md, core decision 2).
import { createHash } from "node:crypto";
import { RETORT_TABLES, DEFAULT_SCHEMA } from "../constants.ts";
import type { Dialect } from "../dialect/dialect.ts";
import type { QualifiedName } from "../schema/names.ts";
import { isMissingRelation } from "../sql/errors.ts";
import type { SqlSession } from "../sql/executor.ts";

export interface AppliedRevision {
  revision: string;
  checksum: string;
  appliedAt: string;
}

/** A session of another run still executing a statement that writes this version table. */
export interface BusyWriter {
  pid: number;
  /** pg_stat_activity's state ("active", "idle in transaction", ...). */
  state: string;
  /** When its statement started (ISO), and the statement's first 120 characters. */
  since: string;
  query: string;
}

type BusyRow = { revision: string; checksum: string | null; applied_at: string | null; detail: string | null };

function busyWriter(row: BusyRow): BusyWriter {
  return { pid: Number(row.revision), state: row.checksum ?? "", since: row.applied_at ?? "", query: row.detail ?? "" };
}

/** Another lock table's runners that have written this database (its fence row). */
export interface OtherIssuer {
  issuer: string;
  token: number;
  writtenAt: string;
}

/** What to say when a database is migrated under more than one lock table. */
export const TWO_LOCK_TABLES =
  "Runners of different lock tables do not wait for each other's lock, only the database orders their transactions, " +
  "so one of them fails; give every stack that migrates this database the same lock table " +
  "(the MigrationRunner's `table` prop, or --lock-table)";

export function describeOtherIssuers(others: readonly OtherIssuer[]): string {
  const list = others.map((o) => `${o.issuer} (fencing token ${o.token}, last wrote ${o.writtenAt})`).join("; ");
  return `This database is also migrated under another lock table: ${list}. ${TWO_LOCK_TABLES}`;
}

export interface VersionState {
  /** false until the first migration creates the tables. */
  exists: boolean;
  heads: string[];
  applied: AppliedRevision[];
  /**
   * Other sessions holding this table's writer lock (serialise()): a statement of an earlier run
   * still executing, whose outcome nobody knows yet (a Data API call that timed out).
   */
  busy: BusyWriter[];
}

/** A change of heads, recorded atomically with the migration that causes it. */
export interface Transition {
  /** The heads this run read; the change is refused if the table no longer holds exactly these. */
  from: readonly string[];
  to: readonly string[];
  /** Revisions now applied, with the checksum of their file. */
  applied?: readonly { revision: string; checksum: string }[];
  /** Revisions no longer applied. */
  reverted?: readonly string[];
}

/** SQLState raised when the version table changed under a run (another runner, a manual edit). */
export const VERSION_CONFLICT_SQLSTATE = "RT001";

/**
 * SQLState raised when a newer fencing token has already written: this run lost its lease (it was
 * paused or partitioned, and another runner took the lock over), so its transaction is refused.
 */
export const FENCED_OUT_SQLSTATE = "RT002";


const ID = /^[0-9a-f]{12}$/;

/** Between the lock key and the issuing lock table in a fence row's key. */
const FENCE_KEY_SEPARATOR = " @ ";

/** The fence row of a lock key's tokens as `issuer` (a lock table) counts them. */
export function fenceKey(lockKey: string, issuer: string): string {
  return `${lockKey}${FENCE_KEY_SEPARATOR}${issuer}`;
}

const WRITTEN_AT = `to_char(written_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;

/** A transaction-local setting: the other lock tables that have written this database's fence. */
const OTHER_ISSUERS_SETTING = "retort.other_lock_tables";

export class VersionTable {
  readonly version: QualifiedName;
  readonly revisions: QualifiedName;
  readonly fenceTable: QualifiedName;

  constructor(
    readonly schema: string,
    private readonly dialect: Dialect,
  ) {
    this.version = { schema, name: RETORT_TABLES.version };
    this.revisions = { schema, name: RETORT_TABLES.revisions };
    this.fenceTable = { schema, name: RETORT_TABLES.fence };
  }

  /**
   * PL/pgSQL statements that claim the fence for `token` at the start of a transaction: record
   * the token unless a newer one has written, else raise FENCED_OUT_SQLSTATE. The upsert locks the
   * fence's row until commit, so a newer token's transaction waits for this one and an older
   * token's, arriving later, is refused: at most one lease's writes ever commit in an order that
   * goes backwards. The table is created when missing (databases older than fencing).
   *
   * Tokens are counted by the lock table that issued them (`issuer`), so the fence is kept per
   * lock key and issuer: a second lock table for the same database (two stacks, each with its own)
   * counts from its own start and must not be refused for it. Runners of different lock tables
   * still never interleave: the database serialises their transactions (serialise()) and refuses
   * a plan made from heads that moved (assertHeads()). The claim also notes, for assertHeads'
   * message, the other lock tables that have written here.
   */
  fence(lockKey: string, token: number, issuer: string): string[] {
    if (!Number.isSafeInteger(token) || token < 1) throw new Error(`refusing to fence with token ${token}`);
    const f = this.dialect.quoteName(this.fenceTable);
    const lit = (text: string) => this.dialect.renderLiteral(text);
    const prefix = `${lockKey}${FENCE_KEY_SEPARATOR}`;
    const key = lit(fenceKey(lockKey, issuer));
    // format() fills in both tokens; a `%` in the key must not be read as a placeholder.
    const template = lit(
      `fenced out: this run's fencing token %s is older than token %s of the same lock table (${issuer.replace(/%/g, "%%")}), which has already ` +
        `written to ${this.fenceTable.name} for lock ${lockKey.replace(/%/g, "%%")}. Another runner using that lock table took the lock over ` +
        "after this one lost its lease (paused or cut off); nothing of this transaction was applied. Run `retort status`. " +
        "(If the lock table was recreated, its tokens restarted: run `retort unlock --force` to move them past the database's)",
    );
    const message = `format(${template}, ${token}, (SELECT token FROM ${f} WHERE lock_key = ${key}))`;
    const others =
      `(SELECT string_agg(substr(lock_key, ${prefix.length + 1}) || ' (fencing token ' || token || ', last wrote ' || ` +
      `${WRITTEN_AT} || ')', '; ' ORDER BY lock_key) FROM ${f} WHERE left(lock_key, ${prefix.length}) = ${lit(prefix)} AND lock_key <> ${key})`;
    return [
      `IF to_regclass(${lit(f)}) IS NULL THEN ` +
        `CREATE SCHEMA IF NOT EXISTS ${this.dialect.quoteIdentifier(this.schema)}; ` +
        `CREATE TABLE IF NOT EXISTS ${f} (lock_key text PRIMARY KEY, token bigint NOT NULL, written_at timestamptz NOT NULL DEFAULT now()); ` +
        "END IF",
      `INSERT INTO ${f} AS f (lock_key, token) VALUES (${key}, ${token}) ` +
        "ON CONFLICT (lock_key) DO UPDATE SET token = excluded.token, written_at = now() WHERE f.token <= excluded.token",
      `IF NOT FOUND THEN RAISE EXCEPTION USING MESSAGE = ${message}, ERRCODE = '${FENCED_OUT_SQLSTATE}'; END IF`,
      `PERFORM set_config(${lit(OTHER_ISSUERS_SETTING)}, ` +
        `coalesce(${lit(". This database is also migrated under another lock table: ")} || ${others} || ${lit(`. ${TWO_LOCK_TABLES}`)}, ''), true)`,
    ];
  }

  /**
   * PL/pgSQL first in every transaction that writes this version table: a transaction-level
   * advisory lock of its own, so the database serialises its writers whatever lock (or lock key)
   * the runners hold. A second writer waits here until the first commits, and then reads the heads
   * the first recorded: its assertion (assertHeads) refuses a plan made from older ones.
   */
  serialise(): string[] {
    return [`PERFORM pg_advisory_xact_lock(${this.writerLockKey().toString()})`];
  }

  /** The advisory lock key of serialise(): one per version table. */
  private writerLockKey(): bigint {
    return createHash("sha256").update(`retort:${this.schema}.${this.version.name}`).digest().readBigInt64BE(0);
  }

  /**
   * A comment that starts every statement a run sends outside a transaction (which cannot hold
   * the writer lock): a later run finds it in pg_stat_activity while it runs on.
   */
  writerLabel(): string {
    return `/* retort writes ${this.schema}.${this.version.name} ${BigInt.asUintN(64, this.writerLockKey()).toString(16)} */ `;
  }

  /**
   * The sessions (other than this one) writing this version table, with what they run: those
   * holding the writer lock, and those running a labelled statement outside a transaction.
   * pg_locks shows a bigint advisory key as two oids: its high and low 32 bits.
   */
  private busySql(): string {
    const key = BigInt.asUintN(64, this.writerLockKey());
    const label = this.writerLabel();
    return `SELECT 'busy' AS kind, a.pid::text AS revision, coalesce(a.state, '') AS checksum,
        coalesce(to_char(a.query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '') AS applied_at,
        left(regexp_replace(substr(coalesce(a.query, ''), CASE WHEN left(a.query, ${label.length}) = ${this.dialect.renderLiteral(label)} THEN ${label.length + 1} ELSE 1 END), '\\s+', ' ', 'g'), 120) AS detail
       FROM pg_catalog.pg_stat_activity a
       WHERE a.pid <> pg_backend_pid() AND a.datname = current_database()
         AND (EXISTS (SELECT 1 FROM pg_catalog.pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
                AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
                AND l.classid = ${(key >> 32n).toString()} AND l.objid = ${(key & 0xffffffffn).toString()} AND l.objsubid = 1)
           OR (a.state = 'active' AND left(a.query, ${label.length}) = ${this.dialect.renderLiteral(label)}))`;
  }

  /**
   * Cancels the statements of every session writing this version table (busySql): called by a run
   * holding the lock, whose own transaction must stop at its deadline. Returns how many.
   */
  async cancelWriters(session: SqlSession): Promise<number> {
    const { rows } = await session.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (${this.busySql()}) b WHERE pg_cancel_backend(b.revision::int)`,
    );
    return rows[0]?.n ?? 0;
  }

  /**
   * PL/pgSQL asserting that the version table holds exactly `from` (like Alembic asserting one row
   * changed), else raising VERSION_CONFLICT_SQLSTATE: a run working from a stale read fails instead
   * of recording what another runner already did.
   */
  assertHeads(from: readonly string[]): string[] {
    const sorted = [...new Set(from)].sort();
    const v = this.dialect.quoteName(this.version);
    const expected = sorted.length ? `ARRAY[${this.ids(sorted).join(", ")}]::text[]` : `'{}'::text[]`;
    const message = this.dialect.renderLiteral(
      `${this.version.name} no longer holds the heads this run started from (${sorted.join(", ") || "none"}): ` +
        "another runner or a manual change got there first; run `retort status` and try again",
    );
    return [
      `IF (SELECT coalesce(array_agg(version_num::text ORDER BY version_num), '{}') FROM ${v}) IS DISTINCT FROM ${expected} THEN ` +
        `RAISE EXCEPTION USING MESSAGE = ${message} || coalesce(current_setting(${this.dialect.renderLiteral(OTHER_ISSUERS_SETTING)}, true), ''), ` +
        `ERRCODE = '${VERSION_CONFLICT_SQLSTATE}'; END IF`,
    ];
  }

  /** Revision ids as literals, each checked to be 12 hex digits first. */
  private ids(list: readonly string[]): string[] {
    for (const id of list) if (!ID.test(id)) throw new Error(`refusing to record revision id ${JSON.stringify(id)}`);
    return list.map((id) => this.dialect.renderLiteral(id));
  }

  /** The highest token of `issuer` that has written for `lockKey`, or null (none, or no table yet). */
  async fenceToken(session: SqlSession, lockKey: string, issuer: string): Promise<number | null> {
    try {
      const result = await session.query<{ token: number | string }>(
        `SELECT token FROM ${this.dialect.quoteName(this.fenceTable)} WHERE lock_key = :key`,
        { key: fenceKey(lockKey, issuer) },
      );
      const token = result.rows[0]?.token;
      return token === undefined ? null : Number(token);
    } catch (error) {
      if (isMissingRelation(error)) return null;
      throw error;
    }
  }

  /** The other lock tables whose runners have claimed this database's fence for `lockKey`. */
  async otherIssuers(session: SqlSession, lockKey: string, issuer: string): Promise<OtherIssuer[]> {
    const prefix = `${lockKey}${FENCE_KEY_SEPARATOR}`;
    try {
      const { rows } = await session.query<{ lock_key: string; token: number | string; written_at: string }>(
        `SELECT lock_key, token, ${WRITTEN_AT} AS written_at FROM ${this.dialect.quoteName(this.fenceTable)} ` +
          "WHERE left(lock_key, length(:prefix)) = :prefix AND lock_key <> :own ORDER BY lock_key",
        { prefix, own: fenceKey(lockKey, issuer) },
      );
      return rows.map((row) => ({ issuer: row.lock_key.slice(prefix.length), token: Number(row.token), writtenAt: row.written_at }));
    } catch (error) {
      if (isMissingRelation(error)) return [];
      throw error;
    }
  }

  /**
   * One round trip: the heads, every applied revision, and the other sessions still writing. A
   * missing table reads as empty, with no writers read (writers() reads them on their own).
   */
  async read(session: SqlSession): Promise<VersionState> {
    const v = this.dialect.quoteName(this.version);
    const r = this.dialect.quoteName(this.revisions);
    type Row = { kind: string; revision: string; checksum: string | null; applied_at: string | null; detail: string | null };
    try {
      const result = await session.query<Row>(
        `SELECT 'head' AS kind, version_num AS revision, NULL::text AS checksum, NULL::text AS applied_at, NULL::text AS detail FROM ${v}
         UNION ALL
         SELECT 'applied', revision, checksum, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), NULL FROM ${r}
         UNION ALL
         ${this.busySql()}
         ORDER BY 1, 2`,
      );
      return {
        exists: true,
        heads: result.rows.filter((row) => row.kind === "head").map((row) => row.revision),
        applied: result.rows
          .filter((row) => row.kind === "applied")
          .map((row) => ({ revision: row.revision, checksum: row.checksum ?? "", appliedAt: row.applied_at ?? "" })),
        busy: result.rows.filter((row) => row.kind === "busy").map(busyWriter),
      };
    } catch (error) {
      if (isMissingRelation(error)) return { exists: false, heads: [], applied: [], busy: [] };
      throw error;
    }
  }

  /**
   * The other sessions holding the writer lock, read on their own: for a database whose tables
   * do not exist yet (its first run may still be creating them), where read() cannot say.
   */
  async writers(session: SqlSession): Promise<BusyWriter[]> {
    const { rows } = await session.query<BusyRow>(this.busySql());
    return rows.map(busyWriter);
  }

  /** Idempotent DDL creating the schema and both tables. */
  createStatements(): string[] {
    const q = (n: QualifiedName) => this.dialect.quoteName(n);
    return [
      `CREATE SCHEMA IF NOT EXISTS ${this.dialect.quoteIdentifier(this.schema)}`,
      `CREATE TABLE IF NOT EXISTS ${q(this.version)} (version_num varchar(32) PRIMARY KEY)`,
      `CREATE TABLE IF NOT EXISTS ${q(this.revisions)} (
        revision varchar(32) PRIMARY KEY,
        checksum varchar(64) NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`,
    ];
  }

  /**
   * PL/pgSQL statements for a DO block that moves the heads from `from` to `to` and records the
   * revisions. They first assert that the table holds exactly `from` (like Alembic asserting one
   * row changed), so a run working from a stale read fails instead of corrupting the record.
   * Ids are checked to be 12 hex digits before they are written as literals.
   */
  transition(t: Transition): string[] {
    const ids = (list: readonly string[]) => this.ids(list);
    const v = this.dialect.quoteName(this.version);
    const r = this.dialect.quoteName(this.revisions);
    const from = [...new Set(t.from)].sort();
    const to = new Set(t.to);
    const out = this.assertHeads(from);
    const removed = from.filter((id) => !to.has(id));
    const added = [...to].filter((id) => !from.includes(id));
    if (removed.length) out.push(`DELETE FROM ${v} WHERE version_num IN (${ids(removed).join(", ")})`);
    if (added.length) out.push(`INSERT INTO ${v} (version_num) VALUES ${ids(added).map((id) => `(${id})`).join(", ")}`);
    // One statement for all (ON CONFLICT needs each revision once: the last checksum wins).
    const applied = [...new Map((t.applied ?? []).map((a) => [a.revision, a])).values()];
    for (const a of applied) {
      if (!/^[0-9a-f]{64}$/.test(a.checksum)) throw new Error(`refusing to record checksum ${JSON.stringify(a.checksum)}`);
    }
    if (applied.length) {
      const rows = applied.map((a) => `(${ids([a.revision])[0]}, ${this.dialect.renderLiteral(a.checksum)})`);
      out.push(
        `INSERT INTO ${r} (revision, checksum) VALUES ${rows.join(", ")} ` +
          "ON CONFLICT (revision) DO UPDATE SET checksum = excluded.checksum, applied_at = now()",
      );
    }
    if (t.reverted?.length) out.push(`DELETE FROM ${r} WHERE revision IN (${ids(t.reverted).join(", ")})`);
    return out;
  }
}
