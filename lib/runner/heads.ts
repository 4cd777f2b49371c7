// `retort heads`, `retort history`: read the graph.
import type { Migration } from "../revision/migration.ts";
import { LoadNeed } from "../revision/loader.ts";
import { type Context, loadSoundGraph } from "./context.ts";

export async function heads(ctx: Context): Promise<{ heads: Migration[] }> {
  const { map } = await loadSoundGraph(ctx, LoadNeed.Metadata);
  return { heads: map.heads() };
}

export interface HistoryEntry {
  migration: Migration;
  isHead: boolean;
  isBranchPoint: boolean;
  isMergePoint: boolean;
}

/** Every revision, bases first; each comes after everything it revises or depends on. */
export async function history(ctx: Context): Promise<{ revisions: HistoryEntry[] }> {
  const { map } = await loadSoundGraph(ctx, LoadNeed.Metadata);
  const headIds = new Set(map.heads().map((h) => h.revision));
  const branchIds = new Set(map.branchPoints().map((b) => b.revision));
  return {
    revisions: map.topological().map((migration) => ({
      migration,
      isHead: headIds.has(migration.revision),
      isBranchPoint: branchIds.has(migration.revision),
      isMergePoint: migration.revises.length > 1,
    })),
  };
}

/** A revision as `history --json` and the programmatic API give it. */
export interface RevisionInfo {
  revision: string;
  revises: string[];
  dependsOn: string[];
  message: string;
  file: string;
}

/** The stable `history --json` contract: bases first, every revision after all it revises. */
export function revisionInfos(entries: readonly HistoryEntry[]): { revisions: RevisionInfo[] } {
  return {
    revisions: entries.map(({ migration: m }) => ({
      revision: m.revision,
      revises: m.revises,
      dependsOn: m.dependsOn,
      message: m.message,
      file: m.file,
    })),
  };
}
