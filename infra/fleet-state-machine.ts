// The fleet workflow as a Step Functions definition (JSONPath, Standard):
//
//   ReadTargets ─ bad list ─> FleetStepFailed (the cause names the source and the target)
//     └─> ManyTargets? (mapMode "auto": by ReadTargets' count, at most inlineLimit inline)
//           ├─> UpgradeTargets: an inline Map over the targets, at most maxConcurrency at once
//           └─> DistributedUpgradeTargets: a Distributed Map, one child execution per target,
//               items from and results to the work bucket (mapMode "distributed" has only this one)
//         each item, in either Map (the Distributed Map's states are prefixed "Distributed"):
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
// tolerated share is applied by Summarize: an inline Map has no ToleratedFailurePercentage, and
// the Distributed Map tolerates every failure (only a child that timed out or was aborted fails),
// so that Summarize counts it too. An inline Map's results travel in the execution's state; the
// Distributed Map's are exported to the work bucket and Summarize reads them there (its answer
// is then compact, the whole summary an object beside them: functions/fleet-work.ts).
import type { Duration } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as s3 from "aws-cdk-lib/aws-s3";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { STEPFUNCTIONS_USE_DISTRIBUTED_MAP_RESULT_WRITER_V2 } from "aws-cdk-lib/cx-api";
import { Construct } from "constructs";
import { stepTasks } from "./step-task.ts";
import { FLEET_MAP_MODE, FLEET_STEPS, FLEET_WORK_PREFIX, type FleetMapMode } from "../functions/constants.ts";
import type { TargetSource } from "../functions/fleet-targets.ts";

/** State names: the tests override these tasks, and the README tells operators to look for them. */
export const FLEET_STATES = {
  readTargets: "ReadTargets",
  manyTargets: "ManyTargets?",
  upgradeTargets: "UpgradeTargets",
  distributedUpgradeTargets: "DistributedUpgradeTargets",
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

/**
 * The name of an item state (UpgradeTarget and the others) in the Distributed Map: the inline
 * Map's, prefixed, since a state machine's state names are unique.
 */
export const distributedState = (name: string): string => `Distributed${name}`;

/** The Fail state's error when more targets failed than tolerated. */
export const FLEET_FAILED_ERROR = "FleetTargetsFailed";

/** An inline Map runs at most 40 iterations at once; a Distributed Map, 10,000 child executions. */
export const MAX_CONCURRENCY = { inline: 40, distributed: 10_000 } as const;

export interface FleetDefinitionProps {
  /** The function running the fleet-step handler. */
  readonly stepFunction: lambda.IFunction;
  readonly source: TargetSource;
  readonly maxConcurrency: number;
  readonly toleratedFailurePercentage: number;
  /** Per task: a step never outlives its function's timeout. */
  readonly taskTimeout: Duration;
  /** "inline" or "distributed": that Map alone; "auto": both, ReadTargets choosing by the count. */
  readonly mapMode: FleetMapMode;
  /** With mapMode "auto": the most targets the inline Map takes. */
  readonly inlineLimit: number;
  /** Unless mapMode is "inline": the Distributed Map's items and results, and the whole summary. */
  readonly workBucket?: s3.IBucket;
}

/** Builds the chain; the caller wraps it in a StateMachine. */
export class FleetDefinition extends Construct {
  readonly startState: sfn.IChainable;

  constructor(scope: Construct, id: string, props: FleetDefinitionProps) {
    super(scope, id);
    const S = FLEET_STATES;
    const { mapMode } = props;
    const workBucket = mapMode === FLEET_MAP_MODE.inline ? undefined : props.workBucket;
    if (mapMode !== FLEET_MAP_MODE.inline) {
      if (!workBucket) throw new Error(`FleetDefinition: mapMode "${mapMode}" needs a workBucket`);
      // The ResultWriter's current API is behind a feature flag: set for these states only.
      this.node.setContext(STEPFUNCTIONS_USE_DISTRIBUTED_MAP_RESULT_WRITER_V2, true);
    }
    const step = stepTasks(this, props.stepFunction, props.taskTimeout);

    const stepFailed = new sfn.Fail(this, S.stepFailed, { stateName: S.stepFailed, errorPath: "$.error.Error", causePath: "$.error.Cause" });

    // Where an execution's objects go: the work bucket, in a folder named after the execution.
    const work = workBucket && { bucket: workBucket.bucketName, "executionName.$": "$$.Execution.Name" };
    const readWork = mapMode === FLEET_MAP_MODE.auto ? { ...work, inlineLimit: props.inlineLimit } : work;
    const readTargets = step(S.readTargets, { step: FLEET_STEPS.readTargets, source: props.source, ...(readWork ? { work: readWork } : {}) }, "$.read");
    readTargets.addCatch(stepFailed, { resultPath: "$.error" });

    // Each item: its target, the execution's input (for `ahead`), and no progress yet.
    const itemSelector = { "target.$": "$$.Map.Item.Value", "input.$": "$$.Execution.Input", progress: {} };
    const inlineMap = () =>
      new sfn.Map(this, S.upgradeTargets, {
        stateName: S.upgradeTargets,
        itemsPath: "$.read.targets",
        maxConcurrency: Math.min(props.maxConcurrency, MAX_CONCURRENCY.inline),
        itemSelector,
        resultPath: "$.results",
      }).itemProcessor(this.targetLoop(step, (name) => name));
    const distributedMap = (bucket: s3.IBucket) =>
      new sfn.DistributedMap(this, S.distributedUpgradeTargets, {
        stateName: S.distributedUpgradeTargets,
        label: S.distributedUpgradeTargets,
        itemReader: new WorkItemReader({ bucket, key: sfn.JsonPath.stringAt("$.read.itemsObject.key") }),
        resultWriterV2: new WorkResultWriter({ bucket, prefix: sfn.JsonPath.stringAt("$.read.resultsPrefix") }),
        // Standard children: a target loops with Wait states for as long as its lock is busy,
        // past an Express execution's 5 minutes.
        mapExecutionType: sfn.StateMachineType.STANDARD,
        maxConcurrency: props.maxConcurrency,
        // A child fails only when it times out or is aborted; Summarize counts it as a failed
        // target and applies the tolerated share, as for every other failure.
        toleratedFailurePercentage: 100,
        itemSelector,
        resultPath: "$.results",
      }).itemProcessor(this.targetLoop(step, distributedState));

    const summarize = step(
      S.summarize,
      {
        step: FLEET_STEPS.summarize,
        "results.$": "$.results",
        toleratedFailurePercentage: props.toleratedFailurePercentage,
        "startedAt.$": "$$.Execution.StartTime",
        ...(work ? { work } : {}),
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

    if (mapMode === FLEET_MAP_MODE.inline) {
      this.startState = readTargets.next(inlineMap()).next(summarize);
    } else if (mapMode === FLEET_MAP_MODE.distributed) {
      this.startState = readTargets.next(distributedMap(workBucket!)).next(summarize);
    } else {
      this.startState = readTargets.next(
        new sfn.Choice(this, S.manyTargets, { stateName: S.manyTargets })
          .when(sfn.Condition.stringEquals("$.read.mode", FLEET_MAP_MODE.distributed), distributedMap(workBucket!).next(summarize))
          .otherwise(inlineMap().next(summarize)),
      );
    }
  }

  /**
   * One target's loop, the item processor of either Map: UpgradeTarget until its progress is
   * done, then its summary line. `name` gives each state's name.
   */
  private targetLoop(step: ReturnType<typeof stepTasks>, name: (state: string) => string): sfn.IChainable {
    const S = FLEET_STATES;
    const upgradeTarget = step(
      name(S.upgradeTarget),
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
      new sfn.Pass(this, name(S.targetFailed), {
        stateName: name(S.targetFailed),
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
    const continueTarget = new sfn.Wait(this, name(S.continueTarget), {
      stateName: name(S.continueTarget),
      time: sfn.WaitTime.secondsPath("$.progress.waitSeconds"),
    });
    continueTarget.next(upgradeTarget);
    upgradeTarget.next(
      new sfn.Choice(this, name(S.targetDone), { stateName: name(S.targetDone) })
        .when(
          sfn.Condition.booleanEquals("$.progress.done", true),
          new sfn.Pass(this, name(S.targetResult), { stateName: name(S.targetResult), outputPath: "$.progress.result" }),
        )
        .otherwise(continueTarget),
    );
    return upgradeTarget;
  }
}

/** The work bucket's objects of the fleet: the state machine's S3 grants stop at its prefix. */
const workObjects = (bucket: s3.IBucket) => bucket.arnForObjects(`${FLEET_WORK_PREFIX}/*`);

/** The ItemReader, granted its targets objects alone (CDK's own grant is the whole bucket). */
class WorkItemReader extends sfn.S3JsonItemReader {
  override providePolicyStatements(): iam.PolicyStatement[] {
    return [new iam.PolicyStatement({ actions: ["s3:GetObject"], resources: [workObjects(this.bucket)] })];
  }
}

/** The ResultWriter, granted what the guide's least-privilege policy for it lists, on the fleet's prefix alone. */
class WorkResultWriter extends sfn.ResultWriterV2 {
  override providePolicyStatements(): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        actions: ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
        resources: [workObjects(this.bucket!)],
      }),
    ];
  }
}
