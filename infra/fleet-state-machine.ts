// The fleet workflow as a Step Functions definition (JSONPath, Standard):
//
//   ReadTargets ─ bad list ─> FleetStepFailed (the cause names the source and the target)
//     └─> UpgradeTargets: Map over the targets, at most maxConcurrency at once
//           UpgradeTarget <──────────── ContinueTarget (Wait: more to apply, or its lock is busy)
//             │ done ─> TargetResult        │ not done
//             └─────────────────────────────┘
//             an error of the task itself ─> TargetFailed (a failed line, the Map item succeeds)
//     └─> Summarize ─> WithinTolerance? ─ yes ─> FleetUpgraded (the output is the summary)
//                                       └ no ──> FleetFailed (the cause names the failed targets)
//
// Each UpgradeTarget is one invocation of the fleet-step handler working until its deadline; a
// target whose upgrade needs more comes round again, as the deploy hook's isComplete polls do. A
// target's own failure (a migration, its lock held for too long, a database ahead of the code) is
// its answer, a failed line; so every failure reaches the summary with its error's code. The
// tolerated share is applied by Summarize: an inline Map has no ToleratedFailurePercentage (a
// Distributed Map field), and every item succeeds here anyway.
import type { Duration } from "aws-cdk-lib";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { stepTasks } from "./step-task.ts";
import { FLEET_STEPS } from "../functions/constants.ts";
import type { TargetSource } from "../functions/fleet-targets.ts";

/** State names: the tests override these tasks, and the README tells operators to look for them. */
export const FLEET_STATES = {
  readTargets: "ReadTargets",
  upgradeTargets: "UpgradeTargets",
  upgradeTarget: "UpgradeTarget",
  targetDone: "TargetDone?",
  continueTarget: "ContinueTarget",
  targetResult: "TargetResult",
  targetFailed: "TargetFailed",
  summarize: "Summarize",
  withinTolerance: "WithinTolerance?",
  succeeded: "FleetUpgraded",
  failed: "FleetFailed",
  stepFailed: "FleetStepFailed",
} as const;

/** The Fail state's error when more targets failed than tolerated. */
export const FLEET_FAILED_ERROR = "FleetTargetsFailed";

export interface FleetDefinitionProps {
  /** The function running the fleet-step handler. */
  readonly stepFunction: lambda.IFunction;
  readonly source: TargetSource;
  readonly maxConcurrency: number;
  readonly toleratedFailurePercentage: number;
  /** Per task: a step never outlives its function's timeout. */
  readonly taskTimeout: Duration;
}

/** Builds the chain; the caller wraps it in a StateMachine. */
export class FleetDefinition extends Construct {
  readonly startState: sfn.IChainable;

  constructor(scope: Construct, id: string, props: FleetDefinitionProps) {
    super(scope, id);
    const S = FLEET_STATES;
    const step = stepTasks(this, props.stepFunction, props.taskTimeout);

    const stepFailed = new sfn.Fail(this, S.stepFailed, { stateName: S.stepFailed, errorPath: "$.error.Error", causePath: "$.error.Cause" });

    const readTargets = step(S.readTargets, { step: FLEET_STEPS.readTargets, source: props.source }, "$.read");
    readTargets.addCatch(stepFailed, { resultPath: "$.error" });

    const upgradeTarget = step(
      S.upgradeTarget,
      {
        step: FLEET_STEPS.upgradeTarget,
        "target.$": "$.target",
        "progress.$": "$.progress",
        "input.$": "$.input",
        "executionArn.$": "$$.Execution.Id",
      },
      "$.progress",
    );
    // A fault of the task itself (its function failed or timed out, after the Lambda retries): a
    // failed line naming the error, so the summary counts it like any other failure.
    upgradeTarget.addCatch(
      new sfn.Pass(this, S.targetFailed, {
        stateName: S.targetFailed,
        parameters: {
          "name.$": "$.target.name",
          status: "failed",
          fromHeads: [],
          toHeads: [],
          applied: 0,
          skippedOperations: 0,
          durationMs: 0,
          error: { "code.$": "$.error.Error", "message.$": "$.error.Cause" },
        },
      }),
      { resultPath: "$.error" },
    );
    const continueTarget = new sfn.Wait(this, S.continueTarget, {
      stateName: S.continueTarget,
      time: sfn.WaitTime.secondsPath("$.progress.waitSeconds"),
    });
    continueTarget.next(upgradeTarget);
    upgradeTarget.next(
      new sfn.Choice(this, S.targetDone, { stateName: S.targetDone })
        .when(
          sfn.Condition.booleanEquals("$.progress.done", true),
          new sfn.Pass(this, S.targetResult, { stateName: S.targetResult, outputPath: "$.progress.result" }),
        )
        .otherwise(continueTarget),
    );

    const map = new sfn.Map(this, S.upgradeTargets, {
      stateName: S.upgradeTargets,
      itemsPath: "$.read.targets",
      maxConcurrency: props.maxConcurrency,
      itemSelector: {
        "target.$": "$$.Map.Item.Value",
        "input.$": "$$.Execution.Input",
        progress: {},
      },
      resultPath: "$.results",
    });
    map.itemProcessor(upgradeTarget);

    const summarize = step(
      S.summarize,
      {
        step: FLEET_STEPS.summarize,
        "results.$": "$.results",
        toleratedFailurePercentage: props.toleratedFailurePercentage,
        "startedAt.$": "$$.Execution.StartTime",
      },
      "$.summary",
    );
    summarize.addCatch(stepFailed, { resultPath: "$.error" });
    summarize.next(
      new sfn.Choice(this, S.withinTolerance, { stateName: S.withinTolerance })
        .when(
          sfn.Condition.booleanEquals("$.summary.ok", true),
          new sfn.Succeed(this, S.succeeded, { stateName: S.succeeded, outputPath: "$.summary" }),
        )
        .otherwise(new sfn.Fail(this, S.failed, { stateName: S.failed, error: FLEET_FAILED_ERROR, causePath: "$.summary.message" })),
    );

    this.startState = readTargets.next(map).next(summarize);
  }
}
