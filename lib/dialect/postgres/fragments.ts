// The pieces of SQL text an operation takes from a migration and pastes into DDL, where nothing can
// be bound: a column type, and expressions (a `{ sql }` default, a check, an ALTER ... USING, an
// index's WHERE or key expression). Each must be exactly one item of its kind, or it could carry
// a second action into the statement (`type: "int, DROP COLUMN precious"`). A type is checked
// against PostgreSQL's type grammar; an expression is checked lexically, so that the parentheses
// the renderer puts around it cannot be closed from inside: quotes closed, brackets balanced and
// never closing more than they opened, no top-level comma, no semicolon, no comment.
import { InvalidNameError } from "../../schema/names.ts";

/** Refused fragment text: `what` names the fragment, `text` is what was given. */
export class InvalidFragmentError extends InvalidNameError {
  override readonly code: string = "invalid-fragment";
  constructor(what: string, text: string, problem: string) {
    super(`${what} ${JSON.stringify(text)} ${problem}`, text);
    this.name = "InvalidFragmentError";
  }
}

// ---- types -----------------------------------------------------------------------------------

type TypeToken =
  | { kind: "word"; value: string; text: string }
  | { kind: "quoted"; text: string }
  | { kind: "number"; text: string }
  | { kind: "punct"; text: string };

function typeTokens(type: string): TypeToken[] {
  const tokens: TypeToken[] = [];
  let i = 0;
  while (i < type.length) {
    const c = type[i]!;
    if (/\s/.test(c)) {
      i += 1;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      let j = i + 1;
      while (j < type.length && /[A-Za-z0-9_$\u0080-\uffff]/.test(type[j]!)) j += 1;
      const text = type.slice(i, j);
      tokens.push({ kind: "word", value: text.toLowerCase(), text });
      i = j;
    } else if (c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= type.length) throw new InvalidFragmentError("type", type, "has an unclosed quote");
        if (type[j] === "\0") throw new InvalidFragmentError("type", type, "contains a NUL");
        if (type[j] === '"' && type[j + 1] === '"') j += 2;
        else if (type[j] === '"') break;
        else j += 1;
      }
      if (j === i + 1) throw new InvalidFragmentError("type", type, "has an empty quoted name");
      tokens.push({ kind: "quoted", text: type.slice(i, j + 1) });
      i = j + 1;
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < type.length && /[0-9]/.test(type[j]!)) j += 1;
      tokens.push({ kind: "number", text: type.slice(i, j) });
      i = j;
    } else if ("().,[]+-".includes(c)) {
      tokens.push({ kind: "punct", text: c });
      i += 1;
    } else {
      throw new InvalidFragmentError("type", type, `contains ${JSON.stringify(c)}; a type is a name with optional (modifiers) and []`);
    }
  }
  return tokens;
}

const INTERVAL_FIELDS = new Set(["year", "month", "day", "hour", "minute", "second"]);
/** Interval field ranges: the first field, then what may follow TO. */
const INTERVAL_TO: Record<string, readonly string[]> = {
  year: ["month"],
  day: ["hour", "minute", "second"],
  hour: ["minute", "second"],
  minute: ["second"],
};

/**
 * Checks that `type` is one PostgreSQL type: a name (schema-qualified, quoted parts allowed) with
 * optional modifiers in parentheses, the multi-word names (`double precision`, `character
 * varying`, `bit varying`, `time[stamp] (p) with[out] time zone`, `interval` with its fields),
 * and array bounds (`[]`, `[3]`, `ARRAY`, `ARRAY[3]`). Throws InvalidFragmentError otherwise.
 */
export function checkType(type: string): void {
  if (typeof type !== "string" || type.trim() === "") throw new InvalidNameError("a column type cannot be empty", String(type));
  const tokens = typeTokens(type);
  let at = 0;
  const peek = (offset = 0) => tokens[at + offset];
  const isWord = (t: TypeToken | undefined, ...words: string[]): boolean => t?.kind === "word" && words.includes(t.value);
  const isPunct = (t: TypeToken | undefined, p: string) => t?.kind === "punct" && t.text === p;
  const fail = (expected: string): never => {
    const t = peek();
    throw new InvalidFragmentError("type", type, `is not one type: expected ${expected} ${t ? `at ${JSON.stringify(t.text)}` : "at the end"}`);
  };
  const expectWord = (...words: string[]) => {
    if (!isWord(peek(), ...words)) fail(words.map((w) => `"${w}"`).join(" or "));
    at += 1;
  };
  const expectPunct = (p: string) => {
    if (!isPunct(peek(), p)) fail(`"${p}"`);
    at += 1;
  };
  /** (n) */
  const precision = () => {
    if (!isPunct(peek(), "(")) return;
    at += 1;
    if (peek()?.kind !== "number") fail("a number");
    at += 1;
    expectPunct(")");
  };
  /** (m, m, ...): numbers (signed), names or quoted names, as type modifiers are. */
  const modifiers = () => {
    if (!isPunct(peek(), "(")) return;
    at += 1;
    for (;;) {
      if (isPunct(peek(), "-") || isPunct(peek(), "+")) {
        at += 1;
        if (peek()?.kind !== "number") fail("a number");
        at += 1;
      } else if (peek()?.kind === "number" || peek()?.kind === "word" || peek()?.kind === "quoted") {
        at += 1;
      } else {
        fail("a type modifier");
      }
      if (isPunct(peek(), ",")) at += 1;
      else break;
    }
    expectPunct(")");
  };
  const name = () => {
    for (let part = 0; ; part += 1) {
      if (peek()?.kind !== "word" && peek()?.kind !== "quoted") fail("a type name");
      at += 1;
      if (part < 2 && isPunct(peek(), ".")) at += 1;
      else return;
    }
  };

  const first = peek();
  if (isWord(first, "double") && isWord(peek(1), "precision")) {
    at += 2;
  } else if (isWord(first, "national")) {
    at += 1;
    expectWord("character", "char");
    if (isWord(peek(), "varying")) at += 1;
    precision();
  } else if (isWord(first, "character", "char", "bit", "nchar") && isWord(peek(1), "varying")) {
    at += 2;
    precision();
  } else if (isWord(first, "time", "timestamp") && !isPunct(peek(1), ".")) {
    at += 1;
    precision();
    if (isWord(peek(), "with", "without")) {
      at += 1;
      expectWord("time");
      expectWord("zone");
    }
  } else if (isWord(first, "interval") && !isPunct(peek(1), ".")) {
    at += 1;
    const field = peek();
    if (field?.kind === "word" && INTERVAL_FIELDS.has(field.value)) {
      at += 1;
      if (isWord(peek(), "to")) {
        const allowed = INTERVAL_TO[field.value];
        if (!allowed) fail(`no "to" after "${field.text}"`);
        at += 1;
        expectWord(...allowed!);
      }
    }
    precision();
  } else {
    name();
    modifiers();
  }
  // Array bounds.
  for (;;) {
    if (isPunct(peek(), "[")) {
      at += 1;
      if (peek()?.kind === "number") at += 1;
      expectPunct("]");
    } else if (isWord(peek(), "array")) {
      at += 1;
      if (isPunct(peek(), "[")) {
        at += 1;
        if (peek()?.kind !== "number") fail("a number");
        at += 1;
        expectPunct("]");
      }
    } else {
      break;
    }
  }
  if (at < tokens.length) fail("the end of the type");
}

// ---- expressions ------------------------------------------------------------------------------

/**
 * Checks that `text` is one SQL expression as far as the statement around it can tell: quotes
 * and dollar quotes closed, ( ) and [ ] balanced and never closing what the text did not open,
 * no comma outside them, no `;`, no comment. `what` names it in the error ("the check of
 * table t"). Whether it is a valid expression is left to PostgreSQL, which sees it in parentheses.
 */
export function checkExpression(text: string, what: string): void {
  if (typeof text !== "string" || text.trim() === "") throw new InvalidNameError(`${what} cannot be empty`, String(text));
  const refuse = (problem: string): never => {
    throw new InvalidFragmentError(what, text, problem);
  };
  const closing: string[] = [];
  let i = 0;
  const n = text.length;
  /** Skips a quoted run starting at `i` (the opening quote); returns the index after it. */
  const quoted = (quote: "'" | '"', escapes: boolean): number => {
    let j = i + 1;
    for (;;) {
      if (j >= n) refuse(`has an unclosed ${quote === "'" ? "string" : "quoted name"}`);
      const c = text[j]!;
      if (c === "\0") refuse("contains a NUL");
      if (escapes && c === "\\") j += 2;
      else if (c === quote && text[j + 1] === quote) j += 2;
      else if (c === quote) return j + 1;
      else j += 1;
    }
  };
  while (i < n) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === "\0") refuse("contains a NUL");
    if (c === "-" && next === "-") refuse("contains a comment (--); write the expression alone");
    if (c === "/" && next === "*") refuse("contains a comment (/* */); write the expression alone");
    if (c === ";") refuse("contains \";\": it must be one expression, not a statement");
    if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_$\u0080-\uffff]/.test(text[j]!)) j += 1;
      const word = text.slice(i, j);
      // E'...' takes backslash escapes; U&'...', B'...', X'...' and 'typed' 'literals' do not.
      if (text[j] === "'" && (word === "E" || word === "e")) {
        i = j;
        i = quoted("'", true);
      } else {
        i = j;
      }
    } else if (c === "'" || c === '"') {
      i = quoted(c, false);
    } else if (c === "$") {
      const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 64))?.[0];
      if (!tag) refuse("contains \"$\" that does not open a dollar quote ($n parameters cannot be used here)");
      const end = text.indexOf(tag!, i + tag!.length);
      if (end < 0) refuse(`has an unclosed dollar quote ${tag}`);
      i = end + tag!.length;
    } else if (c === "(" || c === "[") {
      closing.push(c === "(" ? ")" : "]");
      i += 1;
    } else if (c === ")" || c === "]") {
      if (closing.pop() !== c) refuse(`closes ${JSON.stringify(c)} that it did not open`);
      i += 1;
    } else if (c === "," && closing.length === 0) {
      refuse("has a comma outside parentheses: it must be one expression");
    } else {
      i += 1;
    }
  }
  if (closing.length > 0) refuse(`leaves ${JSON.stringify(closing.reverse().join(""))} unclosed`);
}
