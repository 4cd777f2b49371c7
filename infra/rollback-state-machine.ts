// The rollback workflow as a Step Functions definition (JSONPath, Standard):
//
//   Plan ─ nothing to revert ─> NothingToRevert
//     └─> [AwaitApproval: task token] ─> AcquireLock ─> DowngradeOneRevision <─┐
//                                                        │ done ─> ReleaseLock   │ not done
//                                                        └───────────────────────┘
//   any failure after AcquireLock ─> ReleaseLockAfterFailure ─> RollbackFailed (with the cause)
//
// An execution that ends otherwise (its time limit, StopExecution) is ended by an EventBridge rule
// on its status change, which MigrationRunner adds: the `end` step frees the lock it still holds.
//
// Each task is one invocation of the rollback-step handler; one revision per invocation keeps
// every step well inside Lambda's 15 minutes. Lambda's transient errors are retried (the task
// default: Lambda.ServiceException, AWSLambdaException, SdkClientException,
// ClientExecutionTimeoutException); the steps are safe to retry (the execution owns its lease, so
// a repeated acquire gets the same lease back; a repeated downgrade checks the database against
// the approved plan and reverts only what the plan still has left; release is idempotent).
import { Duration } from "aws-cdk-lib";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import { Construct } from "constructs";
import { stepTasks } from "./step-task.ts";
import { ROLLBACK_STEPS } from "../functions/constants.ts";

/** State names: the tests override these tasks, and the README tells operators to look for them. */
export const ROLLBACK_STATES = {
  checkInput: "HasTarget?",
  invalidInput: "InvalidInput",
  plan: "Plan",
  nothingToRevert: "NothingToRevert",
  approval: "AwaitApproval",
  acquire: "AcquireLock",
  downgrade: "DowngradeOneRevision",
  done: "AllReverted?",
  release: "ReleaseLock",
  releaseAfterFailure: "ReleaseLockAfterFailure",
  succeeded: "RolledBack",
  failed: "RollbackFailed",
  rejected: "NotApproved",
} as const;

export interface RollbackDefinitionProps {
  /** The function running the rollback-step handler. */
  readonly stepFunction: lambda.IFunction;
  /** Wait for a task token (SendTaskSuccess) after planning. */
  readonly requireApproval: boolean;
  readonly approvalTimeout: Duration;
  /** Per task: a step never outlives its function's timeout. */
  readonly taskTimeout: Duration;
}

/** Builds the chain; the caller wraps it in a StateMachine. */
export class RollbackDefinition extends Construct {
  readonly startState: sfn.IChainable;

  constructor(scope: Construct, id: string, props: RollbackDefinitionProps) {
    super(scope, id);
    const S = ROLLBACK_STATES;
    const step = stepTasks(this, props.stepFunction, props.taskTimeout);

    const failed = new sfn.Fail(this, S.failed, {
      stateName: S.failed,
      errorPath: "$.error.Error",
      causePath: "$.error.Cause",
    });
    // The failure travels with the release, which finishes the execution's run with it.
    const releaseAfterFailure = step(
      S.releaseAfterFailure,
      { step: ROLLBACK_STEPS.release, "lease.$": "$.lease", "error.$": "$.error" },
      "$.released",
    );
    // Even if releasing fails, the execution fails with the first cause (the lease then expires).
    releaseAfterFailure.addCatch(failed, { resultPath: "$.releaseError" });
    releaseAfterFailure.next(failed);

    const plan = step(S.plan, { step: ROLLBACK_STEPS.plan, "target.$": "$.target" }, "$.plan");
    plan.addCatch(failed, { resultPath: "$.error" });

    const acquire = step(S.acquire, { step: ROLLBACK_STEPS.acquire, "executionArn.$": "$$.Execution.Id", "target.$": "$.target" }, "$.lease");
    acquire.addCatch(failed, { resultPath: "$.error" });

    const downgrade = step(
      S.downgrade,
      // The approved plan travels with every step, which checks the database is still on it.
      {
        step: ROLLBACK_STEPS.downgrade,
        "target.$": "$.target",
        "lease.$": "$.lease",
        "approved.$": "$.plan.revisions",
        "fromHeads.$": "$.plan.fromHeads",
      },
      "$.lastStep",
    );
    downgrade.addCatch(releaseAfterFailure, { resultPath: "$.error" });

    const release = step(S.release, { step: ROLLBACK_STEPS.release, "lease.$": "$.lease" }, "$.released");
    release.addCatch(failed, { resultPath: "$.error" });
    release.next(new sfn.Succeed(this, S.succeeded, { stateName: S.succeeded }));

    downgrade.next(
      new sfn.Choice(this, S.done, { stateName: S.done })
        .when(sfn.Condition.booleanEquals("$.lastStep.done", true), release)
        .otherwise(downgrade),
    );

    let afterPlan: sfn.IChainable = acquire;
    if (props.requireApproval) {
      const approval = new tasks.LambdaInvoke(this, S.approval, {
        stateName: S.approval,
        lambdaFunction: props.stepFunction,
        integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        payload: sfn.TaskInput.fromObject({
          step: ROLLBACK_STEPS.requestApproval,
          taskToken: sfn.JsonPath.taskToken,
          "plan.$": "$.plan",
          "executionArn.$": "$$.Execution.Id",
        }),
        resultPath: sfn.JsonPath.DISCARD,
        taskTimeout: sfn.Timeout.duration(props.approvalTimeout),
      });
      approval.addCatch(new sfn.Fail(this, S.rejected, { stateName: S.rejected, errorPath: "$.error.Error", causePath: "$.error.Cause" }), {
        resultPath: "$.error",
      });
      approval.next(acquire);
      afterPlan = approval;
    }
    acquire.next(downgrade);

    plan.next(
      new sfn.Choice(this, "AnythingToRevert?", { stateName: "AnythingToRevert?" })
        .when(sfn.Condition.isPresent("$.plan.revisions[0]"), afterPlan)
        .otherwise(new sfn.Succeed(this, S.nothingToRevert, { stateName: S.nothingToRevert })),
    );
    // Without a target, Plan's payload could not be built (States.Runtime): say what to start with.
    this.startState = new sfn.Choice(this, S.checkInput, { stateName: S.checkInput })
      .when(sfn.Condition.isPresent("$.target"), plan)
      .otherwise(
        new sfn.Fail(this, S.invalidInput, {
          stateName: S.invalidInput,
          error: "InvalidInput",
          cause: 'The rollback needs a target: start the execution with {"target": "<revision>|<prefix>|-N|base"}',
        }),
      );
  }
}
