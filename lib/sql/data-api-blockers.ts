// The sessions in the way of a Data API statement that ran into the 45 s limit while waiting for a
// lock: how to find them in one read (activityPrefix, BLOCKERS_SQL, sent by the executor) and what
// to do about them in the error's message (lock-blockers.ts describes each one).

import type { LockBlocker } from "./errors.ts";
import { mapNamedParameters } from "./lexer.ts";
import { lockHoldersOf } from "./lock-blockers.ts";

/** A transaction no call uses for this long is rolled back by the Data API. */
const TRANSACTION_IDLE_MS = 3 * 60_000;

/**
 * Enough of a statement to tell it apart, and within what pg_stat_activity keeps of a query
 * (track_activity_query_size, 1024 bytes by default) even at 4 bytes a character.
 */
const PREFIX_CHARS = 200;

/** Stands for a parameter while looking for the first one; PostgreSQL text never holds NUL. */
const PARAMETER_MARK = "\u0000";

/**
 * What pg_stat_activity shows `sql` starting with while it runs: its text up to the first
 * parameter (the service sends parameters as `$1`, the local endpoint as a cast of one), without
 * leading whitespace or a trailing `;`, at most PREFIX_CHARS characters. "" when it starts with one.
 */
export function activityPrefix(sql: string): string {
  const marked = mapNamedParameters(sql, () => PARAMETER_MARK);
  const cut = marked.indexOf(PARAMETER_MARK);
  const text = cut < 0 ? marked.replace(/[\s;]+$/, "") : marked.slice(0, cut);
  // By code points, as PostgreSQL counts characters: a surrogate pair is never split.
  return Array.from(text.trimStart()).slice(0, PREFIX_CHARS).join("");
}

/**
 * The sessions in the way of a statement that timed out, in one read. The statement, still
 * running in a session of its own, is any session of this user on this database that waits for a
 * lock (wait_event_type 'Lock', whatever the lock: a table, a row, an advisory lock) running a
 * statement that starts with :prefix. pg_blocking_pids gives the sessions holding the lock it
 * wants or queued ahead of it for a conflicting one; the recursion adds what blocks those in turn
 * (UNION keeps it finite), so the holder at the head of a queue is found too. Each comes with its
 * pg_stat_activity row, named as LockBlocker names it (NULLs where this user may not see it).
 * Neither view takes a lock a killed runner could hold.
 */
export const BLOCKERS_SQL = `WITH RECURSIVE waiting AS (
    SELECT a.pid FROM pg_catalog.pg_stat_activity a
     WHERE a.datname = current_database() AND a.usename = session_user
       AND a.pid <> pg_catalog.pg_backend_pid() AND a.wait_event_type = 'Lock'
       AND left(regexp_replace(a.query, '^\\s+', ''), char_length(:prefix)) = :prefix
  ), blocker (pid) AS (
    SELECT b.pid FROM waiting w CROSS JOIN LATERAL unnest(pg_catalog.pg_blocking_pids(w.pid)) AS b (pid)
    UNION
    SELECT b.pid FROM blocker k CROSS JOIN LATERAL unnest(pg_catalog.pg_blocking_pids(k.pid)) AS b (pid)
  )
  SELECT k.pid, a.state, a.application_name AS "applicationName",
         to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "xactStart",
         to_char(a.state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "stateChange",
         left(split_part(regexp_replace(a.query, '^\\s+', ''), chr(10), 1), 200) AS query,
         coalesce(a.wait_event_type = 'Lock', false) AS waiting
    FROM blocker k LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = k.pid
   ORDER BY waiting, k.pid`;

/**
 * What to do about the sessions in the way. Those not waiting themselves hold the lock. If they
 * are a killed runner's Data API transactions, the service ends each 3 minutes after its last call
 * (for an idle session: its state_change); terminating the session ends it at once.
 */
export function blockedAdvice(blockers: readonly LockBlocker[]): string {
  const holders = lockHoldersOf(blockers);
  const idleSince = holders.map((b) => (b.state?.startsWith("idle in transaction") && b.stateChange ? Date.parse(b.stateChange) : NaN));
  const when = idleSince.every((t) => Number.isFinite(t))
    ? `run again after ${isoSeconds(Math.max(...idleSince) + TRANSACTION_IDLE_MS)}`
    : "run again 3 minutes after its last call";
  const terminate = holders.map((b) => `pg_terminate_backend(${b.pid})`).join(", ");
  const one = holders.length === 1;
  return (
    `If ${one ? "it is a Data API transaction" : "they are Data API transactions"} left open by a killed runner, ` +
    `the Data API ends ${one ? "it" : "each"} after 3 minutes without a call: ${when}, or end ${one ? "it" : "them"} ` +
    `now with SELECT ${terminate}. If ${one ? "it is" : "one is"} a live run, let it finish instead.`
  );
}

/** An instant as ISO 8601 in whole seconds, rounded up: "after" it, the moment has passed. */
function isoSeconds(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}
