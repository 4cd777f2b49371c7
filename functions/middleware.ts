// The middy chain every handler runs in: the Powertools logger with the Lambda context (request
// id, function name, cold start), keys reset between invocations so nothing leaks from one to the
// next, and every failure logged once with its name and message before it propagates. Events are
// never logged whole: a custom-resource event carries a pre-signed response URL.
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy, { type MiddlewareObj, type MiddyfiedHandler } from "@middy/core";
import type { Context as LambdaContext } from "aws-lambda";

export type { LambdaContext };

export function createLogger(): Logger {
  // Level and service name come from POWERTOOLS_LOG_LEVEL / POWERTOOLS_SERVICE_NAME when set.
  return new Logger({ serviceName: "retort" });
}

/** Logs a failure with what it is and says, never the event. */
function logFailures(logger: Logger, handler: string): MiddlewareObj {
  return {
    onError: (request) => {
      const error = request.error;
      logger.error(`${handler} failed`, {
        errorName: error?.name ?? "Error",
        errorMessage: error?.message ?? String(error),
      });
    },
  };
}

export type Handler<E, R> = (event: E, context: LambdaContext) => Promise<R>;

/**
 * Wraps a handler body in the chain; `name` is the handler's export name, for the logs. Should
 * the invocation's time run out all the same, middy answers with `timedOut()`'s error (by default
 * its own "[AbortError]: The operation was aborted.").
 */
export function withMiddleware<E, R>(
  logger: Logger,
  name: string,
  body: Handler<E, R>,
  timedOut?: () => Error,
): MiddyfiedHandler<E, R> {
  const options = timedOut
    ? {
        timeoutEarlyResponse: () => {
          throw timedOut();
        },
      }
    : {};
  return middy<E, R>((event: E, context: LambdaContext) => {
    logger.appendKeys({ handler: name });
    return body(event, context);
  }, options)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logFailures(logger, name));
}
