// The --db / RETORT_DB database URL: parsing it into a target, and opening the executor for it.
// One string names every database retort can run against, local or in AWS.

import { RetortError } from "../errors.ts";
import path from "node:path";
import { UnusableDirectoryError } from "./directory-lock.ts";
import type { SqlExecutor } from "./executor.ts";
import { describePostgresUrl } from "./postgres-url.ts";

/** Where the embedded database lives when nothing says otherwise (relative to the project). */
export const DEFAULT_PGLITE_DIR = ".retort/local";
export const DEFAULT_DATABASE_URL = "pglite://";

export type DatabaseTarget =
  /** Embedded PGlite; `dataDir` as written in the URL (relative to the working directory). */
  | { kind: "pglite"; dataDir: string }
  /** Embedded PGlite in memory: gone when the process ends. */
  | { kind: "pglite-memory" }
  /** A PostgreSQL server through node-postgres; `url` is the original, password included. */
  | { kind: "postgres"; url: string; host: string; port: number; database: string | undefined; user: string | undefined }
  /** Aurora through the RDS Data API. */
  | { kind: "data-api"; resourceArn: string; secretArn: string; database: string; region: string };

export const ACCEPTED_FORMS = [
  ["pglite://", `embedded PGlite in ${DEFAULT_PGLITE_DIR} (the default)`],
  ["pglite://path/to/dir", "embedded PGlite in that directory (pglite:///abs/path for an absolute one)"],
  ["pglite://memory", "embedded PGlite in memory, discarded on exit"],
  ["postgres://user:password@localhost:5432/app", "a PostgreSQL server (postgresql:// too)"],
  [
    "data-api://arn:aws:rds:us-east-1:123456789012:cluster:my-cluster" +
      "?secret=arn:aws:secretsmanager:us-east-1:123456789012:secret:my-secret-AbCdEf&database=app",
    "Aurora through the RDS Data API",
  ],
] as const;

/** A --db / RETORT_DB value retort cannot use. The message names it (password masked). */
export class DatabaseUrlError extends RetortError {
  override readonly code: string = "invalid-database-url";
  constructor(
    readonly url: string,
    readonly problem: string,
  ) {
    super(
      `Invalid database URL ${JSON.stringify(maskPassword(url))}: ${problem}.\n` +
        `Set it with --db or RETORT_DB, in one of these forms:\n` +
        ACCEPTED_FORMS.map(([form, meaning]) => `  ${form}\n      ${meaning}`).join("\n"),
    );
    this.name = "DatabaseUrlError";
  }
}

/** The URL with any password replaced by `***`, safe to print. */
export function maskPassword(url: string): string {
  // scheme://user:password@host...: mask between the first ':' after '//' and the last '@' of
  // the authority, without relying on the URL being parsable.
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!m) return url;
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  const at = authority.lastIndexOf("@");
  if (at < 0) return url;
  const userinfo = authority.slice(0, at);
  const colon = userinfo.indexOf(":");
  if (colon < 0) return url;
  return `${scheme}${userinfo.slice(0, colon)}:***${authority.slice(at)}${rest}`;
}

const CLUSTER_ARN = /^arn:aws[a-z-]*:rds:([a-z0-9-]+):(\d{12}):cluster:([A-Za-z0-9][A-Za-z0-9-]*)$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):(\d{12}):secret:([A-Za-z0-9/_+=.@-]+)$/;

/** The URL from the environment (RETORT_DB), or the default embedded database. */
export function defaultDatabaseUrl(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const value = env["RETORT_DB"]?.trim();
  return value ? value : DEFAULT_DATABASE_URL;
}

/** Parses a database URL; throws DatabaseUrlError saying what is wrong. */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  const trimmed = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
  if (trimmed === "") throw new DatabaseUrlError(url, "it is empty");
  if (scheme === undefined) throw new DatabaseUrlError(url, "it has no scheme (such as pglite://, postgres:// or data-api://)");
  if (!trimmed.slice(scheme.length + 1).startsWith("//")) {
    throw new DatabaseUrlError(url, `"${scheme}:" must be followed by "//"`);
  }
  switch (scheme) {
    case "pglite":
      return parsePglite(url, trimmed.slice("pglite://".length));
    case "postgres":
    case "postgresql":
      return parsePostgres(url, trimmed);
    case "data-api":
      return parseDataApi(url, trimmed.slice("data-api://".length));
    default:
      throw new DatabaseUrlError(url, `the scheme "${scheme}:" is not supported`);
  }
}

function parsePglite(url: string, rest: string): DatabaseTarget {
  if (rest === "") return { kind: "pglite", dataDir: DEFAULT_PGLITE_DIR };
  if (rest === "memory" || rest === "memory/") return { kind: "pglite-memory" };
  if (/[?#]/.test(rest)) throw new DatabaseUrlError(url, "a pglite:// URL takes a directory only, no ?query or #fragment");
  return { kind: "pglite", dataDir: rest };
}

function parsePostgres(url: string, trimmed: string): DatabaseTarget {
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    throw new DatabaseUrlError(url, "it is not a well-formed URL (a password with @, : or / must be percent-encoded)");
  }
  if (!parsed.hostname && !parsed.searchParams.get("host")) throw new DatabaseUrlError(url, "it names no host");
  if (parsed.port && !(Number(parsed.port) > 0 && Number(parsed.port) < 65536)) {
    throw new DatabaseUrlError(url, `the port ${parsed.port} is out of range`);
  }
  const path = parsed.pathname.replace(/^\//, "");
  if (path.includes("/")) throw new DatabaseUrlError(url, `"/${path}" is not a database name (it contains "/")`);
  const endpoint = describePostgresUrl(trimmed);
  return { kind: "postgres", url: trimmed, ...endpoint };
}

function parseDataApi(url: string, rest: string): DatabaseTarget {
  const q = rest.indexOf("?");
  const arnPart = q < 0 ? rest : rest.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : rest.slice(q + 1));
  let resourceArn: string;
  try {
    resourceArn = decodeURIComponent(arnPart).replace(/\/$/, "");
  } catch {
    throw new DatabaseUrlError(url, "the cluster ARN has a malformed %-escape");
  }
  if (resourceArn === "") throw new DatabaseUrlError(url, "it names no cluster ARN after data-api://");
  const cluster = CLUSTER_ARN.exec(resourceArn);
  if (!cluster) {
    throw new DatabaseUrlError(
      url,
      `"${resourceArn}" is not an Aurora cluster ARN (arn:aws:rds:<region>:<account>:cluster:<name>)`,
    );
  }
  const unknown = [...new Set(query.keys())].filter((key) => key !== "secret" && key !== "database");
  if (unknown.length > 0) {
    throw new DatabaseUrlError(url, `unknown parameter ${unknown.map((k) => `"${k}"`).join(", ")} (only secret and database are accepted)`);
  }
  const secretArn = query.get("secret");
  if (!secretArn) throw new DatabaseUrlError(url, "it has no ?secret=<Secrets Manager secret ARN>");
  if (!SECRET_ARN.test(secretArn)) {
    throw new DatabaseUrlError(
      url,
      `"${secretArn}" is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)`,
    );
  }
  const database = query.get("database");
  if (!database) throw new DatabaseUrlError(url, "it has no &database=<name>");
  return { kind: "data-api", resourceArn, secretArn, database, region: cluster[1]! };
}

export interface OpenExecutorOptions {
  /** Resolve a relative pglite:// directory against this instead of the working directory. */
  cwd?: string;
  /** node-postgres only: give up connecting after this long (default 10 s). */
  connectionTimeoutMillis?: number;
  /** pglite://dir only: wait this long (ms) while another process has the directory open (default: fail at once). */
  waitMs?: number;
  /** node-postgres only: the most connections open at once (default 4). */
  maxConnections?: number;
}

/**
 * Parses `url` and opens an executor for it (ConnectionError when it cannot be reached). PGlite,
 * node-postgres and the AWS SDK are imported only for their own URLs: each takes longer to load
 * than a command against another database takes to run.
 */
export async function openExecutor(url: string, options: OpenExecutorOptions = {}): Promise<SqlExecutor> {
  const target = parseDatabaseUrl(url);
  switch (target.kind) {
    case "pglite": {
      const { PgliteExecutor } = await import("./pglite-executor.ts");
      const dataDir = path.resolve(options.cwd ?? process.cwd(), target.dataDir);
      try {
        return await PgliteExecutor.open(dataDir, { waitMs: options.waitMs ?? 0 });
      } catch (error) {
        // A directory that cannot be made or written is a wrong --db, not a database that is down.
        if (error instanceof UnusableDirectoryError) throw new DatabaseUrlError(url, error.problem);
        throw error;
      }
    }
    case "pglite-memory": {
      const { PgliteExecutor } = await import("./pglite-executor.ts");
      return PgliteExecutor.open();
    }
    case "postgres": {
      const { PgExecutor } = await import("./pg-executor.ts");
      return PgExecutor.open(target.url, {
        connectionTimeoutMillis: options.connectionTimeoutMillis,
        ...(options.maxConnections !== undefined ? { max: options.maxConnections } : {}),
      });
    }
    case "data-api": {
      const { DataApiExecutor } = await import("./data-api-executor.ts");
      return new DataApiExecutor({ resourceArn: target.resourceArn, secretArn: target.secretArn, database: target.database });
    }
  }
}
