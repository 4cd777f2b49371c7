// The root of every error a user can meet: a stable `code` (kebab-case, documented in the README)
// that scripts can rely on, and the JSON `--json` prints for it: the code, the message, and the
// error's own data (the revision, the lock's holder, the sessions in the way). Internal signals
// (a rollback on purpose, a scanner that changes mode) stay plain Errors; test/errors.test.ts
// holds the list of those and fails on any other class that does not come from here.
export abstract class RetortError extends Error {
  abstract readonly code: string;

  /** What `--json` prints for this error. */
  toJSON(): { code: string; message: string } & Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details() };
  }

  /** Data beside the code and the message; never a secret. */
  protected details(): Record<string, unknown> {
    return {};
  }
}

/** The JSON of any error: a RetortError's own, else `internal-error` with the message. */
export function errorJson(error: unknown): { code: string; message: string } & Record<string, unknown> {
  if (error instanceof RetortError) return error.toJSON();
  return { code: "internal-error", message: error instanceof Error ? error.message : String(error) };
}
