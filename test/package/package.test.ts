// retort as a user gets it: the tarball `npm pack` makes (from the dist/ that `npm test` builds
// first), installed into fresh applications outside this repository, used the way the README
// says. Two applications: a migrations-only ES module project (the CLI, the types under a strict
// consumer tsconfig, the entries from plain Node), and the TypeScript CDK app that `cdk init app
// --language typescript` generates today (its cdk.json command, tsconfig and Jest set-up, left as
// generated) with MigrationRunner added to a stack with an Aurora Serverless v2 cluster.
// Installs come from the npm registry (the npm cache makes them quick after `npm ci`).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = path.resolve(fileURLToPath(import.meta.url), "../../..");
const repo = JSON.parse(await readFile(path.join(root, "package.json"), "utf8")) as {
  name: string;
  version: string;
  devDependencies: Record<string, string>;
};
const MINUTE = 60_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a user's shell: none of the npm variables `npm test` sets for this repository. */
const userEnv = () => {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^npm_/i.test(key) && key !== "INIT_CWD" && !key.startsWith("RETORT_")) env[key] = value;
  }
  return { ...env, NO_COLOR: "1", CDK_DISABLE_VERSION_CHECK: "1", CI: "true" };
};

function run(cwd: string, command: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: userEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Runs a command that must succeed; a failure shows everything it printed. */
async function ok(cwd: string, command: string, args: readonly string[]): Promise<Run> {
  const result = await run(cwd, command, args);
  expect(result.code, `${command} ${args.join(" ")} in ${cwd}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

const npmInstall = (cwd: string, ...packages: string[]) =>
  ok(cwd, "npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", ...packages]);
const retort = (cwd: string, ...args: string[]) => run(cwd, "npx", ["--no", "--", "retort", ...args]);

/** Fills the template's upgrade and downgrade with a table, as a user would. */
async function fillMigration(file: string, table: string): Promise<void> {
  const text = await readFile(file, "utf8");
  const filled = text
    .replace(
      "    // Safe operations skip what already exists, so a re-run converges. For example:\n",
      `    await op.safeCreateTable("${table}", {\n      columns: [\n        { name: "id", type: "bigint", primaryKey: true },\n        { name: "name", type: "text", nullable: false },\n      ],\n    });\n`,
    )
    .replace("    // Undo upgrade, in reverse order. For example:\n", `    await op.safeDropTable("${table}");\n`);
  expect(filled, "the template's comments moved: update fillMigration").not.toBe(text);
  await writeFile(file, filled);
}

let work: string;
let tarball: string;

beforeAll(async () => {
  if (!existsSync(path.join(root, "dist", "cli.js"))) throw new Error("dist/ is not built: run `npm run build` (npm test does)");
  // Outside the repository, so nothing resolves to its node_modules.
  work = await mkdtemp(path.join(os.tmpdir(), "retort-package-"));
  const packed = await ok(root, "npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work]);
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(work, info!.filename);
  expect(info!.filename).toBe(`${repo.name}-${repo.version}.tgz`);
  // What a user runs, and nothing else.
  const tops = new Set(info!.files.map((f) => f.path.split("/")[0]));
  expect([...tops].sort()).toEqual(["LICENSE", "README.md", "bin", "dist", "package.json"]);
}, 2 * MINUTE);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("a migrations-only project (ES modules)", () => {
  let app: string;

  beforeAll(async () => {
    app = path.join(work, "app");
    await mkdir(app);
    await writeFile(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    await npmInstall(app, tarball, `typescript@${repo.devDependencies["typescript"]}`);
  }, 5 * MINUTE);

  it("revision creates migrations/, then check, upgrade, status and validate run on the embedded default", async () => {
    const first = await retort(app, "revision", "-m", "create users");
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^created migrations\/\nwrote migrations\/\d{8}_create_users\.ts\n/);
    const [file] = await readdir(path.join(app, "migrations"));
    await fillMigration(path.join(app, "migrations", file!), "users");

    expect((await retort(app, "check")).code).toBe(0);
    const upgraded = await retort(app, "upgrade", "--json");
    expect(upgraded.code, upgraded.stderr).toBe(0);
    expect(JSON.parse(upgraded.stdout)).toMatchObject({ command: "upgrade", applied: 1, results: [{ status: "applied" }] });
    const status = JSON.parse((await retort(app, "status", "--json")).stdout);
    expect(status).toMatchObject({ upToDate: true, pending: [] });
    expect(existsSync(path.join(app, ".retort", "local"))).toBe(true);
    const validated = await retort(app, "validate", "--json");
    expect(validated.code, validated.stdout).toBe(0);
    expect(JSON.parse(validated.stdout)).toMatchObject({ ok: true, results: [{ status: "ok" }] });
  }, 3 * MINUTE);

  it("the types are real: a strict NodeNext tsc with skipLibCheck off passes the migration and catches a wrong one", async () => {
    await writeFile(
      path.join(app, "tsconfig.json"),
      JSON.stringify({
        // Node 20's defaults, strict, retort's declarations checked too, no @types/node.
        compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: false, types: [] },
        include: ["migrations/**/*.ts"],
      }),
    );
    await ok(app, "npx", ["--no", "--", "tsc", "-p", "."]);
    const heads = JSON.parse((await retort(app, "heads", "--json")).stdout) as { heads: string[] };
    const wrong = path.join(app, "migrations", "20990101_wrong.ts");
    await writeFile(
      wrong,
      [
        'import { defineMigration } from "retort-migrate";',
        "export default defineMigration({",
        '  revision: "0123456789ab",',
        `  revises: "${heads.heads[0]}",`,
        '  message: "a column with a numeric type",',
        "  async upgrade(op) {",
        '    await op.safeAddColumn("users", { name: "email", type: 100 });',
        "  },",
        "  async downgrade(op) {",
        '    await op.safeDropColumn("users", "email");',
        "  },",
        "});",
        "",
      ].join("\n"),
    );
    try {
      const checked = await run(app, "npx", ["--no", "--", "tsc", "-p", "."]);
      expect(checked.code).not.toBe(0);
      expect(checked.stdout).toMatch(/migrations\/20990101_wrong\.ts\(7,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
    } finally {
      await rm(wrong);
    }
  }, 2 * MINUTE);

  it("plain node imports the main entry as an ES module and requires it as CommonJS; the programmatic API works", async () => {
    await writeFile(
      path.join(app, "esm.mjs"),
      'import { defineMigration, heads, status, upgrade, RetortError } from "retort-migrate";\n' +
        "const h = await heads();\n" +
        "const s = await status();\n" +
        // A refused run throws a RetortError with its code.
        'const refused = await upgrade({ target: "ffff00000000" }).catch((e) => ({ root: e instanceof RetortError, code: e.code }));\n' +
        "console.log(JSON.stringify({ define: typeof defineMigration, heads: h.heads, upToDate: s.upToDate, refused }));\n",
    );
    await writeFile(
      path.join(app, "cjs.cjs"),
      'const { defineMigration, check } = require("retort-migrate");\n' +
        "check().then((c) => console.log(JSON.stringify({ define: typeof defineMigration, ok: c.ok, heads: c.heads })));\n",
    );
    const heads = JSON.parse((await retort(app, "heads", "--json")).stdout) as { heads: string[] };
    expect(JSON.parse((await ok(app, "node", ["esm.mjs"])).stdout)).toEqual({
      define: "function",
      heads: heads.heads,
      upToDate: true,
      refused: { root: true, code: "unknown-revision" },
    });
    expect(JSON.parse((await ok(app, "node", ["cjs.cjs"])).stdout)).toEqual({ define: "function", ok: true, heads: heads.heads });
  }, 2 * MINUTE);

  it("retort-migrate/cdk without the optional aws-cdk-lib names the missing peer", async () => {
    const failed = await run(app, "node", ["--input-type=module", "-e", 'await import("retort-migrate/cdk")']);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain("aws-cdk-lib");
  });
});

describe("the TypeScript CDK app `cdk init` generates, with MigrationRunner", () => {
  let app: string;

  beforeAll(async () => {
    app = path.join(work, "shop");
    await mkdir(app);
    // The CLI this repository pins generates the template offline; its own dependencies as listed.
    await ok(app, process.execPath, [path.join(root, "node_modules", "aws-cdk", "bin", "cdk"), "init", "app", "--language", "typescript", "--generate-only"]);
    await npmInstall(app);
    await npmInstall(app, tarball);
  }, 8 * MINUTE);

  it("cdk synth exits 0 offline and the template has the deploy hook; the generated Jest set-up passes a template test", async () => {
    await writeFile(
      path.join(app, "lib", "shop-stack.ts"),
      `import * as cdk from "aws-cdk-lib/core";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as rds from "aws-cdk-lib/aws-rds";
import { Construct } from "constructs";
import { MigrationRunner } from "retort-migrate/cdk";

export class ShopStack extends cdk.Stack {
  readonly migrations: MigrationRunner;

  constructor(scope: Construct, id: string, props?: cdk.StackProps) {
    super(scope, id, props);
    const vpc = new ec2.Vpc(this, "Vpc", { maxAzs: 2, natGateways: 0 });
    const cluster = new rds.DatabaseCluster(this, "Db", {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_6 }),
      writer: rds.ClusterInstance.serverlessV2("Writer"),
      serverlessV2MinCapacity: 0,
      serverlessV2MaxCapacity: 2,
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      enableDataApi: true,
      defaultDatabaseName: "app",
    });
    this.migrations = new MigrationRunner(this, "Migrations", { cluster, databaseName: "app", migrationsDirectory: "migrations" });
  }
}
`,
    );
    await rm(path.join(app, "test"), { recursive: true, force: true });
    await mkdir(path.join(app, "test"));
    await writeFile(
      path.join(app, "test", "shop.test.ts"),
      `import * as cdk from "aws-cdk-lib/core";
import { Template } from "aws-cdk-lib/assertions";
import { ShopStack } from "../lib/shop-stack";

test("the migrations run on every deploy that changes them, in a Node.js 22 ARM64 Lambda", () => {
  const app = new cdk.App();
  const stack = new ShopStack(app, "TestStack");
  const template = Template.fromStack(stack);
  template.resourceCountIs("Custom::RetortMigrations", 1);
  template.hasResourceProperties("Custom::RetortMigrations", { ManifestHash: stack.migrations.manifestHash });
  template.hasResourceProperties("AWS::Lambda::Function", { Runtime: "nodejs22.x", Architectures: ["arm64"] });
});
`,
    );
    const written = await retort(app, "revision", "-m", "create products");
    expect(written.code, written.stderr).toBe(0);
    const [file] = await readdir(path.join(app, "migrations"));
    await fillMigration(path.join(app, "migrations", file!), "products");

    // cdk.json's own command: the generated app type-checks with tsc, then runs.
    const synth = await ok(app, "npx", ["--no", "--", "cdk", "synth", "--no-notices", "--quiet"]);
    const template = JSON.parse(await readFile(path.join(app, "cdk.out", "ShopStack.template.json"), "utf8")) as {
      Resources: Record<string, { Type: string }>;
    };
    const types = Object.values(template.Resources).map((r) => r.Type);
    expect(types, synth.stderr).toContain("Custom::RetortMigrations");
    expect(types).toContain("AWS::RDS::DBCluster");

    await ok(app, "npm", ["test", "--silent"]);
  }, 6 * MINUTE);

  it("plain node imports both entries as ES modules and requires both as CommonJS", async () => {
    await writeFile(
      path.join(app, "esm.mjs"),
      'import { defineMigration } from "retort-migrate";\nimport { MigrationRunner } from "retort-migrate/cdk";\n' +
        "console.log(typeof defineMigration, typeof MigrationRunner);\n",
    );
    await writeFile(
      path.join(app, "cjs.cjs"),
      'const { defineMigration } = require("retort-migrate");\nconst { MigrationRunner } = require("retort-migrate/cdk");\n' +
        "console.log(typeof defineMigration, typeof MigrationRunner);\n",
    );
    expect((await ok(app, "node", ["esm.mjs"])).stdout).toBe("function function\n");
    expect((await ok(app, "node", ["cjs.cjs"])).stdout).toBe("function function\n");
  }, MINUTE);
});
