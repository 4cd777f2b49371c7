import { defineMigration } from "retort-migrate";

export default defineMigration({
  revision: "4ba16a683121",
  revises: ["f3096560a20d", "e776a7d428ce"],
  message: "merge heads",
  createdAt: "2026-11-05T09:00:00Z",
  async upgrade() {
    // A merge revision joins branches; it changes nothing itself.
  },
  async downgrade() {
    // Nothing to undo for a merge.
  },
});
