// Upgrade benchmark: the same 200 generated migrations (generate.ts) applied to a fresh database
// on one embedded PostgreSQL server by retort, node-pg-migrate and Alembic, each through its own
// CLI in a fresh process (process start to exit, loading the migration files included), then
// the same command again on the up-to-date database. Medians of several runs; the tools take
// turns so drift in the machine's speed hits them alike. Goal: retort <= 0.5x both peers.
// Beside them, the database alone: the DDL and data update of the same migrations (each
// migration's statements from a dry run, bound values as literals, without retort's bookkeeping),
// sent as one transaction on an open connection. It is the work PostgreSQL does for every tool alike, so each
// tool's own cost is its total above that floor.
import { spawn, spawnSync } from "node:child_process";
import { postgres } from "../lib/dialect/postgres/index.ts";
import { dryRun } from "../lib/ops/dry-run.ts";
import { DirectorySource } from "../lib/revision/loader.ts";
import { Direction, type Migration } from "../lib/revision/migration.ts";
import { emptySnapshot } from "../lib/schema/snapshot.ts";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { migrationSpecs } from "./generate.ts";
import { writeAlembicFiles, writeNodePgMigrateFiles, writeRetortFiles } from "./migration-files.ts";
import { startBenchServer } from "./postgres-server.ts";
import { median, printTable } from "./report.ts";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Inside the repository (git-ignored), so retort's files can import "retort-migrate" as users do. */
const WORK_DIR = path.join(REPO, ".retort", "bench", "upgrade");

export interface UpgradeBenchOptions {
  /** @default 200 */
  migrations?: number;
  /** Measured runs per tool, after one warm-up run. @default 5 */
  runs?: number;
}

interface Tool {
  name: string;
  version: string;
  /** The command that brings a database at `url` up to date. */
  command(url: string): { file: string; args: string[]; env?: Record<string, string> };
}

interface Timing {
  upgradeMs: number;
  rerunMs: number;
}

export async function benchUpgrade(options: UpgradeBenchOptions = {}): Promise<void> {
  const count = options.migrations ?? 200;
  const runs = options.runs ?? 5;
  const specs = migrationSpecs(count);
  const operations = specs.reduce((n, s) => n + s.upgrade.length, 0);

  const retortDir = path.join(WORK_DIR, "retort");
  const pgmDir = path.join(WORK_DIR, "node-pg-migrate");
  await writeRetortFiles(retortDir, specs);
  await writeNodePgMigrateFiles(pgmDir, specs);
  const tools: Tool[] = [
    {
      name: "retort safe-upgrade",
      version: packageVersion(path.join(REPO, "package.json")),
      command: (url) => ({ file: process.execPath, args: [path.join(REPO, "bin/retort.js"), "safe-upgrade", "--dir", retortDir, "--db", url] }),
    },
  ];
  const pgm = nodePgMigrate();
  if (pgm) {
    tools.push({
      name: "node-pg-migrate up",
      version: pgm.version,
      command: (url) => ({ file: process.execPath, args: [pgm.bin, "up", "-m", pgmDir], env: { DATABASE_URL: url } }),
    });
  }
  const python = findAlembic();
  if (python.found) {
    const ini = await writeAlembicFiles(path.join(WORK_DIR, "alembic"), specs);
    tools.push({
      name: "alembic upgrade head",
      version: python.version,
      command: (url) => ({
        file: python.python,
        args: ["-m", "alembic", "-c", ini, "upgrade", "head"],
        env: { BENCH_DATABASE_URL: url.replace(/^postgres:/, "postgresql+psycopg2:") },
      }),
    });
  }

  const script = await floorScript(retortDir);
  const server = await startBenchServer();
  const timings = new Map<Tool, Timing[]>(tools.map((t) => [t, []]));
  const fingerprints = new Map<Tool, string>();
  const floor: number[] = [];
  try {
    for (let run = 0; run <= runs; run += 1) {
      const database = await server.createDatabase();
      try {
        const ms = await timeScript(database.url, script);
        if (run > 0) floor.push(ms);
      } finally {
        await database.drop();
      }
      // Run 0 warms file-system and compilation caches (tsx, __pycache__) and is not counted.
      for (let k = 0; k < tools.length; k += 1) {
        const tool = tools[(run + k) % tools.length]!;
        const database = await server.createDatabase();
        try {
          const { file, args, env } = tool.command(database.url);
          const upgradeMs = await timeProcess(tool.name, file, args, env);
          const rerunMs = await timeProcess(`${tool.name} (re-run)`, file, args, env);
          fingerprints.set(tool, await schemaFingerprint(database.url));
          if (run > 0) timings.get(tool)!.push({ upgradeMs, rerunMs });
        } finally {
          await database.drop();
        }
      }
    }
  } finally {
    await server.stop();
  }
  // The same work or no comparison: every tool must leave the same tables, columns and keys.
  const expected = fingerprints.get(tools[0]!);
  for (const [tool, fingerprint] of fingerprints) {
    if (fingerprint !== expected) {
      throw new Error(`${tool.name} left a different schema than ${tools[0]!.name}: ${fingerprint} vs ${expected}`);
    }
  }

  const medians = tools.map((tool) => {
    const samples = timings.get(tool)!;
    return { tool, upgradeMs: median(samples.map((s) => s.upgradeMs)), rerunMs: median(samples.map((s) => s.rerunMs)) };
  });
  const ours = medians[0]!;
  const floorMs = median(floor);
  const above = (ms: number) => `${(ms - floorMs).toFixed(0)}`;
  printTable(
    `Upgrade, same PostgreSQL: ${count} migrations (${operations} operations) on a fresh database, ` +
      `embedded PostgreSQL ${server.version}; each CLI from process start to exit, median of ${runs} ` +
      `after a warm-up run (compilation caches warm: retort's, tsx's, Python's __pycache__)`,
    ["tool", "version", "upgrade ms", "above floor ms", "re-run ms", "retort/peer upgrade", "above floor", "retort/peer re-run"],
    [
      ...medians.map((m) => [
        m.tool.name,
        m.tool.version,
        m.upgradeMs.toFixed(0),
        above(m.upgradeMs),
        m.rerunMs.toFixed(0),
        m === ours ? "" : `${(ours.upgradeMs / m.upgradeMs).toFixed(2)}x`,
        m === ours ? "" : `${((ours.upgradeMs - floorMs) / (m.upgradeMs - floorMs)).toFixed(2)}x`,
        m === ours ? "" : `${(ours.rerunMs / m.rerunMs).toFixed(2)}x`,
      ]),
      ["database alone (floor)", "", floorMs.toFixed(0), "0", "", "", "", ""],
    ],
  );
  console.log(
    `floor: the migrations' ${(script.length / 1024).toFixed(0)} KiB of SQL (each migration's statements from a dry run, without retort's ` +
      "version-table statements) as one transaction on an open connection to a fresh database: no tool, no process start",
  );
  console.log(`schema after each tool: ${expected} (identical)`);
  if (!python.found) console.log(python.hint);
  else console.log(`Alembic ${python.version} on ${python.pythonVersion} (${python.python})`);
  if (medians.length > 1) {
    const worst = Math.max(...medians.slice(1).map((m) => ours.upgradeMs / m.upgradeMs));
    console.log(`goal: retort <= 0.50x every peer on the upgrade; worst ratio ${worst.toFixed(2)}x`);
  }
}

function packageVersion(file: string): string {
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

/** The dev dependency's CLI; undefined (and said why) when it is not installed. */
function nodePgMigrate(): { bin: string; version: string } | undefined {
  let manifest: string;
  try {
    manifest = createRequire(import.meta.url).resolve("node-pg-migrate/package.json");
  } catch {
    console.log("node-pg-migrate: skipped (not installed; it is a dev dependency: run `npm install`)");
    return undefined;
  }
  const json = JSON.parse(readFileSync(manifest, "utf8")) as { version: string; bin: Record<string, string> };
  return { bin: path.resolve(path.dirname(manifest), json.bin["node-pg-migrate"]!), version: json.version };
}

type AlembicProbe =
  | { found: true; python: string; version: string; pythonVersion: string }
  | { found: false; hint: string };

/** A python3 that can import alembic and psycopg2: the one on PATH (maybe pyenv's), or the system's. */
export function findAlembic(): AlembicProbe {
  for (const python of ["python3", "/usr/bin/python3"]) {
    const probe = spawnSync(python, ["-c", "import sys, alembic, psycopg2; print(alembic.__version__, sys.version.split()[0])"], {
      encoding: "utf8",
    });
    if (probe.status === 0) {
      const [version, pythonVersion] = probe.stdout.trim().split(" ");
      return { found: true, python, version: version!, pythonVersion: `Python ${pythonVersion}` };
    }
  }
  return {
    found: false,
    hint:
      "Alembic: skipped (neither python3 nor /usr/bin/python3 can import alembic and psycopg2). To include it: " +
      "`sudo apt-get install -y python3-alembic python3-psycopg2` (Debian/Ubuntu) or `pip install alembic psycopg2-binary`",
  };
}

/** Wall time from spawning `file` to its exit; a failure throws with the tail of its output. */
export function timeProcess(name: string, file: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file, args, { cwd: REPO, env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    const output: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => output.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else reject(new Error(`${name} exited with ${code}:\n${Buffer.concat(output).toString("utf8").slice(-3000)}`));
    });
  });
}

/**
 * The migrations' own statements as one transaction: each migration's upgrade dry-run against the
 * schema so far (no database involved), bound values as literals, in graph order, without the
 * version-table statements and DO blocks a run adds.
 */
async function floorScript(dir: string): Promise<string> {
  const { migrations, problems } = await new DirectorySource(dir).load();
  if (problems.length > 0) throw new Error(`the generated set does not load: ${problems.map((p) => p.message).join("; ")}`);
  const statements: string[] = [];
  let snapshot = emptySnapshot(["public"]);
  for (const m of graphOrder(migrations)) {
    const run = await dryRun(m, Direction.Up, snapshot, { dialect: postgres, defaultSchema: "public", mode: "safe", reads: "simulate" });
    statements.push(...run.statements.map((sql) => postgres.terminate(sql)));
    snapshot = run.snapshot;
  }
  return `BEGIN;\n${statements.join("\n")}\nCOMMIT;\n`;
}

/** Bases first, each migration after every revision it revises or depends on. */
function graphOrder(migrations: readonly Migration[]): Migration[] {
  const done = new Set<string>();
  const out: Migration[] = [];
  let pending = [...migrations];
  while (pending.length > 0) {
    const ready = pending.filter((m) => [...m.revises, ...m.dependsOn].every((r) => done.has(r)));
    if (ready.length === 0) throw new Error("the generated set has a revision whose parent is missing");
    for (const m of ready) {
      out.push(m);
      done.add(m.revision);
    }
    pending = pending.filter((m) => !done.has(m.revision));
  }
  return out;
}

/** How long the server takes to run `script` (simple query protocol: many statements, one message). */
async function timeScript(url: string, script: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const started = performance.now();
    await client.query(script);
    return performance.now() - started;
  } finally {
    await client.end();
  }
}

/** Counts of what the migrations create, to prove every tool did the same work. */
async function schemaFingerprint(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, string>>(`
      SELECT
        (SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]+$') AS tables,
        (SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name ~ '^t[0-9]+$') AS columns,
        (SELECT count(*) FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name ~ '^t[0-9]+$' AND is_nullable = 'NO') AS not_null,
        (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND tablename ~ '^t[0-9]+$') AS indexes,
        (SELECT count(*) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
          WHERE c.relname ~ '^t[0-9]+$' AND k.contype = 'f') AS foreign_keys,
        (SELECT count(*) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
          WHERE c.relname ~ '^t[0-9]+$' AND k.contype = 'c') AS checks`);
    return Object.entries(rows[0]!)
      .map(([k, v]) => `${v} ${k.replace("_", " ")}`)
      .join(", ");
  } finally {
    await client.end();
  }
}
