// Names retort itself owns in a target database, in one place so the state layer that creates
// them and the dialect that must leave them out of schema snapshots cannot drift apart.

/** retort's own tables. Introspection never reports them, so `validate` never compares them. */
export const RETORT_TABLES = {
  /** One row per applied head, like Alembic's alembic_version. */
  version: "retort_version",
  /** The applied revisions with their checksums. */
  revisions: "retort_revisions",
  /** The in-database copy of the run history. */
  history: "retort_history",
  /** Per lock key, the highest fencing token that has written to this database. */
  fence: "retort_fence",
} as const;

export type RetortTable = (typeof RETORT_TABLES)[keyof typeof RETORT_TABLES];

/** The schema unqualified names live in unless a configuration says otherwise. */
export const DEFAULT_SCHEMA = "public";
