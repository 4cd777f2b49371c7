// Every Lambda handler, built over one bundle of migrations. The entry the MigrationRunner
// construct generates at synth imports the migrations and exports these handlers by the names in
// constants.ts; tests build them the same way over a directory's migrations. Each handler: parse
// the event, build the runner Context from the environment, call one runner function, shape the
// answer.
import type { Logger } from "@aws-lambda-powertools/logger";
import { BundledSource, type BundledMigration, type PackageExports } from "../lib/revision/bundle.ts";
import type { LockHolder } from "../lib/state/lock.ts";
import { HANDLERS } from "./constants.ts";
import {
  type Environment,
  lockFor,
  lockKeyOf,
  readConfig,
  readFleetLockWaitMs,
  readFleetStateMachine,
  readSettings,
  runnerContext,
  targetConfig,
} from "./context.ts";
import { type DeployEvent, DeployHookError, type HookEnvironment, type Invoker, isComplete, onEvent, type PollEvent } from "./deploy-hook.ts";
import { createLogger, type LambdaContext, withMiddleware } from "./middleware.ts";
import { parseManualEvent, runManual } from "./manual.ts";
import { parseRollbackEvent, runRollbackStep } from "./rollback.ts";
import { FLEET_STEPS } from "./constants.ts";
import { FleetStepError, parseFleetEvent, runFleetStep } from "./fleet.ts";
import { type Executions, type FleetHookEnvironment, fleetIsComplete, fleetOnEvent, type FleetPollEvent, sfnExecutions } from "./fleet-deploy.ts";
import { targetDatabase, type TargetReaders } from "./fleet-targets.ts";

export interface HandlerOptions {
  migrations: readonly BundledMigration[];
  /** What a migration carried as a string gets for `require("retort-migrate")`; the generated entry gives retort's runtime exports. */
  packageExports?: PackageExports;
  /** Read at every invocation. @default process.env */
  env?: () => Environment;
  /** @default a Powertools logger for service "retort" */
  logger?: Logger;
  /** How the deploy hook calls the newer runner version (OnRollback 'downgrade'). @default Lambda Invoke */
  invoke?: Invoker;
  /** How the fleet's deploy hook starts and reads executions. @default Step Functions through the SDK */
  executions?: Executions;
  /** How ReadTargets reads a DynamoDB table or an S3 object. @default the SDK's clients */
  targetReaders?: TargetReaders;
}

/** How long a rollback's lease lasts between two steps (each step renews it while it runs). */
const ROLLBACK_LEASE_MS = 5 * 60_000;

export function createHandlers(options: HandlerOptions) {
  const source = new BundledSource(options.migrations, options.packageExports ? { packageExports: options.packageExports } : {});
  const logger = options.logger ?? createLogger();
  const env = options.env ?? (() => process.env);
  const invoke = options.invoke ?? lambdaInvoke;
  const onToken = (token: number) => logger.appendKeys({ fencingToken: token });

  /** The runner Context for this invocation; the lock records who holds it. */
  const setUp = (lambda: LambdaContext, stackId?: string) => {
    const variables = env();
    const config = readConfig(variables);
    const holder: Partial<LockHolder> = {
      requestId: lambda.awsRequestId,
      actor: lambda.functionName,
      ...(stackId ? { stackId } : {}),
    };
    const ctx = runnerContext(config, { source, holder, onLease: (info) => onToken(info.token) }, variables);
    return { config, ctx, holder, variables };
  };

  // What the deploy hook's invocation is doing, for the Reason should its time run out regardless.
  let activity = "";
  const hookTimedOut = () =>
    new DeployHookError(
      `the deploy hook's invocation ran out of time${activity ? ` while ${activity}` : ""}; the next poll finds where it stopped ` +
        "(a run cut short is taken over once its lease expires)",
    );

  const hookEnvironment = (event: DeployEvent, lambda: LambdaContext): HookEnvironment => {
    activity = "";
    logger.appendKeys({ stackId: event.StackId, requestType: event.RequestType, logicalResourceId: event.LogicalResourceId });
    const { config, ctx } = setUp(lambda, event.StackId);
    return {
      ctx,
      manifestHash: source.manifest.hash,
      remainingMs: () => lambda.getRemainingTimeInMillis(),
      invoke,
      physicalId: `retort:${lockKeyOf(config)}`,
      lockWaitMs: config.deployLockWaitMs,
      doing: (what) => {
        activity = what;
      },
      log: (message, attributes) => logger.info(message, attributes ?? {}),
    };
  };

  const fleetHookEnvironment = (event: DeployEvent): FleetHookEnvironment => {
    logger.appendKeys({ stackId: event.StackId, requestType: event.RequestType, logicalResourceId: event.LogicalResourceId });
    return {
      stateMachineArn: readFleetStateMachine(env()),
      executions: options.executions ?? sfnExecutions,
      log: (message, attributes) => logger.info(message, attributes ?? {}),
    };
  };
  // What the fleet step's invocation is doing, for its error should its time run out regardless.
  let fleetActivity = "";
  const fleetTimedOut = () =>
    new FleetStepError(
      `the fleet step's invocation ran out of time${fleetActivity ? ` while ${fleetActivity}` : ""}; a run cut short is taken over once its lease expires`,
    );

  return {
    [HANDLERS.manual]: withMiddleware(logger, HANDLERS.manual, async (event: unknown, lambda) => {
      const parsed = parseManualEvent(event);
      logger.info("manual invoke", { command: parsed.command, ...("target" in parsed ? { target: parsed.target } : {}) });
      const result = await runManual(setUp(lambda).ctx, parsed);
      logger.info("manual invoke done", { command: parsed.command });
      return result;
    }),

    [HANDLERS.onEvent]: withMiddleware(
      logger,
      HANDLERS.onEvent,
      async (event: DeployEvent, lambda) => onEvent(event, hookEnvironment(event, lambda)),
      hookTimedOut,
    ),

    [HANDLERS.isComplete]: withMiddleware(
      logger,
      HANDLERS.isComplete,
      async (event: PollEvent, lambda) => isComplete(event, hookEnvironment(event, lambda)),
      hookTimedOut,
    ),

    [HANDLERS.rollbackStep]: withMiddleware(logger, HANDLERS.rollbackStep, async (event: unknown, lambda) => {
      const parsed = parseRollbackEvent(event);
      logger.appendKeys({ step: parsed.step });
      const { config, ctx, holder, variables } = setUp(lambda);
      const result = await runRollbackStep(parsed, {
        ctx,
        lock: lockFor(config, variables),
        lockKey: lockKeyOf(config),
        holder,
        leaseMs: ROLLBACK_LEASE_MS,
        log: (message, attributes) => logger.info(message, attributes ?? {}),
        onToken,
      });
      logger.info("rollback step done", { step: parsed.step });
      return result;
    }),

    [HANDLERS.fleetStep]: withMiddleware(
      logger,
      HANDLERS.fleetStep,
      async (event: unknown, lambda) => {
        fleetActivity = "";
        const parsed = parseFleetEvent(event);
        logger.appendKeys({ step: parsed.step, ...(parsed.step === FLEET_STEPS.upgradeTarget ? { target: parsed.target.name } : {}) });
        const variables = env();
        const settings = readSettings(variables);
        const holder: Partial<LockHolder> = {
          requestId: lambda.awsRequestId,
          actor: lambda.functionName,
          ...(parsed.step === FLEET_STEPS.upgradeTarget && parsed.executionArn ? { executionArn: parsed.executionArn } : {}),
        };
        return runFleetStep(parsed, {
          contextFor: (target) =>
            runnerContext(targetConfig(settings, targetDatabase(target)), { source, holder, onLease: (info) => onToken(info.token) }, variables),
          remainingMs: () => lambda.getRemainingTimeInMillis(),
          lockWaitMs: readFleetLockWaitMs(variables),
          ...(options.targetReaders ? { readers: options.targetReaders } : {}),
          doing: (what) => {
            fleetActivity = what;
          },
          log: (message, attributes) => logger.info(message, attributes ?? {}),
        });
      },
      fleetTimedOut,
    ),

    [HANDLERS.fleetOnEvent]: withMiddleware(logger, HANDLERS.fleetOnEvent, async (event: DeployEvent) => fleetOnEvent(event, fleetHookEnvironment(event))),

    [HANDLERS.fleetIsComplete]: withMiddleware(logger, HANDLERS.fleetIsComplete, async (event: FleetPollEvent) =>
      fleetIsComplete(event, fleetHookEnvironment(event)),
    ),
  };
}

export type Handlers = ReturnType<typeof createHandlers>;

/** Invokes a function (version) synchronously; its error becomes this call's error. */
const lambdaInvoke: Invoker = async (functionArn, payload) => {
  const { InvokeCommand, LambdaClient } = await import("@aws-sdk/client-lambda");
  // A downgrade may use the invoked function's whole 15 minutes.
  const client = new LambdaClient({ requestHandler: { requestTimeout: 16 * 60_000 } });
  try {
    const out = await client.send(
      new InvokeCommand({ FunctionName: functionArn, Payload: new TextEncoder().encode(JSON.stringify(payload)) }),
    );
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : "";
    const body = text ? (JSON.parse(text) as { errorMessage?: string; errorType?: string }) : null;
    if (out.FunctionError) {
      const error = new Error(`${functionArn} failed: ${body?.errorMessage ?? text}`);
      // Its type (LockConflictError, ...) decides what the deploy hook does next.
      if (body?.errorType) error.name = body.errorType;
      throw error;
    }
    return body;
  } finally {
    client.destroy();
  }
};
