// One error root: every error a user can meet comes from RetortError, with a stable kebab-case
// code of its own, and --json prints its code, message and data. The source is read, so a new
// error class that forgets its code fails here rather than printing {"code": "internal-error"}.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { errorJson, RetortError } from "../lib/errors.ts";
import { LockConflictError } from "../lib/state/lock.ts";
import { SqlError, StatementBlockedError } from "../lib/sql/errors.ts";
import { MigrationTimeoutError } from "../lib/runner/migrate.ts";
import { MultipleHeadsError, ProblemCode } from "../lib/revision/errors.ts";

const root = path.resolve(import.meta.dirname, "..");

/** Signals that never reach a user: thrown and caught inside one module. */
const INTERNAL = new Set(["ModesDiverge", "StepFailed", "Rollback", "NotRecognised", "RollbackSignal", "ServiceError", "WaitError"]);

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Every error class in lib/ and functions/: its base and its code. */
function errorClasses(): Map<string, { base: string; code?: string; file: string }> {
  const classes = new Map<string, { base: string; code?: string; file: string }>();
  for (const file of [...sources("lib"), ...sources("functions")]) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/class (\w+) extends (\w+) \{\n(?:  override readonly code: string = "([^"]+)";)?/g)) {
      classes.set(m[1]!, { base: m[2]!, ...(m[3] ? { code: m[3] } : {}), file: path.relative(root, file) });
    }
  }
  return classes;
}

describe("the error root", () => {
  const classes = errorClasses();
  const isError = (name: string): boolean => {
    const c = classes.get(name);
    return name === "Error" || name === "TypeError" || (c !== undefined && isError(c.base));
  };
  const fromRoot = (name: string): boolean => name === "RetortError" || (classes.has(name) && fromRoot(classes.get(name)!.base));
  const errors = [...classes].filter(([name, c]) => name !== "RetortError" && isError(c.base));

  it("every error class a user can meet comes from RetortError", () => {
    expect(errors.length).toBeGreaterThan(40);
    const strays = errors.filter(([name]) => !INTERNAL.has(name) && !fromRoot(name)).map(([name, c]) => `${name} (${c.file})`);
    expect(strays).toEqual([]);
  });

  it("each has a code of its own, kebab-case", () => {
    // The revision errors take theirs from ProblemCode (the codes `retort check --json` prints).
    const fromRevisionError = (name: string): boolean => name === "RevisionError" || (classes.has(name) && fromRevisionError(classes.get(name)!.base));
    const coded = errors.filter(([name]) => fromRoot(name) && !fromRevisionError(name));
    const missing = coded.filter(([, c]) => !c.code).map(([name, c]) => `${name} (${c.file})`);
    expect(missing).toEqual([]);
    const codes = [...coded.map(([, c]) => c.code!), ...Object.values(ProblemCode)];
    for (const code of codes) expect(code).toMatch(/^[a-z]+(-[a-z]+)*$/);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it("--json prints the code, the message and the error's data", () => {
    const holder = { key: "db", holder: { command: "upgrade", host: "laptop", pid: 7 }, since: "2026-01-01T00:00:00Z", expiresAt: "2026-01-01T00:00:30Z", token: 3 };
    expect(errorJson(new LockConflictError(holder, 0))).toMatchObject({ code: "lock-held", holder });
    expect(errorJson(new SqlError('relation "x" does not exist', "42P01"))).toEqual({ code: "sql-error", message: 'relation "x" does not exist', sqlState: "42P01" });
    const blocked = new StatementBlockedError("waits", "ExecuteStatement", [{ pid: 42, state: "idle in transaction", applicationName: null, xactStart: null, stateChange: null, query: "LOCK t", waiting: false }]);
    expect(errorJson(blocked)).toMatchObject({ code: "statement-blocked", outcomeUnknown: true, blockers: [{ pid: 42 }] });
    expect(errorJson(new MigrationTimeoutError(1000, true))).toMatchObject({ code: "migration-timeout", limitMs: 1000 });
    expect(errorJson(new MultipleHeadsError([]))).toMatchObject({ code: "multiple-heads" });
    expect(new MultipleHeadsError([])).toBeInstanceOf(RetortError);
    expect(errorJson(new Error("boom"))).toEqual({ code: "internal-error", message: "boom" });
    expect(JSON.parse(JSON.stringify(new SqlError("no", "23505")))).toMatchObject({ code: "sql-error", sqlState: "23505" });
  });
});
