// "Did you mean": the known ids closest to a mistyped one, for error messages.

/** Up to `limit` candidates within a small edit distance (or sharing a 4+ character prefix). */
export function nearestIds(wanted: string, known: Iterable<string>, limit = 3): string[] {
  const scored: { id: string; score: number }[] = [];
  for (const id of known) {
    const d = boundedDistance(wanted, id, 3);
    const prefix = commonPrefix(wanted, id);
    if (d <= 3 || prefix >= 4) scored.push({ id, score: Math.min(d, 12 - prefix) });
  }
  return scored
    .sort((a, b) => a.score - b.score || (a.id < b.id ? -1 : 1))
    .slice(0, limit)
    .map((s) => s.id);
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i += 1;
  return i;
}

/** Levenshtein distance, giving up (returning max + 1) as soon as it must exceed `max`. */
function boundedDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const v = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      row.push(v);
      if (v < best) best = v;
    }
    if (best > max) return max + 1;
    prev = row;
  }
  return prev[b.length]!;
}
