// Who is in the way of a lock: the sessions a statement waited for, described for a message
// (describeBlocker, shared by the Data API's 45 s limit and the runner's lock_timeout) and, after
// a statement gave up waiting (SQLSTATE 55P03, lock_not_available), found in one read of pg_locks
// and pg_stat_activity (lockHolders).
import type { LockBlocker } from "./errors.ts";
import type { SqlSession } from "./executor.ts";

/** PostgreSQL's lock_not_available: lock_timeout ran out, or a NOWAIT found the lock taken. */
export const LOCK_NOT_AVAILABLE = "55P03";

/** One session in the way, with what pg_stat_activity shows of it. */
export function describeBlocker(b: LockBlocker): string {
  const facts = [
    (b.state ?? "state not visible to this user") + (b.stateChange ? ` since ${b.stateChange}` : ""),
    b.xactStart ? `transaction begun ${b.xactStart}` : "",
    b.applicationName ? `application_name ${JSON.stringify(b.applicationName)}` : "",
    b.waiting ? "itself waiting for a lock" : "",
  ].filter((fact) => fact !== "");
  const statement = b.query ? `, ${b.state === "active" ? "running" : "last statement"}: ${b.query}` : "";
  return `pid ${b.pid} (${facts.join(", ")})${statement}`;
}

/** The sessions holding the lock (those not waiting themselves), or all when every one waits. */
export function lockHoldersOf(blockers: readonly LockBlocker[]): readonly LockBlocker[] {
  const holding = blockers.filter((b) => !b.waiting);
  return holding.length > 0 ? holding : blockers;
}

/** What to do about the sessions holding a lock a run could not get. */
export function holderAdvice(blockers: readonly LockBlocker[]): string {
  const holders = lockHoldersOf(blockers);
  if (holders.length === 0) return "Run again; if it keeps failing, look for long transactions in pg_stat_activity";
  const one = holders.length === 1;
  return (
    `Run again when ${one ? "it finishes" : "they finish"}, or end ${one ? "it" : "them"} with ` +
    `SELECT ${holders.map((b) => `pg_terminate_backend(${b.pid})`).join(", ")}`
  );
}

/**
 * The sessions holding locks on some relations, whose transactions began at least :heldMs before
 * this read: those a statement that waited that long for a lock on one of them waited for (the
 * application's short queries, let through once the waiting statement gave up, began since and
 * are left out). :relations is a JSON array of quoted, schema-qualified names; an index stands
 * for its table too. When none of them exists, any relation of this database counts.
 */
export const HOLDERS_SQL = `WITH named AS (
    SELECT pg_catalog.to_regclass(r.name)::oid AS oid FROM jsonb_array_elements_text(:relations::jsonb) AS r (name)
  ), rel AS (
    SELECT n.oid FROM named n WHERE n.oid IS NOT NULL
    UNION SELECT i.indrelid FROM pg_catalog.pg_index i JOIN named n ON i.indexrelid = n.oid
  )
  SELECT a.pid, a.state, a.application_name AS "applicationName",
         to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "xactStart",
         to_char(a.state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "stateChange",
         left(split_part(regexp_replace(a.query, '^\\s+', ''), chr(10), 1), 200) AS query,
         coalesce(a.wait_event_type = 'Lock', false) AS waiting
    FROM pg_catalog.pg_stat_activity a
   WHERE a.pid <> pg_catalog.pg_backend_pid()
     AND a.xact_start <= pg_catalog.statement_timestamp() - pg_catalog.make_interval(secs => :heldMs::float8 / 1000)
     AND EXISTS (
       SELECT 1 FROM pg_catalog.pg_locks l
        WHERE l.pid = a.pid AND l.granted AND l.locktype = 'relation'
          AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
          AND (NOT EXISTS (SELECT 1 FROM rel) OR l.relation IN (SELECT rel.oid FROM rel)))
   ORDER BY a.xact_start, a.pid
   LIMIT 10`;

/**
 * The sessions holding locks on `relations` (quoted, qualified names) since at least `heldMs` ago,
 * in one read; none when the read fails (it only ever adds to an error).
 */
export async function lockHolders(session: SqlSession, relations: readonly string[], heldMs: number): Promise<LockBlocker[]> {
  try {
    const { rows } = await session.query<LockBlocker>(HOLDERS_SQL, { relations: JSON.stringify(relations), heldMs: Math.max(0, Math.floor(heldMs)) });
    return rows;
  } catch {
    return [];
  }
}
