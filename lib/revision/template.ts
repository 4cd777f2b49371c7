// The text of a new migration file, as `retort revision` and `retort reset-heads` write it.

export interface TemplateInput {
  revision: string;
  revises: readonly string[];
  message: string;
  createdAt: string;
  /** A body written for the user (autogenerate): the lines of upgrade and downgrade, and notes above them. */
  body?: { upgrade: readonly string[]; downgrade: readonly string[]; notes: readonly string[]; transactional?: boolean };
}

function revisesLiteral(revises: readonly string[]): string {
  return revises.length === 0 ? "null" : revises.length === 1 ? JSON.stringify(revises[0]) : JSON.stringify(revises);
}

/** A migration with its body written: each line indented into its function, notes as a comment above. */
function written(head: Omit<TemplateInput, "body">, body: NonNullable<TemplateInput["body"]>): string {
  // A line's continuation is inside a template literal (SQL text): it stays as it is.
  const indent = (lines: readonly string[]) => lines.map((l) => `    ${l}`).join("\n");
  const notes = body.notes.length > 0 ? `${body.notes.map((n) => `// ${n}`).join("\n")}\n` : "";
  return `import { defineMigration } from "retort-migrate";

// Written by \`retort revision --autogenerate\`: review it before it runs anywhere.
${notes}export default defineMigration({
  revision: ${JSON.stringify(head.revision)},
  revises: ${revisesLiteral(head.revises)},
  message: ${JSON.stringify(head.message)},
  createdAt: ${JSON.stringify(head.createdAt)},
${body.transactional === false ? "  transactional: false,\n" : ""}  async upgrade(op) {
${indent(body.upgrade)}
  },
  async downgrade(op) {
${indent(body.downgrade)}
  },
});
`;
}

export function migrationTemplate({ revision, revises, message, createdAt, body }: TemplateInput): string {
  if (body) return written({ revision, revises, message, createdAt }, body);
  const revisesText = revisesLiteral(revises);
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
