// `retort revision --autogenerate` through the real executable, on a copy of a migrations folder:
// the written migration is proven (exit 0, "verified"), `retort diff` then finds no difference
// between the new heads and the reference, `retort lint` stops on its dropped column until it is
// allowed; a migration the proof cannot confirm is written with a warning and exit 1; flags that
// only go with --autogenerate, or no reference, are exit 2 and write nothing.
import { cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { retort, root } from "../support/cli.ts";

const scratch = path.join(root, ".retort/test-scratch", `autogenerate-cli-${process.pid}`);
const HEADS = `
CREATE TABLE projects (id bigint PRIMARY KEY, name text, owner_id bigint);
CREATE INDEX ix_projects_owner ON projects (owner_id);
CREATE TABLE audit (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
`;

describe("retort revision --autogenerate", () => {
  beforeAll(() => rm(scratch, { recursive: true, force: true }));
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  async function project(name: string, reference: string): Promise<{ dir: string; ref: string }> {
    const dir = path.join(scratch, name, "migrations");
    await cp(path.join(root, "test/fixtures/fleet"), dir, { recursive: true });
    const ref = path.join(scratch, name, "schema.sql");
    await writeFile(ref, reference);
    return { dir, ref };
  }

  it("writes a proven migration; diff then finds nothing; lint stops on the dropped column", { timeout: 240_000 }, async () => {
    const { dir, ref } = await project(
      "proven",
      `${HEADS.replace("owner_id bigint);", "owner_id bigint NOT NULL, archived boolean NOT NULL DEFAULT false);").replace("name text, ", "")}
       ALTER TABLE projects ADD CONSTRAINT fk_projects_owner FOREIGN KEY (owner_id) REFERENCES audit (id) ON DELETE CASCADE;`,
    );
    const run = await retort("revision", "--autogenerate", "-m", "archive projects", "--from-sql", ref, "--dir", dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/wrote .*_archive_projects\.ts/);
    expect(run.stdout).toContain("revises f1ee70000003");
    expect(run.stdout).toContain("destructive: the upgrade trips drop-column");
    expect(run.stdout).toContain("verified: on a scratch database it reaches the reference's schema");
    const file = (await readdir(dir)).find((f) => f.endsWith("_archive_projects.ts"))!;
    const text = await readFile(path.join(dir, file), "utf8");
    expect(text).toContain('await op.safeSetNotNull("projects", "owner_id");');
    expect(text).toContain('await op.safeCreateForeignKey("fk_projects_owner", "projects", ["owner_id"], "audit", ["id"], { onDelete: "cascade" });');
    expect(text).toContain('await op.safeDropColumn("projects", "name");');
    // Only the upgrade's drop is the lint rule's business: the downgrade drops what the upgrade added.
    expect(text.split("async downgrade")[0]).toContain("// drop-column (retort lint):");
    expect(text.split("async downgrade")[1]).not.toContain("retort lint");

    const same = await retort("diff", "--from-sql", ref, "--dir", dir);
    expect(same.code, same.stdout + same.stderr).toBe(0);

    const lint = await retort("lint", "--dir", dir);
    expect(lint.code).toBe(1);
    expect(lint.stdout).toContain("drop-column");
    expect(lint.stdout).toContain(file);

    const again = await retort("revision", "--autogenerate", "-m", "nothing more", "--from-sql", ref, "--dir", dir, "--json");
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ written: null, verification: null });
  });

  it("a migration the proof cannot confirm is written with the reason and exit 1; --no-verify writes it unproven", { timeout: 240_000 }, async () => {
    // A column owning a sequence of another name: written as serial, which makes its own sequence.
    const { dir, ref } = await project(
      "unproven",
      `${HEADS} CREATE SEQUENCE ticket_numbers; CREATE TABLE tickets (n integer NOT NULL DEFAULT nextval('ticket_numbers')); ALTER SEQUENCE ticket_numbers OWNED BY tickets.n;`,
    );
    const run = await retort("revision", "--autogenerate", "-m", "tickets", "--from-sql", ref, "--dir", dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/wrote .*_tickets\.ts/);
    expect(run.stderr).toContain("warning: the migration is written but not proven");
    expect(run.stderr).toMatch(/column tickets\.n still differs from the reference: default/);

    const unproven = await retort("revision", "--autogenerate", "-m", "tickets again", "--from-sql", ref, "--dir", dir, "--no-verify", "--head", "f1ee70000003");
    expect(unproven.code, unproven.stderr).toBe(0);
    expect(unproven.stdout).toContain("not verified (--no-verify)");
  });

  it("flags without --autogenerate, a bad --rename and no reference are usage errors that write nothing", { timeout: 120_000 }, async () => {
    const { dir, ref } = await project("usage", HEADS.replace("name text", "full_name text"));
    const before = await readdir(dir);
    const stray = await retort("revision", "-m", "x", "--from-sql", ref, "--dir", dir);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain("--from-sql only go with --autogenerate");
    const none = await retort("revision", "--autogenerate", "-m", "x", "--dir", dir);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("give --from <database URL> or --from-sql <file>");
    const badRename = await retort("revision", "--autogenerate", "-m", "x", "--from-sql", ref, "--rename", "projects.nam=full_name", "--dir", dir);
    expect(badRename.code).toBe(2);
    expect(badRename.stderr).toContain("--rename projects.nam=full_name: table projects has no column nam in the heads' schema");
    expect(await readdir(dir)).toEqual(before);

    const renamed = await retort("revision", "--autogenerate", "-m", "rename name", "--from-sql", ref, "--rename", "projects.name=full_name", "--dir", dir);
    expect(renamed.code, renamed.stderr).toBe(0);
    const file = (await readdir(dir)).find((f) => f.endsWith("_rename_name.ts"))!;
    expect(await readFile(path.join(dir, file), "utf8")).toContain('await op.renameColumn("projects", "name", "full_name");');
  });
});
