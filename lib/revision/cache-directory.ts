// retort's private cache directory: `<tmpdir>/retort-<uid>/<part>`, created 0700 and used only when
// it and its parent are real directories owned by this user that no one else can write. The
// compiled migrations are imported from there (compile.ts), and the metadata read from there is
// trusted to describe the files (metadata-cache.ts): a directory others could write would let them
// choose either. Nothing depends on the cache being there; without it, every run compiles and reads.
import { randomBytes } from "node:crypto";
import { lstat, mkdir, rename, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** The private directory for `part`, or undefined when none can be had safely. */
export async function privateCacheDirectory(part: string): Promise<string | undefined> {
  const user = process.getuid?.() ?? os.userInfo().username;
  const dir = path.join(os.tmpdir(), `retort-${user}`, part);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const d of [dir, path.dirname(dir)]) {
      const s = await lstat(d);
      if (!s.isDirectory() || (process.getuid && s.uid !== process.getuid()) || (s.mode & 0o022) !== 0) return undefined;
    }
  } catch {
    return undefined;
  }
  return dir;
}

/** Writes `file` whole: to a partial file first, renamed into place, so no reader sees half of it. */
export async function writeWhole(file: string, text: string): Promise<void> {
  const partial = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.partial`;
  await writeFile(partial, text, { mode: 0o600 });
  await rename(partial, file);
}
