// A migration file's metadata read from its text, without compiling or running it. The graph
// commands (heads, history, check) need only each file's revision, revises and the rest; compiling
// and importing ten thousand files takes seconds, reading them this way a few microseconds each.
// It reads what `retort revision` writes, `export default defineMigration({ ... })` with every
// field but upgrade and downgrade a literal, with a small tokenizer over the whole file (comments,
// strings, templates, regular expressions, brackets). It is strict because the graph is built from
// its answer without the file ever running: whatever it cannot read with certainty (a computed
// value, a shape it does not know, text a tokenizer cannot tell from a parser's reading) gives
// undefined, and the caller compiles and imports the file instead.

export interface StaticMetadata {
  /** Every member of the default export's object literal except upgrade/downgrade, as JSON values, in source order. */
  fields: Record<string, unknown>;
  /** Which of upgrade/downgrade are present as a method, a function expression or an arrow function. */
  functions: { upgrade: boolean; downgrade: boolean };
  /**
   * True when the file's only module dependency is `packageName`: every static import/export-from names it
   * (whole-declaration type-only imports `import type ...` of anything are fine too), and there is no
   * dynamic `import(`, no `require(`, no `import.meta`. A self-contained file's behaviour depends on its
   * own text (and retort) alone.
   */
  selfContained: boolean;
}

// Token kinds.
const IDENT = 1; // identifiers and keywords
const NUMBER = 2;
const STRING = 3;
const TEMPLATE = 4; // `...` without substitutions
const T_HEAD = 5; // `...${
const T_MIDDLE = 6; // }...${
const T_TAIL = 7; // }...`
const REGEX = 8;
const LBRACE = 9;
const RBRACE = 10;
const LPAREN = 11;
const RPAREN = 12;
const LBRACK = 13;
const RBRACK = 14;
const COMMA = 15;
const COLON = 16;
const SEMI = 17;
const DOT = 18;
const QDOT = 19; // ?.
const ELLIPSIS = 20;
const ARROW = 21;
const STAR = 22;
const EQ = 23; // = alone
const INCDEC = 24; // ++ --
const HASH = 25;
const OTHER = 26; // any other punctuator, including division

// The tokens of the file being read, reused from call to call: kind, extent, the index of the
// matching bracket (for openers and closers; a template's head and tail match), and whether a
// line terminator precedes the token.
let kinds = new Uint8Array(2048);
let starts = new Int32Array(2048);
let ends = new Int32Array(2048);
let matches = new Int32Array(2048);
let breaks = new Uint8Array(2048);
let stack = new Int32Array(256);

function grow(): void {
  const size = kinds.length * 2;
  const k = new Uint8Array(size), s = new Int32Array(size), e = new Int32Array(size), m = new Int32Array(size), b = new Uint8Array(size);
  k.set(kinds), s.set(starts), e.set(ends), m.set(matches), b.set(breaks);
  kinds = k, starts = s, ends = e, matches = m, breaks = b;
}

/** ASCII classes: 1 starts an identifier, 2 is a digit. */
const CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36) CHAR[c] = 1;
  else if (c >= 48 && c <= 57) CHAR[c] = 2;
}

/** Non-ASCII white space and line terminators; every other non-ASCII character is taken as part of an identifier. */
function isSpaceHigh(c: number): boolean {
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

function isLineTerminator(c: number): boolean {
  return c === 10 || c === 13 || c === 0x2028 || c === 0x2029;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  c |= 32;
  return c >= 97 && c <= 102 ? c - 87 : -1;
}

/** The position after a valid escape whose backslash is at `p` in a quoted string, or -1. */
function escapeEnd(t: string, p: number, len: number): number {
  const d = t.charCodeAt(p + 1);
  if (d >= 49 && d <= 57) return -1; // legacy octal, \8, \9
  if (d === 48) {
    const e = t.charCodeAt(p + 2);
    return e >= 48 && e <= 57 ? -1 : p + 2;
  }
  if (d === 120) return hexValue(t.charCodeAt(p + 2)) >= 0 && hexValue(t.charCodeAt(p + 3)) >= 0 ? p + 4 : -1;
  if (d === 117) {
    if (t.charCodeAt(p + 2) === 123) {
      let q = p + 3, value = 0;
      for (; q < len && t.charCodeAt(q) !== 125; q++) {
        const h = hexValue(t.charCodeAt(q));
        if (h < 0 || (value = value * 16 + h) > 0x10ffff) return -1;
      }
      return q === p + 3 || q >= len ? -1 : q + 1;
    }
    for (let q = p + 2; q < p + 6; q++) if (hexValue(t.charCodeAt(q)) < 0) return -1;
    return p + 6;
  }
  if (d === 13 && t.charCodeAt(p + 2) === 10) return p + 3;
  return p + 1 < len ? p + 2 : -1;
}

/** Whether identifier token `i` is `w`. */
function is(t: string, i: number, w: string): boolean {
  return ends[i]! - starts[i]! === w.length && t.startsWith(w, starts[i]!);
}

/** Whether token `i` is a property name after `.`, `?.` or `#`, not a reference or keyword. */
function afterDot(i: number): boolean {
  if (i === 0) return false;
  const k = kinds[i - 1];
  return k === DOT || k === QDOT || k === HASH;
}

/** After these keywords a `/` starts a regular expression. */
const REGEX_AFTER = ["return", "typeof", "instanceof", "in", "new", "delete", "void", "throw", "case", "do", "else", "yield", "await", "default"];

/**
 * Whether a `/` after token `n - 1` starts a regular expression: 1, 0 (a division), or -1 when
 * that takes a parser to tell. `newline`: a line terminator precedes the `/`; a division at the
 * start of a line may be a regex after a type annotation (`let s: string[]` ASI `/re/.test(s)`).
 */
function regexAllowed(t: string, n: number, newline: number): number {
  const division = newline ? -1 : 0;
  if (n === 0) return 1;
  const p = n - 1;
  switch (kinds[p]) {
    case IDENT: {
      if (afterDot(p)) return division;
      if (is(t, p, "of")) return -1; // for (x of /re/) or a variable named `of`
      for (const w of REGEX_AFTER) if (is(t, p, w)) return 1;
      return division;
    }
    case NUMBER:
    case STRING:
    case TEMPLATE:
    case T_TAIL:
    case REGEX:
    case RBRACK:
    case INCDEC:
      return division;
    case RBRACE:
      return -1; // the end of a block (then a regex) or of an expression (a division)
    case RPAREN: {
      // The head of if, while, for or with is followed by a statement: a regex.
      const open = matches[p]!;
      let before = open - 1;
      if (before >= 0 && kinds[before] === IDENT && is(t, before, "await") && !afterDot(before)) before--;
      if (before < 0 || kinds[before] !== IDENT || afterDot(before)) return division;
      return is(t, before, "if") || is(t, before, "while") || is(t, before, "for") || is(t, before, "with") ? 1 : division;
    }
    default:
      return 1;
  }
}

/**
 * Scans template characters from `p` (after the backtick or the `}` of a substitution): the
 * position after the closing backtick (negated, minus 1) or after `${`, or 0 when unterminated or
 * holding a legacy octal escape.
 */
function templateEnd(t: string, p: number, len: number): number {
  while (p < len) {
    const c = t.charCodeAt(p);
    if (c === 96) return -(p + 1) - 1;
    if (c === 36 && t.charCodeAt(p + 1) === 123) return p + 2;
    if (c === 92) {
      const d = t.charCodeAt(p + 1);
      if ((d >= 49 && d <= 57) || (d === 48 && t.charCodeAt(p + 2) >= 48 && t.charCodeAt(p + 2) <= 57)) return 0;
      p += 2;
    } else p++;
  }
  return 0;
}

/** Tokenizes `t` into the shared arrays: the number of tokens, or -1 when it cannot be tokenized with certainty. */
function tokenize(t: string): number {
  const len = t.length;
  let pos = 0, n = 0, depth = 0, newline = 1;
  // Without CR, LS or PS, a line comment ends at the next LF, which indexOf finds fastest.
  const onlyLF = t.indexOf("\r") < 0 && t.indexOf("\u2028") < 0 && t.indexOf("\u2029") < 0;
  if (t.charCodeAt(0) === 35 && t.charCodeAt(1) === 33) while (pos < len && !isLineTerminator(t.charCodeAt(pos))) pos++; // #!
  for (;;) {
    let c = 0;
    while (pos < len) {
      c = t.charCodeAt(pos);
      if (c === 32 || c === 9 || c === 11 || c === 12) pos++;
      else if (c === 10 || c === 13) (newline = 1), pos++;
      else if (c === 47) {
        const d = t.charCodeAt(pos + 1);
        if (d === 47) {
          if (onlyLF) {
            pos = t.indexOf("\n", pos + 2);
            if (pos < 0) pos = len;
          } else {
            pos += 2;
            while (pos < len && !isLineTerminator(t.charCodeAt(pos))) pos++;
          }
        } else if (d === 42) {
          const close = t.indexOf("*/", pos + 2);
          if (close < 0) return -1;
          if (!newline) for (let q = pos + 2; q < close; q++) if (isLineTerminator(t.charCodeAt(q))) (newline = 1), (q = close);
          pos = close + 2;
        } else break;
      } else if (c >= 128 && isSpaceHigh(c)) {
        if (c === 0x2028 || c === 0x2029) newline = 1;
        pos++;
      } else break;
    }
    if (pos >= len) break;
    if (n === kinds.length) grow();
    const start = pos;
    let kind: number;
    if (c >= 128 || CHAR[c] === 1) {
      pos++;
      while (pos < len) {
        const d = t.charCodeAt(pos);
        if (d < 128 ? CHAR[d] === 0 : isSpaceHigh(d)) break;
        pos++;
      }
      kind = IDENT;
    } else if (CHAR[c] === 2 || (c === 46 && CHAR[t.charCodeAt(pos + 1)] === 2)) {
      pos++;
      while (pos < len) {
        const d = t.charCodeAt(pos);
        if (d >= 128 || (CHAR[d] === 0 && d !== 46)) break;
        pos++;
      }
      kind = NUMBER;
    } else {
      switch (c) {
        case 34:
        case 39: {
          pos++;
          for (;;) {
            if (pos >= len) return -1;
            const d = t.charCodeAt(pos);
            if (d === c) break;
            if (d === 92) {
              if ((pos = escapeEnd(t, pos, len)) < 0) return -1;
            } else if (d === 10 || d === 13) return -1;
            else pos++;
          }
          pos++;
          kind = STRING;
          break;
        }
        case 96: {
          const end = templateEnd(t, pos + 1, len);
          if (end === 0) return -1;
          if (end < 0) {
            pos = -end - 1;
            kind = TEMPLATE;
          } else {
            pos = end;
            kind = T_HEAD;
            if (depth === stack.length) growStack();
            stack[depth++] = n;
          }
          break;
        }
        case 123:
        case 40:
        case 91:
          kind = c === 123 ? LBRACE : c === 40 ? LPAREN : LBRACK;
          pos++;
          if (depth === stack.length) growStack();
          stack[depth++] = n;
          break;
        case 125:
        case 41:
        case 93: {
          if (depth === 0) return -1;
          const open = stack[--depth]!;
          const opened = kinds[open];
          if (c === 125 && opened === T_HEAD) {
            const end = templateEnd(t, pos + 1, len);
            if (end === 0) return -1;
            if (end < 0) {
              pos = -end - 1;
              kind = T_TAIL;
              matches[open] = n;
              matches[n] = open;
            } else {
              pos = end;
              kind = T_MIDDLE;
              stack[depth++] = open;
            }
            break;
          }
          kind = c === 125 ? RBRACE : c === 41 ? RPAREN : RBRACK;
          if (opened !== kind - 1) return -1;
          matches[open] = n;
          matches[n] = open;
          pos++;
          break;
        }
        case 44:
          kind = COMMA, pos++;
          break;
        case 58:
          kind = COLON, pos++;
          break;
        case 59:
          kind = SEMI, pos++;
          break;
        case 46:
          if (t.charCodeAt(pos + 1) === 46 && t.charCodeAt(pos + 2) === 46) (kind = ELLIPSIS), (pos += 3);
          else (kind = DOT), pos++;
          break;
        case 63: {
          const d = t.charCodeAt(pos + 1);
          if (d === 46 && CHAR[t.charCodeAt(pos + 2)] !== 2) (kind = QDOT), (pos += 2);
          else (kind = OTHER), (pos += d === 63 ? 2 : 1);
          break;
        }
        case 61: {
          const d = t.charCodeAt(pos + 1);
          if (d === 62) (kind = ARROW), (pos += 2);
          else if (d === 61) (kind = OTHER), (pos += t.charCodeAt(pos + 2) === 61 ? 3 : 2);
          else (kind = EQ), pos++;
          break;
        }
        case 43:
        case 45:
          if (t.charCodeAt(pos + 1) === c) {
            if (c === 45 && t.charCodeAt(pos + 2) === 62) return -1; // esbuild reads --> as a comment
            (kind = INCDEC), (pos += 2);
          } else (kind = OTHER), pos++;
          break;
        case 60:
          if (t.startsWith("!--", pos + 1)) return -1; // as <!--
          (kind = OTHER), pos++;
          break;
        case 42:
          kind = STAR, pos++;
          break;
        case 35:
          kind = HASH, pos++;
          break;
        case 47: {
          const regex = regexAllowed(t, n, newline);
          if (regex < 0) return -1;
          pos++;
          if (regex === 0) {
            kind = OTHER;
            break;
          }
          let inClass = false;
          for (;;) {
            if (pos >= len) return -1;
            const d = t.charCodeAt(pos);
            if (isLineTerminator(d)) return -1;
            if (d === 92) {
              if (pos + 1 >= len || isLineTerminator(t.charCodeAt(pos + 1))) return -1;
              pos += 2;
              continue;
            }
            pos++;
            if (d === 91) inClass = true;
            else if (d === 93) inClass = false;
            else if (d === 47 && !inClass) break;
          }
          while (pos < len && CHAR[t.charCodeAt(pos)]! !== 0) pos++; // flags
          kind = REGEX;
          break;
        }
        case 92:
          return -1; // an escape in an identifier: it names what its text does not spell
        default:
          kind = OTHER, pos++;
      }
    }
    kinds[n] = kind;
    starts[n] = start;
    ends[n] = pos;
    breaks[n] = newline;
    newline = 0;
    n++;
  }
  return depth === 0 ? n : -1;
}

function growStack(): void {
  const larger = new Int32Array(stack.length * 2);
  larger.set(stack);
  stack = larger;
}

/** The value of a string literal's or a template's text from `s` to `e` (quotes excluded), or undefined for an invalid escape. */
function decode(t: string, s: number, e: number, template: boolean): string | undefined {
  let out = "", from = s;
  for (let p = s; p < e; ) {
    const c = t.charCodeAt(p);
    if (c === 13 && template) {
      out += t.slice(from, p) + "\n";
      p += t.charCodeAt(p + 1) === 10 ? 2 : 1;
      from = p;
      continue;
    }
    if (c !== 92) {
      p++;
      continue;
    }
    out += t.slice(from, p);
    const d = t.charCodeAt(p + 1);
    p += 2;
    switch (d) {
      case 110: out += "\n"; break;
      case 116: out += "\t"; break;
      case 114: out += "\r"; break;
      case 98: out += "\b"; break;
      case 102: out += "\f"; break;
      case 118: out += "\v"; break;
      case 48:
        if (CHAR[t.charCodeAt(p)] === 2) return undefined;
        out += "\0";
        break;
      case 120: {
        const h = hexValue(t.charCodeAt(p)), l = hexValue(t.charCodeAt(p + 1));
        if (h < 0 || l < 0 || p + 2 > e) return undefined;
        out += String.fromCharCode(h * 16 + l);
        p += 2;
        break;
      }
      case 117: {
        let value = 0;
        if (t.charCodeAt(p) === 123) {
          const first = ++p;
          for (; p < e && t.charCodeAt(p) !== 125; p++) {
            const h = hexValue(t.charCodeAt(p));
            if (h < 0 || (value = value * 16 + h) > 0x10ffff) return undefined;
          }
          if (p === first || p >= e) return undefined;
          p++;
          out += String.fromCodePoint(value);
        } else {
          if (p + 4 > e) return undefined;
          for (const end = p + 4; p < end; p++) {
            const h = hexValue(t.charCodeAt(p));
            if (h < 0) return undefined;
            value = value * 16 + h;
          }
          out += String.fromCharCode(value);
        }
        break;
      }
      case 13:
        if (t.charCodeAt(p) === 10) p++;
        break;
      case 10:
      case 0x2028:
      case 0x2029:
        break;
      default:
        if (d >= 49 && d <= 57) return undefined;
        out += String.fromCharCode(d);
    }
    from = p;
  }
  return from === s ? t.slice(s, e) : out + t.slice(from, e);
}

/** The value of string token `i`. */
function stringValue(t: string, i: number): string | undefined {
  return decode(t, starts[i]! + 1, ends[i]! - 1, false);
}

/** Set by literal(): the value read. */
let value: unknown;

/** Reads the JSON-like literal at token `i` into `value`: the index after it, or -1. */
function literal(t: string, i: number, nesting: number): number {
  switch (kinds[i]) {
    case STRING:
    case TEMPLATE:
      value = decode(t, starts[i]! + 1, ends[i]! - 1, kinds[i] === TEMPLATE);
      return value === undefined ? -1 : i + 1;
    case IDENT:
      if (is(t, i, "true")) value = true;
      else if (is(t, i, "false")) value = false;
      else if (is(t, i, "null")) value = null;
      else return -1;
      return i + 1;
    case NUMBER: {
      // Plain decimals: 0, 12, 1.5; no exponent, separator, prefix, leading zero or suffix.
      const s = starts[i]!, e = ends[i]!;
      let p = s;
      if (t.charCodeAt(p) === 48) p++;
      else while (p < e && CHAR[t.charCodeAt(p)] === 2) p++;
      if (p === s) return -1;
      if (p < e && t.charCodeAt(p) === 46) {
        const first = ++p;
        while (p < e && CHAR[t.charCodeAt(p)] === 2) p++;
        if (p === first) return -1;
      }
      if (p !== e) return -1;
      value = Number(t.slice(s, e));
      return i + 1;
    }
    case LBRACK: {
      if (nesting > 64) return -1;
      const end = matches[i]!, items: unknown[] = [];
      for (let j = i + 1; j < end; ) {
        if ((j = literal(t, j, nesting + 1)) < 0) return -1;
        items.push(value);
        if (j === end) break;
        if (kinds[j] !== COMMA) return -1;
        j++;
      }
      value = items;
      return end + 1;
    }
    case LBRACE: {
      if (nesting > 64) return -1;
      const end = matches[i]!, object: Record<string, unknown> = {};
      for (let j = i + 1; j < end; ) {
        const key = keyName(t, j);
        if (key === undefined || Object.hasOwn(object, key) || kinds[j + 1] !== COLON) return -1;
        if ((j = literal(t, j + 2, nesting + 1)) < 0) return -1;
        object[key] = value;
        if (j === end) break;
        if (kinds[j] !== COMMA) return -1;
        j++;
      }
      value = object;
      return end + 1;
    }
    default:
      return -1;
  }
}

/** The property name at token `i` (an identifier or a string), or undefined; never `__proto__`, which sets the prototype. */
function keyName(t: string, i: number): string | undefined {
  const name = kinds[i] === IDENT ? t.slice(starts[i]!, ends[i]!) : kinds[i] === STRING ? stringValue(t, i) : undefined;
  return name === "__proto__" ? undefined : name;
}

/** The index of the token after the group opened at `i`, or after token `i`. */
function skip(i: number): number {
  const k = kinds[i];
  return k === LBRACE || k === LPAREN || k === LBRACK || k === T_HEAD ? matches[i]! + 1 : i + 1;
}

/**
 * The rest of a method or function expression from token `i` (after its parameters' `)`): an
 * optional return type, then the body, which the member's separator (`,` or `close`) must
 * follow. The separator's index, or -1.
 */
function functionBody(i: number, close: number): number {
  let body = -1;
  if (kinds[i] === LBRACE) body = i;
  else if (kinds[i] === COLON) {
    // The return type may hold braces (`Promise<{ a: 1 }>`): the body is the first group the separator follows.
    for (let j = i + 1; j < close; j = skip(j)) {
      if (kinds[j] === COMMA) return -1;
      if (kinds[j] === LBRACE && (matches[j]! + 1 === close || kinds[matches[j]! + 1] === COMMA)) {
        body = j;
        break;
      }
    }
  }
  if (body < 0) return -1;
  const after = matches[body]! + 1;
  return after === close || kinds[after] === COMMA ? after : -1;
}

/**
 * An upgrade/downgrade value at token `i`: `async (op) => ...`, `op => ...`,
 * `async function (op) {...}`. The separator's index, or -1.
 */
function functionValue(t: string, i: number, close: number): number {
  let j = i;
  if (kinds[j] === IDENT && is(t, j, "async") && (kinds[j + 1] === IDENT || kinds[j + 1] === LPAREN) && !breaks[j + 1]) j++;
  if (kinds[j] === IDENT && is(t, j, "function")) {
    j++;
    if (kinds[j] === IDENT) j++;
    return kinds[j] === LPAREN ? functionBody(matches[j]! + 1, close) : -1;
  }
  if (kinds[j] === IDENT) j++;
  else if (kinds[j] === LPAREN) {
    j = matches[j]! + 1;
    if (kinds[j] === COLON) {
      // A return type, up to the arrow.
      for (j++; j < close && kinds[j] !== ARROW; j = skip(j)) if (kinds[j] === COMMA) return -1;
    }
  } else return -1;
  if (j >= close || kinds[j] !== ARROW || breaks[j]) return -1;
  j++;
  if (j === close || kinds[j] === COMMA) return -1;
  if (kinds[j] === LBRACE) {
    const after = matches[j]! + 1;
    return after === close || kinds[after] === COMMA ? after : -1;
  }
  while (j < close && kinds[j] !== COMMA) j = skip(j);
  return j;
}

/** Local names (token indices) of `defineMigration` imported from the package. */
const localNames: number[] = [];

/**
 * A static import declaration at token `i`, its depth `depth`: whether the file stays
 * self-contained, and the local names of `defineMigration`.
 */
function staticImport(t: string, i: number, depth: number, packageName: string): boolean {
  let j = i + 1, typeOnly = false, braces = -1;
  if (kinds[j] === IDENT && is(t, j, "type")) {
    const next = kinds[j + 1];
    // `import type from "m"` imports a default export named type.
    typeOnly = next === LBRACE || next === STAR || (next === IDENT && !(is(t, j + 1, "from") && kinds[j + 2] === STRING));
    if (typeOnly) j++;
  }
  if (kinds[j] !== STRING) {
    if (kinds[j] === IDENT) {
      if (kinds[j + 1] === EQ) return true; // import x = N.y; a require() is caught on its own
      j++;
      if (kinds[j] === COMMA) j++;
      else if (!is(t, j, "from")) return false;
    }
    if (kinds[j] === STAR) {
      if (kinds[j + 1] !== IDENT || !is(t, j + 1, "as") || kinds[j + 2] !== IDENT) return false;
      j += 3;
    } else if (kinds[j] === LBRACE) {
      braces = j;
      j = matches[j]! + 1;
    }
    if (kinds[j] !== IDENT || !is(t, j, "from")) return false;
    j++;
    if (kinds[j] !== STRING) return false;
  }
  if (typeOnly) return true;
  if (stringValue(t, j) !== packageName) return false;
  if (braces >= 0 && depth === 0) {
    const end = matches[braces]!;
    for (let s = braces + 1; s < end; ) {
      let e = s;
      while (e < end && kinds[e] !== COMMA) e++;
      if (kinds[s] === IDENT && is(t, s, "defineMigration")) {
        if (e === s + 1) localNames.push(s);
        else if (e === s + 3 && is(t, s + 1, "as") && kinds[s + 2] === IDENT) localNames.push(s + 2);
      }
      s = e + 1;
    }
  }
  return true;
}

/** Whether token `i` names a binding (not a property name, object key or label). */
function isReference(i: number): boolean {
  if (i === 0) return true;
  if (afterDot(i)) return false;
  const before = kinds[i - 1];
  return !(kinds[i + 1] === COLON && (before === LBRACE || before === COMMA));
}

/** The metadata literally written in `text` (a migration file's source), or undefined when it cannot be read with certainty. */
export function readStaticMetadata(text: string, packageName = "retort-migrate"): StaticMetadata | undefined {
  const t = text;
  const n = tokenize(t);
  if (n < 0) return undefined;
  // Make the token after the last one read as nothing.
  if (n === kinds.length) grow();
  kinds[n] = 0;
  breaks[n] = 1;
  localNames.length = 0;

  let selfContained = true, exported = -1, depth = 0;
  for (let i = 0; i < n; i++) {
    const k = kinds[i];
    if (k === LBRACE || k === LPAREN || k === LBRACK || k === T_HEAD) depth++;
    else if (k === RBRACE || k === RPAREN || k === RBRACK || k === T_TAIL) depth--;
    if (k !== IDENT) continue;
    const c = t.charCodeAt(starts[i]!);
    if (c === 105 && is(t, i, "import")) {
      if (afterDot(i)) continue;
      const next = kinds[i + 1];
      if (next === LPAREN || next === DOT) selfContained = false;
      else if (isReference(i) && !staticImport(t, i, depth, packageName)) selfContained = false;
    } else if (c === 114 && is(t, i, "require")) {
      if (isReference(i)) selfContained = false;
    } else if ((c === 109 && is(t, i, "module")) || (c === 101 && is(t, i, "exports"))) {
      // CommonJS's module.exports could replace what the default export says.
      if (isReference(i)) return undefined;
    } else if (c === 101 && is(t, i, "export") && isReference(i)) {
      const next = kinds[i + 1];
      if (next === EQ) return undefined;
      if (next === IDENT && is(t, i + 1, "default")) {
        if (depth !== 0 || exported >= 0) return undefined;
        exported = i + 2;
      } else if (next === LBRACE || next === STAR || (next === IDENT && is(t, i + 1, "type") && (kinds[i + 2] === LBRACE || kinds[i + 2] === STAR))) {
        const typeOnly = next === IDENT;
        let j = typeOnly ? i + 2 : i + 1;
        if (kinds[j] === LBRACE) {
          // export { x as default }, export { default } from "m", or a name written as a string.
          const end = matches[j]!;
          for (let s = j + 1; s < end; s++) if (kinds[s] === STRING || (kinds[s] === IDENT && is(t, s, "default"))) return undefined;
          j = end + 1;
        } else {
          j++;
          if (kinds[j] === IDENT && is(t, j, "as")) {
            if (kinds[j + 1] !== IDENT || is(t, j + 1, "default")) return undefined;
            j += 2;
          }
        }
        if (kinds[j] === IDENT && is(t, j, "from") && kinds[j + 1] === STRING) {
          if (!typeOnly && stringValue(t, j + 1) !== packageName) selfContained = false;
        } else if (next === STAR) selfContained = false;
      }
    }
  }
  if (exported < 0) return undefined;

  // export default defineMigration({ ... }) or export default { ... }
  let open = exported, after: number;
  if (kinds[open] === IDENT) {
    const callee = open;
    if (kinds[callee + 1] !== LPAREN || kinds[callee + 2] !== LBRACE) return undefined;
    open = callee + 2;
    const closeCall = matches[open]! + 1;
    if (kinds[closeCall] !== RPAREN || matches[closeCall] !== callee + 1) return undefined;
    let imported = false;
    for (const local of localNames) if (is(t, callee, t.slice(starts[local]!, ends[local]!))) imported = true;
    if (!imported) return undefined;
    after = closeCall + 1;
  } else if (kinds[open] === LBRACE) after = matches[open]! + 1;
  else return undefined;
  // Nothing may continue the expression: `;`, the end, or a new statement on a new line.
  if (!(after === n || kinds[after] === SEMI)) {
    if (!breaks[after] || kinds[after] !== IDENT) return undefined;
    if (is(t, after, "as") || is(t, after, "satisfies") || is(t, after, "in") || is(t, after, "instanceof")) return undefined;
  }

  const close = matches[open]!;
  const fields: Record<string, unknown> = {};
  const functions = { upgrade: false, downgrade: false };
  for (let i = open + 1; i < close; ) {
    let key = i, isAsync = false;
    if (kinds[i] === IDENT && is(t, i, "async") && (kinds[i + 1] === IDENT || kinds[i + 1] === STRING) && !breaks[i + 1]) {
      key = i + 1;
      isAsync = true;
    }
    const name = keyName(t, key);
    if (name === undefined || name === "__esModule" || Object.hasOwn(fields, name)) return undefined;
    const fn = name === "upgrade" || name === "downgrade";
    if (fn && functions[name]) return undefined;
    let separator: number;
    if (kinds[key + 1] === LPAREN) {
      if (!fn) return undefined;
      separator = functionBody(matches[key + 1]! + 1, close);
    } else if (kinds[key + 1] === COLON && !isAsync) {
      if (fn) separator = functionValue(t, key + 2, close);
      else {
        separator = literal(t, key + 2, 0);
        if (separator >= 0 && separator !== close && kinds[separator] !== COMMA) return undefined;
        fields[name] = value;
      }
    } else return undefined;
    if (separator < 0) return undefined;
    if (fn) functions[name] = true;
    i = separator + 1;
  }
  return { fields, functions, selfContained };
}
