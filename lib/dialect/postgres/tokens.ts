// A token stream over one SQL statement, for the few places that read raw SQL written by users
// (lint looks at what an `op.execute` does). Comments are dropped; string and dollar-quoted
// literals become one opaque token; identifiers are folded to lower case unless quoted, as
// PostgreSQL folds them.

export type Token =
  /** A keyword or unquoted identifier; `value` is lower-cased. */
  | { readonly type: "word"; readonly value: string }
  /** A "quoted identifier"; `value` is its exact name. */
  | { readonly type: "quoted"; readonly value: string }
  /** A literal: 'string', E'string', $$body$$, or a number. */
  | { readonly type: "literal"; readonly value: string }
  /** A :name parameter. */
  | { readonly type: "param"; readonly value: string }
  /** Any other character or operator: ( ) , . ; :: = ... */
  | { readonly type: "punct"; readonly value: string };

export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      i = end < 0 ? n : end + 1;
    } else if (c === "/" && next === "*") {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") (depth += 1), (i += 2);
        else if (sql[i] === "*" && sql[i + 1] === "/") (depth -= 1), (i += 2);
        else i += 1;
      }
    } else if (c === "'" || ((c === "E" || c === "e") && next === "'")) {
      const escapes = c !== "'";
      let j = escapes ? i + 2 : i + 1;
      while (j < n) {
        if (escapes && sql[j] === "\\") j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j += 1;
      }
      out.push({ type: "literal", value: sql.slice(i, j + 1) });
      i = j + 1;
    } else if (c === '"') {
      let j = i + 1;
      let name = "";
      while (j < n) {
        if (sql[j] === '"' && sql[j + 1] === '"') (name += '"'), (j += 2);
        else if (sql[j] === '"') break;
        else (name += sql[j]), (j += 1);
      }
      out.push({ type: "quoted", value: name });
      i = j + 1;
    } else if (c === "$" && /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.test(sql.slice(i, i + 64))) {
      const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64))![0];
      const end = sql.indexOf(tag, i + tag.length);
      const stop = end < 0 ? n : end + tag.length;
      out.push({ type: "literal", value: sql.slice(i, stop) });
      i = stop;
    } else if (c === ":" && next === ":") {
      out.push({ type: "punct", value: "::" });
      i += 2;
    } else if (c === ":" && next !== undefined && /[A-Za-z_]/.test(next)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(sql[j]!)) j += 1;
      out.push({ type: "param", value: sql.slice(i + 1, j) });
      i = j;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_$\u0080-\uffff]/.test(sql[j]!)) j += 1;
      out.push({ type: "word", value: sql.slice(i, j).toLowerCase() });
      i = j;
    } else if (/[0-9]/.test(c) || (c === "." && next !== undefined && /[0-9]/.test(next))) {
      let j = i + 1;
      while (j < n && /[0-9.eE]/.test(sql[j]!)) j += 1;
      out.push({ type: "literal", value: sql.slice(i, j) });
      i = j;
    } else {
      out.push({ type: "punct", value: c });
      i += 1;
    }
  }
  return out;
}

/** True when `token` is the keyword `word` (unquoted). */
export function isWord(token: Token | undefined, ...words: string[]): boolean {
  return token?.type === "word" && words.includes(token.value);
}

/** True when `token` is the punctuation `p`. */
export function isPunct(token: Token | undefined, p: string): boolean {
  return token?.type === "punct" && token.value === p;
}
