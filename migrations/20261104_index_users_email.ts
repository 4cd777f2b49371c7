import { defineMigration } from "retort-migrate";

// One side of a branch: built in parallel with 20261104_add_projects_archived.ts.
export default defineMigration({
  revision: "f3096560a20d",
  revises: "1e9421695434",
  message: "unique index on users email",
  createdAt: "2026-11-04T09:00:00Z",
  lint: {
    allow: ["index-without-concurrently: users is created earlier in the same release, so it is still empty when the index is built"],
  },
  async upgrade(op) {
    await op.safeCreateIndex("ix_users_email", "users", ["email"], { unique: true });
  },
  async downgrade(op) {
    await op.safeDropIndex("ix_users_email");
  },
});
