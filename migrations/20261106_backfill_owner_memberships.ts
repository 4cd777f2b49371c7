import { defineMigration } from "retort-migrate";

// A data migration: every project owner becomes a member with the role "owner".
export default defineMigration({
  revision: "4b53418e238e",
  revises: "4ba16a683121",
  message: "backfill owner memberships",
  createdAt: "2026-11-06T09:00:00Z",
  lint: {
    allow: ["long-statement: projects is created earlier in the same release; the backfill reads a handful of rows"],
  },
  async upgrade(op) {
    await op.execute(
      `INSERT INTO memberships (user_id, project_id, role)
       SELECT owner_id, id, :role FROM projects
       ON CONFLICT (user_id, project_id) DO UPDATE SET role = excluded.role`,
      { role: "owner" },
    );
  },
  async downgrade(op) {
    await op.execute("UPDATE memberships SET role = :member WHERE role = :owner", { member: "member", owner: "owner" });
  },
});
