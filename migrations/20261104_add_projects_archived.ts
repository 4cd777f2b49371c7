import { defineMigration } from "retort-migrate";

// The other side of the branch, labelled so it can be targeted as `projects@head`.
export default defineMigration({
  revision: "e776a7d428ce",
  revises: "1e9421695434",
  message: "add archived flag to projects",
  createdAt: "2026-11-04T10:00:00Z",
  branchLabels: ["projects"],
  lint: {
    allow: [
      "index-without-concurrently: projects is created earlier in the same release, so it is still empty when the index is built",
    ],
  },
  async upgrade(op) {
    await op.safeAddColumn("projects", { name: "archived", type: "boolean", nullable: false, default: false });
    await op.safeCreateIndex("ix_projects_owner_active", "projects", ["owner_id"], { where: "not archived" });
  },
  async downgrade(op) {
    await op.safeDropIndex("ix_projects_owner_active");
    await op.safeDropColumn("projects", "archived");
  },
});
