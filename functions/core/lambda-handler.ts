/**
 * What every Sluice Lambda wraps its app in (Middy with Powertools): Lambda context and a
 * correlation id on every log line, one EMF flush per invocation, an X-Ray subsegment for the
 * handler. The apps stay plain functions of their event, which the local runner calls without
 * any of this.
 */
import { PassThrough } from "node:stream";
import type { Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { Tracer } from "@aws-lambda-powertools/tracer";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { createPowertoolsLogger, type Logger, type LogLevel, loggerOver } from "./logger.ts";
import { createMetrics } from "./metrics.ts";

export interface Observability {
  readonly powertoolsLogger: PowertoolsLogger;
  /** The same logger as Sluice's interface, for the app. */
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Absent where tracing is off, so the X-Ray SDK is never loaded there. */
  readonly tracer?: Tracer;
}

export interface ObservabilityOptions {
  /** `sluice-ingest`, `sluice-batch`, ...: the `service` of logs, metrics and traces. */
  readonly service: string;
  /** The manifest's app name: metrics go to `Sluice/<app>`, or to `Sluice` without one. */
  readonly app?: string;
  readonly env: NodeJS.ProcessEnv;
  /** Dimensions of every metric the function emits (the batcher's `Pipeline`). */
  readonly dimensions?: Readonly<Record<string, string>>;
}

const LEVELS: ReadonlySet<string> = new Set(["debug", "info", "warn", "error"]);

/**
 * Whether this process may trace: in Lambda (AWS_EXECUTION_ENV) unless POWERTOOLS_TRACE_ENABLED
 * says no. Elsewhere (the local runner, tests, the bench) the Tracer would switch itself off, but
 * importing it already costs: the X-Ray SDK is ~40 ms to load and installs an async hook on
 * every promise of the process.
 */
export function tracingWanted(env: NodeJS.ProcessEnv): boolean {
  const flag = env.POWERTOOLS_TRACE_ENABLED?.trim().toLowerCase();
  return env.AWS_EXECUTION_ENV !== undefined && flag !== "false" && flag !== "0";
}

export async function observability(o: ObservabilityOptions): Promise<Observability> {
  const level = o.env.LOG_LEVEL?.toLowerCase();
  const powertoolsLogger = createPowertoolsLogger(
    o.service,
    level !== undefined && LEVELS.has(level) ? (level as LogLevel) : "info",
  );
  const logger = loggerOver(powertoolsLogger);
  const tracer = tracingWanted(o.env)
    ? new (await import("@aws-lambda-powertools/tracer")).Tracer({ serviceName: o.service })
    : undefined;
  return {
    powertoolsLogger,
    logger,
    metrics: createMetrics(o.app, o.service, logger, o.dimensions),
    ...(tracer === undefined ? {} : { tracer }),
  };
}

/** The clients with X-Ray subsegments for their calls when tracing is on; as they were otherwise. */
export function tracedClients<C extends { readonly [K in keyof C]: object }>(
  tracer: Tracer | undefined,
  clients: C,
): C {
  if (!tracer?.isTracingEnabled()) return clients;
  for (const client of Object.values(clients)) tracer.captureAWSv3Client(client);
  return clients;
}

/** A Lambda handler; the context is optional because middy gives a call without one (a test) `{}`. */
export type LambdaHandler<E, R> = (event: E, context?: Context) => Promise<R>;

/**
 * The Lambda handler of an app. `correlationIdPath` is where the event carries the id to follow
 * a request by across functions (API Gateway's request id, the batch's first sequence number).
 */
export function lambdaHandler<E, R>(
  app: (event: E) => Promise<R>,
  o: Observability,
  correlationIdPath?: string,
): LambdaHandler<E, R> {
  const handler = middy<E, R, Error, Context>((event: E) => app(event))
    .use(
      injectLambdaContext(o.powertoolsLogger, {
        // Keys of one invocation (the correlation id) must not reach the next.
        resetKeys: true,
        ...(correlationIdPath === undefined ? {} : { correlationIdPath }),
      }),
    )
    .use(logMetrics(o.metrics, { captureColdStartMetric: true }));
  // Responses carry record ids and, from the transformer, payloads: none goes to X-Ray.
  if (o.tracer) handler.use(captureLambdaHandler(o.tracer, { captureResponse: false }));
  return handler as LambdaHandler<E, R>;
}

/** A response written as it goes: the tail's server-sent events. */
export interface ResponseWriter {
  start(status: number, headers: Record<string, string>): void;
  write(chunk: string): Promise<void>;
  end(): void;
}

/** An app answering with a streamed response; `signal` aborts when the client has gone. */
export type StreamingLambdaApp<E> = (
  event: E,
  response: ResponseWriter,
  signal: AbortSignal,
) => Promise<void>;

interface StreamedResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: PassThrough;
}

/**
 * The handler of a function URL with response streaming (InvokeMode RESPONSE_STREAM), through
 * Middy's `streamifyResponse` (it calls the runtime's `awslambda.streamifyResponse`): the
 * middlewares run around the start of the response, whose status and headers are known when the
 * app calls `start`; Middy then pipes the body, which the app keeps writing, to the client.
 * When the client goes, Middy's pipe destroys the body, which aborts `signal`.
 */
export function streamingLambdaHandler<E>(
  app: StreamingLambdaApp<E>,
  o: Observability,
  correlationIdPath?: string,
): LambdaHandler<E, void> {
  const handler = middy<E, StreamedResponse, Error, Context>(
    (event: E) =>
      new Promise<StreamedResponse>((resolve, reject) => {
        const body = new PassThrough();
        const gone = new AbortController();
        body.on("close", () => gone.abort());
        let started = false;
        const response: ResponseWriter = {
          start: (statusCode, headers) => {
            started = true;
            resolve({ statusCode, headers, body });
          },
          write: (chunk) =>
            new Promise<void>((done, fail) => body.write(chunk, (err) => (err ? fail(err) : done()))),
          end: () => body.end(),
        };
        app(event, response, gone.signal).then(
          () => {
            if (!started) reject(new Error("the app ended without starting its response"));
          },
          (err: unknown) => (started ? body.destroy(err as Error) : reject(err)),
        );
      }),
    { streamifyResponse: true },
  ).use(
    injectLambdaContext(o.powertoolsLogger, {
      resetKeys: true,
      ...(correlationIdPath === undefined ? {} : { correlationIdPath }),
    }),
  );
  return handler as unknown as LambdaHandler<E, void>;
}
