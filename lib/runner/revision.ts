// `retort revision` and `retort reset-heads`: write a new migration file from the template.
import { RetortError } from "../errors.ts";
import { randomBytes } from "node:crypto";
import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { MultipleHeadsError } from "../revision/errors.ts";
import type { RevisionMap } from "../revision/graph.ts";
import { displayPath, slugify } from "../revision/loader.ts";
import type { Migration } from "../revision/migration.ts";
import { migrationTemplate, type TemplateInput } from "../revision/template.ts";
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
  const revises = revisesFor(map, options.head);
  const written = await writeRevision(ctx, map, { message, revises });
  return createdDirectory ? { ...written, createdDirectory } : written;
}

/** What a new revision revises: `head` (or none for "base"), else the single head. */
export function revisesFor(map: RevisionMap<Migration>, head: string | undefined): string[] {
  if (head !== undefined) return head === "base" ? [] : map.resolve(head);
  const heads = map.heads();
  if (heads.length > 1) {
    throw new MultipleHeadsError(
      heads.map((h) => ({ revision: h.revision, file: h.file, message: h.message })),
      "Can't choose what the new revision revises: the migrations have",
      "pass `--head <revision>` to build on one of them, or run `retort reset-heads` first",
    );
  }
  return heads.map((h) => h.revision);
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

/** A revision id no migration of `map` has. */
export function newRevisionId(map: RevisionMap<Migration>): string {
  let id: string;
  do id = randomBytes(6).toString("hex");
  while (map.has(id));
  return id;
}

/** The template's text for a new revision (its body written, when given). */
export function revisionText(ctx: Context, input: { revision: string; message: string; revises: string[]; body?: TemplateInput["body"] }): string {
  const now = (ctx.now ?? (() => new Date()))();
  return migrationTemplate({ ...input, createdAt: now.toISOString().replace(/\.\d{3}Z$/, "Z") });
}

/** Writes a new migration file (a name not taken yet, from the date and the message): `text`, else the template's. */
export async function writeRevision(
  ctx: Context,
  map: RevisionMap<Migration>,
  input: { message: string; revises: string[]; revision?: string; text?: string },
): Promise<WrittenRevision> {
  if (!ctx.directory) throw new UsageError("No migrations directory to write to; pass --dir");
  const now = (ctx.now ?? (() => new Date()))();
  const id = input.revision ?? newRevisionId(map);
  const day = now.toISOString().slice(0, 10).replaceAll("-", "");
  const slug = slugify(input.message) || "migration";
  const text = input.text ?? revisionText(ctx, { ...input, revision: id });
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
