// Graph commands on many files: `retort heads` and `retort check` through the built CLI in a fresh
// process (process start to exit), against `alembic heads` over the same graph in the same run.
// One file per revision; the graph is bench/graph.ts's (a main line that splits into two branches
// every 40 revisions, with merges and dependsOn edges). Cold is the first run with an empty cache
// (a fresh TMPDIR, so nothing compiled or read before is reused); warm is the median of the runs
// after it. Goal: warm `check` and `heads` on 10,000 files in <= 150 ms, cold no slower than
// before; the growth from 1k to 10k to 100k files no worse than linear.
import { spawnSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Migration } from "../lib/revision/migration.ts";
import { generateGraph } from "./graph.ts";
import { median, printTable } from "./report.ts";
import { findAlembic, timeProcess } from "./upgrade.ts";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Inside the repository (git-ignored), as in the upgrade benchmark. */
const WORK_DIR = path.join(REPO, ".retort", "bench", "cli-graph");
const RETORT = path.join(REPO, "bin", "retort.js");

const q = (s: string) => JSON.stringify(s);
const ids = (list: string[]) => (list.length === 1 ? q(list[0]!) : JSON.stringify(list));

/** The i-th migration as `retort revision` would write it, with a small body of real operations. */
function retortFile(m: Migration, i: number): string {
  return `import { defineMigration } from "retort-migrate";

export default defineMigration({
  revision: ${q(m.revision)},
  revises: ${m.revises.length === 0 ? "null" : ids(m.revises)},${m.dependsOn.length ? `\n  dependsOn: ${ids(m.dependsOn)},` : ""}
  message: ${q(m.message)},
  createdAt: "2026-01-01T00:00:00.000Z",
  async upgrade(op) {
    await op.safeCreateTable("t${i}", { columns: [{ name: "id", type: "bigint", primaryKey: true }, { name: "name", type: "text" }] });
    await op.safeCreateIndex("ix_t${i}_name", "t${i}", ["name"]);
  },
  async downgrade(op) {
    await op.safeDropIndex("ix_t${i}_name");
    await op.safeDropTable("t${i}");
  },
});
`;
}

const pyIds = (list: string[]) => (list.length === 0 ? "None" : list.length === 1 ? q(list[0]!) : `(${list.map(q).join(", ")})`);

/** The same migration as an Alembic revision file. */
function alembicFile(m: Migration, i: number): string {
  return `"""${m.message}"""
from alembic import op
import sqlalchemy as sa

revision = ${q(m.revision)}
down_revision = ${pyIds(m.revises)}
branch_labels = None
depends_on = ${pyIds(m.dependsOn)}


def upgrade():
    op.create_table("t${i}", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("name", sa.Text))
    op.create_index("ix_t${i}_name", "t${i}", ["name"])


def downgrade():
    op.drop_index("ix_t${i}_name")
    op.drop_table("t${i}")
`;
}

/** Writes `files` (name → text) into a fresh `dir`, a few hundred at a time. */
async function writeAll(dir: string, files: Array<[string, string]>): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < files.length; i += 500) {
    await Promise.all(files.slice(i, i + 500).map(([name, text]) => writeFile(path.join(dir, name), text)));
  }
}

interface Row {
  files: number;
  headsCold: number;
  headsWarm: number;
  checkCold: number;
  checkWarm: number;
  alembic?: number;
}

export interface CliGraphBenchOptions {
  /** @default [1000, 10000, 100000] (BENCH_CLI_SIZES, comma-separated, overrides) */
  sizes?: number[];
  /** Warm runs per command. @default 5 */
  runs?: number;
}

export async function benchCliGraph(options: CliGraphBenchOptions = {}): Promise<void> {
  const sizes = options.sizes ?? (process.env["BENCH_CLI_SIZES"]?.split(",").map(Number) || [1_000, 10_000, 100_000]);
  const runs = options.runs ?? 5;
  const build = spawnSync("npm", ["run", "build"], { cwd: REPO, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
  const alembic = findAlembic();
  const rows: Row[] = [];
  for (const size of sizes) {
    const migrations = generateGraph(size);
    const name = (i: number) => `r${String(i).padStart(7, "0")}`;
    const retortDir = path.join(WORK_DIR, `retort-${size}`);
    await writeAll(retortDir, migrations.map((m, i) => [`20260101_${name(i)}.ts`, retortFile(m, i)]));
    // A TMPDIR of its own: the cold runs start with no cache at all.
    const tmp = path.join(WORK_DIR, `tmp-${size}`);
    const env = { TMPDIR: tmp };
    const retort = (command: string) => timeProcess(`retort ${command}`, process.execPath, [RETORT, command, "--json", "--dir", retortDir], env);
    const cold = async (command: string) => {
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp, { recursive: true });
      return retort(command);
    };
    const warm = async (command: string) => {
      const samples: number[] = [];
      for (let r = 0; r < runs; r += 1) samples.push(await retort(command));
      return median(samples);
    };
    const headsCold = await cold("heads");
    const headsWarm = await warm("heads");
    const checkCold = await cold("check");
    const checkWarm = await warm("check");
    const row: Row = { files: size, headsCold, headsWarm, checkCold, checkWarm };
    if (alembic.found && (size <= 10_000 || process.env["BENCH_ALEMBIC_100K"])) {
      const alembicDir = path.join(WORK_DIR, `alembic-${size}`);
      await writeAll(path.join(alembicDir, "versions"), migrations.map((m, i) => [`${m.revision}_${name(i)}.py`, alembicFile(m, i)]));
      const ini = path.join(alembicDir, "alembic.ini");
      await writeFile(ini, `[alembic]\nscript_location = ${alembicDir}\n`);
      const samples: number[] = [];
      for (let r = 0; r < Math.min(runs, 3); r += 1) samples.push(await timeProcess("alembic heads", alembic.python, ["-m", "alembic", "-c", ini, "heads"]));
      row.alembic = median(samples);
      await rm(alembicDir, { recursive: true, force: true });
    }
    rows.push(row);
    await rm(retortDir, { recursive: true, force: true });
    await rm(tmp, { recursive: true, force: true });
  }
  const ms = (n: number | undefined) => (n === undefined ? "-" : n.toFixed(0));
  printTable(
    `Graph commands on files: the built CLI in a fresh process, ms (cold: empty cache; warm: median of ${runs})`,
    ["files", "heads cold", "heads warm", "check cold", "check warm", alembic.found ? `alembic ${alembic.version} heads` : "alembic heads", "warm heads ÷ alembic"],
    rows.map((r) => [
      String(r.files),
      ms(r.headsCold),
      ms(r.headsWarm),
      ms(r.checkCold),
      ms(r.checkWarm),
      ms(r.alembic),
      r.alembic === undefined ? "-" : `${(r.headsWarm / r.alembic).toFixed(2)}x`,
    ]),
  );
  if (!alembic.found) console.log(alembic.hint);
  for (let i = 1; i < rows.length; i += 1) {
    const [a, b] = [rows[i - 1]!, rows[i]!];
    const g = (x: number, y: number) => `${(y / x).toFixed(1)}x`;
    console.log(
      `growth ${a.files} -> ${b.files} files (${b.files / a.files}x): heads warm ${g(a.headsWarm, b.headsWarm)}, ` +
        `check warm ${g(a.checkWarm, b.checkWarm)}, check cold ${g(a.checkCold, b.checkCold)}`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchCliGraph();
