// Migrations defined inline in a test, fed to the runner without files (Kysely's habit): each
// scenario states its graph next to its assertions.
import { checksum, type LoadResult, type MigrationSource } from "../../lib/revision/loader.ts";
import { durationMs } from "../../lib/duration.ts";
import type { Migration, MigrationDefinition } from "../../lib/revision/migration.ts";

export type InlineMigration = Pick<MigrationDefinition, "revision" | "revises" | "upgrade" | "downgrade"> &
  Partial<Pick<MigrationDefinition, "message" | "transactional" | "irreversible" | "dependsOn" | "lint" | "lockTimeout" | "statementTimeout">> & {
    /** Changing it changes the checksum, as editing the file would. */
    version?: number;
  };

const list = (v: string | readonly string[] | null | undefined) => (v == null ? [] : typeof v === "string" ? [v] : [...v]);

export function toMigrations(defs: readonly InlineMigration[]): Migration[] {
  return defs.map((d, i) => ({
    revision: d.revision,
    revises: list(d.revises),
    dependsOn: list(d.dependsOn),
    branchLabels: [],
    message: d.message ?? `migration ${d.revision}`,
    createdAt: undefined,
    transactional: d.transactional !== false,
    irreversible: d.irreversible === true,
    file: `migrations/2026010${i}_${d.revision}.ts`,
    checksum: checksum(`${d.revision}:${d.version ?? 0}:${d.upgrade.toString()}:${d.downgrade.toString()}`),
    ...(d.lint ? { lint: { allow: d.lint.allow ?? [] } } : {}),
    ...(d.lockTimeout !== undefined ? { lockTimeoutMs: durationMs(d.lockTimeout)! } : {}),
    ...(d.statementTimeout !== undefined ? { statementTimeoutMs: durationMs(d.statementTimeout)! } : {}),
    upgrade: d.upgrade,
    downgrade: d.downgrade,
  }));
}

export function memorySource(defs: readonly InlineMigration[]): MigrationSource & { defs: InlineMigration[] } {
  const source = {
    location: "inline",
    defs: [...defs],
    async load(): Promise<LoadResult> {
      return { migrations: toMigrations(source.defs), problems: [] };
    },
  };
  return source;
}
