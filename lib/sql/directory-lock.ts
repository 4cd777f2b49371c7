// An exclusive lock on a PGlite data directory across processes. PGlite is PostgreSQL in one
// process: two processes with the same directory open each run their own server on the same
// files and corrupt them. So whoever opens a directory first creates `<dir>.lock` (O_EXCL: one
// creator wins) holding its pid, host, command and start time, and removes it when it closes the
// database. Another process waits for it (--wait) or fails at once naming the holder. A lock whose
// holder is gone (a process on this host that no longer exists: kill -9, a crash) is taken over.
// The lock file sits beside the directory, so it can be taken before the directory exists; so it
// is also the first thing written, and a path that cannot hold it is refused here, by name.
import { randomBytes } from "node:crypto";
import { linkSync, unlinkSync, readFileSync } from "node:fs";
import { link, mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ConnectionError } from "./errors.ts";

export interface DirectoryLockHolder {
  pid: number;
  host: string;
  /** What the holder is running, e.g. `retort upgrade`. */
  command: string;
  /** ISO time the lock was taken. */
  since: string;
  /** Unique per acquisition: tells one holder's lock file from a successor's. */
  nonce: string;
}

/** The directory is held by another process (it names it, and says what to do). */
export class DirectoryLockedError extends ConnectionError {
  override readonly code: string = "database-in-use";
  protected override details(): Record<string, unknown> {
    return { directory: this.directory, holder: this.holder ?? null };
  }
  constructor(
    readonly directory: string,
    readonly holder: DirectoryLockHolder | undefined,
    readonly lockFile: string,
    waitedMs: number,
  ) {
    const who = holder
      ? `process ${holder.pid} on ${holder.host} (${holder.command}), since ${holder.since}`
      : "a process that is still writing the lock file";
    super(
      `The embedded database ${directory} is in use by ${who}${waitedMs > 0 ? `; waited ${Math.round(waitedMs / 1000)} s` : ""}. ` +
        `PGlite serves one process at a time: let it finish and run again, or pass --wait <duration> to queue behind it. ` +
        `If that process is not a retort (its pid was reused) or runs on another host that no longer uses this directory, delete ${lockFile}.`,
    );
    this.name = "DirectoryLockedError";
  }
}

/**
 * The directory cannot be made, or its lock file written beside it: the path names a place this
 * process cannot use (a virtual or read-only filesystem such as /proc, no permission, a file in
 * the way), not one that is busy. Waiting would not help.
 */
export class UnusableDirectoryError extends ConnectionError {
  override readonly code: string = "unusable-directory";
  /** What is wrong and what would do, as a clause (connect.ts puts it in a DatabaseUrlError). */
  readonly problem: string;

  constructor(
    readonly directory: string,
    /** What failed, e.g. `/proc/x.lock cannot be created (ENOENT: no such file or directory)`. */
    reason: string,
    options?: { cause?: unknown },
  ) {
    const problem =
      `the directory ${directory} cannot be used: ${reason}; ` + "name a directory this user can create and write, or an existing PGlite database";
    super(`Cannot open the embedded database: ${problem}.`, options);
    this.name = "UnusableDirectoryError";
    this.problem = problem;
  }
}

/** Errors of a path that is wrong for this process, as opposed to a passing fault (EIO, EMFILE, ENOSPC). */
const PATH_ERRORS = new Set(["ENOENT", "ENOTDIR", "EACCES", "EPERM", "EROFS", "EEXIST", "EISDIR", "ENAMETOOLONG", "ELOOP", "EINVAL"]);

/** `error` as UnusableDirectoryError when it is a path error from writing `target`; else itself. */
function unusable(directory: string, target: string, error: unknown): unknown {
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === undefined || !PATH_ERRORS.has(code)) return error;
  const detail = message.replace(/^\w+: /, "").replace(/, \w+ '.*'$/, "");
  return new UnusableDirectoryError(directory, `${target} cannot be created (${code}: ${detail})`, { cause: error });
}

/**
 * `mkdir -p` that answers instead of looping. Node 20's recursive mkdir spins forever, never
 * settling, where mkdir says ENOENT although the parent exists (/proc, some FUSE mounts): the
 * parents are made one by one here, and that ENOENT is thrown.
 */
export async function makeDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && (await stat(dir).catch(() => undefined))?.isDirectory()) return;
    const parent = path.dirname(dir);
    if (code !== "ENOENT" || parent === dir || (await stat(parent).catch(() => undefined))) throw error;
    await makeDirectory(parent);
    await makeDirectory(dir); // its parent exists now: an ENOENT again is thrown, not retried
  }
}

export interface DirectoryLockOptions {
  /** How long to wait for a holder, polling. @default 0: fail at once */
  waitMs?: number;
  /** Recorded for others to see. @default this process's command line, e.g. `retort upgrade` */
  command?: string;
}

/** A lock file being written is given this long before it is taken for a dead writer's. */
const PARTIAL_GRACE_MS = 5_000;

export class DirectoryLock {
  #released = false;
  readonly #onExit = () => this.#releaseSync();

  private constructor(
    readonly directory: string,
    readonly file: string,
    readonly holder: DirectoryLockHolder,
  ) {
    // A normal exit without close() (an uncaught error, process.exit) still frees the directory.
    process.once("exit", this.#onExit);
  }

  /** Takes the lock on `directory` (absolute), waiting up to `waitMs`. */
  static async acquire(directory: string, options: DirectoryLockOptions = {}): Promise<DirectoryLock> {
    const file = `${directory}.lock`;
    await makeDirectory(path.dirname(file)).catch((error: unknown) => {
      throw unusable(directory, path.dirname(file), error);
    });
    const holder: DirectoryLockHolder = {
      pid: process.pid,
      host: os.hostname(),
      command: options.command ?? commandLine(),
      since: new Date().toISOString(),
      nonce: randomBytes(8).toString("hex"),
    };
    const started = Date.now();
    const waitMs = options.waitMs ?? 0;
    for (let attempt = 0; ; attempt += 1) {
      const created = await create(file, holder).catch((error: unknown) => {
        throw unusable(directory, file, error);
      });
      if (created) return new DirectoryLock(directory, file, holder);
      const current = await readHolder(file);
      if (current === "missing") continue; // released between our create and read: try again
      if (await isAbandoned(file, current)) {
        await takeOver(file, current);
        continue;
      }
      const waited = Date.now() - started;
      if (waited >= waitMs) throw new DirectoryLockedError(directory, current === "partial" ? undefined : current, file, waited);
      const backoff = Math.min(500, 25 * 2 ** Math.min(attempt, 5));
      await sleep(Math.min(waitMs - waited, backoff / 2 + Math.random() * backoff));
    }
  }

  /** Removes the lock file, if it is still this holder's. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    process.removeListener("exit", this.#onExit);
    const current = await readHolder(this.file);
    if (typeof current === "object" && current.nonce === this.holder.nonce) await unlink(this.file).catch(() => undefined);
  }

  #releaseSync(): void {
    if (this.#released) return;
    this.#released = true;
    try {
      const current = JSON.parse(readFileSync(this.file, "utf8")) as DirectoryLockHolder;
      if (current.nonce === this.holder.nonce) unlinkSync(this.file);
    } catch {
      // gone already, or unreadable: nothing of ours to remove
    }
  }
}

/** Creates the lock file with its holder, whole: written to a private name, then linked into place. */
async function create(file: string, holder: DirectoryLockHolder): Promise<boolean> {
  const partial = `${file}.${holder.pid}.${holder.nonce}.partial`;
  const handle = await open(partial, "wx");
  try {
    await handle.writeFile(JSON.stringify(holder));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    // link() fails when the name exists: of several processes, exactly one creates it.
    await link(partial, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await unlink(partial).catch(() => undefined);
  }
}

async function readHolder(file: string): Promise<DirectoryLockHolder | "missing" | "partial"> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw error;
  }
  try {
    const holder = JSON.parse(text) as DirectoryLockHolder;
    if (typeof holder.pid === "number" && typeof holder.nonce === "string") return holder;
  } catch {
    // fall through
  }
  return "partial";
}

/** A holder on this host whose process is gone, or a lock file that never got its content. */
async function isAbandoned(file: string, holder: DirectoryLockHolder | "partial"): Promise<boolean> {
  if (holder === "partial") {
    const s = await stat(file).catch(() => undefined);
    return s !== undefined && Date.now() - s.mtimeMs > PARTIAL_GRACE_MS;
  }
  return holder.host === os.hostname() && !isAlive(holder.pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's process.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes an abandoned lock file. Two processes may find the same one abandoned at once: each
 * moves the file aside under a name of its own (only one move of a name can succeed), then checks
 * that what it moved is the abandoned lock it saw; if it moved a successor's lock instead, it puts
 * that back.
 */
async function takeOver(file: string, seen: DirectoryLockHolder | "partial"): Promise<void> {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.stale`;
  try {
    await rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return; // someone else took it
    throw error;
  }
  const moved = await readHolder(aside);
  const same = seen === "partial" ? moved === "partial" : typeof moved === "object" && moved.nonce === seen.nonce;
  if (!same) {
    try {
      linkSync(aside, file);
    } catch {
      // a third process created the lock meanwhile; the one we moved lost its file, and will find
      // on release that it is not its own
    }
  }
  await unlink(aside).catch(() => undefined);
}

/** `retort <command>` as this process was started, without option values (they may hold secrets). */
function commandLine(): string {
  const [, script, ...args] = process.argv;
  const name = script ? path.basename(script).replace(/\.(m?js|ts)$/, "") : "node";
  const words = args.filter((a) => /^[a-z][a-z-]*$/.test(a)).slice(0, 2);
  return [name === "retort" || name === "cli" ? "retort" : name, ...words].join(" ");
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
