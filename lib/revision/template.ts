// The text of a new migration file, as `retort revision` and `retort reset-heads` write it.

export interface TemplateInput {
  revision: string;
  revises: readonly string[];
  message: string;
  createdAt: string;
}

export function migrationTemplate({ revision, revises, message, createdAt }: TemplateInput): string {
  const revisesText =
    revises.length === 0 ? "null" : revises.length === 1 ? JSON.stringify(revises[0]) : JSON.stringify(revises);
  const merge = revises.length > 1;
  return `import { defineMigration } from "retort-migrate";

export default defineMigration({
  revision: ${JSON.stringify(revision)},
  revises: ${revisesText},
  message: ${JSON.stringify(message)},
  createdAt: ${JSON.stringify(createdAt)},
  async upgrade(op) {
${
  merge
    ? "    // A merge revision joins branches; it usually changes nothing itself."
    : `    // Safe operations skip what already exists, so a re-run converges. For example:
    // await op.safeCreateTable("users", {
    //   columns: [
    //     { name: "id", type: "bigint", primaryKey: true },
    //     { name: "name", type: "text", nullable: false },
    //   ],
    // });
    // await op.safeAddColumn("users", { name: "email", type: "varchar(100)", nullable: true });
    // await op.safeCreateIndex("ix_users_email", "users", ["email"], { unique: true });`
}
  },
  async downgrade(op) {
${
  merge
    ? "    // Nothing to undo for a merge."
    : `    // Undo upgrade, in reverse order. For example:
    // await op.safeDropIndex("ix_users_email");
    // await op.safeDropColumn("users", "email");`
}
  },
});
`;
}
