/**
 * The ingest API (records, streams, health, the OpenAPI document) as one function of an API
 * Gateway v2 (HTTP API) event; the schema registry's routes are functions/registry's. The Lambda
 * handler and the local gateway both call this; the work lives in functions/core.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { type Action, createAuth } from "../core/auth/index.ts";
import type { AwsClients } from "../core/aws-clients.ts";
import { DataKeyCache } from "../core/crypto/key-cache.ts";
import { ReadinessCache, readiness } from "../core/health.ts";
import { bodyOf, type HttpApp, header, httpApp, json, noRoute } from "../core/http-app.ts";
import { IdempotencyStore } from "../core/idempotency.ts";
import { countAcceptedBytes } from "../core/ingest/accepted-bytes.ts";
import { currentSchema, ingestRecords, type RecordResult } from "../core/ingest/ingest.ts";
import { DEFAULT_LIMITS, type IngestLimits, parseIngestBody } from "../core/ingest/request.ts";
import type { Logger } from "../core/logger.ts";
import { countIngest, type MetricsSink, tallyResults } from "../core/metrics.ts";
import type { RuntimeConfig } from "../core/runtime-config.ts";
import { SchemaRegistry } from "../core/schema-registry.ts";
import { intakeRefusal, StreamStates } from "../core/streams/lifecycle.ts";
import { ValidatorCache } from "../core/validators.ts";
import openapi from "./openapi.json" with { type: "json" };
import { streamNamed, streamRoute, streamRouteAction } from "./stream-routes.ts";

/** The clients ingest uses: its bundle leaves out the others. */
export type IngestClients = Pick<AwsClients, "kinesis" | "kinesisPut" | "dynamo" | "kms">;

export interface IngestAppDeps {
  readonly config: RuntimeConfig;
  readonly clients: IngestClients;
  readonly logger: Logger;
  /** Where the records' counts go (the Lambda handler's EMF metrics); none when absent. */
  readonly metrics?: MetricsSink;
  readonly limits?: IngestLimits;
  /**
   * How long a subject's latest schema is cached: a newly registered version is used by every
   * running function within this. @default 5000
   */
  readonly schemaTtlMs?: number;
  /**
   * How long an idempotency claim blocks retries before it counts as abandoned; longer than the
   * function's timeout, so a takeover never races a live holder. @default 60
   */
  readonly idempotencyLockSeconds?: number;
  /** How long a stream's lifecycle state is cached: a pause is seen within this. @default 2000 */
  readonly streamStateTtlMs?: number;
  /** How long one readiness probe answers every health check of this container. @default 5000 */
  readonly healthTtlMs?: number;
}

export type IngestApp = HttpApp;

const SERVER_SIDE = new Set(["THROTTLED", "UNAVAILABLE", "IN_PROGRESS"]);

/**
 * 200 when nothing was rejected, 207 when results are mixed; when every record was rejected,
 * 409 if their keys are still being written, 400 if the producer must fix them, 503 if retrying
 * later will do.
 */
function statusFor(results: readonly RecordResult[]): number {
  const rejected = results.filter((r) => r.status === "rejected");
  if (rejected.length === 0) return 200;
  if (rejected.length < results.length) return 207;
  if (rejected.every((r) => r.error?.code === "IN_PROGRESS")) return 409;
  const serverSide = rejected.filter((r) => r.error && SERVER_SIDE.has(r.error.code)).length;
  if (serverSide === 0) return 400;
  return serverSide === rejected.length ? 503 : 207;
}

/** What a request asks to do, for authorization; stream names are checked as given. */
function actionFor(event: APIGatewayProxyEventV2): Action {
  const stream = event.pathParameters?.stream ?? "";
  switch (event.routeKey) {
    case "POST /v1/streams/{stream}/records":
      return { kind: "write", stream };
    case "GET /v1/streams/{stream}":
      return { kind: "read", stream };
    default:
      return streamRouteAction(event.routeKey) ?? { kind: "public" };
  }
}

export function createIngestApp(deps: IngestAppDeps): IngestApp {
  const registry = new SchemaRegistry(deps.clients.dynamo, deps.config.tables.schemas);
  const validators = new ValidatorCache(registry, deps.schemaTtlMs ?? 5_000);
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const idempotency = new IdempotencyStore(
    deps.clients.dynamo,
    deps.config.tables.idempotency,
    deps.idempotencyLockSeconds,
  );
  const { kmsKeyId: keyId, app } = deps.config;
  const payloadKeys = new DataKeyCache(deps.clients.kms, { keyId, app });
  const auth = createAuth(deps.config.auth, {
    dynamo: deps.clients.dynamo,
    apiKeysTable: deps.config.tables.apiKeys,
  });

  const states = new StreamStates(deps.clients.dynamo, deps.config.tables.control, {
    ...(deps.streamStateTtlMs === undefined ? {} : { ttlMs: deps.streamStateTtlMs }),
  });
  const routeDeps = { config: deps.config, states, validators };
  const health = new ReadinessCache(
    () =>
      readiness(deps.clients, {
        eventStream: deps.config.eventStream,
        schemasTable: deps.config.tables.schemas,
        kmsKeyId: deps.config.kmsKeyId,
      }),
    deps.healthTtlMs,
  );

  /**
   * Whether the caller may see readiness: authenticated callers (any role) may; anonymous ones
   * get liveness only, so dependency names and latencies stay private. A credential that is sent
   * must be valid: a bad one is a 401, not a silent downgrade to liveness.
   */
  async function seesReadiness(event: APIGatewayProxyEventV2): Promise<boolean> {
    if (!auth.enabled) return true;
    if (header(event, "authorization") === undefined && header(event, "x-api-key") === undefined)
      return false;
    await auth.authenticate(event.headers ?? {});
    return true;
  }

  async function route(
    event: APIGatewayProxyEventV2,
    log: Logger,
  ): Promise<APIGatewayProxyStructuredResultV2> {
    switch (event.routeKey) {
      case "POST /v1/streams/{stream}/records": {
        const { stream, status: streamStatus } = await streamNamed(routeDeps, event.pathParameters?.stream);
        const refusal = intakeRefusal(stream.name, streamStatus.state);
        if (refusal) throw refusal;
        const idempotencyKey = header(event, "idempotency-key");
        const schemaVersion = header(event, "sluice-schema-version");
        const records = parseIngestBody(
          {
            contentType: header(event, "content-type"),
            body: bodyOf(event),
            ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
            ...(schemaVersion === undefined ? {} : { schemaVersion }),
          },
          limits,
        );
        const puts = deps.metrics ? countAcceptedBytes(deps.clients.kinesisPut) : undefined;
        const results = await ingestRecords(
          {
            kinesis: puts?.kinesis ?? deps.clients.kinesisPut,
            eventStream: deps.config.eventStream,
            validators,
            idempotency,
            payloadKeys,
          },
          stream,
          records,
        );
        const tally = tallyResults(results);
        const { accepted, duplicate, rejected } = tally;
        log.info("ingested", { stream: stream.name, records: results.length, accepted, duplicate, rejected });
        if (deps.metrics) countIngest(deps.metrics, stream.name, tally, puts?.bytes() ?? 0);
        const status = statusFor(results);
        return json(status, { results }, status === 503 || status === 409 ? { "retry-after": "1" } : {});
      }
      case "GET /v1/streams/{stream}": {
        const { stream } = await streamNamed(routeDeps, event.pathParameters?.stream);
        const schema = await currentSchema(validators, stream);
        const { state } = await states.read(stream.name);
        return json(200, { ...stream, state, schema: { subject: schema.subject, version: schema.version } });
      }
      case "GET /v1/health": {
        // Liveness is this answer itself; readiness is whether the dependencies answer.
        if (!(await seesReadiness(event))) return json(200, { live: true });
        const ready = await health.get();
        return json(ready.status === "ok" ? 200 : 503, { live: true, ...ready });
      }
      case "GET /v1/openapi.json":
        return json(200, openapi);
      default: {
        const answer = await streamRoute(event, routeDeps, log);
        if (!answer) throw noRoute(event);
        return json(answer.status, answer.body);
      }
    }
  }

  return httpApp({ logger: deps.logger, auth, actionFor, route });
}
