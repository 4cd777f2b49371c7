// Where a postgres:// URL points, read without loading node-postgres: the URL parser and the
// messages need it, and most commands never connect.

/** Where a postgres:// URL points, for messages (never the password). */
export interface PostgresEndpoint {
  host: string;
  port: number;
  database: string | undefined;
  user: string | undefined;
}

/** Reads host, port, database and user from a postgres:// URL (throws TypeError if unparsable). */
export function describePostgresUrl(url: string): PostgresEndpoint {
  const u = new URL(url);
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const host = u.hostname || u.searchParams.get("host") || "localhost";
  const database = decode(u.pathname.replace(/^\//, "")) || undefined;
  return {
    host,
    port: u.port ? Number(u.port) : 5432,
    database,
    user: decode(u.username) || undefined,
  };
}
