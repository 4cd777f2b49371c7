import { defineMigration } from "retort-migrate";

export default defineMigration({
  revision: "65d09593c4bd",
  revises: "31cdefda761a",
  message: "create projects",
  createdAt: "2026-11-02T09:00:00Z",
  async upgrade(op) {
    await op.safeCreateTable("projects", {
      columns: [
        { name: "id", type: "bigint", primaryKey: true, identity: true },
        { name: "owner_id", type: "bigint", nullable: false },
        { name: "name", type: "text", nullable: false },
        { name: "created_at", type: "timestamptz", nullable: false, default: { sql: "now()" } },
      ],
    });
    await op.safeCreateForeignKey("fk_projects_owner", "projects", ["owner_id"], "users", ["id"], {
      onDelete: "cascade",
    });
  },
  async downgrade(op) {
    await op.safeDropConstraint("projects", "fk_projects_owner");
    await op.safeDropTable("projects");
  },
});
