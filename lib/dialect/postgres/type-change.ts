// What changing a column's type costs in PostgreSQL: whether ALTER COLUMN ... TYPE rewrites the
// table (and its indexes) under an ACCESS EXCLUSIVE lock, and whether the new type is narrower
// than the old one (existing values may not fit). Types are compared in normalizeType's spelling.
import type { TypeChange } from "../dialect.ts";
import { normalizeType } from "./types.ts";


interface ParsedType {
  readonly name: string;
  /** Type modifiers, e.g. [100] for varchar(100), [10, 2] for numeric(10,2); [] when none. */
  readonly mods: readonly number[];
}

function parse(type: string): ParsedType {
  const normal = normalizeType(type);
  const m = /^([^()]+?)(?:\(([\d,\s]*)\))?((?: with| without) time zone)?$/.exec(normal);
  if (!m) return { name: normal, mods: [] };
  const mods = m[2] === undefined ? [] : m[2].split(",").map((x) => Number(x.trim()));
  return { name: `${m[1]}${m[3] ?? ""}`, mods };
}

const INTEGER_RANK: Readonly<Record<string, number>> = { smallint: 1, integer: 2, bigint: 3 };
/** Decimal digits each integer type needs, to know when numeric(p,s) holds every value. */
const INTEGER_DIGITS: Readonly<Record<string, number>> = { smallint: 5, integer: 10, bigint: 19 };
const TEXTUAL = new Set(["text", "character varying"]);

/** `using`: an explicit USING conversion always rewrites. */
export function typeChange(from: string, to: string, using = false): TypeChange {
  const a = parse(from);
  const b = parse(to);
  if (a.name === b.name && a.mods.join() === b.mods.join()) return { rewrite: using, narrowing: false };
  const widening = isWidening(a, b);
  return { rewrite: using || !isBinaryCoercible(a, b), narrowing: !widening };
}

/** Changes PostgreSQL makes in the catalog only, without touching the rows. */
function isBinaryCoercible(a: ParsedType, b: ParsedType): boolean {
  // varchar(n) -> varchar(m >= n), varchar, text; text -> varchar without a limit.
  if (TEXTUAL.has(a.name) && TEXTUAL.has(b.name)) return b.mods.length === 0 || (a.mods.length > 0 && b.mods[0]! >= a.mods[0]!);
  if (a.name === "bit varying" && b.name === "bit varying") return b.mods.length === 0 || (a.mods.length > 0 && b.mods[0]! >= a.mods[0]!);
  // numeric(p,s) -> numeric(p2 >= p, s), or numeric without limits.
  if (a.name === "numeric" && b.name === "numeric") return b.mods.length === 0 || (a.mods.length > 0 && b.mods[1] === a.mods[1] && b.mods[0]! >= a.mods[0]!);
  if (a.name === "cidr" && b.name === "inet") return true;
  if (a.name === "xml" && b.name === "text") return true;
  return false;
}

/** Every value of `a` has an equal value in `b`. */
function isWidening(a: ParsedType, b: ParsedType): boolean {
  if (b.name === "text") return true;
  if (TEXTUAL.has(a.name) && b.name === "character varying") {
    if (b.mods.length === 0) return true;
    return a.name === "character varying" && a.mods.length > 0 && b.mods[0]! >= a.mods[0]!;
  }
  if (a.name === "character" && b.name === "character varying") return b.mods.length === 0 || b.mods[0]! >= (a.mods[0] ?? 1);
  if (a.name === "character" && b.name === "character") return b.mods[0]! >= a.mods[0]!;
  if (a.name in INTEGER_RANK && b.name in INTEGER_RANK) return INTEGER_RANK[b.name]! >= INTEGER_RANK[a.name]!;
  if (a.name in INTEGER_RANK && b.name === "numeric") return b.mods.length === 0 || b.mods[0]! - (b.mods[1] ?? 0) >= INTEGER_DIGITS[a.name]!;
  if (a.name === "numeric" && b.name === "numeric") {
    if (b.mods.length === 0) return true;
    if (a.mods.length === 0) return false;
    const [p, s = 0] = a.mods as [number, number?];
    const [p2, s2 = 0] = b.mods as [number, number?];
    return s2 >= s && p2 - s2 >= p - s;
  }
  if (a.name === "real" && b.name === "double precision") return true;
  if ((a.name === "smallint" || a.name === "integer") && b.name === "double precision") return true;
  if (a.name === "smallint" && b.name === "real") return true;
  if (a.name === "date" && b.name.startsWith("timestamp")) return true;
  if (a.name.startsWith("timestamp") && b.name.startsWith("timestamp")) return (b.mods[0] ?? 6) >= (a.mods[0] ?? 6);
  if (a.name === "cidr" && b.name === "inet") return true;
  if (a.name === "json" && b.name === "jsonb") return true;
  if (a.name === "bit varying" && b.name === "bit varying") return b.mods.length === 0 || (a.mods.length > 0 && b.mods[0]! >= a.mods[0]!);
  return false;
}
