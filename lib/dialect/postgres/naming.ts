// PostgreSQL's naming convention for constraints nobody named (users_pkey, users_email_key,
// orders_user_id_fkey), including its truncation to 63 bytes. retort always renders an explicit
// CONSTRAINT name, so the snapshot knows the name without asking, and it is the one a DBA expects.
import type { ConstraintLabel } from "../dialect.ts";
import { MAX_IDENTIFIER_BYTES, utf8Length } from "./quote.ts";

const utf8 = new TextEncoder();
const decoder = new TextDecoder();

/** Longest prefix of `text` of at most `bytes` UTF-8 bytes that does not split a character. */
function clip(text: string, bytes: number): string {
  if (utf8Length(text) <= bytes) return text;
  const encoded = utf8.encode(text);
  let end = bytes;
  // Continuation bytes are 10xxxxxx; back up to the start of a character.
  while (end > 0 && (encoded[end]! & 0xc0) === 0x80) end -= 1;
  return decoder.decode(encoded.subarray(0, end));
}

/** PostgreSQL's makeObjectName: name1_name2_label, shortening the longer part first. */
export function makeObjectName(name1: string, name2: string | null, label: string): string {
  let name1Bytes = utf8Length(name1);
  let name2Bytes = name2 === null ? 0 : utf8Length(name2);
  const overhead = (name2 === null ? 0 : 1) + label.length + 1;
  const available = MAX_IDENTIFIER_BYTES - overhead;
  while (name1Bytes + name2Bytes > available) {
    if (name1Bytes > name2Bytes) name1Bytes -= 1;
    else name2Bytes -= 1;
  }
  const parts = [clip(name1, name1Bytes)];
  if (name2 !== null) parts.push(clip(name2, name2Bytes));
  parts.push(label);
  return parts.join("_");
}

export function constraintName(
  table: string,
  columns: readonly string[],
  label: ConstraintLabel | `${ConstraintLabel}${number}`,
): string {
  if (label.startsWith("pkey")) return makeObjectName(table, null, label);
  return makeObjectName(table, columns.length > 0 ? columns.join("_") : null, label);
}
