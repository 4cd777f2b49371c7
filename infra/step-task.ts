// The one shape every Lambda step of retort's state machines has: the step handler invoked with
// `{ step, ... }`, its answer (not Lambda's envelope) put at `resultPath`, bounded by the task
// timeout so a step never outlives its function.
import type { Duration } from "aws-cdk-lib";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import type { Construct } from "constructs";

/** A factory of the steps of one state machine: `step(name, payload, resultPath)`. */
export function stepTasks(scope: Construct, stepFunction: lambda.IFunction, taskTimeout: Duration) {
  return (name: string, payload: Record<string, unknown>, resultPath: string) =>
    new tasks.LambdaInvoke(scope, name, {
      stateName: name,
      lambdaFunction: stepFunction,
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      resultPath,
      taskTimeout: sfn.Timeout.duration(taskTimeout),
    });
}
