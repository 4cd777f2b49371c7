// A small PostgreSQL lexer: just enough to split a script into statements and to turn the
// Data API's named parameters (`:name`) into PostgreSQL's positional ones (`$1`), without being
// fooled by string literals, quoted identifiers, comments or dollar-quoted function bodies.

/** Where the scanner is; everything but `code` is opaque text that must be copied verbatim. */
type Region = "code" | "line-comment" | "block-comment" | "string" | "identifier" | "dollar";

interface Scan {
  /** Called for each top-level `;` in code. */
  onSemicolon?(index: number): void;
  /** Called for each `:name` in code; returns the text to put in its place. */
  onNamedParameter?(name: string, index: number): string;
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

  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    switch (region) {
      case "code": {
        if (c === "-" && next === "-") {
          region = "line-comment";
          out += "--";
          i += 2;
          continue;
        }
        if (c === "/" && next === "*") {
          region = "block-comment";
          blockDepth = 1;
          out += "/*";
          i += 2;
          continue;
        }
        if (c === "'") {
          // E'...' strings treat backslash as an escape; standard strings do not.
          const prev = sql[i - 1];
          backslashEscapes = (prev === "E" || prev === "e") && !IDENT_PART.test(sql[i - 2] ?? " ");
          region = "string";
          out += c;
          i += 1;
          continue;
        }
        if (c === '"') {
          region = "identifier";
          out += c;
          i += 1;
          continue;
        }
        if (c === "$" && !IDENT_PART.test(sql[i - 1] ?? " ")) {
          const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
          if (m) {
            region = "dollar";
            dollarTag = m[0];
            out += dollarTag;
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
        if (c === ";") scan.onSemicolon?.(i);
        out += c;
        i += 1;
        continue;
      }
      case "line-comment":
        if (c === "\n") region = "code";
        out += c;
        i += 1;
        continue;
      case "block-comment":
        // PostgreSQL block comments nest.
        if (c === "/" && next === "*") {
          blockDepth += 1;
          out += "/*";
          i += 2;
          continue;
        }
        if (c === "*" && next === "/") {
          blockDepth -= 1;
          if (blockDepth === 0) region = "code";
          out += "*/";
          i += 2;
          continue;
        }
        out += c;
        i += 1;
        continue;
      case "string":
        if (backslashEscapes && c === "\\") {
          out += sql.slice(i, i + 2);
          i += 2;
          continue;
        }
        if (c === "'") {
          if (next === "'") {
            out += "''";
            i += 2;
            continue;
          }
          region = "code";
        }
        out += c;
        i += 1;
        continue;
      case "identifier":
        if (c === '"') {
          if (next === '"') {
            out += '""';
            i += 2;
            continue;
          }
          region = "code";
        }
        out += c;
        i += 1;
        continue;
      case "dollar":
        if (c === "$" && sql.startsWith(dollarTag, i)) {
          out += dollarTag;
          i += dollarTag.length;
          region = "code";
          continue;
        }
        out += c;
        i += 1;
        continue;
    }
  }
  return out;
}

/** True when `text` holds nothing but whitespace and comments. */
function isBlank(text: string): boolean {
  return walkStrip(text).trim() === "";
}

/** Removes comments (used only to decide whether a piece is empty). */
function walkStrip(text: string): string {
  return text.replace(/--[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "");
}

/**
 * Splits a script into its statements, in order, each trimmed and without its trailing `;`.
 * Pieces that hold only whitespace or comments are dropped.
 */
export function splitStatements(sql: string): string[] {
  const cuts: number[] = [];
  walk(sql, { onSemicolon: (i) => cuts.push(i) });
  const statements: string[] = [];
  let start = 0;
  for (const cut of [...cuts, sql.length]) {
    const piece = sql.slice(start, cut);
    start = cut + 1;
    if (!isBlank(piece)) statements.push(piece.trim());
  }
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
