// How lint's safer ways write the operations they recommend: calls as a migration would write
// them (`op.validateConstraint("orders", "fk_orders_user")`), so a finding can be acted on by
// copying its text.
import type { QualifiedName } from "../schema/names.ts";

/** A table or index name as an op argument: "users", "app.users", or { schema, name } for names with a dot. */
export function relationArg(name: QualifiedName, defaultSchema: string): string {
  if (name.schema === defaultSchema && !name.name.includes(".")) return JSON.stringify(name.name);
  if (!name.schema.includes(".") && !name.name.includes(".")) return JSON.stringify(`${name.schema}.${name.name}`);
  return `{ schema: ${JSON.stringify(name.schema)}, name: ${JSON.stringify(name.name)} }`;
}

/** A call: `op.<method>(<args>)`, each argument already written as code. */
export function opCall(method: string, ...args: string[]): string {
  return `op.${method}(${args.join(", ")})`;
}

/**
 * What the operations that commit step by step (statements marked `transaction: "own"` or "none",
 * lib/ops/sink.ts) do to their migration: the runner commits each step on its own.
 */
export const COMMITS_ON_ITS_OWN = "which commits each step on its own (what the migration did before it is committed first)";
