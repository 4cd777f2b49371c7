// The generated set (generate.ts) written out as real migration files, once per tool, so each
// tool's own CLI loads them the way it loads a user's: TypeScript modules for retort (safe
// operations), ES modules for node-pg-migrate (its `ifNotExists` where it has one), an Alembic
// script directory (Alembic 1.8 has no if-not-exists forms), ES modules on Kysely's schema builder,
// and a drizzle migrations folder (SQL files and meta/_journal.json, as drizzle-kit writes them).
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { type BenchColumn, type BenchOp, type BenchType, type MigrationSpec, retortColumn } from "./generate.ts";

const q = (s: string) => JSON.stringify(s);

async function freshDirectory(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

/** One file a migration in `dir`: the tool's file name and text for the i-th. */
async function writeEach(
  dir: string,
  specs: readonly MigrationSpec[],
  name: (spec: MigrationSpec, i: number) => string,
  text: (spec: MigrationSpec) => string,
): Promise<void> {
  await Promise.all(specs.map((spec, i) => writeFile(path.join(dir, name(spec, i)), text(spec))));
}

// ---------------------------------------------------------------------------------------------
// retort

function retortOp(o: BenchOp): string {
  switch (o.op) {
    case "createTable":
      return `op.safeCreateTable(${q(o.table)}, { columns: ${JSON.stringify(o.columns.map(retortColumn))} })`;
    case "dropTable":
      return `op.safeDropTable(${q(o.table)})`;
    case "addColumn":
      return `op.safeAddColumn(${q(o.table)}, ${JSON.stringify(retortColumn(o.column))})`;
    case "dropColumn":
      return `op.safeDropColumn(${q(o.table)}, ${q(o.column)})`;
    case "createIndex":
      return `op.safeCreateIndex(${q(o.name)}, ${q(o.table)}, ${JSON.stringify(o.columns)})`;
    case "dropIndex":
      return `op.safeDropIndex(${q(o.name)})`;
    case "createForeignKey":
      return `op.safeCreateForeignKey(${q(o.name)}, ${q(o.table)}, [${q(o.column)}], ${q(o.refTable)}, ["id"], { onDelete: "set null" })`;
    case "addCheck":
      return `op.safeAddCheckConstraint(${q(o.name)}, ${q(o.table)}, ${q(o.expression)})`;
    case "dropConstraint":
      return `op.safeDropConstraint(${q(o.table)}, ${q(o.name)})`;
    case "setNullable":
      return `op.alterColumn(${q(o.table)}, ${q(o.column)}, { nullable: ${o.nullable} })`;
    case "fillNulls":
      return `op.execute(${q(`UPDATE ${o.table} SET ${o.column} = :value WHERE ${o.column} IS NULL`)}, { value: ${q(o.value)} })`;
  }
}

/** `YYYYMMDD_<slug>.ts` files importing `defineMigration` from "retort-migrate" (inside the repo). */
export async function writeRetortFiles(dir: string, specs: readonly MigrationSpec[]): Promise<void> {
  await freshDirectory(dir);
  const body = (ops: BenchOp[]) => ops.map((o) => `    await ${retortOp(o)};`).join("\n");
  await writeEach(dir, specs, (_, i) => `20260101_g${String(i).padStart(4, "0")}.ts`, (spec) =>
    `import { defineMigration } from "retort-migrate";

export default defineMigration({
  revision: ${q(spec.revision)},
  revises: ${spec.revises === null ? "null" : q(spec.revises)},
  message: ${q(spec.message)},
  createdAt: "2026-01-01T00:00:00Z",
  async upgrade(op) {
${body(spec.upgrade)}
  },
  async downgrade(op) {
${body(spec.downgrade)}
  },
});
`,
  );
}

// ---------------------------------------------------------------------------------------------
// node-pg-migrate

function pgmColumn(c: BenchColumn): string {
  const fields = [`type: ${q(c.type)}`];
  if (c.identityKey) fields.push(`primaryKey: true`, `sequenceGenerated: { precedence: "BY DEFAULT" }`);
  if (c.nullable === false) fields.push("notNull: true");
  if (c.default !== undefined) {
    fields.push(
      `default: ${typeof c.default === "object" ? `pgm.func(${q(c.default.sql)})` : JSON.stringify(c.default)}`,
    );
  }
  return `${q(c.name)}: { ${fields.join(", ")} }`;
}

function pgmOp(o: BenchOp): string {
  const ifNotExists = "{ ifNotExists: true }";
  switch (o.op) {
    case "createTable":
      return `pgm.createTable(${q(o.table)}, { ${o.columns.map(pgmColumn).join(", ")} }, ${ifNotExists})`;
    case "dropTable":
      return `pgm.dropTable(${q(o.table)}, { ifExists: true })`;
    case "addColumn":
      return `pgm.addColumns(${q(o.table)}, { ${pgmColumn(o.column)} }, ${ifNotExists})`;
    case "dropColumn":
      return `pgm.dropColumns(${q(o.table)}, [${q(o.column)}], { ifExists: true })`;
    case "createIndex":
      return `pgm.createIndex(${q(o.table)}, ${JSON.stringify(o.columns)}, { name: ${q(o.name)}, ifNotExists: true })`;
    case "dropIndex":
      return `pgm.dropIndex(${q(o.table)}, [], { name: ${q(o.name)}, ifExists: true })`;
    case "createForeignKey":
      // addConstraint has no ifNotExists.
      return `pgm.addConstraint(${q(o.table)}, ${q(o.name)}, { foreignKeys: { columns: ${q(o.column)}, references: ${q(`${o.refTable}(id)`)}, onDelete: "SET NULL" } })`;
    case "addCheck":
      return `pgm.addConstraint(${q(o.table)}, ${q(o.name)}, { check: ${q(o.expression)} })`;
    case "dropConstraint":
      return `pgm.dropConstraint(${q(o.table)}, ${q(o.name)}, { ifExists: true })`;
    case "setNullable":
      return `pgm.alterColumn(${q(o.table)}, ${q(o.column)}, { notNull: ${!o.nullable} })`;
    case "fillNulls":
      // pgm.sql's {placeholders} are for identifiers: the value is written as a literal.
      return `pgm.sql(${q(`UPDATE ${o.table} SET ${o.column} = '${o.value}' WHERE ${o.column} IS NULL`)})`;
  }
}

/** `<timestamp>_<name>.mjs` ES modules exporting `up` and `down`. */
export async function writeNodePgMigrateFiles(dir: string, specs: readonly MigrationSpec[]): Promise<void> {
  await freshDirectory(dir);
  const body = (ops: BenchOp[]) => ops.map((o) => `  ${pgmOp(o)};`).join("\n");
  await writeEach(dir, specs, (_, i) => `${1767225600000 + i}_generated-${i}.mjs`, (spec) =>
    `// ${spec.message}
export const up = (pgm) => {
${body(spec.upgrade)}
};

export const down = (pgm) => {
${body(spec.downgrade)}
};
`,
  );
}

// ---------------------------------------------------------------------------------------------
// Alembic

const SA_TYPES: Record<BenchType, string> = {
  bigint: "sa.BigInteger()",
  text: "sa.Text()",
  timestamptz: "sa.TIMESTAMP(timezone=True)",
  integer: "sa.Integer()",
  "varchar(40)": "sa.String(40)",
  boolean: "sa.Boolean()",
};

function saColumn(c: BenchColumn): string {
  const args = [q(c.name), SA_TYPES[c.type]];
  if (c.identityKey) args.push("sa.Identity()", "primary_key=True");
  if (c.nullable === false) args.push("nullable=False");
  if (c.default !== undefined) {
    args.push(
      `server_default=${
        typeof c.default === "object" ? `sa.text(${q(c.default.sql)})` : typeof c.default === "boolean" ? `sa.${c.default}()` : q(c.default)
      }`,
    );
  }
  return `sa.Column(${args.join(", ")})`;
}

function alembicOp(o: BenchOp): string {
  switch (o.op) {
    case "createTable":
      return `op.create_table(${q(o.table)}, ${o.columns.map(saColumn).join(", ")})`;
    case "dropTable":
      return `op.drop_table(${q(o.table)})`;
    case "addColumn":
      return `op.add_column(${q(o.table)}, ${saColumn(o.column)})`;
    case "dropColumn":
      return `op.drop_column(${q(o.table)}, ${q(o.column)})`;
    case "createIndex":
      return `op.create_index(${q(o.name)}, ${q(o.table)}, ${JSON.stringify(o.columns)})`;
    case "dropIndex":
      return `op.drop_index(${q(o.name)}, table_name=${q(o.table)})`;
    case "createForeignKey":
      return `op.create_foreign_key(${q(o.name)}, ${q(o.table)}, ${q(o.refTable)}, [${q(o.column)}], ["id"], ondelete="SET NULL")`;
    case "addCheck":
      return `op.create_check_constraint(${q(o.name)}, ${q(o.table)}, ${q(o.expression)})`;
    case "dropConstraint":
      return `op.drop_constraint(${q(o.name)}, ${q(o.table)})`;
    case "setNullable":
      return `op.alter_column(${q(o.table)}, ${q(o.column)}, nullable=${o.nullable ? "True" : "False"})`;
    case "fillNulls":
      return `op.execute(sa.text(${q(`UPDATE ${o.table} SET ${o.column} = :value WHERE ${o.column} IS NULL`)}).bindparams(value=${q(o.value)}))`;
  }
}

const ENV_PY = `# Online migrations only, against the URL in BENCH_DATABASE_URL; one transaction (Alembic's default).
import os
from alembic import context
from sqlalchemy import create_engine

engine = create_engine(os.environ["BENCH_DATABASE_URL"])
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
`;

/** An Alembic script directory (alembic.ini, env.py, versions/); returns the path of alembic.ini. */
export async function writeAlembicFiles(dir: string, specs: readonly MigrationSpec[]): Promise<string> {
  await freshDirectory(dir);
  await mkdir(path.join(dir, "versions"));
  const ini = path.join(dir, "alembic.ini");
  await writeFile(ini, `[alembic]\nscript_location = ${dir}\n`);
  await writeFile(path.join(dir, "env.py"), ENV_PY);
  const body = (ops: BenchOp[]) => (ops.length ? ops.map((o) => `    ${alembicOp(o)}`).join("\n") : "    pass");
  await writeEach(path.join(dir, "versions"), specs, (spec, i) => `${spec.revision}_generated_${i}.py`, (spec) =>
    `"""${spec.message}"""
from alembic import op
import sqlalchemy as sa

revision = ${q(spec.revision)}
down_revision = ${spec.revises === null ? "None" : q(spec.revises)}
branch_labels = None
depends_on = None


def upgrade():
${body(spec.upgrade)}


def downgrade():
${body(spec.downgrade)}
`,
  );
  return ini;
}

// ---------------------------------------------------------------------------------------------
// Kysely

/** A Kysely column builder callback for the column's constraints; "" when it has none. */
function kyselyColumnBuilder(c: BenchColumn, ifNotExists: boolean): string {
  const calls: string[] = [];
  if (c.identityKey) calls.push("primaryKey()", "generatedByDefaultAsIdentity()");
  if (c.nullable === false) calls.push("notNull()");
  if (c.default !== undefined) {
    calls.push(`defaultTo(${typeof c.default === "object" ? `sql\`${c.default.sql}\`` : JSON.stringify(c.default)})`);
  }
  if (ifNotExists) calls.push("ifNotExists()");
  return calls.length ? `, (col) => col.${calls.join(".")}` : "";
}

function kyselyOp(o: BenchOp): string {
  const alter = (t: string) => `db.schema.alterTable(${q(t)})`;
  switch (o.op) {
    case "createTable":
      return `db.schema.createTable(${q(o.table)}).ifNotExists()${o.columns
        .map((c) => `\n    .addColumn(${q(c.name)}, ${q(c.type)}${kyselyColumnBuilder(c, false)})`)
        .join("")}\n    .execute()`;
    case "dropTable":
      return `db.schema.dropTable(${q(o.table)}).ifExists().execute()`;
    case "addColumn":
      return `${alter(o.table)}.addColumn(${q(o.column.name)}, ${q(o.column.type)}${kyselyColumnBuilder(o.column, true)}).execute()`;
    case "dropColumn":
      return `${alter(o.table)}.dropColumn(${q(o.column)}).execute()`;
    case "createIndex":
      return `db.schema.createIndex(${q(o.name)}).ifNotExists().on(${q(o.table)}).columns(${JSON.stringify(o.columns)}).execute()`;
    case "dropIndex":
      return `db.schema.dropIndex(${q(o.name)}).ifExists().execute()`;
    case "createForeignKey":
      return `${alter(o.table)}.addForeignKeyConstraint(${q(o.name)}, [${q(o.column)}], ${q(o.refTable)}, ["id"]).onDelete("set null").execute()`;
    case "addCheck":
      return `${alter(o.table)}.addCheckConstraint(${q(o.name)}, sql\`${o.expression}\`).execute()`;
    case "dropConstraint":
      return `${alter(o.table)}.dropConstraint(${q(o.name)}).ifExists().execute()`;
    case "setNullable":
      return `${alter(o.table)}.alterColumn(${q(o.column)}, (col) => col.${o.nullable ? "dropNotNull" : "setNotNull"}()).execute()`;
    case "fillNulls":
      // The query builder binds the value as a parameter (`:0` through kysely-data-api).
      return `db.updateTable(${q(o.table)}).set({ ${q(o.column)}: ${q(o.value)} }).where(${q(o.column)}, "is", null).execute()`;
  }
}

/**
 * `<0000>_generated-<i>.mjs` ES modules exporting `up(db)` and `down(db)` for Kysely's
 * FileMigrationProvider (it runs them in name order): the schema builder, with its
 * ifNotExists/ifExists where it has one, as node-pg-migrate's files do.
 */
export async function writeKyselyFiles(dir: string, specs: readonly MigrationSpec[]): Promise<void> {
  await freshDirectory(dir);
  const body = (ops: BenchOp[]) => ops.map((o) => `  await ${kyselyOp(o)};`).join("\n");
  await writeEach(dir, specs, (_, i) => `${String(i).padStart(4, "0")}_generated-${i}.mjs`, (spec) =>
    `// ${spec.message}
import { sql } from "kysely";

export async function up(db) {
${body(spec.upgrade)}
}

export async function down(db) {
${body(spec.downgrade)}
}
`,
  );
}

// ---------------------------------------------------------------------------------------------
// drizzle

const ident = (name: string) => `"${name}"`;

/** A column as drizzle-kit writes it in CREATE TABLE and ADD COLUMN. */
function drizzleColumn(table: string, c: BenchColumn): string {
  const type = c.type === "timestamptz" ? "timestamp with time zone" : c.type;
  let out = `${ident(c.name)} ${type}`;
  if (c.identityKey) {
    out +=
      ` PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY (sequence name "${table}_${c.name}_seq" INCREMENT BY 1 ` +
      "MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1)";
  }
  if (c.default !== undefined) {
    out += ` DEFAULT ${typeof c.default === "object" ? c.default.sql : typeof c.default === "string" ? `'${c.default}'` : String(c.default)}`;
  }
  if (c.nullable === false) out += " NOT NULL";
  return out;
}

/** One statement in drizzle-kit's words (`drizzle-kit generate` for PostgreSQL, 0.31). */
function drizzleStatement(o: BenchOp): string {
  const alter = (t: string) => `ALTER TABLE ${ident(t)}`;
  switch (o.op) {
    case "createTable":
      return `CREATE TABLE ${ident(o.table)} (\n${o.columns.map((c) => `\t${drizzleColumn(o.table, c)}`).join(",\n")}\n);\n`;
    case "dropTable":
      return `DROP TABLE ${ident(o.table)} CASCADE;`;
    case "addColumn":
      return `${alter(o.table)} ADD COLUMN ${drizzleColumn(o.table, o.column)};`;
    case "dropColumn":
      return `${alter(o.table)} DROP COLUMN ${ident(o.column)};`;
    case "createIndex":
      return `CREATE INDEX ${ident(o.name)} ON ${ident(o.table)} USING btree (${o.columns.map(ident).join(",")});`;
    case "dropIndex":
      return `DROP INDEX ${ident(o.name)};`;
    case "createForeignKey":
      return (
        `${alter(o.table)} ADD CONSTRAINT ${ident(o.name)} FOREIGN KEY (${ident(o.column)}) ` +
        `REFERENCES "public".${ident(o.refTable)}("id") ON DELETE set null ON UPDATE no action;`
      );
    case "addCheck":
      return `${alter(o.table)} ADD CONSTRAINT ${ident(o.name)} CHECK (${o.expression});`;
    case "dropConstraint":
      return `${alter(o.table)} DROP CONSTRAINT ${ident(o.name)};`;
    case "setNullable":
      return `${alter(o.table)} ALTER COLUMN ${ident(o.column)} ${o.nullable ? "DROP" : "SET"} NOT NULL;`;
    case "fillNulls":
      // drizzle-kit writes no data changes: a hand-added statement (`generate --custom`), a literal.
      return `UPDATE ${ident(o.table)} SET ${ident(o.column)} = '${o.value}' WHERE ${ident(o.column)} IS NULL;`;
  }
}

/**
 * A drizzle migrations folder as `drizzle-kit generate` leaves it: `<0000>_<tag>.sql` files whose
 * statements are separated by `--> statement-breakpoint`, and `meta/_journal.json` listing them.
 * drizzle's migrator has no down migrations, so only the upgrades are written.
 */
export async function writeDrizzleFiles(dir: string, specs: readonly MigrationSpec[]): Promise<void> {
  await freshDirectory(dir);
  await mkdir(path.join(dir, "meta"));
  const tag = (i: number) => `${String(i).padStart(4, "0")}_generated_${i}`;
  const journal = {
    version: "7",
    dialect: "postgresql",
    entries: specs.map((_, i) => ({ idx: i, version: "7", when: 1767225600000 + i, tag: tag(i), breakpoints: true })),
  };
  await writeFile(path.join(dir, "meta", "_journal.json"), `${JSON.stringify(journal, null, 2)}\n`);
  await writeEach(dir, specs, (_, i) => `${tag(i)}.sql`, (spec) => spec.upgrade.map(drizzleStatement).join("--> statement-breakpoint\n"));
}
