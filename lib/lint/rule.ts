// The shape of a lint rule, as cdk-nag shapes its rules: one pure function per rule, asked about
// every target of every linted migration, answering compliant, non-compliant (with what is wrong
// and the safer way to write it) or not applicable.
import type { LintSubject } from "./subject.ts";

export const RuleCategory = {
  /** Loses data. */
  Destructive: "destructive",
  /** Blocks reads or writes on a table for as long as the statement runs. */
  Locking: "locking",
  /** Fails or ends in an unknown state through the RDS Data API. */
  DataApi: "data-api",
  /** Makes retort's own guarantees (reversible, idempotent) false. */
  Hygiene: "hygiene",
} as const;
export type RuleCategory = (typeof RuleCategory)[keyof typeof RuleCategory];

export type Compliance =
  | { readonly kind: "compliant" }
  | {
      readonly kind: "non-compliant";
      /** What is wrong, naming the objects: "drops column users.email and its data". */
      readonly message: string;
      /** How to write it safely. */
      readonly saferWay: string;
    }
  | { readonly kind: "not-applicable" };

export interface LintRule {
  /** Stable code, used in output, --json and `lint: { allow: ["<code>: reason"] }`. */
  readonly code: string;
  readonly category: RuleCategory;
  /** One line: what the rule looks for. */
  readonly description: string;
  check(subject: LintSubject): Compliance;
}

export const COMPLIANT: Compliance = { kind: "compliant" };
export const NOT_APPLICABLE: Compliance = { kind: "not-applicable" };

export function nonCompliant(message: string, saferWay: string): Compliance {
  return { kind: "non-compliant", message, saferWay };
}
