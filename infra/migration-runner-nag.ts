// The cdk-nag (AwsSolutions) findings a MigrationRunner accepts, each acknowledged with its reason,
// so a user's stack that runs cdk-nag has none left from the construct.
import { Stack, Validations } from "aws-cdk-lib";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { MigrationRunner } from "./migration-runner.ts";

/**
 * Acknowledges the findings on the runner's four functions, its rollback state machine and, when
 * they exist, the deploy hook's Provider framework and the InvokeNewerRunner policy (by child id).
 */
export function acknowledgeNagFindings(runner: MigrationRunner): void {
  const stack = Stack.of(runner);
  const arnOf = (fn: lambda.IFunction) => `<${stack.resolve(stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction))}.Arn>`;
  for (const fn of [runner.runnerFunction, runner.onEventFunction, runner.isCompleteFunction, runner.rollbackStepFunction]) {
    Validations.of(fn).acknowledge({
      id: "AwsSolutions-L1",
      reason: "Node.js 22 is the runtime retort is built and tested for (its code runs on Node 20 and 22); moving to a newer one is a deliberate, tested change",
    });
  }
  Validations.of(runner.rollbackStateMachine).acknowledge(
    {
      id: `AwsSolutions-IAM5[Resource::${arnOf(runner.rollbackStepFunction)}:*]`,
      reason: "Step Functions' Lambda task grant covers the function's versions and aliases (<arn>:*); it is still the one rollback-step function",
    },
    {
      id: "AwsSolutions-IAM5[Resource::*]",
      reason: "CloudWatch Logs delivery actions (logs:CreateLogDelivery and friends) do not support resource-level permissions; Step Functions needs them to write the execution log",
    },
    {
      id: "AwsSolutions-SF2",
      reason: "Every step is one Lambda invocation whose structured logs carry the execution, the step and the fencing token, and the execution log records ALL events; X-Ray would add a Resource:* permission for no further insight",
    },
  );
  const provider = runner.deployHook ? runner.node.findChild("DeployProvider") : undefined;
  if (provider) {
    const frameworkArn = (name: string) => {
      const fn = provider.node.findChild(name) as lambda.Function;
      return arnOf(fn);
    };
    const invokeReason =
      "The CDK Provider framework grants lambda:InvokeFunction on the user handler and its versions (<arn>:*); the functions are this construct's own";
    Validations.of(provider).acknowledge(
      {
        id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        reason: "The CDK Provider framework's own functions use the AWS managed basic execution role (log writing only); their code is CDK's, not retort's",
      },
      { id: `AwsSolutions-IAM5[Resource::${arnOf(runner.onEventFunction)}:*]`, reason: invokeReason },
      { id: `AwsSolutions-IAM5[Resource::${arnOf(runner.isCompleteFunction)}:*]`, reason: invokeReason },
      { id: `AwsSolutions-IAM5[Resource::${frameworkArn("framework-isComplete")}:*]`, reason: invokeReason },
      { id: `AwsSolutions-IAM5[Resource::${frameworkArn("framework-onTimeout")}:*]`, reason: invokeReason },
      {
        id: "AwsSolutions-SF1",
        reason: "The Provider framework's waiter state machine only polls isComplete; the deploy hook's own functions log every decision and revision",
      },
      {
        id: "AwsSolutions-SF2",
        reason: "The Provider framework's waiter state machine is CDK's internal poller; tracing it adds a Resource:* permission for no insight",
      },
    );
  }
  if (runner.node.tryFindChild("InvokeNewerRunner")) {
    Validations.of(runner.node.findChild("InvokeNewerRunner")).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${arnOf(runner.runnerFunction)}:*]`,
      reason:
        "onRollback 'downgrade': during a CloudFormation rollback the older deploy hook invokes the newer deploy's runner version, whose number the older template cannot know; the grant is limited to versions of this one runner function",
    });
  }
}
