// What one raw SQL statement (an `op.execute`) does to tables, as far as its text tells: enough for
// `retort lint` to see a DELETE without WHERE, an index built without CONCURRENTLY, a constraint
// added without NOT VALID. Statements it does not recognise give no facts; nothing here is run.
import { resolveName, type QualifiedName } from "../../schema/names.ts";
import { isPunct, isWord, type Token, tokenize } from "../../sql/lexer.ts";
import type { RawFact } from "../dialect.ts";

/** The facts of one statement (an ALTER TABLE with several actions gives several). */
export function readStatement(sql: string, defaultSchema: string): RawFact[] {
  const t = tokenize(sql);
  while (isPunct(t[t.length - 1], ";")) t.pop();
  const reader = new Reader(t, defaultSchema);
  try {
    return reader.statement();
  } catch (error) {
    if (error instanceof NotRecognised) return [];
    throw error;
  }
}

/** An expression as comparable text: tokens joined by spaces, without parentheses. */
export function expressionText(sql: string): string {
  return tokenize(sql)
    .filter((t) => !isPunct(t, "(") && !isPunct(t, ")"))
    .map((t) => t.value)
    .join(" ");
}

class NotRecognised extends Error {}

class Reader {
  private i = 0;
  constructor(
    private readonly t: readonly Token[],
    private readonly defaultSchema: string,
  ) {}

  statement(): RawFact[] {
    const first = this.t[0];
    if (isWord(first, "truncate")) return this.truncate();
    if (isWord(first, "delete")) return this.deleteOrUpdate("delete");
    if (isWord(first, "update")) return this.deleteOrUpdate("update");
    if (isWord(first, "insert")) return this.insert();
    if (isWord(first, "create")) return this.create();
    if (isWord(first, "drop") && isWord(this.t[1], "table")) return this.dropTable();
    if (isWord(first, "alter") && isWord(this.t[1], "table")) return this.alterTable();
    return [];
  }

  private truncate(): RawFact[] {
    this.i = 1;
    this.optional("table");
    return [{ kind: "truncate", tables: this.nameList() }];
  }

  private deleteOrUpdate(kind: "delete" | "update"): RawFact[] {
    this.i = 1;
    if (kind === "delete") this.expect("from");
    this.optional("only");
    const table = this.name();
    return [{ kind, table, where: this.hasTopLevelWord("where", this.i) }];
  }

  private insert(): RawFact[] {
    this.i = 1;
    this.expect("into");
    const table = this.name();
    const select = this.findTopLevelWord("select", this.i);
    if (select < 0) return [];
    return [{ kind: "insertSelect", table, where: this.hasTopLevelWord("where", select) }];
  }

  private create(): RawFact[] {
    this.i = 1;
    if (this.optional("or")) this.expect("replace");
    this.optional("unique");
    if (this.optional("index")) {
      const concurrently = this.optional("concurrently");
      if (this.optional("if")) this.expect("not", "exists");
      const index = isWord(this.t[this.i], "on") ? null : this.identifier();
      this.expect("on");
      this.optional("only");
      return [{ kind: "createIndex", index, table: this.name(), concurrently }];
    }
    while (isWord(this.t[this.i], "global", "local", "temporary", "temp", "unlogged")) this.i += 1;
    if (!this.optional("table")) return [];
    if (this.optional("if")) this.expect("not", "exists");
    return [{ kind: "createTable", table: this.name() }];
  }

  private dropTable(): RawFact[] {
    this.i = 2;
    if (this.optional("if")) this.expect("exists");
    return [{ kind: "dropTable", tables: this.nameList() }];
  }

  private alterTable(): RawFact[] {
    this.i = 2;
    if (this.optional("if")) this.expect("exists");
    this.optional("only");
    const table = this.name();
    const facts: RawFact[] = [];
    for (const action of this.splitTopLevel(this.i)) {
      const fact = new Reader(action, this.defaultSchema).action(table);
      if (fact) facts.push(fact);
    }
    return facts;
  }

  /** One ALTER TABLE action, over its own tokens. */
  action(table: QualifiedName): RawFact | undefined {
    try {
      if (this.optional("add")) {
        const name = this.optional("constraint") ? this.identifier() : null;
        if (isWord(this.t[this.i], "check")) {
          this.i += 1;
          const body = this.parenthesised();
          return {
            kind: "addConstraint",
            table,
            name,
            constraint: "check",
            notValid: this.endsWithNotValid(),
            expression: body.filter((x) => !isPunct(x, "(") && !isPunct(x, ")")).map((x) => x.value).join(" "),
          };
        }
        if (isWord(this.t[this.i], "foreign")) {
          return { kind: "addConstraint", table, name, constraint: "foreignKey", notValid: this.endsWithNotValid(), expression: null };
        }
        if (name !== null) return undefined;
        this.optional("column");
        if (this.optional("if")) this.expect("not", "exists");
        return { kind: "addColumn", table, column: this.identifier() };
      }
      if (this.optional("validate")) {
        this.expect("constraint");
        return { kind: "validateConstraint", table, name: this.identifier() };
      }
      if (this.optional("drop")) {
        if (isWord(this.t[this.i], "constraint")) return undefined;
        this.optional("column");
        if (this.optional("if")) this.expect("exists");
        return { kind: "dropColumn", table, column: this.identifier() };
      }
      if (this.optional("alter")) {
        this.optional("column");
        const column = this.identifier();
        if (this.optional("set")) {
          if (this.optional("not")) {
            this.expect("null");
            return { kind: "setNotNull", table, column };
          }
          this.expect("data");
        }
        if (this.optional("type")) return { kind: "alterColumnType", table, column };
      }
      return undefined;
    } catch (error) {
      if (error instanceof NotRecognised) return undefined;
      throw error;
    }
  }

  // --- token helpers -----------------------------------------------------------------------------

  private optional(word: string): boolean {
    if (!isWord(this.t[this.i], word)) return false;
    this.i += 1;
    return true;
  }

  private expect(...words: string[]): void {
    for (const w of words) if (!this.optional(w)) throw new NotRecognised();
  }

  private identifier(): string {
    const tok = this.t[this.i];
    if (tok?.type !== "word" && tok?.type !== "quoted") throw new NotRecognised();
    this.i += 1;
    return tok.value;
  }

  /** name or schema.name, resolved against the default schema. */
  private name(): QualifiedName {
    const first = this.identifier();
    if (!isPunct(this.t[this.i], ".")) return resolveName({ name: first }, this.defaultSchema);
    this.i += 1;
    return resolveName({ schema: first, name: this.identifier() }, this.defaultSchema);
  }

  private nameList(): QualifiedName[] {
    const names = [this.name()];
    while (isPunct(this.t[this.i], "*")) this.i += 1;
    while (isPunct(this.t[this.i], ",")) {
      this.i += 1;
      this.optional("only");
      names.push(this.name());
      while (isPunct(this.t[this.i], "*")) this.i += 1;
    }
    return names;
  }

  /** The tokens of a parenthesised group starting at the current token, parentheses included. */
  private parenthesised(): Token[] {
    if (!isPunct(this.t[this.i], "(")) throw new NotRecognised();
    const start = this.i;
    let depth = 0;
    do {
      if (isPunct(this.t[this.i], "(")) depth += 1;
      else if (isPunct(this.t[this.i], ")")) depth -= 1;
      this.i += 1;
    } while (depth > 0 && this.i < this.t.length);
    return this.t.slice(start, this.i);
  }

  private endsWithNotValid(): boolean {
    const n = this.t.length;
    return isWord(this.t[n - 2], "not") && isWord(this.t[n - 1], "valid");
  }

  private findTopLevelWord(word: string, from: number): number {
    let depth = 0;
    for (let j = from; j < this.t.length; j += 1) {
      const tok = this.t[j];
      if (isPunct(tok, "(")) depth += 1;
      else if (isPunct(tok, ")")) depth -= 1;
      else if (depth === 0 && isWord(tok, word)) return j;
    }
    return -1;
  }

  private hasTopLevelWord(word: string, from: number): boolean {
    return this.findTopLevelWord(word, from) >= 0;
  }

  /** The tokens from `from`, split at commas outside parentheses. */
  private splitTopLevel(from: number): Token[][] {
    const parts: Token[][] = [[]];
    let depth = 0;
    for (let j = from; j < this.t.length; j += 1) {
      const tok = this.t[j]!;
      if (isPunct(tok, "(")) depth += 1;
      else if (isPunct(tok, ")")) depth -= 1;
      if (depth === 0 && isPunct(tok, ",")) parts.push([]);
      else parts[parts.length - 1]!.push(tok);
    }
    return parts.filter((p) => p.length > 0);
  }
}
