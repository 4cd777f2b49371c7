// The CDK Provider framework's protocol around the deploy hook, run in-process: onEvent with the
// ResponseURL masked, then isComplete on the merged event until it reports completion, and the
// response the framework would PUT to CloudFormation (its Reason text included: the error message,
// a logs line, the stack trace's further lines). `npm start` and the tests drive the real handlers
// through it; in AWS the framework's own functions do this.
import type { Context as LambdaContext } from "aws-lambda";
import type { DeployEvent, IsCompleteResponse, OnEventResponse, PollEvent } from "./deploy-hook.ts";

export interface DeployHookHandlers {
  onEvent(event: DeployEvent, context: LambdaContext): Promise<OnEventResponse>;
  isComplete(event: PollEvent, context: LambdaContext): Promise<IsCompleteResponse>;
}

/** What the Provider framework PUTs to the ResponseURL. */
export interface CfnResponse {
  Status: "SUCCESS" | "FAILED";
  Reason: string;
  StackId: string;
  RequestId: string;
  PhysicalResourceId: string;
  LogicalResourceId: string;
  Data?: Record<string, string>;
}

/** CloudFormation's limit on the whole response body; a larger one leaves the deploy hanging. */
export const RESPONSE_LIMIT = 4096;

const CREATE_FAILED = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED";

/** The Reason the framework builds from a user function's error (as the Lambda runtime serialises it). */
function reason(error: unknown, functionName: string): string {
  const e = error instanceof Error ? error : new Error(String(error));
  const message = [e.message, "", `Logs: /aws/lambda/${functionName}`, ""].join("\n");
  return [message, ...(e.stack ?? "").split("\n").slice(1)].join("\n");
}

export interface ProvideOptions {
  /** A Lambda context per invocation. */
  context: () => LambdaContext;
  /** The framework polls until its total timeout; here, at most this many times. @default 50 */
  maxPolls?: number;
  /** Between polls (the framework's queryInterval). @default 0 */
  pollIntervalMs?: number;
}

export async function provide(
  handlers: DeployHookHandlers,
  event: DeployEvent,
  options: ProvideOptions,
): Promise<{ response: CfnResponse; polls: number }> {
  const sanitized = { ...event, ResponseURL: "..." } as DeployEvent;
  const earlier = "PhysicalResourceId" in event ? event.PhysicalResourceId : undefined;
  const respond = (status: CfnResponse["Status"], physicalId: string | undefined, why?: string, data?: Record<string, string>): CfnResponse => ({
    Status: status,
    Reason: why ?? status,
    StackId: event.StackId,
    RequestId: event.RequestId,
    PhysicalResourceId: physicalId ?? CREATE_FAILED,
    LogicalResourceId: event.LogicalResourceId,
    ...(data ? { Data: data } : {}),
  });
  let started: OnEventResponse;
  try {
    started = await handlers.onEvent(sanitized, options.context());
  } catch (error) {
    return { response: respond("FAILED", earlier, reason(error, "onEvent")), polls: 0 };
  }
  const physicalId = started.PhysicalResourceId ?? earlier ?? event.RequestId;
  const poll = { ...sanitized, ...started, PhysicalResourceId: physicalId } as PollEvent;
  const maxPolls = options.maxPolls ?? 50;
  for (let polls = 1; polls <= maxPolls; polls += 1) {
    let result: IsCompleteResponse;
    try {
      result = await handlers.isComplete(poll, options.context());
    } catch (error) {
      return { response: respond("FAILED", physicalId, reason(error, "isComplete")), polls };
    }
    if (result.IsComplete) return { response: respond("SUCCESS", physicalId, undefined, { ...started.Data, ...result.Data }), polls };
    if ("Data" in result) throw new Error('"Data" is not allowed if "IsComplete" is "False"');
    if (options.pollIntervalMs) await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs));
  }
  return { response: respond("FAILED", physicalId, "Operation timed out"), polls: maxPolls };
}
