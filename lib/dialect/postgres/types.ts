// Type names in the canonical spelling PostgreSQL's format_type prints, so a type a migration
// wrote ("varchar(100)", "timestamptz", "int[]") can be compared with an introspected one. Types
// it does not know (user enums, extensions) are returned tidied up but otherwise unchanged.

const ALIASES: Readonly<Record<string, string>> = {
  int: "integer",
  int4: "integer",
  integer: "integer",
  serial: "integer",
  serial4: "integer",
  int2: "smallint",
  smallint: "smallint",
  smallserial: "smallint",
  serial2: "smallint",
  int8: "bigint",
  bigint: "bigint",
  bigserial: "bigint",
  serial8: "bigint",
  float4: "real",
  real: "real",
  float8: "double precision",
  "double precision": "double precision",
  bool: "boolean",
  boolean: "boolean",
  varchar: "character varying",
  "character varying": "character varying",
  "char varying": "character varying",
  char: "character",
  character: "character",
  bpchar: "character",
  decimal: "numeric",
  numeric: "numeric",
  timestamptz: "timestamp with time zone",
  timetz: "time with time zone",
  varbit: "bit varying",
  "bit varying": "bit varying",
};

const SERIALS = new Set(["serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"]);

/** Lower-cases outside double quotes and removes spaces the grammar does not need. */
function tidy(type: string): string {
  let out = "";
  let quoted = false;
  for (const ch of type.trim().replace(/\s+/g, " ")) {
    if (ch === '"') quoted = !quoted;
    out += quoted ? ch : ch.toLowerCase();
  }
  return out.replace(/\s*([(),[\]])\s*/g, "$1").replace(/\)(?=[a-z])/g, ") ");
}

export function normalizeType(type: string): string {
  const text = tidy(type);
  const array = /^(.*?)((?:\[\d*\])+)$/.exec(text);
  // format_type prints one [] whatever the declared dimensions: PostgreSQL does not enforce them.
  if (array) return `${normalizeType(array[1]!)}[]`;
  if (text.endsWith(" array")) return `${normalizeType(text.slice(0, -" array".length))}[]`;

  const m = /^([a-z0-9_ ]+?)(?:\(([^()]*)\))?( with time zone| without time zone)?$/.exec(text);
  if (!m) return text;
  const [, rawName, modifiers, zone] = m as unknown as [string, string, string | undefined, string | undefined];
  const mods = modifiers === undefined ? "" : `(${modifiers})`;

  if (rawName === "timestamp" || rawName === "time") {
    return `${rawName}${mods}${zone ?? " without time zone"}`;
  }
  if (rawName === "timestamptz" || rawName === "timetz") {
    return `${rawName.slice(0, -2)}${mods} with time zone`;
  }
  if (zone !== undefined) return text;
  if (rawName === "float") {
    // float(p) is real up to 24 bits of precision, double precision above (and without p).
    return modifiers !== undefined && Number(modifiers) <= 24 ? "real" : "double precision";
  }
  const name = ALIASES[rawName] ?? rawName;
  if ((name === "character" || name === "bit") && modifiers === undefined) return `${name}(1)`;
  if (name === "numeric" && modifiers !== undefined && !modifiers.includes(",")) {
    return `numeric(${modifiers},0)`;
  }
  if (name === "integer" || name === "smallint" || name === "bigint") return name;
  return `${name}${mods}`;
}

/** serial, bigserial, smallserial: shorthand for an integer column owning a sequence. */
export function isSerialType(type: string): boolean {
  return SERIALS.has(tidy(type));
}
