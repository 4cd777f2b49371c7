// A small PostgreSQL lexer: just enough to split a script into statements and to turn the
// Data API's named parameters (`:name`) into PostgreSQL's positional ones (`$1`), without being
// fooled by string literals, quoted identifiers, comments or dollar-quoted function bodies.

/** Where the scanner is; everything but `code` is opaque text that must be copied verbatim. */
type Region = "code" | "line-comment" | "block-comment" | "string" | "identifier" | "dollar";

interface Scan {
  /**
   * Called for each `;` in code that ends a statement: not inside parentheses (CREATE RULE ... DO
   * (a; b)) nor inside a BEGIN ATOMIC ... END function body, the same rules psql follows.
   */
  onSemicolon?(index: number): void;
  /** Called for each `:name` in code; returns the text to put in its place. */
  onNamedParameter?(name: string, index: number): string;
  /** Called for each character that is part of a statement (not whitespace, a comment or `;`). */
  onContent?(index: number): void;
  /**
   * Blank out everything that is not code: a comment becomes one space, a literal or quoted
   * identifier keeps only its delimiters ('', "", $$), so keyword checks only ever see code.
   */
  mask?: boolean;
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

/** Walks `sql` once; returns it with named parameters replaced as `scan` says. */
function walk(sql: string, scan: Scan): string {
  let out = "";
  let i = 0;
  let region: Region = "code";
  let blockDepth = 0;
  let dollarTag = "";
  let backslashEscapes = false;
  const n = sql.length;
  // psql's heuristic for SQL-standard function bodies: in a statement that starts with
  // CREATE [OR REPLACE] FUNCTION|PROCEDURE, BEGIN opens a block, CASE nests inside one, END closes.
  let parenDepth = 0;
  let beginDepth = 0;
  let words: string[] = [];
  const mask = scan.mask === true;
  /** Text inside a comment, literal or quoted identifier: copied unless masking. */
  const opaque = (text: string) => {
    if (!mask) out += text;
  };

  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    switch (region) {
      case "code": {
        const startsComment = (c === "-" && next === "-") || (c === "/" && next === "*");
        if (!startsComment && c !== ";" && !/\s/.test(c)) scan.onContent?.(i);
        if (c === "-" && next === "-") {
          region = "line-comment";
          out += mask ? " " : "--";
          i += 2;
          continue;
        }
        if (c === "/" && next === "*") {
          region = "block-comment";
          blockDepth = 1;
          out += mask ? " " : "/*";
          i += 2;
          continue;
        }
        if (c === "'") {
          // E'...' strings treat backslash as an escape; standard strings do not.
          const prev = sql[i - 1];
          backslashEscapes = (prev === "E" || prev === "e") && !IDENT_PART.test(sql[i - 2] ?? " ");
          region = "string";
          out += mask ? "''" : c;
          i += 1;
          continue;
        }
        if (c === '"') {
          region = "identifier";
          out += mask ? '""' : c;
          i += 1;
          continue;
        }
        if (c === "$" && !IDENT_PART.test(sql[i - 1] ?? " ")) {
          const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
          if (m) {
            region = "dollar";
            dollarTag = m[0];
            out += mask ? "$$" : dollarTag;
            i += dollarTag.length;
            continue;
          }
        }
        if (c === ":" && next === ":") {
          out += "::";
          i += 2;
          continue;
        }
        if (c === ":" && next !== undefined && IDENT_START.test(next) && scan.onNamedParameter) {
          let j = i + 1;
          while (j < n && IDENT_PART.test(sql[j]!)) j += 1;
          out += scan.onNamedParameter(sql.slice(i + 1, j), i);
          i = j;
          continue;
        }
        if (IDENT_START.test(c) && !IDENT_PART.test(sql[i - 1] ?? " ") && sql[i - 1] !== "$") {
          // A keyword or identifier: copied as is, and fed to the BEGIN ... END heuristic.
          let j = i + 1;
          while (j < n && (IDENT_PART.test(sql[j]!) || sql[j] === "$")) j += 1;
          const word = sql.slice(i, j).toLowerCase();
          if (words.length < 4) words.push(word); // only the first words decide
          if (parenDepth === 0 && isRoutineDefinition(words)) {
            if (word === "begin") beginDepth += 1;
            else if (word === "case" && beginDepth > 0) beginDepth += 1;
            else if (word === "end" && beginDepth > 0) beginDepth -= 1;
          }
          out += sql.slice(i, j);
          i = j;
          continue;
        }
        if (c === "(") parenDepth += 1;
        else if (c === ")" && parenDepth > 0) parenDepth -= 1;
        else if (c === ";" && parenDepth === 0 && beginDepth === 0) {
          scan.onSemicolon?.(i);
          words = [];
        }
        out += c;
        i += 1;
        continue;
      }
      case "line-comment":
        if (c === "\n") {
          region = "code";
          out += c;
        } else opaque(c);
        i += 1;
        continue;
      case "block-comment":
        // PostgreSQL block comments nest.
        if (c === "/" && next === "*") {
          blockDepth += 1;
          opaque("/*");
          i += 2;
          continue;
        }
        if (c === "*" && next === "/") {
          blockDepth -= 1;
          if (blockDepth === 0) region = "code";
          opaque("*/");
          i += 2;
          continue;
        }
        opaque(c);
        i += 1;
        continue;
      case "string":
        if (backslashEscapes && c === "\\") {
          opaque(sql.slice(i, i + 2));
          i += 2;
          continue;
        }
        if (c === "'") {
          if (next === "'") {
            opaque("''");
            i += 2;
            continue;
          }
          region = "code";
        }
        opaque(c);
        i += 1;
        continue;
      case "identifier":
        if (c === '"') {
          if (next === '"') {
            opaque('""');
            i += 2;
            continue;
          }
          region = "code";
        }
        opaque(c);
        i += 1;
        continue;
      case "dollar":
        if (c === "$" && sql.startsWith(dollarTag, i)) {
          opaque(dollarTag);
          i += dollarTag.length;
          region = "code";
          continue;
        }
        opaque(c);
        i += 1;
        continue;
    }
  }
  return out;
}

/** CREATE [OR REPLACE] FUNCTION|PROCEDURE, judged on the statement's first words. */
function isRoutineDefinition(words: readonly string[]): boolean {
  if (words[0] !== "create") return false;
  const kind = words[1] === "or" && words[2] === "replace" ? words[3] : words[1];
  return kind === "function" || kind === "procedure";
}

/**
 * Splits a script into its statements, in order, each trimmed and without its trailing `;`.
 * Pieces that hold only whitespace or comments are dropped.
 */
export function splitStatements(sql: string): string[] {
  const cuts: number[] = [];
  const hasContent = new Set<number>(); // indexes (into cuts) of pieces with a statement in them
  walk(sql, {
    onSemicolon: (i) => cuts.push(i),
    onContent: () => hasContent.add(cuts.length),
  });
  const statements: string[] = [];
  let start = 0;
  [...cuts, sql.length].forEach((cut, piece) => {
    if (hasContent.has(piece)) statements.push(sql.slice(start, cut).trim());
    start = cut + 1;
  });
  return statements;
}

/** Thrown when a statement names a parameter the caller did not supply. */
export class MissingParameterError extends Error {
  constructor(readonly parameter: string) {
    super(`SQL names the parameter :${parameter} but no value was given for it`);
    this.name = "MissingParameterError";
  }
}

/**
 * Rewrites `:name` parameters as `$1, $2, ...` (the same name reuses its number) and returns the
 * values in that order. Parameters supplied but not used are ignored, like the Data API does.
 */
export function toPositional<V>(
  sql: string,
  params: Readonly<Record<string, V>> = {},
): { text: string; values: V[]; names: string[] } {
  const names: string[] = [];
  const text = walk(sql, {
    onNamedParameter(name) {
      if (!Object.prototype.hasOwnProperty.call(params, name)) throw new MissingParameterError(name);
      let index = names.indexOf(name);
      if (index < 0) index = names.push(name) - 1;
      return `$${index + 1}`;
    },
  });
  return { text, values: names.map((name) => params[name]!), names };
}

/**
 * Rewrites each `:name` parameter found in code (never in literals, quoted identifiers, comments
 * or dollar-quoted bodies) as `replace` says, keeping everything else verbatim. The local Data API
 * endpoint uses it to bind parameters with the types the real service gives them.
 */
export function mapNamedParameters(sql: string, replace: (name: string) => string): string {
  return walk(sql, { onNamedParameter: (name) => replace(name) });
}

/**
 * The statement with comments blanked to one space and literals and quoted identifiers reduced to
 * their delimiters ('', "", $$): what keyword checks may look at.
 */
export function maskLiterals(sql: string): string {
  return walk(sql, { mask: true });
}
