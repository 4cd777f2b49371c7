// A generated, realistic reference set of migrations for the benchmarks: tables created, columns
// added, indexes and foreign keys, and a data update, about three operations per migration.
import type { Operations } from "../lib/ops/operations.ts";
import type { Migration } from "../lib/revision/migration.ts";

export function generateMigrations(count: number): Migration[] {
  const out: Migration[] = [];
  const id = (i: number) => (0xb000_0000_0000 + i).toString(16);
  let tables = 0;
  for (let i = 0; i < count; i += 1) {
    const kind = i % 5;
    const t = `t${tables}`;
    let upgrade: (op: Operations) => Promise<void>;
    let downgrade: (op: Operations) => Promise<void>;
    if (kind === 0 || tables === 0) {
      tables += 1;
      const name = `t${tables}`;
      upgrade = async (op) => {
        await op.safeCreateTable(name, {
          columns: [
            { name: "id", type: "bigint", primaryKey: true, identity: true },
            { name: "name", type: "text", nullable: false },
            { name: "created_at", type: "timestamptz", nullable: false, default: { sql: "now()" } },
          ],
        });
        await op.safeAddColumn(name, { name: "status", type: "text", default: "new" });
        await op.safeCreateIndex(`ix_${name}_name`, name, ["name"]);
      };
      downgrade = async (op) => {
        await op.safeDropTable(name);
      };
    } else if (kind === 1) {
      upgrade = async (op) => {
        await op.safeAddColumn(t, { name: `c${i}`, type: "integer" });
        await op.safeAddColumn(t, { name: `d${i}`, type: "varchar(40)" });
        await op.safeCreateIndex(`ix_${t}_c${i}`, t, [`c${i}`]);
      };
      downgrade = async (op) => {
        await op.safeDropIndex(`ix_${t}_c${i}`);
        await op.safeDropColumn(t, `d${i}`);
        await op.safeDropColumn(t, `c${i}`);
      };
    } else if (kind === 2) {
      const parent = `t${Math.max(1, tables - 1)}`;
      upgrade = async (op) => {
        await op.safeAddColumn(t, { name: `ref${i}`, type: "bigint" });
        await op.safeCreateForeignKey(`fk_${t}_ref${i}`, t, [`ref${i}`], parent, ["id"], { onDelete: "set null" });
        await op.safeCreateIndex(`ix_${t}_ref${i}`, t, [`ref${i}`]);
      };
      downgrade = async (op) => {
        await op.safeDropIndex(`ix_${t}_ref${i}`);
        await op.safeDropConstraint(t, `fk_${t}_ref${i}`);
        await op.safeDropColumn(t, `ref${i}`);
      };
    } else if (kind === 3) {
      upgrade = async (op) => {
        await op.safeAddColumn(t, { name: `flag${i}`, type: "boolean", nullable: false, default: false });
        await op.safeAddCheckConstraint(`ck_${t}_name${i}`, t, "length(name) > 0");
        await op.alterColumn(t, "status", { nullable: false });
      };
      downgrade = async (op) => {
        await op.alterColumn(t, "status", { nullable: true });
        await op.safeDropConstraint(t, `ck_${t}_name${i}`);
        await op.safeDropColumn(t, `flag${i}`);
      };
    } else {
      upgrade = async (op) => {
        await op.safeAddColumn(t, { name: `note${i}`, type: "text" });
        await op.execute(`UPDATE ${t} SET status = :status WHERE status IS NULL`, { status: "new" });
        await op.safeCreateIndex(`ix_${t}_note${i}`, t, ["status", `note${i}`]);
      };
      downgrade = async (op) => {
        await op.safeDropIndex(`ix_${t}_note${i}`);
        await op.safeDropColumn(t, `note${i}`);
      };
    }
    out.push({
      revision: id(i),
      revises: i === 0 ? [] : [id(i - 1)],
      dependsOn: [],
      branchLabels: [],
      message: `generated ${i}`,
      createdAt: undefined,
      transactional: true,
      irreversible: false,
      file: `migrations/20260101_g${String(i).padStart(4, "0")}.ts`,
      checksum: id(i).padEnd(64, "0"),
      upgrade,
      downgrade,
    });
  }
  return out;
}
