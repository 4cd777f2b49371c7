// The fleet's deploy hook: a second custom resource (CDK Provider framework), which CloudFormation
// reaches after the runner's own deploy hook has upgraded its target. onEvent starts the fleet
// state machine; isComplete, with OnDeploy "wait", polls the execution until it ends and fails the
// deploy when it failed, with the execution's cause (which names the failed targets and their
// errors' codes); with "start" it answers at once and the fleet runs on after the deploy.
//
//   Create / Update   start an execution named after the request (a retried onEvent finds the
//                     same one); an Update starts it with {"ahead": "keep"}, so a CloudFormation
//                     rollback to older code leaves targets ahead of that code as they are
//   Delete            nothing: no execution, nothing dropped
import type { FleetSummary } from "../lib/fleet/summary.ts";
import { FLEET_ATTRIBUTES, FLEET_ON_DEPLOY, FLEET_PROPERTIES, type FleetOnDeploy } from "./constants.ts";
import { type DeployEvent, DeployHookError } from "./deploy-hook.ts";
import type { FleetInput } from "./fleet.ts";

/** Step Functions as the hook needs it: start an execution, read how it is doing. */
export interface Executions {
  /** Starts (or, with the same name and input, finds) an execution; its ARN. */
  start(stateMachineArn: string, name: string, input: FleetInput): Promise<string>;
  describe(executionArn: string): Promise<{ status: string; output?: string; error?: string; cause?: string }>;
}

export interface FleetHookEnvironment {
  stateMachineArn: string;
  executions: Executions;
  log: (message: string, attributes?: Record<string, unknown>) => void;
}

/** The execution onEvent started; the Provider framework hands onEvent's answer to every isComplete. */
export const FLEET_EXECUTION = "RetortFleetExecution";

export type FleetPollEvent = DeployEvent & { PhysicalResourceId: string; Data?: Record<string, string>; [FLEET_EXECUTION]?: string };

export interface FleetOnEventResponse {
  PhysicalResourceId: string;
  Data: Record<string, string>;
  [FLEET_EXECUTION]?: string;
}

function onDeployOf(props: Record<string, unknown> | undefined): Exclude<FleetOnDeploy, "none"> {
  const mode = props?.[FLEET_PROPERTIES.onDeploy] ?? FLEET_ON_DEPLOY.wait;
  if (mode !== FLEET_ON_DEPLOY.wait && mode !== FLEET_ON_DEPLOY.start) {
    throw new DeployHookError(`ResourceProperties.${FLEET_PROPERTIES.onDeploy} must be 'wait' or 'start', not ${JSON.stringify(mode)}`);
  }
  return mode;
}

/** An execution's name: at most 80 characters of letters, digits, - and _; one per deploy request. */
function executionName(event: DeployEvent): string {
  return `deploy-${event.RequestId}`.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 80);
}

export async function fleetOnEvent(event: DeployEvent, env: FleetHookEnvironment): Promise<FleetOnEventResponse> {
  const requestType: unknown = event.RequestType;
  const physicalId = event.RequestType === "Create" ? `retort-fleet:${env.stateMachineArn}` : event.PhysicalResourceId;
  if (requestType === "Delete") {
    return { PhysicalResourceId: physicalId, Data: { [FLEET_ATTRIBUTES.message]: "Delete never drops anything: no execution was started" } };
  }
  if (requestType !== "Create" && requestType !== "Update") {
    throw new DeployHookError(`RequestType ${JSON.stringify(requestType)} is not one CloudFormation sends (Create, Update or Delete); nothing was started`);
  }
  const mode = onDeployOf(event.ResourceProperties);
  const input: FleetInput = event.RequestType === "Update" ? { ahead: "keep" } : {};
  let executionArn: string;
  try {
    executionArn = await env.executions.start(env.stateMachineArn, executionName(event), input);
  } catch (error) {
    const e = error as Error;
    throw new DeployHookError(`could not start the fleet state machine ${env.stateMachineArn}: ${e.name}: ${e.message}`);
  }
  env.log("fleet deploy hook started the fleet", { executionArn, onDeploy: mode });
  return {
    PhysicalResourceId: physicalId,
    Data: { [FLEET_ATTRIBUTES.executionArn]: executionArn },
    [FLEET_EXECUTION]: executionArn,
  };
}

export type FleetIsCompleteResponse = { IsComplete: false } | { IsComplete: true; Data?: Record<string, string> };

export async function fleetIsComplete(event: FleetPollEvent, env: FleetHookEnvironment): Promise<FleetIsCompleteResponse> {
  const executionArn = event[FLEET_EXECUTION];
  if (event.RequestType === "Delete" || !executionArn) return { IsComplete: true };
  if (onDeployOf(event.ResourceProperties) === FLEET_ON_DEPLOY.start) {
    return { IsComplete: true, Data: { [FLEET_ATTRIBUTES.executionArn]: executionArn, [FLEET_ATTRIBUTES.status]: "RUNNING" } };
  }
  let execution: Awaited<ReturnType<Executions["describe"]>>;
  try {
    execution = await env.executions.describe(executionArn);
  } catch (error) {
    const e = error as Error;
    throw new DeployHookError(`could not read the fleet execution ${executionArn}: ${e.name}: ${e.message}`);
  }
  if (execution.status === "RUNNING" || execution.status === "PENDING_REDRIVE") {
    env.log("fleet deploy hook waits for the fleet", { executionArn });
    return { IsComplete: false };
  }
  if (execution.status === "SUCCEEDED") {
    const summary = parseSummary(execution.output);
    env.log("fleet deploy hook: the fleet succeeded", { executionArn, ...(summary ? { message: summary.message } : {}) });
    return {
      IsComplete: true,
      Data: {
        [FLEET_ATTRIBUTES.executionArn]: executionArn,
        [FLEET_ATTRIBUTES.status]: execution.status,
        ...(summary ? { [FLEET_ATTRIBUTES.message]: summary.message.slice(0, 1000) } : {}),
      },
    };
  }
  throw new DeployHookError(
    `the fleet execution ${executionArn} ${execution.status}` +
      `${execution.error ? ` (${execution.error})` : ""}: ${causeText(execution.cause) || "no cause given"}. ` +
      "The targets it upgraded stay upgraded; fix the failed ones and deploy again (or start the fleet state machine)",
  );
}

/** A Lambda task's cause is the function's error as JSON: its message alone reads better. */
function causeText(cause: string | undefined): string {
  if (!cause) return "";
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === "string") return parsed.errorMessage;
  } catch {
    // Plain text: the Fail state's own cause.
  }
  return cause;
}

function parseSummary(output: string | undefined): (FleetSummary & { message: string }) | undefined {
  if (!output) return undefined;
  try {
    const parsed = JSON.parse(output) as FleetSummary & { message?: unknown };
    return typeof parsed.message === "string" ? (parsed as FleetSummary & { message: string }) : undefined;
  } catch {
    return undefined;
  }
}

/** Step Functions through the SDK: the Lambda runtime's own copy (the construct leaves it out of the bundle). */
export const sfnExecutions: Executions = {
  async start(stateMachineArn, name, input) {
    const { SFNClient, StartExecutionCommand, DescribeExecutionCommand } = await import("@aws-sdk/client-sfn");
    const client = new SFNClient({});
    try {
      try {
        const out = await client.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
        return out.executionArn!;
      } catch (error) {
        // A retried onEvent: the execution of this request exists already (same name, same input).
        if ((error as Error).name !== "ExecutionAlreadyExists") throw error;
        const arn = stateMachineArn.replace(":stateMachine:", ":execution:") + `:${name}`;
        await client.send(new DescribeExecutionCommand({ executionArn: arn }));
        return arn;
      }
    } finally {
      client.destroy();
    }
  },
  async describe(executionArn) {
    const { SFNClient, DescribeExecutionCommand } = await import("@aws-sdk/client-sfn");
    const client = new SFNClient({});
    try {
      const out = await client.send(new DescribeExecutionCommand({ executionArn }));
      return {
        status: out.status ?? "UNKNOWN",
        ...(out.output ? { output: out.output } : {}),
        ...(out.error ? { error: out.error } : {}),
        ...(out.cause ? { cause: out.cause } : {}),
      };
    } finally {
      client.destroy();
    }
  },
};
