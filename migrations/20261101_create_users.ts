import { defineMigration } from "retort-migrate";

export default defineMigration({
  revision: "31cdefda761a",
  revises: null,
  message: "create users",
  createdAt: "2026-11-01T09:00:00Z",
  async upgrade(op) {
    await op.safeCreateTable("users", {
      columns: [
        { name: "id", type: "bigint", primaryKey: true, identity: true },
        { name: "email", type: "varchar(320)", nullable: false },
        { name: "display_name", type: "text" },
        { name: "created_at", type: "timestamptz", nullable: false, default: { sql: "now()" } },
      ],
    });
  },
  async downgrade(op) {
    await op.safeDropTable("users");
  },
});
