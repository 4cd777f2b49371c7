// Fault injection for the local Data API: the fault specs tests inject, matching each call against
// them, and firing the one that matches: after any delay, the service error to answer with, or
// word that a "hang" drops the connection.

import {
  serviceError,
  statementTimeout,
  type DataApiOperation,
  type ServiceError,
  type ServiceExceptionName,
} from "./data-api-wire.ts";

/**
 * - resuming: DatabaseResumingException (400) - an auto-paused cluster; the statement did not run
 * - timeout: StatementTimeoutException (400) - the call outlived the service's 45 s
 * - 5xx: InternalServerErrorException (500), ServiceUnavailableError (503) or
 *   DatabaseUnavailableException (504), by `status`
 * - throttle: ThrottlingException (429)
 * - hang: no answer at all; the connection is dropped after `delayMs` (or when the endpoint closes)
 * - exception: the service exception named by `exception` (ForbiddenException, NotFoundException,
 *   ...), with the HTTP status the service model gives it
 */
export type FaultKind = "resuming" | "timeout" | "5xx" | "throttle" | "hang" | "exception";

export interface FaultSpec {
  /** The operation whose calls are counted, or "any" for every call. */
  on: DataApiOperation | "any";
  /**
   * The first matching call (1-based, counted from injection) that fails.
   * @default 1
   */
  nth?: number;
  /**
   * How many matching calls fail, from the nth on (Infinity for all).
   * @default 1
   */
  times?: number;
  error: FaultKind;
  /** Run the call for real first, then answer with the error: the client cannot know it ran. */
  afterExecuting?: boolean;
  /**
   * For "5xx": which server fault.
   * @default 500
   */
  status?: 500 | 503 | 504;
  /** Wait this long before answering (for "hang": before dropping the connection). */
  delayMs?: number;
  /** For "exception": which one. */
  exception?: ServiceExceptionName;
  /** For "exception": the message it carries. */
  message?: string;
}
// Over PGlite (one session) a BeginTransaction failed with afterExecuting leaves a transaction
// that holds the session until it expires: give such tests a short transactionTimeoutMs.

export interface InjectedFault {
  /** How many calls this fault has failed so far. */
  readonly fired: number;
  /** How many matching calls it has seen. */
  readonly seen: number;
  remove(): void;
}

export interface Faults {
  inject(spec: FaultSpec): InjectedFault;
  /** Removes every injected fault. */
  clear(): void;
}

interface FaultRule {
  spec: FaultSpec;
  seen: number;
  fired: number;
}

/** The injected faults of one endpoint, and the delays of the ones firing now. */
export class FaultTable implements Faults {
  #rules: FaultRule[] = [];
  readonly #waits = new Set<() => void>();
  readonly #options: { readonly resourceArn?: string };

  /** `options.resourceArn`: the cluster the endpoint plays, named in DatabaseResumingException. */
  constructor(options: { readonly resourceArn?: string }) {
    this.#options = options;
  }

  inject(spec: FaultSpec): InjectedFault {
    const nth = spec.nth ?? 1;
    const times = spec.times ?? 1;
    if (!(nth >= 1) || !(times >= 0)) throw new RangeError("faults.inject: nth must be >= 1 and times >= 0");
    const rule: FaultRule = { spec: { ...spec, nth, times }, seen: 0, fired: 0 };
    this.#rules.push(rule);
    const rules = () => this.#rules;
    return {
      get fired() {
        return rule.fired;
      },
      get seen() {
        return rule.seen;
      },
      remove: () => {
        this.#rules = rules().filter((r) => r !== rule);
      },
    };
  }

  clear(): void {
    this.#rules = [];
  }

  /** Counts the call on every matching rule; returns the first rule that fires for it. */
  match(operation: DataApiOperation): FaultSpec | undefined {
    let chosen: FaultSpec | undefined;
    for (const rule of this.#rules) {
      if (rule.spec.on !== "any" && rule.spec.on !== operation) continue;
      rule.seen += 1;
      const { nth = 1, times = 1 } = rule.spec;
      if (!chosen && rule.seen >= nth && rule.fired < times) {
        rule.fired += 1;
        chosen = rule.spec;
      }
    }
    return chosen;
  }

  /**
   * Fires a matched fault: waits its `delayMs`, then gives the error to answer with, or "drop"
   * for a hang (whose wait, without `delayMs`, lasts until `releaseWaits`).
   */
  async fire(fault: FaultSpec): Promise<ServiceError | "drop"> {
    if (fault.error === "hang") {
      await this.#wait(fault.delayMs);
      return "drop";
    }
    if (fault.delayMs) await this.#wait(fault.delayMs);
    return faultError(fault, this.#clusterName());
  }

  /** Ends every wait at once (the endpoint is closing). */
  releaseWaits(): void {
    for (const release of this.#waits) release();
  }

  /** Waits `ms` (forever when undefined) or until `releaseWaits`. */
  #wait(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const release = () => {
        clearTimeout(timer);
        this.#waits.delete(release);
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(release, ms);
      this.#waits.add(release);
    });
  }

  #clusterName(): string {
    const arn = this.#options.resourceArn ?? "";
    return /:cluster:(.+)$/.exec(arn)?.[1] ?? "local";
  }
}

function faultError(fault: FaultSpec, cluster: string): ServiceError {
  switch (fault.error) {
    case "resuming":
      return serviceError(
        "DatabaseResumingException",
        `The Aurora DB instance ${cluster}-instance-1 is resuming after being auto-paused. ` +
          `Please wait a few seconds and try again.`,
      );
    case "timeout":
      return statementTimeout();
    case "throttle":
      return serviceError("ThrottlingException", "Rate exceeded");
    case "exception": {
      const type = fault.exception ?? "InternalServerErrorException";
      return serviceError(type, fault.message ?? `${type} injected by the local Data API`);
    }
    case "5xx":
    case "hang": {
      const status = fault.status ?? 500;
      if (status === 503) return serviceError("ServiceUnavailableError", "Service Unavailable");
      if (status === 504) return serviceError("DatabaseUnavailableException", "The writer instance in the DB cluster isn't available.");
      return serviceError("InternalServerErrorException", "Internal Server Error");
    }
  }
}
