/**
 * The import API (`POST /v1/imports`, `GET /v1/imports/{id}`) as one function of an API Gateway v2
 * event: it plans a job (the source's objects cut into chunks), records it in the control table
 * and queues its chunks; functions/imports/chunk-app.ts runs them. Creating needs the right to
 * write the stream (admin, operator, or a writer of it), reading a job the right to read it.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { type Action, createAuth, type Principal } from "../core/auth/index.ts";
import type { AwsClients } from "../core/aws-clients.ts";
import { SluiceError } from "../core/errors.ts";
import { bodyOf, type HttpApp, httpApp, json, noRoute } from "../core/http-app.ts";
import { ChunkQueue } from "../core/imports/chunk-queue.ts";
import { type ImportJobs, JOB_ID, type JobError, newJobId } from "../core/imports/jobs.ts";
import { DEFAULT_CHUNK_BYTES, listSource, MAX_CHUNKS, planChunks } from "../core/imports/plan.ts";
import { parseImportRequest, sourceUrl } from "../core/imports/request.ts";
import type { Logger } from "../core/logger.ts";
import type { RuntimeConfig } from "../core/runtime-config.ts";
import { intakeRefusal, StreamStates } from "../core/streams/lifecycle.ts";

export interface ImportsAppDeps {
  readonly config: RuntimeConfig;
  readonly clients: Pick<AwsClients, "dynamo" | "s3" | "sqs">;
  readonly jobs: ImportJobs;
  readonly logger: Logger;
  /** JSON-lines objects larger than this are cut into byte ranges. @default 16 MiB */
  readonly chunkBytes?: number;
}

/** Who may call is decided per route, once the stream is known; authentication comes first. */
const AUTHENTICATED: Action = { kind: "read" };

export function createImportsApp(deps: ImportsAppDeps): HttpApp {
  const auth = createAuth(deps.config.auth, {
    dynamo: deps.clients.dynamo,
    apiKeysTable: deps.config.tables.apiKeys,
  });
  const states = new StreamStates(deps.clients.dynamo, deps.config.tables.control);
  const queue = new ChunkQueue(deps.clients.sqs, deps.config.imports.queue);

  async function create(event: APIGatewayProxyEventV2, log: Logger, principal: Principal) {
    const request = parseImportRequest(bodyOf(event), deps.config.imports);
    const stream = deps.config.streams[request.stream];
    if (!stream)
      throw new SluiceError("UNKNOWN_STREAM", `stream ${request.stream} does not exist`, 404, "/stream");
    auth.authorize(principal, { kind: "write", stream: stream.name });
    const refusal = intakeRefusal(stream.name, await states.current(stream.name));
    if (refusal) throw refusal;

    const id = newJobId();
    const source = sourceUrl(request.source.bucket, request.source.key);
    const objects = await listSource(deps.clients.s3, request);
    const plan = planChunks(id, request, objects, deps.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    if (plan.chunks.length > MAX_CHUNKS) {
      throw new SluiceError(
        "INVALID_IMPORT",
        `${source} makes ${plan.chunks.length} chunks; one job takes at most ${MAX_CHUNKS}: import narrower prefixes`,
        400,
        "/source",
      );
    }
    const errors: JobError[] = plan.skipped.map((s) => ({
      code: "INVALID_IMPORT",
      message: `skipped: ${s.reason}`,
      object: sourceUrl(request.source.bucket, s.key),
    }));
    if (plan.chunks.length === 0) {
      errors.unshift({
        code: "SOURCE_NOT_FOUND",
        message: request.source.isPrefix ? `no object to import under ${source}` : `${source} does not exist`,
      });
    }
    const job = await deps.jobs.create(id, {
      stream: stream.name,
      source,
      ...(request.format === undefined ? {} : { format: request.format }),
      objects: plan.objects,
      bytes: plan.bytes,
      chunks: plan.chunks.length,
      rejectedLines: sourceUrl(request.source.bucket, `errors/imports/${id}/`),
      errors,
    });
    try {
      await queue.send(plan.chunks);
    } catch (err) {
      await deps.jobs.fail(id, {
        code: "UNAVAILABLE",
        message: "its chunks could not be queued: create the job again",
      });
      throw err;
    }
    log.info("import created", {
      job: id,
      stream: stream.name,
      objects: plan.objects,
      chunks: plan.chunks.length,
    });
    return json(202, job, { location: `/v1/imports/${id}` });
  }

  async function read(event: APIGatewayProxyEventV2, principal: Principal) {
    const id = event.pathParameters?.id ?? "";
    const job = JOB_ID.test(id) ? await deps.jobs.get(id) : undefined;
    if (!job)
      throw new SluiceError(
        "NOT_FOUND",
        `no import job has id ${JSON.stringify(id.slice(0, 64))}`,
        404,
        "/id",
      );
    auth.authorize(principal, { kind: "read", stream: job.stream });
    return json(200, job);
  }

  return httpApp({
    logger: deps.logger,
    auth,
    actionFor: () => AUTHENTICATED,
    route: async (event, log, principal) => {
      if (!principal) throw noRoute(event);
      switch (event.routeKey) {
        case "POST /v1/imports":
          return create(event, log, principal);
        case "GET /v1/imports/{id}":
          return read(event, principal);
        default:
          throw noRoute(event);
      }
    },
  });
}
