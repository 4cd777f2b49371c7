// `retort revision` and `retort reset-heads`: write a new migration file from the template.
import { RetortError } from "../errors.ts";
import { randomBytes } from "node:crypto";
import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { MultipleHeadsError } from "../revision/errors.ts";
import type { RevisionMap } from "../revision/graph.ts";
import { displayPath, slugify } from "../revision/loader.ts";
import type { Migration } from "../revision/migration.ts";
import { migrationTemplate } from "../revision/template.ts";
import { LoadNeed } from "../revision/loader.ts";
import { type Context, loadSoundGraph } from "./context.ts";

export interface WrittenRevision {
  revision: string;
  revises: string[];
  message: string;
  file: string;
  /** The migrations directory, when this revision created it (the project's first). */
  createdDirectory?: string;
}

export class UsageError extends RetortError {
  override readonly code: string = "usage";
  override name = "UsageError";
}

export async function revision(ctx: Context, options: { message: string; head?: string }): Promise<WrittenRevision> {
  const message = options.message.trim();
  if (!message) throw new UsageError('A message is required: retort revision -m "add email to users"');
  // A project's first revision: the directory does not exist yet, and there is nothing to load.
  const createdDirectory = await createMissingDirectory(ctx.directory);
  const { map } = await loadSoundGraph(ctx, LoadNeed.Metadata);
  let revises: string[];
  if (options.head !== undefined) {
    revises = options.head === "base" ? [] : map.resolve(options.head);
  } else {
    const heads = map.heads();
    if (heads.length > 1) {
      throw new MultipleHeadsError(
        heads.map((h) => ({ revision: h.revision, file: h.file, message: h.message })),
        "Can't choose what the new revision revises: the migrations have",
        "pass `--head <revision>` to build on one of them, or run `retort reset-heads` first",
      );
    }
    revises = heads.map((h) => h.revision);
  }
  const written = await writeRevision(ctx, map, { message, revises });
  return createdDirectory ? { ...written, createdDirectory } : written;
}

/** Creates the migrations directory when it does not exist; its path as users see it when it did not. */
async function createMissingDirectory(directory: string | undefined): Promise<string | undefined> {
  if (!directory) return undefined;
  const absolute = path.resolve(directory);
  const existing = await stat(absolute).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (existing) return undefined;
  await mkdir(absolute, { recursive: true });
  return displayPath(absolute);
}

export async function resetHeads(
  ctx: Context,
  options: { message?: string } = {},
): Promise<{ heads: string[]; written: WrittenRevision | null }> {
  const { map } = await loadSoundGraph(ctx, LoadNeed.Metadata);
  const heads = map.heads().map((h) => h.revision);
  if (heads.length <= 1) return { heads, written: null };
  const written = await writeRevision(ctx, map, { message: options.message ?? "merge heads", revises: heads });
  return { heads, written };
}

async function writeRevision(
  ctx: Context,
  map: RevisionMap<Migration>,
  input: { message: string; revises: string[] },
): Promise<WrittenRevision> {
  if (!ctx.directory) throw new UsageError("No migrations directory to write to; pass --dir");
  const now = (ctx.now ?? (() => new Date()))();
  let id: string;
  do id = randomBytes(6).toString("hex");
  while (map.has(id));
  const day = now.toISOString().slice(0, 10).replaceAll("-", "");
  const slug = slugify(input.message) || "migration";
  const text = migrationTemplate({ revision: id, revises: input.revises, message: input.message, createdAt: now.toISOString().replace(/\.\d{3}Z$/, "Z") });
  for (let n = 1; ; n += 1) {
    const file = path.resolve(ctx.directory, `${day}_${slug}${n > 1 ? `_${n}` : ""}.ts`);
    try {
      await writeFile(file, text, { flag: "wx" });
      return { revision: id, revises: input.revises, message: input.message, file: displayPath(file) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
}
