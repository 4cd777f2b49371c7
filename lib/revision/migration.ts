// The migration file format: what `defineMigration` accepts, and the loaded form the rest of
// retort works with.
import type { Operations } from "../ops/operations.ts";

export interface MigrationDefinition {
  /** 12 lowercase hex digits, unique in the migrations directory. */
  revision: string;
  /** null for a base, one id, or several ids for a merge. */
  revises: string | readonly string[] | null;
  message: string;
  /** ISO-8601 timestamp written by `retort revision`. */
  createdAt?: string;
  /** Extra ordering edges: these revisions must be applied first (Alembic's depends_on). */
  dependsOn?: string | readonly string[];
  /** Names that can target this revision's branch, as `label@head`. */
  branchLabels?: string | readonly string[];
  /** false runs the migration outside a transaction, statement by statement (CONCURRENTLY). */
  transactional?: boolean;
  /** A deliberate one-way migration: validate reports it as such, downgrade refuses it. */
  irreversible?: boolean;
  /**
   * How long each of its statements may wait for a lock, as a duration ("10s", "500ms"; "0" waits
   * without limit), instead of the run's (--lock-timeout, 5 s by default). Retried on a rising
   * schedule when it runs out.
   */
  lockTimeout?: string;
  /**
   * How long each of its statements may run ("30m"; "0": no limit), instead of the migration time
   * limit (--migration-timeout, 15 minutes by default).
   */
  statementTimeout?: string;
  /**
   * `retort lint` findings this migration accepts, each as "rule-code: reason" (the reason is
   * printed with the finding), e.g. `allow: ["drop-column: replaced by email_v2 in 20261101"]`.
   */
  lint?: { allow?: string[] };
  upgrade(op: Operations): Promise<void> | void;
  downgrade(op: Operations): Promise<void> | void;
}

/** One `lint.allow` entry: a rule code, a colon, and the reason (which must not be empty). */
const LINT_ALLOW = /^\s*([a-z][a-z0-9-]*)\s*:\s*(\S[\s\S]*?)\s*$/;

/** Splits "rule-code: reason"; undefined when the entry is not in that form. */
export function parseLintAllow(entry: string): { code: string; reason: string } | undefined {
  const m = LINT_ALLOW.exec(entry);
  return m ? { code: m[1]!, reason: m[2]! } : undefined;
}

/** Identity at run time; gives migration files type checking and editor help. */
export function defineMigration<T extends MigrationDefinition>(definition: T): T {
  return definition;
}

/** A migration as loaded: normalised edges plus where it came from. */
export interface Migration {
  revision: string;
  revises: string[];
  dependsOn: string[];
  branchLabels: string[];
  message: string;
  createdAt: string | undefined;
  transactional: boolean;
  irreversible: boolean;
  /** Its own lock_timeout in ms (`lockTimeout`; 0: none); absent: the run's. */
  lockTimeoutMs?: number;
  /** Its own statement_timeout in ms (`statementTimeout`; 0: none); absent: the migration time limit. */
  statementTimeoutMs?: number;
  /** Path relative to the migrations directory's parent, as users see it (e.g. migrations/x.ts). */
  file: string;
  /** sha256 (hex) of the file's content with line endings normalised to \n. */
  checksum: string;
  /** The lint findings the file accepts, as written ("rule-code: reason"); absent when none. */
  lint?: { readonly allow: readonly string[] };
  upgrade: MigrationDefinition["upgrade"];
  downgrade: MigrationDefinition["downgrade"];
}

/** What the revision graph needs of a migration: everything but its file and its code. */
export type MigrationMetadata = Omit<Migration, "file" | "checksum" | "upgrade" | "downgrade">;

/** Which way a migration runs: its upgrade or its downgrade. */
export const Direction = { Up: "upgrade", Down: "downgrade" } as const;
export type Direction = (typeof Direction)[keyof typeof Direction];
