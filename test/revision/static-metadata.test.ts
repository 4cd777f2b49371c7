import { transformSync } from "esbuild";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readStaticMetadata } from "../../lib/revision/static-metadata.ts";
import { migrationTemplate } from "../../lib/revision/template.ts";

const IMPORT = `import { defineMigration } from "retort-migrate";\n`;
const BASE = `revision: "0123456789ab", revises: null, message: "m",`;
const FUNCTIONS = `async upgrade(op) {}, async downgrade(op) {},`;

/** A migration file whose object literal has `members`. */
const file = (members: string, header = IMPORT) => `${header}\nexport default defineMigration({\n${members}\n});\n`;
const fieldsOf = (members: string) => readStaticMetadata(file(members))?.fields;
/** The file with `body` as its upgrade's body. */
const withBody = (body: string) => file(`${BASE}\nasync upgrade(op) {\n${body}\n},\n async downgrade(op) {},`);

describe("readStaticMetadata: the template", () => {
  const createdAt = "2026-01-01T00:00:00.000Z";
  it.each([
    ["a base", [], null],
    ["a single parent", ["aaaaaaaaaaaa"], "aaaaaaaaaaaa"],
    ["a merge", ["aaaaaaaaaaaa", "bbbbbbbbbbbb"], ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]],
  ] as const)("reads back %s", (_, revises, expected) => {
    const text = migrationTemplate({ revision: "0123456789ab", revises, message: 'create "users" – ünïcode\\', createdAt });
    expect(readStaticMetadata(text)).toStrictEqual({
      fields: { revision: "0123456789ab", revises: expected, message: 'create "users" – ünïcode\\', createdAt },
      functions: { upgrade: true, downgrade: true },
      selfContained: true,
    });
  });
});

describe("readStaticMetadata: fields", () => {
  it("reads each optional field, in source order", () => {
    const fields = fieldsOf(`
      revision: "0123456789ab",
      revises: ["aaaaaaaaaaaa", "bbbbbbbbbbbb",],
      message: "m",
      createdAt: "2026-01-01T00:00:00.000Z",
      dependsOn: ["cccccccccccc"],
      branchLabels: "auth",
      transactional: false,
      irreversible: true,
      lint: { allow: ["drop-column: replaced by email_v2"], },
      ${FUNCTIONS}
    `);
    expect(fields).toStrictEqual({
      revision: "0123456789ab",
      revises: ["aaaaaaaaaaaa", "bbbbbbbbbbbb"],
      message: "m",
      createdAt: "2026-01-01T00:00:00.000Z",
      dependsOn: ["cccccccccccc"],
      branchLabels: "auth",
      transactional: false,
      irreversible: true,
      lint: { allow: ["drop-column: replaced by email_v2"] },
    });
    expect(Object.keys(fields!)).toEqual(["revision", "revises", "message", "createdAt", "dependsOn", "branchLabels", "transactional", "irreversible", "lint"]);
  });

  it("keeps unknown fields, string keys, numbers and nested literals for the caller to judge", () => {
    expect(fieldsOf(`${BASE} "quoted-key": 'x', extra: { "a b": [1, 0, 2.5, true, null, {}, []], c: \`t\` }, ${FUNCTIONS}`)).toStrictEqual({
      revision: "0123456789ab",
      revises: null,
      message: "m",
      "quoted-key": "x",
      extra: { "a b": [1, 0, 2.5, true, null, {}, []], c: "t" },
    });
  });

  it("reads an object literal exported directly, and one with no functions", () => {
    const text = `export default { revision: "0123456789ab", revises: "aaaaaaaaaaaa", message: "m" };`;
    expect(readStaticMetadata(text)).toStrictEqual({
      fields: { revision: "0123456789ab", revises: "aaaaaaaaaaaa", message: "m" },
      functions: { upgrade: false, downgrade: false },
      selfContained: true,
    });
  });

  it("reads the end of the statement by a semicolon, the end of the file or a new line", () => {
    const literal = `defineMigration({ ${BASE} })`;
    for (const text of [`${IMPORT}export default ${literal}`, `${IMPORT}export default ${literal}\nconst x = 1;`, `${IMPORT}export default ${literal} // end`]) {
      expect(readStaticMetadata(text)?.fields).toStrictEqual({ revision: "0123456789ab", revises: null, message: "m" });
    }
  });

  it("skips other top-level statements, before and after", () => {
    const text = `${IMPORT}
      const TABLE = "users";
      function helper(a: number, b: number): number { return a / b; }
      export const other = { revision: "ffffffffffff" };
      export default defineMigration({ ${BASE} async upgrade(op) { await op.safeDropTable(TABLE); }, async downgrade() {} });
      export function after() { return /x/.test(TABLE); }
    `;
    expect(readStaticMetadata(text)?.fields).toStrictEqual({ revision: "0123456789ab", revises: null, message: "m" });
  });
});

describe("readStaticMetadata: strings", () => {
  // Each literal's value as JavaScript evaluates it.
  it.each([
    String.raw`"plain"`,
    String.raw`'single "double" \'escaped\''`,
    String.raw`"double 'single' \"escaped\""`,
    "`template 'single' \"double\" \\` \\${x}`",
    String.raw`"\n\t\r\b\f\v\0 \\ \/ \a \$"`,
    String.raw`"\x41\x7e\xFF \u0041\u00e9\uD83D\uDE00 \u{1F600}\u{0041}\u{10FFFF}"`,
    String.raw`"\0a"`,
    '"line \\\ncontinued \\\r\nand \\\rhere"',
    '"unicode raw: é 中文 😀 \u2028 \u2029"',
    '`multi\nline\r\nCRLF\rCR`',
    '`\\u{1F600} and \\x41`',
    String.raw`"\uD800 lone"`,
  ])("decodes %s", (literal) => {
    const expected = new Function(`return ${literal};`)() as string;
    expect(fieldsOf(`${BASE.replace('"m"', literal)} ${FUNCTIONS}`)?.message).toBe(expected);
  });

  it.each([
    ["a legacy octal escape", String.raw`"\1"`],
    ["a legacy octal escape after \\0", String.raw`"\01"`],
    ["\\8", String.raw`"\8"`],
    ["a short \\x escape", String.raw`"\x4"`],
    ["a short \\u escape", String.raw`"\u004"`],
    ["a \\u{} escape out of range", String.raw`"\u{110000}"`],
    ["an empty \\u{}", String.raw`"\u{}"`],
    ["an octal escape in a template", "`\\1`"],
  ])("refuses %s", (_, literal) => {
    expect(readStaticMetadata(file(`${BASE.replace('"m"', literal)} ${FUNCTIONS}`))).toBeUndefined();
  });

  it("refuses an octal escape anywhere in the file", () => {
    expect(readStaticMetadata(withBody(`const s = "\\07";`))).toBeUndefined();
  });
});

describe("readStaticMetadata: comments", () => {
  it("reads through comments everywhere", () => {
    const text = `// leading } " ' \`
/* block { */ import /* a */ { defineMigration } /* b */ from /* c */ "retort-migrate"; // } "

/** doc { */
export /* x */ default /* y */ defineMigration /* z */ ( /* { */ {
  // revision: "ffffffffffff",
  revision /* } */ : /* " */ "0123456789ab" /* , */ , // "}
  /* message: "no", */ revises: [ /* ] */ "aaaaaaaaaaaa" // ]
  , /* , */ ],
  message: "m", /*
  multi-line }
  */
  async upgrade(op) { // }
    /* } */
  },
  async downgrade(op) {}, // }
  /* } */ } /* ) */ ) /* ; */ ; // end }
`;
    expect(readStaticMetadata(text)).toStrictEqual({
      fields: { revision: "0123456789ab", revises: ["aaaaaaaaaaaa"], message: "m" },
      functions: { upgrade: true, downgrade: true },
      selfContained: true,
    });
  });

  it("reads a file that starts with #!", () => {
    expect(readStaticMetadata(`#!/usr/bin/env node\n${file(BASE)}`)?.fields.revision).toBe("0123456789ab");
  });
});

describe("readStaticMetadata: upgrade and downgrade bodies", () => {
  it.each([
    ["regex literals holding brackets", `if (/}/.test("x")) { void 0; } const r = /[/{(]/g; const t = /\\/}/;`],
    ["divisions", `const a = 6, b = 3, c = 2; const d = a / b / c; const e = (a + b) / 2; const f = [a][0] / b;`],
    ["division then a regex", `let x = 0; const y = 4; let z: RegExp; x = y / 2; z = /{/;`],
    ["regexes after keywords", `if (typeof /{/ === "object") { void /}/; } const f = () => /}/; const g = (x: string) => { return /[}]/.test(x); };`],
    ["a regex after an if head", `let s = "}"; if (s) /}/.test(s);`],
    ["a division after ++", `let i = 0; const j = i++ / 2; const k = i-- / 2;`],
    ["keywords used as property names", `const o = { return: 4, typeof: 2 }; const q = o.return / o.typeof / 2;`],
    ["nested templates", "const a = `${ `${\"}\"}` }`; const b = `{${`}${'{'}`}}`; const c = `${ { x: '}' }.x }`;"],
    ["SQL in templates", "await op.execute(`CREATE TABLE \"users\" (id bigint, name text DEFAULT '}') -- }`);\nawait op.execute(sql`UPDATE t SET a = ${1} / 2 WHERE b ~ '/{/'`);"],
    ["strings holding brackets and quotes", `const s = "}" + '{' + "\\"}" + '\\'{' + "/*" + '//';`],
    ["generic type annotations", "const xs: Array<{ a: string }> = []; const m = new Map<string, Array<{ b: number }>>(); const p: Promise<void> = Promise.resolve();"],
    ["a class and arrow functions", "class A { x = 1; m(): { y: number } { return { y: this.x / 2 }; } } const f = (a: number): number => a / 2;"],
    ["object literals and blocks", "const o = { a: { b: [1, { c: 2 }] } }; { const x = o.a; } label: for (const k of [1]) { break label; }"],
  ])("skips %s", (_, body) => {
    const text = withBody(body);
    expect(readStaticMetadata(text)).toStrictEqual({
      fields: { revision: "0123456789ab", revises: null, message: "m" },
      functions: { upgrade: true, downgrade: true },
      selfContained: true,
    });
  });

  it.each([
    ["methods with types", "async upgrade(op: Operations): Promise<void> { await op.x(); }, downgrade(op: Operations): void {}"],
    ["a return type holding braces", "async upgrade(op): Promise<Array<{ a: string }>> { return []; }, async downgrade(op): Promise<{ b: 1 }> { return { b: 1 }; }"],
    ["arrow functions", "upgrade: async (op) => { await op.x(); }, downgrade: (op) => op.y(1, 2)"],
    ["arrow functions with one parameter and return types", "upgrade: async op => {}, downgrade: async (op: Operations): Promise<void> => {},"],
    ["function expressions", "upgrade: async function (op) {}, downgrade: function named(op): void {},"],
    ["string keys", `"upgrade": async (op) => {}, async "downgrade"(op) {}`],
  ])("accepts upgrade and downgrade as %s", (_, members) => {
    const result = readStaticMetadata(file(`${BASE}\n${members}`, `${IMPORT}import type { Operations } from "retort-migrate";\n`));
    expect(result?.functions).toStrictEqual({ upgrade: true, downgrade: true });
    expect(result?.fields).toStrictEqual({ revision: "0123456789ab", revises: null, message: "m" });
  });

  it("says which functions are there", () => {
    expect(readStaticMetadata(file(`${BASE} async upgrade() {}`))?.functions).toStrictEqual({ upgrade: true, downgrade: false });
    expect(readStaticMetadata(file(`downgrade: () => {}, ${BASE}`))?.functions).toStrictEqual({ upgrade: false, downgrade: true });
  });
});

describe("readStaticMetadata: what it refuses", () => {
  it.each([
    ["a computed key", `${BASE} ["x"]: 1, ${FUNCTIONS}`],
    ["a spread", `${BASE} ...other, ${FUNCTIONS}`],
    ["a shorthand property", `revision, revises: null, message: "m", ${FUNCTIONS}`],
    ["a getter", `${BASE} get transactional() { return false; }, ${FUNCTIONS}`],
    ["a numeric key", `${BASE} 1: "x", ${FUNCTIONS}`],
    ["an identifier value", `revision: REV, revises: null, message: "m", ${FUNCTIONS}`],
    ["undefined", `${BASE} dependsOn: undefined, ${FUNCTIONS}`],
    ["null as any", `revision: "0123456789ab", revises: null as any, message: "m", ${FUNCTIONS}`],
    ["as const", `${BASE} branchLabels: ["a"] as const, ${FUNCTIONS}`],
    ["a call", `${BASE} createdAt: new Date().toISOString(), ${FUNCTIONS}`],
    ["a concatenation", `revision: "0123456789ab", revises: null, message: "a" + "b", ${FUNCTIONS}`],
    ["a negative number", `${BASE} n: -1, ${FUNCTIONS}`],
    ["an exponent", `${BASE} n: 1e3, ${FUNCTIONS}`],
    ["a template with a substitution", `revision: "0123456789ab", revises: null, message: \`m \${1}\`, ${FUNCTIONS}`],
    ["a duplicate key", `${BASE} revision: "ffffffffffff", ${FUNCTIONS}`],
    ["a duplicate key as a string", `${BASE} "message": "n", ${FUNCTIONS}`],
    ["a duplicate function", `${BASE} ${FUNCTIONS} upgrade: () => {},`],
    ["a duplicate key in a nested object", `${BASE} lint: { allow: [], allow: [] }, ${FUNCTIONS}`],
    ["__proto__", `${BASE} __proto__: null, ${FUNCTIONS}`],
    ["__proto__ nested", `${BASE} lint: { "__proto__": { allow: [] } }, ${FUNCTIONS}`],
    ["an array hole", `${BASE} dependsOn: ["aaaaaaaaaaaa", , "bbbbbbbbbbbb"], ${FUNCTIONS}`],
    ["a method for another key", `${BASE} revises() { return null; }, ${FUNCTIONS}`],
    ["an arrow for another key", `${BASE} message: () => "m", ${FUNCTIONS}`],
    ["an identifier for upgrade", `${BASE} upgrade: shared, async downgrade() {}`],
    ["a call for upgrade", `${BASE} upgrade: make(), async downgrade() {}`],
    ["a bound function for upgrade", `${BASE} upgrade: function () {}.bind(null), async downgrade() {}`],
    ["a generator method", `${BASE} *upgrade() {}, async downgrade() {}`],
    ["an async arrow across lines", `${BASE} upgrade: async\n(op) => {}, async downgrade() {}`],
    ["a conditional for upgrade", `${BASE} upgrade: ok ? (op) => {} : undefined, async downgrade() {}`],
  ])("refuses %s", (_, members) => {
    expect(readStaticMetadata(file(members))).toBeUndefined();
  });

  const literal = `({ ${BASE} ${FUNCTIONS} })`;
  it.each([
    ["defineMigration from another module", `import { defineMigration } from "./retort.ts";\nexport default defineMigration${literal};`],
    ["defineMigration not imported", `export default defineMigration${literal};`],
    ["defineMigration imported as a type", `import { type defineMigration } from "retort-migrate";\nexport default defineMigration${literal};`],
    ["another name of the package", `import { defineMigration as dm } from "retort-migrate";\nexport default defineMigration${literal};`],
    ["a namespace import", `import * as retort from "retort-migrate";\nexport default retort.defineMigration${literal};`],
    ["export default x", `${IMPORT}const x = defineMigration${literal};\nexport default x;`],
    ["export { m as default }", `${IMPORT}const m = defineMigration${literal};\nexport { m as default };`],
    ["export { default } from", `${IMPORT}export default defineMigration${literal};\nexport { default } from "./other.ts";`],
    ["two default exports", `${IMPORT}export default defineMigration${literal};\nexport default defineMigration${literal};`],
    ["a default export inside a block", `${IMPORT}namespace N { export default defineMigration${literal}; }`],
    ["a trailing member", `${IMPORT}export default defineMigration${literal}.foo;`],
    ["a trailing call", `${IMPORT}export default defineMigration${literal}();`],
    ["a trailing call on the next line", `${IMPORT}export default defineMigration${literal}\n(() => {})();`],
    ["satisfies", `${IMPORT}export default defineMigration${literal} satisfies X;`],
    ["satisfies on the next line", `${IMPORT}export default defineMigration${literal}\nsatisfies X;`],
    ["as", `${IMPORT}export default defineMigration${literal} as X;`],
    ["a second argument", `${IMPORT}export default defineMigration({ ${BASE} }, 1);`],
    ["type arguments", `${IMPORT}export default defineMigration<X>${literal};`],
    ["a parenthesised object", `${IMPORT}export default defineMigration((${literal}));`],
    ["export =", `${IMPORT}export default defineMigration${literal};\nexport = {};`],
    ["module.exports", `${IMPORT}export default defineMigration${literal};\nmodule.exports = {};`],
    ["unbalanced braces", `${IMPORT}export default defineMigration({ ${BASE} async upgrade() { { }, async downgrade() {} });`],
    ["an extra closing brace", `${IMPORT}export default defineMigration${literal};\n}`],
    ["mismatched brackets", `${IMPORT}export default defineMigration${literal};\nconst a = [1);`],
    ["an unterminated string", `${IMPORT}export default defineMigration${literal};\nconst s = "abc;`],
    ["a string across lines", `${IMPORT}export default defineMigration${literal};\nconst s = "a\nb";`],
    ["an unterminated block comment", `${IMPORT}export default defineMigration${literal};\n/* never closed`],
    ["an unterminated template", `${IMPORT}export default defineMigration${literal};\nconst s = \`abc \${1}`],
    ["an unterminated regex", `${IMPORT}export default defineMigration${literal};\nconst r = /abc;`],
    ["an escape in an identifier", `${IMPORT}export default defineMigration({ r\\u0065vision: "0123456789ab", revises: null, message: "m" });`],
    ["a regex or division after a closing brace", withBody("if (x) { y(); }\n/}/.test(z);")],
    ["a regex or division after `of`", withBody("for (const c of /}/.exec(s)) {}")],
    ["a regex or division at the start of a line", withBody("let s: string[]\n/}/.test(s);")],
    ["<!--, which esbuild reads as a comment", `${IMPORT}const a = 1 <!-- export default defineMigration${literal};`],
    ["-->, which esbuild reads as a comment", `${IMPORT}\n--> export default defineMigration${literal};`],
    ["no default export", `${IMPORT}export const m = defineMigration${literal};`],
    ["an empty file", ""],
  ])("refuses %s", (_, text) => {
    expect(readStaticMetadata(text)).toBeUndefined();
  });

  it("accepts defineMigration under another local name", () => {
    const text = `import { defineMigration as dm } from "retort-migrate";\nexport default dm${literal};`;
    expect(readStaticMetadata(text)?.fields).toStrictEqual({ revision: "0123456789ab", revises: null, message: "m" });
  });

  it("takes the package name to look for", () => {
    const text = `import { defineMigration } from "@acme/migrate";\nexport default defineMigration${literal};`;
    expect(readStaticMetadata(text)).toBeUndefined();
    expect(readStaticMetadata(text, "@acme/migrate")?.selfContained).toBe(true);
  });
});

describe("readStaticMetadata: selfContained", () => {
  const selfContained = (extra: string, body = "") =>
    readStaticMetadata(`${IMPORT}${extra}\nexport default defineMigration({ ${BASE} async upgrade(op) { ${body} }, async downgrade(op) {} });\n`)?.selfContained;

  it.each([
    ["a named import from a local file", `import { x } from "./helpers.ts";`],
    ["a default import", `import helpers from "./helpers.ts";`],
    ["a default and named import", `import helpers, { y } from "./helpers.ts";`],
    ["a namespace import", `import * as helpers from "./helpers.ts";`],
    ["a side-effect import", `import "./side-effect.ts";`],
    ["an import with inline type modifiers only", `import { type Foo } from "./x";`],
    ["an import named type", `import type from "./x";`],
    ["export * from", `export * from "./other.ts";`],
    ["export * as from", `export * as other from "./other.ts";`],
    ["export { } from", `export { a } from "./other.ts";`],
    ["a Node built-in", `import { readFileSync } from "node:fs";`],
    ["import = require", `import fs = require("node:fs");`],
  ])("is false with %s", (_, extra) => {
    expect(selfContained(extra)).toBe(false);
  });

  it.each([
    ["a dynamic import", `await import("./helpers.ts");`],
    ["require", `require("./helpers.cjs");`],
    ["require by another name", `const r = require; r("x");`],
    ["import.meta", `console.log(import.meta.url);`],
    ["an import() type", `const o: import("./types.ts").Foo = op as never;`],
  ])("is false with %s in a body", (_, body) => {
    expect(selfContained("", body)).toBe(false);
  });

  it.each([
    ["nothing else", ""],
    ["import type from the package", `import type { Operations } from "retort-migrate";`],
    ["import type from a local file", `import type { Foo } from "./types.ts";`],
    ["import type of a default", `import type Foo from "./types.ts";`],
    ["import type * as", `import type * as T from "./types.ts";`],
    ["export type from a local file", `export type { Foo } from "./types.ts";`],
    ["other imports from the package", `import { sql, type Operations } from "retort-migrate";`],
    ["property names import and require", `const o = { import: 1, require: 2 }; const p = o.import + o.require;`],
  ])("is true with %s", (_, extra) => {
    expect(selfContained(extra)).toBe(true);
  });
});

describe("readStaticMetadata agrees with the compiler", () => {
  const id = fc.stringMatching(/^[0-9a-f]{12}$/);
  /** Text with every kind of quote, escape-worthy and non-ASCII character. */
  const text = fc.oneof(
    fc.string({ unit: "binary", maxLength: 30 }),
    fc.string({ unit: fc.constantFrom("'", '"', "`", "\\", "$", "{", "}", "/", "*", "\n", "\r", "\u2028", "\0", "é", "😀", "a", " "), maxLength: 20 }),
  );
  const json: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      text,
      fc.boolean(),
      fc.constant(null),
      fc.nat(),
      fc.nat(1_000_000).map((n) => n / 100),
      fc.array(tie("value"), { maxLength: 3 }),
      fc.dictionary(text.filter((k) => k !== "__proto__"), tie("value"), { maxKeys: 3 }),
    ),
  })).value;
  const ids = fc.uniqueArray(id, { minLength: 1, maxLength: 3 });
  const metadata = fc.record(
    {
      revision: id,
      revises: fc.oneof(fc.constant(null), id, ids),
      message: text,
      createdAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      dependsOn: fc.oneof(id, ids),
      branchLabels: fc.oneof(text, fc.array(text, { maxLength: 3 })),
      transactional: fc.boolean(),
      irreversible: fc.boolean(),
      lint: fc.record({ allow: fc.array(text, { maxLength: 2 }) }),
      extra: json,
    },
    { requiredKeys: ["revision", "revises", "message"] },
  );
  const comment = fc.constantFrom("", " ", "\n", " // } \" ' ` {\n", " /* } { ) ( */ ", "\n/** doc: revision: \"x\", */\n", "\r\n");
  const BODIES = [
    "",
    "const a = 6, b = 3, c = 2; const d = a / b / c; void d;",
    'if (/}/.test("x")) { void 0; } const r = /[/{]/g; void r;',
    "let x = 0; const y = 4; let z: RegExp; x = y / 2; z = /{/; void x; void z;",
    'const s = `${ `${"}"}` }`; const t = `{${`}${"{"}`}}`; void s; void t;',
    "await op.execute(`CREATE TABLE \"users\" (id bigint, name text DEFAULT '}')`); // }",
    "const xs: Array<{ a: string }> = [{ a: \"}\" }]; const q = '\\'}' + \"\\\"{\"; void xs; void q;",
    "/* } */ const o = { return: 1 }; const h = o.return / 2; void h;",
  ];
  const FORMS = [
    (name: string, body: string) => `async ${name}(op: Operations): Promise<void> {\n${body}\n}`,
    (name: string, body: string) => `${name}: async (op) => {\n${body}\n}`,
    (name: string, body: string) => `${name}: async function (op) {\n${body}\n}`,
    (name: string, body: string) => `async "${name}"(op) {\n${body}\n}`,
  ];
  const fn = (name: string) =>
    fc.tuple(fc.nat(FORMS.length - 1), fc.constantFrom(...BODIES)).map(([form, body]) => FORMS[form]!(name, body));
  /** A property name, bare when it can be and `bare`. */
  const key = (k: string, bare: boolean) => (bare && /^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k));

  /** JSON-like `value` as TypeScript source, comments between tokens. */
  const render = (value: unknown, gap: string, bare: boolean): string => {
    if (Array.isArray(value)) return `[${gap}${value.map((v) => render(v, gap, bare)).join(`,${gap}`)}${gap}]`;
    if (typeof value === "object" && value !== null) {
      return `{${gap}${Object.entries(value).map(([k, v]) => `${key(k, bare)}${gap}:${gap}${render(v, gap, bare)}`).join(`,${gap}`)}${gap}}`;
    }
    return JSON.stringify(value);
  };

  /** The file compiled by esbuild and run as CommonJS: its default export. */
  const evaluate = (source: string): Record<string, unknown> => {
    const { code } = transformSync(source, { loader: "ts", format: "cjs" });
    const module = { exports: {} as { default?: Record<string, unknown> } };
    const require = (name: string) => {
      if (name === "retort-migrate") return { defineMigration: (d: unknown) => d };
      throw new Error(`unexpected require(${name})`);
    };
    new Function("require", "module", "exports", code)(require, module, module.exports);
    return module.exports.default!;
  };

  it("reads what the file states, as esbuild compiles and runs it", () => {
    fc.assert(
      fc.property(metadata, fn("upgrade"), fn("downgrade"), fc.nat(), fc.nat(), comment, comment, fc.boolean(), (m, up, down, at1, at2, gap, gap2, bare) => {
        const members = Object.entries(m).map(([k, v]) => `${key(k, bare)}${gap}:${gap2}${render(v, gap, bare)}`);
        members.splice(at1 % (members.length + 1), 0, up);
        members.splice(at2 % (members.length + 1), 0, down);
        const source = `import { defineMigration } from "retort-migrate";${gap2}import type { Operations } from "retort-migrate";
${gap}export default defineMigration({${gap}
  ${members.join(`,${gap}\n  `)}${at1 % 2 ? "," : ""}${gap2}
})${at2 % 2 ? ";" : ""}${gap}
`;
        const read = readStaticMetadata(source);
        expect(read).toBeDefined();
        // fast-check's records have no prototype; these are the same values as plain objects.
        expect(read!.fields).toStrictEqual(JSON.parse(JSON.stringify(m)));
        expect(Object.keys(read!.fields)).toEqual(Object.keys(m));
        expect(read!.functions).toStrictEqual({ upgrade: true, downgrade: true });
        expect(read!.selfContained).toBe(true);

        const { upgrade, downgrade, ...fields } = evaluate(source);
        expect(typeof upgrade).toBe("function");
        expect(typeof downgrade).toBe("function");
        expect(fields).toStrictEqual(read!.fields);
      }),
      { numRuns: 300 },
    );
  });

  const TRICKY = `import { defineMigration as dm } from "retort-migrate";
import type { Operations } from "retort-migrate";
const half = (a: number, b: number) => a / b / 2;
export default dm({
  revision: "0123456789ab", // }
  revises: ["aaaaaaaaaaaa", 'bbbbbbbbbbbb'],
  message: "it's \\"quoted\\" \\u00e9",
  createdAt: \`2026-01-01T00:00:00.000Z\`,
  lint: { allow: ["a: b"], extra: [1, 2.5, { c: null }] },
  transactional: false,
  async upgrade(op: Operations): Promise<void> {
    if (/}/.test("x")) { void half(1, 2); }
    const s = \`\${ \`\${"}"}\` }\`;
    await op.execute(\`CREATE TABLE "users" (id bigint) -- }\`);
  },
  downgrade: async (op) => { let x = 0; const y = 4; let z: RegExp; x = y / 2; z = /{/; },
});
`;
  const FRAGMENTS = [
    "}", "{", ")", "(", "[", "]", "/", '"', "'", "`", "${", "//", "/*", "*/", "\\", "\n", "\r\n", "\u2028", " ", ",", ":", ";",
    " as any", ".x", "!", ' + "a"', "-", "...", "get ", "async ", "=>", " satisfies X", "=", "<T>", "?", "?.", "*", "#", "++", "0", "1.5",
    "x", "of ", "in ", "return ", "default", "export ", "const ", "type ", "__proto__", '"upgrade"', "upgrade", "revision", "\\u0041",
    "\\x4", "\\0", "\\1", "<!--", "-->", "let s: string[]\n", "/}/", "/{/", "\n/x/.test(s)", "if (x) ", "}`", "\u00a0",
  ];
  const mutation = fc.record({ at: fc.nat(), remove: fc.nat(4), insert: fc.option(fc.constantFrom(...FRAGMENTS), { nil: undefined }) });

  it("never reads a value that the compiled file does not give, however the file is changed", () => {
    const bases = [TRICKY, migrationTemplate({ revision: "0123456789ab", revises: ["aaaaaaaaaaaa"], message: "m", createdAt: "2026-01-01T00:00:00.000Z" })];
    fc.assert(
      fc.property(fc.nat(bases.length - 1), fc.array(mutation, { minLength: 1, maxLength: 3 }), (base, mutations) => {
        let source = bases[base]!;
        for (const { at, remove, insert } of mutations) {
          const p = at % (source.length + 1);
          source = insert === undefined ? source.slice(0, p) + source.slice(p + 1 + remove) : source.slice(0, p) + insert + source.slice(p);
        }
        const read = readStaticMetadata(source);
        if (!read) return;
        let exported: Record<string, unknown>;
        try {
          exported = evaluate(source);
        } catch {
          return; // a file that does not compile or run: its code is loaded when it runs, and fails then
        }
        const { upgrade, downgrade, ...fields } = exported;
        expect(fields).toStrictEqual(read.fields);
        expect(read.functions).toStrictEqual({ upgrade: typeof upgrade === "function", downgrade: typeof downgrade === "function" });
        expect(Object.keys(exported).length).toBe(Object.keys(fields).length + Number(read.functions.upgrade) + Number(read.functions.downgrade));
      }),
      { numRuns: 2000 },
    );
  });
});
