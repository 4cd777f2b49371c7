import { defineMigration } from "retort-migrate";

export default defineMigration({
  revision: "1e9421695434",
  revises: "65d09593c4bd",
  message: "create memberships",
  createdAt: "2026-11-03T09:00:00Z",
  async upgrade(op) {
    await op.safeCreateTable("memberships", {
      columns: [
        { name: "user_id", type: "bigint", nullable: false, references: { table: "users", column: "id", onDelete: "cascade" } },
        { name: "project_id", type: "bigint", nullable: false, references: { table: "projects", column: "id", onDelete: "cascade" } },
        { name: "role", type: "text", nullable: false, default: "member" },
      ],
      primaryKey: ["user_id", "project_id"],
    });
    await op.safeAddCheckConstraint("ck_memberships_role", "memberships", "role in ('owner', 'member', 'viewer')");
  },
  async downgrade(op) {
    await op.safeDropTable("memberships");
  },
});
