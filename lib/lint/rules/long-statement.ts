// data-api: a statement likely to run longer than the RDS Data API's 45 s call limit. retort sends
// every write with continueAfterTimeout, so a long write in a self-committing DO block finishes on
// its own (the run reports an unknown outcome and safe-upgrade converges). Two cases remain:
//  - a read (op.query, a safeExecute guard) is sent without continueAfterTimeout, since it must
//    return rows: the Data API cancels it at 45 s;
//  - a whole-table write in a migration that holds a transaction across calls (it binds values or
//    reads): once a call times out the transaction cannot commit, and the work is rolled back.
// "Likely long" is read from the text: a write that touches every row (UPDATE/DELETE/INSERT ...
// SELECT without WHERE, an index build, a validation or type change on an existing table) and a
// read of a table without WHERE or LIMIT. Operations of the op object are covered by the locking
// rules, whose safer ways (CONCURRENTLY, NOT VALID, transactional: false) also avoid the limit.
import type { RawFact } from "../../dialect/dialect.ts";
import { isPunct, isWord, tokenize } from "../../sql/lexer.ts";
import { COMPLIANT, type LintRule, NOT_APPLICABLE, nonCompliant, RuleCategory } from "../rule.ts";
import { type LintedMigration, type LintSubject, tableExisted, tableName } from "../subject.ts";

export const longStatement: LintRule = {
  code: "long-statement",
  category: RuleCategory.DataApi,
  description: "a statement likely to outlast the Data API's 45 s limit where retort cannot let it run on",
  check(subject) {
    const { target, migration } = subject;
    if (target.kind === "read") {
      if (!scansWholeTable(target.sql)) return COMPLIANT;
      return nonCompliant(
        `reads a whole table (${shorten(target.sql)}); reads are sent without continueAfterTimeout, so the Data API cancels one that runs past 45 s`,
        "read in pages (WHERE id > :last ORDER BY id LIMIT 1000), or move the work into one SQL statement that writes (op.execute) in a `transactional: false` migration",
      );
    }
    if (target.kind !== "fact") return NOT_APPLICABLE;
    const what = wholeTableWork(subject, target.fact);
    if (what === undefined) return NOT_APPLICABLE;
    if (!migration.holdsTransaction) return COMPLIANT;
    return nonCompliant(
      `${what}, in a migration that holds a transaction open (it binds values or reads): if the call passes the Data API's 45 s limit the transaction cannot commit and the work is rolled back`,
      "move it to a migration of its own marked `transactional: false` (each statement then commits on its own and runs past 45 s; write it so safe-upgrade can run it again), or work in batches by key range",
    );
  },
};

function wholeTableWork(subject: LintSubject, fact: RawFact): string | undefined {
  const m: LintedMigration = subject.migration;
  switch (fact.kind) {
    case "update":
    case "delete":
      return fact.where ? undefined : `${fact.kind.toUpperCase()} of every row of ${tableName(subject, fact.table)}`;
    case "insertSelect":
      return fact.where ? undefined : `INSERT ... SELECT into ${tableName(subject, fact.table)} without WHERE`;
    case "createIndex":
      return tableExisted(m, fact.table) ? `an index build on ${tableName(subject, fact.table)}` : undefined;
    case "alterColumnType":
      return tableExisted(m, fact.table) ? `a type change of ${tableName(subject, fact.table)}.${fact.column}` : undefined;
    case "addConstraint":
      return !fact.notValid && tableExisted(m, fact.table) ? `a constraint checked against every row of ${tableName(subject, fact.table)}` : undefined;
    case "validateConstraint":
      return `VALIDATE CONSTRAINT ${fact.name} on ${tableName(subject, fact.table)}`;
    default:
      return undefined;
  }
}

/** A SELECT from a table with neither WHERE nor LIMIT at its top level. */
function scansWholeTable(sql: string): boolean {
  const tokens = tokenize(sql);
  let depth = 0;
  let from = false;
  for (const t of tokens) {
    if (isPunct(t, "(")) depth += 1;
    else if (isPunct(t, ")")) depth -= 1;
    else if (depth === 0 && isWord(t, "where", "limit", "fetch")) return false;
    else if (depth === 0 && isWord(t, "from")) from = true;
  }
  return from;
}

function shorten(sql: string): string {
  const text = sql.replace(/\s+/g, " ").trim();
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
