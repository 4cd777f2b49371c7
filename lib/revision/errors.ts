// The revision errors: one root, one class per kind of problem. Each carries the revisions and
// files involved as data (for --json and for callers), and a message that explains and suggests.

import { RetortError } from "../errors.ts";

/** The stable codes printed by `retort check --json`; CI scripts rely on them. */
export const ProblemCode = {
  MultipleHeads: "multiple-heads",
  Cycle: "cycle",
  DuplicateRevision: "duplicate-revision",
  MissingRevision: "missing-revision",
  InvalidFile: "invalid-file",
  BadFilename: "bad-filename",
  UnknownRevision: "unknown-revision",
  AmbiguousRevision: "ambiguous-revision",
  NotReachable: "not-reachable",
} as const;
export type ProblemCode = (typeof ProblemCode)[keyof typeof ProblemCode];

export type ProblemData = {
  code: ProblemCode;
  message: string;
  revisions: string[];
  files: string[];
};

export class RevisionError extends RetortError {
  constructor(
    override readonly code: ProblemCode,
    message: string,
    readonly revisions: string[] = [],
    readonly files: string[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }

  override toJSON(): ProblemData {
    return { code: this.code, message: this.message, revisions: this.revisions, files: this.files };
  }
}

/** The shape of one revision as errors describe it. */
export interface RevisionRef {
  revision: string;
  file: string;
  message?: string;
}

const describe = (r: RevisionRef) => `${r.revision} (${r.file}${r.message ? `: ${r.message}` : ""})`;

export class MultipleHeadsError extends RevisionError {
  constructor(
    readonly heads: RevisionRef[],
    context = "The migrations have",
    suggestion = "run `retort reset-heads` to merge them, or name one head as the target",
  ) {
    super(
      ProblemCode.MultipleHeads,
      `${context} ${heads.length} heads: ${heads.map(describe).join(", ")}; ${suggestion}`,
      heads.map((h) => h.revision),
      heads.map((h) => h.file),
    );
  }
}

export class CycleError extends RevisionError {
  constructor(readonly cycle: RevisionRef[]) {
    const path = [...cycle, cycle[0]!].map((r) => r.revision).join(" -> ");
    super(
      ProblemCode.Cycle,
      `Cycle in the revision graph: ${path} (files ${cycle.map((r) => r.file).join(", ")}); ` +
        "fix `revises`/`dependsOn` in one of these files so the graph has no loop, then run `retort check`",
      cycle.map((r) => r.revision),
      cycle.map((r) => r.file),
    );
  }
}

export class DuplicateRevisionError extends RevisionError {
  constructor(revision: string, files: string[]) {
    super(
      ProblemCode.DuplicateRevision,
      `Revision ${revision} is defined by ${files.length} files: ${files.join(", ")}; ` +
        "give one of them a new id (12 random hex digits, as `retort revision` writes) and run `retort check`",
      [revision],
      files,
    );
  }
}

export class MissingRevisionError extends RevisionError {
  constructor(
    readonly from: RevisionRef,
    readonly missing: string,
    readonly edge: "revises" | "dependsOn",
    nearest: string[],
  ) {
    super(
      ProblemCode.MissingRevision,
      `${from.file} (revision ${from.revision}) ${edge} '${missing}', which no migration defines` +
        (nearest.length ? `; did you mean ${nearest.join(", ")}?` : "") +
        "; correct the id, or restore the missing migration file, then run `retort check`",
      [from.revision, missing],
      [from.file],
    );
  }
}

export class InvalidFileError extends RevisionError {
  constructor(
    readonly file: string,
    readonly reason: string,
    revision?: string,
  ) {
    super(
      ProblemCode.InvalidFile,
      `${file}: ${reason}; fix the file (see the migration format in the README) and run \`retort check\``,
      revision ? [revision] : [],
      [file],
    );
  }
}

export class BadFilenameError extends RevisionError {
  constructor(readonly file: string, suggestion: string) {
    super(
      ProblemCode.BadFilename,
      `${file}: migration files are named YYYYMMDD_<slug>.ts (lowercase letters, digits, underscores); ` +
        `rename it, e.g. to ${suggestion}`,
      [],
      [file],
    );
  }
}

/** "Can't locate revision identified by 'x'", as Alembic users know it. */
export class UnknownRevisionError extends RevisionError {
  constructor(
    readonly target: string,
    nearest: string[],
    where?: string,
  ) {
    super(
      ProblemCode.UnknownRevision,
      `Can't locate revision identified by '${target}'` +
        (where ? ` (${where})` : "") +
        (nearest.length ? `; nearest ids: ${nearest.join(", ")}` : "") +
        "; run `retort history` to list the revisions",
      [target],
      [],
    );
  }
}

export class AmbiguousRevisionError extends RevisionError {
  constructor(
    readonly prefix: string,
    candidates: RevisionRef[],
  ) {
    super(
      ProblemCode.AmbiguousRevision,
      `Revision prefix '${prefix}' matches ${candidates.length} revisions: ` +
        `${candidates.map(describe).join(", ")}; give more digits`,
      candidates.map((c) => c.revision),
      candidates.map((c) => c.file),
    );
  }
}

/** A target that the requested direction cannot reach from the current heads. */
export class NotReachableError extends RevisionError {
  constructor(message: string, revisions: string[], files: string[] = []) {
    super(ProblemCode.NotReachable, message, revisions, files);
  }
}
