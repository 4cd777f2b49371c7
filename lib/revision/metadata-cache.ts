// What is known about migration files without running them, kept between runs: each content's
// metadata (revision, edges, labels, message, flags), keyed by the checksum of that content, so an
// entry can only ever describe a file with exactly that text; a changed file has a new checksum
// and is read again. An entry is "verified" when that content was also imported and its code gave
// exactly this metadata: only then may `check` skip compiling it, and only for a self-contained
// file (one that imports nothing but retort), whose loading depends on its own text alone.
// One JSON file per migrations directory in the private cache directory. It is a cache: unreadable,
// from another Node or retort, or absent, it is simply empty.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "../own-files.ts";
import { privateCacheDirectory, writeWhole } from "./cache-directory.ts";
import type { MigrationMetadata } from "./migration.ts";

/** Bumped whenever what an entry means changes (the static reader, the metadata's shape). */
const FORMAT = 1;

export interface CachedMetadata {
  metadata: MigrationMetadata;
  /** This content was imported and its code gave this metadata. */
  verified: boolean;
}

interface CacheFile {
  format: number;
  /** The Node and retort that verified the entries. */
  runtime: string;
  entries: Record<string, CachedMetadata>;
}

let runtimeId: string | undefined;

/** Node's version and retort's: what importing a file depends on besides its text. */
function runtime(): string {
  if (runtimeId === undefined) {
    let retort = "unknown";
    try {
      retort = (JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version?: string }).version ?? retort;
    } catch {
      // an incomplete package: its entries are still keyed by content
    }
    runtimeId = `node ${process.version}, retort ${retort}`;
  }
  return runtimeId;
}

export class MetadataCache {
  private changed = false;

  private constructor(
    private readonly file: string | undefined,
    private entries: Map<string, CachedMetadata>,
  ) {}

  /**
   * The cache of one migrations directory (absolute path); empty and unsaved when `enabled` is
   * false or there is no private directory.
   */
  static async open(directory: string, enabled = true): Promise<MetadataCache> {
    const dir = enabled ? await privateCacheDirectory("metadata") : undefined;
    if (!dir) return new MetadataCache(undefined, new Map());
    const file = path.join(dir, `${createHash("sha256").update(directory).digest("hex").slice(0, 24)}.json`);
    let entries = new Map<string, CachedMetadata>();
    try {
      const parsed = JSON.parse(readFileSync(file, "utf8")) as CacheFile;
      if (parsed.format === FORMAT && parsed.runtime === runtime()) entries = new Map(Object.entries(parsed.entries));
    } catch {
      // none yet, or unreadable: start empty
    }
    return new MetadataCache(file, entries);
  }

  get(checksum: string): CachedMetadata | undefined {
    return this.entries.get(checksum);
  }

  set(checksum: string, metadata: MigrationMetadata, verified: boolean): void {
    const old = this.entries.get(checksum);
    if (old && (old.verified || !verified)) return;
    this.entries.set(checksum, { metadata, verified });
    this.changed = true;
  }

  /** Writes the entries of the checksums in `current` (the directory's files now) when anything changed. */
  async save(current: ReadonlySet<string>): Promise<void> {
    for (const checksum of this.entries.keys()) {
      if (!current.has(checksum)) {
        this.entries.delete(checksum);
        this.changed = true;
      }
    }
    if (!this.file || !this.changed) return;
    const body: CacheFile = { format: FORMAT, runtime: runtime(), entries: Object.fromEntries(this.entries) };
    await writeWhole(this.file, JSON.stringify(body)).catch(() => undefined);
    this.changed = false;
  }
}
