// locking: CREATE INDEX without CONCURRENTLY on an existing table blocks every write to it until
// the index is built, which on a big table is minutes.
import type { QualifiedName } from "../../schema/names.ts";
import type { CreateIndexOp } from "../../schema/operation.ts";
import { COMMITS_ON_ITS_OWN, opCall, relationArg } from "../advice.ts";
import { type Compliance, COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";
import { type LintSubject, tableExisted, tableName } from "../subject.ts";

export const indexWithoutConcurrently: LintRule = {
  code: "index-without-concurrently",
  category: RuleCategory.Locking,
  description: "an index is built on an existing table without CONCURRENTLY, blocking writes to it",
  check(subject) {
    const { target } = subject;
    if (target.kind === "operation" && target.operation.operation.kind === "createIndex") {
      const op = target.operation.operation;
      return verdict(subject, op.index.name, op.table, op.concurrently, indexCall(subject, op));
    }
    if (target.kind === "fact" && target.fact.kind === "createIndex") {
      const { fact } = target;
      const name = fact.index === null ? '"<name>"' : JSON.stringify(fact.index);
      const call = opCall("safeCreateIndex", name, relationArg(fact.table, subject.defaultSchema), "[...]", "{ concurrently: true }");
      return verdict(subject, fact.index, fact.table, fact.concurrently, call);
    }
    return NOT_APPLICABLE;
  },
};

/** The same index as an op.safeCreateIndex call with { concurrently: true }. */
function indexCall(subject: LintSubject, op: CreateIndexOp): string {
  const columns = `[${op.columns.map((k) => (typeof k === "string" ? JSON.stringify(k) : `{ sql: ${JSON.stringify(k.expression)} }`)).join(", ")}]`;
  const options = [
    ...(op.unique ? ["unique: true"] : []),
    ...(op.where === null ? [] : [`where: ${JSON.stringify(op.where)}`]),
    ...(op.using === null ? [] : [`using: ${JSON.stringify(op.using)}`]),
    "concurrently: true",
  ];
  // The index's schema is its table's: its name alone says it.
  return opCall("safeCreateIndex", JSON.stringify(op.index.name), relationArg(op.table, subject.defaultSchema), columns, `{ ${options.join(", ")} }`);
}

function verdict(subject: LintSubject, index: string | null, table: QualifiedName, concurrently: boolean, call: string): Compliance {
  if (concurrently || !tableExisted(subject.migration, table)) return COMPLIANT;
  const name = tableName(subject, table);
  return nonCompliant(
    `builds index ${index ?? "(unnamed)"} on ${name} without CONCURRENTLY: every write to ${name} waits until the build ends`,
    `use ${call}, ${COMMITS_ON_ITS_OWN}, keeping the index in a migration of its own ` +
      "(a failed concurrent build leaves an INVALID index, which safeCreateIndex drops and builds again)",
  );
}
