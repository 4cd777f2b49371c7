// retort's one SQL scanner, with PostgreSQL's lexical rules (scan.l): it splits a script into
// statements, turns the Data API's named parameters (`:name`, `:1`) into PostgreSQL's positional
// ones (`$1`), masks literals for keyword checks, and reads a statement as tokens for lint, without
// being fooled by string literals, quoted identifiers, comments or dollar-quoted function bodies.
// It runs on every statement a migration sends, so it works on char codes and copies unchanged
// text in whole slices rather than character by character.
//
// Why not PostgreSQL's own parser (libpg-query, its grammar compiled to WebAssembly)? It refuses
// the Data API's `:name` parameters as syntax errors, it is 1.9 MB installed and takes over 100 ms
// to load and parse a first statement (the Lambda bundle, which runs this on every statement, must
// stay small), and it parses a statement in ~20 µs where this scans one in about 1 µs. What lint
// and classification read, first words and a token stream, this gives them.

import { RetortError } from "../errors.ts";

interface Scan {
  /**
   * Called for each statement: the text between `;`s that end one, when it holds anything but
   * whitespace and comments. A `;` inside parentheses (CREATE RULE ... DO (a; b)) or inside a
   * BEGIN ATOMIC ... END function body does not end one, the same rules psql follows.
   */
  onStatement?(start: number, end: number): void;
  /** Called for each `:name` (or `:1`) in code; returns the text to put in its place. */
  onNamedParameter?(name: string, index: number): string;
  /**
   * Blank out everything that is not code: a comment becomes one space, a literal or quoted
   * identifier keeps only its delimiters ('', "", $$), so keyword checks only ever see code.
   */
  mask?: boolean;
}

// Character classes, PostgreSQL's: an unquoted identifier (or keyword) starts with a letter, `_`
// or any character from U+0080 up, and goes on with those, digits and `$`. Unicode spaces (what
// /\s/ matches) are whitespace, which PostgreSQL would refuse: leniency for text pasted from
// elsewhere (a byte-order mark, a no-break space). Nothing from U+0080 up is special.
const SPACE = 1; // what /\s/ matches
const IDENT_START = 2; // [A-Za-z_], and U+0080 up but for the spaces
const IDENT_PART = 4; // IDENT_START or a digit
const WORD_PART = 8; // IDENT_PART or `$`, as a keyword or identifier may contain
const SPECIAL = 16; // - / ' " $ : ( ) ;  the only characters code needs a closer look at
const LETTER = IDENT_START | IDENT_PART | WORD_PART;
const CLASS = new Uint8Array(128);
for (const c of [9, 10, 11, 12, 13, 32]) CLASS[c] = SPACE;
for (let c = 0; c < 128; c += 1) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z_]/.test(ch)) CLASS[c] = LETTER;
  else if (/[0-9]/.test(ch)) CLASS[c] = IDENT_PART | WORD_PART;
}
for (const ch of "-/'\":();") CLASS[ch.charCodeAt(0)] = SPECIAL;
CLASS[0x24] = WORD_PART | SPECIAL; // $

/** The classes of one char code (NaN, past the end, has none). */
function classOf(c: number): number {
  if (c < 128) return CLASS[c]!;
  return c >= 128 ? wideClass(c) : 0;
}

/** The classes of a char code from 128 up: a space or a letter. */
function wideClass(c: number): number {
  return isWideSpace(c) ? SPACE : LETTER;
}

/** /\s/ beyond ASCII. */
function isWideSpace(c: number): boolean {
  return (
    c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 ||
    c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
  );
}

/** Where the word (keyword or identifier) going on at `from` ends. */
function wordEnd(sql: string, from: number): number {
  const n = sql.length;
  let j = from;
  while (j < n) {
    const d = sql.charCodeAt(j);
    if (d < 128 ? (CLASS[d]! & WORD_PART) === 0 : isWideSpace(d)) break;
    j += 1;
  }
  return j;
}

/** A dollar-quote tag longer than this ($, name, $) is not recognised. */
const MAX_DOLLAR_TAG = 64;

// The words the BEGIN ... END heuristic looks for, told apart without allocating a string.
const OTHER_WORD = 0;
const CREATE = 1;
const OR = 2;
const REPLACE = 3;
const FUNCTION = 4;
const PROCEDURE = 5;
const BEGIN = 6;
const CASE = 7;
const END = 8;
const KEYWORDS = ["", "create", "or", "replace", "function", "procedure", "begin", "case", "end"];
/** No two of them have the same length, so the length says which one a word may be. */
const KEYWORD_BY_LENGTH = [OTHER_WORD, OTHER_WORD, OR, END, CASE, BEGIN, CREATE, REPLACE, FUNCTION, PROCEDURE];

/** Which of the heuristic's keywords sql[from, to) is, case-insensitively. */
function keywordAt(sql: string, from: number, to: number): number {
  const kind = KEYWORD_BY_LENGTH[to - from] ?? OTHER_WORD;
  if (kind === OTHER_WORD) return OTHER_WORD;
  const keyword = KEYWORDS[kind]!;
  // Of the characters a word holds, only an ASCII letter's two cases fold onto an ASCII letter.
  for (let k = 0; k < keyword.length; k += 1) {
    if ((sql.charCodeAt(from + k) | 0x20) !== keyword.charCodeAt(k)) return OTHER_WORD;
  }
  return kind;
}

/**
 * With both onStatement and onNamedParameter, a `:name` followed by `$$` in the same word is read
 * differently by the two (splitting takes the whole word as an identifier, parameters stop at the
 * `$`, and the next `$` may open a dollar quote): the caller then has to walk twice.
 */
class ModesDiverge extends Error {}

/**
 * Walks `sql` once; returns it with named parameters replaced and text masked as `scan` says, or
 * "" when `scan` asks for neither (only statements are wanted).
 */
function walk(sql: string, scan: Scan): string {
  const n = sql.length;
  const table = CLASS;
  const mask = scan.mask === true;
  const split = scan.onStatement !== undefined;
  const params = scan.onNamedParameter !== undefined;
  const build = mask || params;
  let out = "";
  let copied = 0; // sql[copied, i) still has to be appended to `out`
  let start = 0; // where the current statement began
  let content = false; // the current statement holds more than whitespace and comments
  // psql's heuristic for SQL-standard function bodies: in a statement that starts with
  // CREATE [OR REPLACE] FUNCTION|PROCEDURE, BEGIN opens a block, CASE nests inside one, END closes.
  let parenDepth = 0;
  let beginDepth = 0;
  let wordCount = 0; // only the first four words decide
  let word0 = OTHER_WORD;
  let word1 = OTHER_WORD;
  let word2 = OTHER_WORD;
  let word3 = OTHER_WORD;
  let routine = false;
  let i = 0;

  while (i < n) {
    const c = sql.charCodeAt(i);
    const cls = c < 128 ? table[c]! : wideClass(c);
    if (cls === SPACE) {
      i += 1;
      while (i < n && table[sql.charCodeAt(i)] === SPACE) i += 1;
      continue;
    }
    if ((cls & SPECIAL) === 0) {
      content = true;
      const prev = i > 0 ? sql.charCodeAt(i - 1) : 0x20;
      if ((cls & IDENT_START) === 0 || (prev < 128 ? (table[prev]! & WORD_PART) !== 0 : !isWideSpace(prev))) {
        i += 1;
        continue;
      }
      // A keyword or identifier: copied as is, and fed to the BEGIN ... END heuristic. This is
      // wordEnd written out: the hottest loop, ~10% faster on splitStatements than the call.
      let j = i + 1;
      for (; j < n; j += 1) {
        const d = sql.charCodeAt(j);
        if (d < 128 ? (table[d]! & WORD_PART) === 0 : isWideSpace(d)) break;
      }
      if (split && (wordCount < 4 || routine)) {
        const kind = keywordAt(sql, i, j);
        if (wordCount < 4) {
          if (wordCount === 0) word0 = kind;
          else if (wordCount === 1) word1 = kind;
          else if (wordCount === 2) word2 = kind;
          else word3 = kind;
          wordCount += 1;
          routine = isRoutineDefinition(word0, word1, word2, word3);
        }
        if (routine && parenDepth === 0) {
          if (kind === BEGIN) beginDepth += 1;
          else if (kind === CASE && beginDepth > 0) beginDepth += 1;
          else if (kind === END && beginDepth > 0) beginDepth -= 1;
        }
      }
      i = j;
      continue;
    }
    switch (c) {
      case 0x2d: // -
        if (sql.charCodeAt(i + 1) === 0x2d) {
          const newline = sql.indexOf("\n", i + 2);
          const end = newline < 0 ? n : newline; // the newline itself is kept
          if (mask) {
            out += sql.slice(copied, i) + " ";
            copied = end;
          }
          i = newline < 0 ? n : newline + 1;
          continue;
        }
        content = true;
        i += 1;
        continue;
      case 0x2f: {
        // /
        if (sql.charCodeAt(i + 1) !== 0x2a) {
          content = true;
          i += 1;
          continue;
        }
        const j = blockCommentEnd(sql, i + 2);
        if (mask) {
          out += sql.slice(copied, i) + " ";
          copied = j;
        }
        i = j;
        continue;
      }
      case 0x27: {
        // '
        content = true;
        // E'...' strings treat backslash as an escape; standard strings do not. The E is a word of
        // its own, not the end of one (caféE'...' is an identifier and a standard string).
        const prev = i > 0 ? sql.charCodeAt(i - 1) : 0x20;
        const escapes = (prev === 0x45 || prev === 0x65) && (classOf(i > 1 ? sql.charCodeAt(i - 2) : 0x20) & WORD_PART) === 0;
        const j = escapes ? closeEscaped(sql, i + 1) : closeQuoted(sql, i + 1, "'", 0x27);
        if (mask) {
          out += sql.slice(copied, i) + "''";
          copied = j;
        }
        i = j;
        continue;
      }
      case 0x22: {
        // "
        content = true;
        const j = closeQuoted(sql, i + 1, '"', 0x22);
        if (mask) {
          out += sql.slice(copied, i) + '""';
          copied = j;
        }
        i = j;
        continue;
      }
      case 0x24: {
        // $
        content = true;
        const tagEnd = dollarTagEnd(sql, i);
        if (tagEnd < 0) {
          i += 1;
          continue;
        }
        const end = dollarQuoteEnd(sql, i, tagEnd);
        if (mask) {
          out += sql.slice(copied, i) + "$$";
          copied = end;
        }
        i = end;
        continue;
      }
      case 0x3a: {
        // :
        content = true;
        const next = sql.charCodeAt(i + 1);
        if (next === 0x3a) {
          i += 2; // a cast, never a parameter
          continue;
        }
        if (!params || !opensParameterName(sql, i, next)) {
          i += 1;
          continue;
        }
        const j = parameterNameEnd(sql, i + 2);
        if (split && sql.charCodeAt(j) === 0x24 && sql.slice(j, wordEnd(sql, j + 1)).includes("$$")) throw new ModesDiverge();
        out += sql.slice(copied, i);
        out += scan.onNamedParameter!(sql.slice(i + 1, j), i);
        copied = j;
        // Splitting reads the name as the statement's next word: the loop goes on right after
        // the `:`, which is where splitStatements alone would.
        i = split ? i + 1 : j;
        continue;
      }
      case 0x28: // (
        content = true;
        parenDepth += 1;
        i += 1;
        continue;
      case 0x29: // )
        content = true;
        if (parenDepth > 0) parenDepth -= 1;
        i += 1;
        continue;
      default:
        // `;`, the last of SPECIAL
        if (split && parenDepth === 0 && beginDepth === 0) {
          if (content) scan.onStatement!(start, i);
          start = i + 1;
          content = false;
          wordCount = 0;
          word0 = word1 = word2 = word3 = OTHER_WORD;
          routine = false;
        }
        i += 1;
        continue;
    }
  }
  if (split && content) scan.onStatement!(start, n);
  if (!build) return "";
  return copied === 0 ? sql : out + sql.slice(copied);
}

/**
 * Whether the `:` at `colon`, followed by char code `next`, starts a parameter name. A letter or
 * `_` always does (`:id`). A digit does too (`:1`, the names kysely-data-api and drizzle's
 * aws-data-api driver generate, and that the Data API accepts), except right after a word or
 * number: `arr[1:2]` and `tags[n:3]` are array slices, not parameters.
 */
function opensParameterName(sql: string, colon: number, next: number): boolean {
  const cls = classOf(next);
  if ((cls & IDENT_START) !== 0) return true;
  if ((cls & IDENT_PART) === 0) return false;
  return (classOf(colon > 0 ? sql.charCodeAt(colon - 1) : 0x20) & WORD_PART) === 0;
}

/** Where the name of a parameter whose second character is at `from` ends. */
function parameterNameEnd(sql: string, from: number): number {
  const n = sql.length;
  let j = from;
  while (j < n && (classOf(sql.charCodeAt(j)) & IDENT_PART) !== 0) j += 1;
  return j;
}

/** Where a block comment whose text starts at `from` (after its slash-star) ends: they nest. */
function blockCommentEnd(sql: string, from: number): number {
  const n = sql.length;
  let depth = 1;
  let j = from;
  while (j < n) {
    const d = sql.charCodeAt(j);
    if (d === 0x2f && sql.charCodeAt(j + 1) === 0x2a) {
      depth += 1;
      j += 2;
    } else if (d === 0x2a && sql.charCodeAt(j + 1) === 0x2f) {
      j += 2;
      depth -= 1;
      if (depth === 0) break;
    } else j += 1;
  }
  return j;
}

/** Where an E'...' literal whose text starts at `from` ends: a backslash escapes what follows. */
function closeEscaped(sql: string, from: number): number {
  const n = sql.length;
  let j = from;
  while (j < n) {
    const d = sql.charCodeAt(j);
    if (d === 0x5c) j += 2;
    else if (d !== 0x27) j += 1;
    else if (sql.charCodeAt(j + 1) === 0x27) j += 2;
    else return j + 1;
  }
  return n; // unterminated, or a backslash at the very end
}

/** Where a '...' literal or "..." identifier whose text starts at `from` ends (doubled quotes stay in). */
function closeQuoted(sql: string, from: number, quote: string, code: number): number {
  let j = from;
  for (;;) {
    const q = sql.indexOf(quote, j);
    if (q < 0) return sql.length;
    if (sql.charCodeAt(q + 1) !== code) return q + 1;
    j = q + 2;
  }
}

/**
 * The end of the `$tag$` or `$$` that opens a dollar quote at `i`, or -1 when there is none. A `$`
 * right after a letter or digit opens none: it belongs to the identifier or number (a$$b, $1$).
 */
function dollarTagEnd(sql: string, i: number): number {
  if ((classOf(i > 0 ? sql.charCodeAt(i - 1) : 0x20) & IDENT_PART) !== 0) return -1;
  const first = sql.charCodeAt(i + 1);
  if (first === 0x24) return i + 2; // $$
  if ((classOf(first) & IDENT_START) === 0) return -1;
  const limit = Math.min(sql.length, i + MAX_DOLLAR_TAG);
  let j = i + 2;
  while (j < limit && (classOf(sql.charCodeAt(j)) & IDENT_PART) !== 0) j += 1;
  return j < limit && sql.charCodeAt(j) === 0x24 ? j + 1 : -1;
}

/** Where the dollar quote opened by sql[open, tagEnd) ($$ or $tag$) is closed by the same tag. */
function dollarQuoteEnd(sql: string, open: number, tagEnd: number): number {
  const close = sql.indexOf(sql.slice(open, tagEnd), tagEnd);
  return close < 0 ? sql.length : close + (tagEnd - open);
}

/** CREATE [OR REPLACE] FUNCTION|PROCEDURE, judged on the statement's first words (missing: OTHER_WORD). */
function isRoutineDefinition(first: number, second: number, third: number, fourth: number): boolean {
  if (first !== CREATE) return false;
  const kind = second === OR && third === REPLACE ? fourth : second;
  return kind === FUNCTION || kind === PROCEDURE;
}

// The scans below are classes rather than object literals of closures: they are made on every
// call, and a bundle built with esbuild's keepNames renames each new closure (defineProperty).

/** Collects what splitStatements returns. */
class StatementList implements Scan {
  readonly statements: string[] = [];
  constructor(private readonly sql: string) {}
  onStatement(start: number, end: number): void {
    this.statements.push(this.sql.slice(start, end).trim());
  }
}

class StatementCount implements Scan {
  count = 0;
  onStatement(): void {
    this.count += 1;
  }
}

/**
 * Splits a script into its statements, in order, each trimmed and without its trailing `;`.
 * Pieces that hold only whitespace or comments are dropped.
 */
export function splitStatements(sql: string): string[] {
  const scan = new StatementList(sql);
  walk(sql, scan);
  return scan.statements;
}

/** `splitStatements(sql).length`, without building the statements. */
export function countStatements(sql: string): number {
  const scan = new StatementCount();
  walk(sql, scan);
  return scan.count;
}

/** Thrown when a statement names a parameter the caller did not supply. */
export class MissingParameterError extends RetortError {
  override readonly code: string = "missing-parameter";
  protected override details(): Record<string, unknown> {
    return { parameter: this.parameter };
  }
  constructor(readonly parameter: string) {
    super(`SQL names the parameter :${parameter} but no value was given for it`);
    this.name = "MissingParameterError";
  }
}

/** Numbers `:name` parameters as `$1, $2, ...`, the same name reusing its number. */
class ParameterNumbers implements Scan {
  readonly names: string[] = [];
  onNamedParameter(name: string): string {
    let index = this.names.indexOf(name);
    if (index < 0) index = this.names.push(name) - 1;
    return `$${index + 1}`;
  }
}

/** ParameterNumbers that also counts statements, as countStatements does. */
class CountedParameterNumbers extends ParameterNumbers {
  count = 0;
  onStatement(): void {
    this.count += 1;
  }
}

/** ParameterNumbers that refuses a parameter the caller did not supply. */
class SuppliedParameterNumbers extends ParameterNumbers {
  constructor(private readonly params: object) {
    super();
  }
  override onNamedParameter(name: string): string {
    if (!hasParameter(this.params, name)) throw new MissingParameterError(name);
    return super.onNamedParameter(name);
  }
}

function hasParameter(params: object, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(params, name);
}

/**
 * Rewrites `:name` parameters as `$1, $2, ...` (the same name reuses its number) and returns the
 * values in that order. Parameters supplied but not used are ignored, like the Data API does.
 */
export function toPositional<V>(
  sql: string,
  params: Readonly<Record<string, V>> = {},
): { text: string; values: V[]; names: string[] } {
  if (!sql.includes(":")) return { text: sql, values: [], names: [] };
  const scan = new SuppliedParameterNumbers(params);
  const text = walk(sql, scan);
  return { text, values: scan.names.map((name) => params[name]!), names: scan.names };
}

/** What scanStatement finds. */
export interface ScannedStatement<V> {
  /** `splitStatements(sql).length`. */
  statementCount: number;
  /**
   * The first parameter named but not supplied, if any (`text` and `values` then mean nothing).
   * Unless there is exactly one statement, `params` is not looked at: this is undefined and
   * `values` is empty.
   */
  missingParameter: string | undefined;
  text: string;
  values: V[];
  names: string[];
}

/**
 * countStatements and toPositional in one walk. A missing parameter is reported rather than
 * thrown, and only for a single statement, so that a caller refusing anything else sees the same
 * error as it would calling the two in turn.
 */
export function scanStatement<V>(sql: string, params: Readonly<Record<string, V>> = {}): ScannedStatement<V> {
  let statementCount: number;
  let text: string;
  let names: string[];
  try {
    const scan = new CountedParameterNumbers();
    text = walk(sql, scan);
    statementCount = scan.count;
    names = scan.names;
  } catch (error) {
    if (!(error instanceof ModesDiverge)) throw error;
    const scan = new ParameterNumbers();
    text = walk(sql, scan);
    statementCount = countStatements(sql);
    names = scan.names;
  }
  // A name's first use is where toPositional would have stopped for it.
  const missingParameter = statementCount === 1 ? names.find((name) => !hasParameter(params, name)) : undefined;
  const values = statementCount === 1 && missingParameter === undefined ? names.map((name) => params[name]!) : [];
  return { statementCount, missingParameter, text, values, names };
}

/** Replaces each `:name` with what the caller's function returns for it. */
class MappedParameters implements Scan {
  constructor(private readonly replace: (name: string) => string) {}
  onNamedParameter(name: string): string {
    const replace = this.replace;
    return replace(name);
  }
}

/**
 * Rewrites each `:name` parameter found in code (never in literals, quoted identifiers, comments
 * or dollar-quoted bodies) as `replace` says, keeping everything else verbatim. The local Data API
 * endpoint uses it to bind parameters with the types the real service gives them.
 */
export function mapNamedParameters(sql: string, replace: (name: string) => string): string {
  if (!sql.includes(":")) return sql;
  return walk(sql, new MappedParameters(replace));
}

const MASK: Scan = { mask: true };

/**
 * The statement with comments blanked to one space and literals and quoted identifiers reduced to
 * their delimiters ('', "", $$): what keyword checks may look at.
 */
export function maskLiterals(sql: string): string {
  return walk(sql, MASK);
}

// ---------------------------------------------------------------------------------------------
// Tokens: the few places that read what raw SQL says (lint: what an `op.execute` does to which
// table; which defaults are volatile) see a statement as words and punctuation.
// ---------------------------------------------------------------------------------------------

export type Token =
  /** A keyword or unquoted identifier; `value` is folded to lower case as PostgreSQL folds it (A-Z only). */
  | { readonly type: "word"; readonly value: string }
  /** A "quoted identifier"; `value` is its exact name. */
  | { readonly type: "quoted"; readonly value: string }
  /** A literal as written: 'string', E'string', $$body$$ or $tag$body$tag$, or a number. */
  | { readonly type: "literal"; readonly value: string }
  /** A :name (or :1) parameter; `value` is the name. */
  | { readonly type: "param"; readonly value: string }
  /** Any other character, one at a time, and `::` and `..`: ( ) , . ; :: .. = ... */
  | { readonly type: "punct"; readonly value: string };

/**
 * The tokens of `sql`, comments left out. The lexical rules are the other scans': the same words,
 * literals, dollar quotes and parameters.
 */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    const cls = classOf(c);
    const next = sql.charCodeAt(i + 1);
    let j: number;
    if (cls === SPACE) {
      i += 1;
      continue;
    } else if (c === 0x2d && next === 0x2d) {
      const newline = sql.indexOf("\n", i + 2);
      i = newline < 0 ? n : newline + 1;
      continue;
    } else if (c === 0x2f && next === 0x2a) {
      i = blockCommentEnd(sql, i + 2);
      continue;
    } else if (c === 0x27) {
      j = closeQuoted(sql, i + 1, "'", 0x27);
      out.push({ type: "literal", value: sql.slice(i, j) });
    } else if ((c === 0x45 || c === 0x65) && next === 0x27) {
      j = closeEscaped(sql, i + 2);
      out.push({ type: "literal", value: sql.slice(i, j) });
    } else if (c === 0x22) {
      j = closeQuoted(sql, i + 1, '"', 0x22);
      const closed = j - 1 > i && sql.charCodeAt(j - 1) === 0x22;
      out.push({ type: "quoted", value: sql.slice(i + 1, closed ? j - 1 : j).replaceAll('""', '"') });
    } else if ((cls & IDENT_START) !== 0) {
      j = wordEnd(sql, i + 1);
      out.push({ type: "word", value: foldIdentifier(sql.slice(i, j)) });
    } else if (c === 0x24 && (j = dollarTagEnd(sql, i)) >= 0) {
      j = dollarQuoteEnd(sql, i, j);
      out.push({ type: "literal", value: sql.slice(i, j) });
    } else if ((c === 0x3a || c === 0x2e) && next === c) {
      j = i + 2;
      out.push({ type: "punct", value: c === 0x3a ? "::" : ".." });
    } else if (c === 0x3a && opensParameterName(sql, i, next)) {
      j = parameterNameEnd(sql, i + 2);
      out.push({ type: "param", value: sql.slice(i + 1, j) });
    } else if (isDigit(c) || (c === 0x2e && isDigit(next))) {
      j = numberEnd(sql, i);
      out.push({ type: "literal", value: sql.slice(i, j) });
    } else {
      // ASCII: from U+0080 up everything is a letter or a space.
      j = i + 1;
      out.push({ type: "punct", value: sql[i]! });
    }
    i = j;
  }
  return out;
}

/** True when `token` is one of the keywords `words` (unquoted; lower case). */
export function isWord(token: Token | undefined, ...words: string[]): boolean {
  return token?.type === "word" && words.includes(token.value);
}

/** True when `token` is the punctuation `p`. */
export function isPunct(token: Token | undefined, p: string): boolean {
  return token?.type === "punct" && token.value === p;
}

/**
 * An unquoted identifier as PostgreSQL folds it in a multibyte encoding such as UTF-8: A-Z to
 * lower case, nothing else (TÀBLE names the table "tÀble").
 */
function foldIdentifier(word: string): string {
  for (let k = 0; k < word.length; k += 1) {
    if (word.charCodeAt(k) >= 128) return word.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
  }
  return word.toLowerCase();
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Where the number starting at `from` ends: digits (with `_` between them), a fraction, an
 * exponent (1.5e-3), or 0x / 0o / 0b and its digits.
 */
function numberEnd(sql: string, from: number): number {
  const radix = sql.charCodeAt(from) === 0x30 ? sql.charCodeAt(from + 1) | 0x20 : 0;
  if (radix === 0x78 || radix === 0x6f || radix === 0x62) return wordEnd(sql, from + 2);
  let j = digitsEnd(sql, from);
  // `1..2` is 1, `..` and 2, as in PL/pgSQL's FOR i IN 1..2.
  if (sql.charCodeAt(j) === 0x2e && sql.charCodeAt(j + 1) !== 0x2e) j = digitsEnd(sql, j + 1);
  if ((sql.charCodeAt(j) | 0x20) === 0x65) {
    const sign = sql.charCodeAt(j + 1) === 0x2b || sql.charCodeAt(j + 1) === 0x2d ? 1 : 0;
    if (isDigit(sql.charCodeAt(j + 1 + sign))) j = digitsEnd(sql, j + 1 + sign);
  }
  return j;
}

function digitsEnd(sql: string, from: number): number {
  let j = from;
  while (isDigit(sql.charCodeAt(j)) || (sql.charCodeAt(j) === 0x5f && isDigit(sql.charCodeAt(j + 1)))) j += 1;
  return j;
}
