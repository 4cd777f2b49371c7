// Names of schema objects as retort passes them around: how a user writes one ("users",
// "app.users" or { schema, name }) and the resolved, always schema-qualified form every operation,
// snapshot and rendered statement uses, so nothing depends on the connection's search_path.

import { RetortError } from "../errors.ts";

/** A relation (table, index) resolved to its schema. Names are exact: case and quotes are kept. */
export interface QualifiedName {
  readonly schema: string;
  readonly name: string;
}

/**
 * How users name a table or an index: "users" (the default schema), "app.users" (a dot means
 * schema-qualified), or { schema, name } for names that themselves contain a dot.
 */
export type RelationName = string | { readonly schema?: string; readonly name: string };

/** Thrown for a name retort refuses before anything is sent to the database. */
export class InvalidNameError extends RetortError {
  override readonly code: string = "invalid-name";
  constructor(
    message: string,
    readonly input: unknown,
  ) {
    super(message);
    this.name = "InvalidNameError";
  }
}

/** Thrown for a value a dialect cannot write as a literal (NaN dates, NUL characters, undefined JSON). */
export class InvalidLiteralError extends RetortError {
  override readonly code: string = "invalid-literal";
  constructor(
    message: string,
    readonly value: unknown,
  ) {
    super(message);
    this.name = "InvalidLiteralError";
  }
}

/**
 * Resolves a user's name to { schema, name }. A string is split at its one dot; more than one dot
 * is refused (PostgreSQL would read "a.b.c" as database.schema.table).
 */
export function resolveName(input: RelationName, defaultSchema: string): QualifiedName {
  if (typeof input === "string") {
    const parts = input.split(".");
    if (parts.length === 1) return { schema: defaultSchema, name: checkPart(input, input) };
    if (parts.length === 2) {
      return { schema: checkPart(parts[0]!, input), name: checkPart(parts[1]!, input) };
    }
    throw new InvalidNameError(
      `name ${JSON.stringify(input)} has more than one dot; write { schema, name } for a name that contains a dot`,
      input,
    );
  }
  if (input === null || typeof input !== "object" || typeof input.name !== "string") {
    throw new InvalidNameError(`expected a name as a string or { schema, name }`, input);
  }
  const schema = input.schema === undefined ? defaultSchema : input.schema;
  if (typeof schema !== "string") {
    throw new InvalidNameError(`schema of ${JSON.stringify(input)} must be a string`, input);
  }
  return { schema: checkPart(schema, input), name: checkPart(input.name, input) };
}

function checkPart(part: string, input: RelationName): string {
  if (part === "") {
    throw new InvalidNameError(`name ${JSON.stringify(input)} has an empty part`, input);
  }
  return part;
}

/** Same relation? Names are compared exactly, as PostgreSQL compares quoted identifiers. */
export function sameName(a: QualifiedName, b: QualifiedName): boolean {
  return a.schema === b.schema && a.name === b.name;
}

/** `"users"` in the default schema, `"app"."users"` elsewhere: how messages name a relation. */
export function displayName(name: QualifiedName, defaultSchema: string): string {
  const relation = displayPart(name.name);
  return name.schema === defaultSchema ? relation : `${displayPart(name.schema)}.${relation}`;
}

/** One identifier in a message, double-quoted like PostgreSQL's own messages do. */
export function displayPart(part: string): string {
  return `"${part.replaceAll('"', '""')}"`;
}

/** Code-unit order: deterministic whatever the locale or the database collation. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareNames(a: QualifiedName, b: QualifiedName): number {
  return compareText(a.schema, b.schema) || compareText(a.name, b.name);
}
