/**
 * The admin routes of the stream lifecycle: list streams with their state and schema, create one
 * at run time, pause, resume and delete one. Served by ingest's function, which reads the same
 * states at intake.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { Action } from "../core/auth/index.ts";
import { SluiceError } from "../core/errors.ts";
import { bodyOf } from "../core/http-app.ts";
import { currentSchema } from "../core/ingest/ingest.ts";
import type { Logger } from "../core/logger.ts";
import type { RuntimeConfig, StreamRuntime } from "../core/runtime-config.ts";
import type { StreamChange, StreamStates, StreamStatus } from "../core/streams/lifecycle.ts";
import { parseCreateStream, runtimeStream, STREAM_NAME } from "../core/streams/runtime-streams.ts";
import type { ValidatorCache } from "../core/validators.ts";
import { STREAM_ROUTES } from "./routes.ts";

const CHANGE_OF: Readonly<Record<string, StreamChange>> = {
  "POST /v1/streams/{stream}/pause": "pause",
  "POST /v1/streams/{stream}/resume": "resume",
  "DELETE /v1/streams/{stream}": "delete",
};

export function streamRouteAction(routeKey: string): Action | undefined {
  return (STREAM_ROUTES as readonly string[]).includes(routeKey) ? { kind: "admin" } : undefined;
}

export interface StreamRouteDeps {
  readonly config: RuntimeConfig;
  readonly states: StreamStates;
  readonly validators: ValidatorCache;
}

export interface Answer {
  readonly status: number;
  readonly body: unknown;
}

function unknownStream(name: string): SluiceError {
  return new SluiceError("UNKNOWN_STREAM", `stream ${name} does not exist`, 404, "/stream");
}

/**
 * A stream by the name in a path: declared in the manifest, or created at run time (read through
 * the states' cache, so a stream created by another container is found within its cache time).
 */
export async function streamNamed(
  deps: StreamRouteDeps,
  name: string | undefined,
  /** Read the table now rather than through the cache (the admin routes). */
  fresh = false,
): Promise<{ stream: StreamRuntime; status: StreamStatus }> {
  if (!name || !STREAM_NAME.test(name)) {
    throw new SluiceError(
      "INVALID_STREAM_NAME",
      "stream names match ^[a-z0-9][a-z0-9._-]{0,127}$",
      400,
      "/stream",
    );
  }
  const declared = deps.config.streams[name];
  const settings = deps.config.runtimeStreams;
  if (!declared && !settings) throw unknownStream(name);
  const { status } = fresh ? await deps.states.lookup(name) : await deps.states.describe(name);
  if (declared) return { stream: declared, status };
  if (!status.runtime || !settings) throw unknownStream(name);
  return { stream: runtimeStream(name, status.runtime, settings), status };
}

async function view(deps: StreamRouteDeps, stream: StreamRuntime, status: StreamStatus) {
  let schema: { subject: string; version: number | null } = { subject: stream.subject, version: null };
  try {
    const s = await currentSchema(deps.validators, stream);
    schema = { subject: s.subject, version: s.version };
  } catch {
    // Listed even when its subject has no version yet: the state is what an operator came for.
  }
  const { runtime, ...rest } = status;
  return { ...rest, ...(runtime ? { createdAtRunTime: true } : {}), schema };
}

async function createStream(
  event: APIGatewayProxyEventV2,
  deps: StreamRouteDeps,
  log: Logger,
): Promise<Answer> {
  const settings = deps.config.runtimeStreams;
  if (!settings) {
    throw new SluiceError(
      "RUNTIME_STREAMS_DISABLED",
      "this deployment takes no run-time streams: its manifest has no runtimeStreams setting",
      409,
    );
  }
  const request = parseCreateStream(bodyOf(event).toString());
  if (deps.config.streams[request.name]) {
    throw new SluiceError(
      "STREAM_EXISTS",
      `stream ${request.name} is declared in the manifest`,
      409,
      "/name",
    );
  }
  if (!(await deps.validators.latest(request.subject))) {
    throw new SluiceError(
      "SCHEMA_NOT_FOUND",
      `schema ${request.subject} is not registered: POST /v1/schemas first`,
      404,
      "/schema",
    );
  }
  const { name, ...def } = request;
  const status = await deps.states.create(name, def);
  log.info("stream created", { stream: name, subject: def.subject, pipeline: settings.pipeline });
  return {
    status: 201,
    body: { ...(await view(deps, runtimeStream(name, def, settings), status)), pipeline: settings.pipeline },
  };
}

export async function streamRoute(
  event: APIGatewayProxyEventV2,
  deps: StreamRouteDeps,
  log: Logger,
): Promise<Answer | undefined> {
  if (event.routeKey === "GET /v1/streams") {
    const stored = await deps.states.stored();
    const declared = Object.keys(deps.config.streams).map((name) =>
      view(deps, deps.config.streams[name]!, stored.get(name) ?? { name, state: "active" }),
    );
    const settings = deps.config.runtimeStreams;
    const created = settings
      ? [...stored.values()]
          .filter((s) => s.runtime && !deps.config.streams[s.name])
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((s) => view(deps, runtimeStream(s.name, s.runtime!, settings), s))
      : [];
    return { status: 200, body: { streams: await Promise.all([...declared, ...created]) } };
  }
  if (event.routeKey === "POST /v1/streams") return createStream(event, deps, log);
  const change = CHANGE_OF[event.routeKey];
  if (!change) return undefined;
  const { stream } = await streamNamed(deps, event.pathParameters?.stream, true);
  const status = await deps.states.change(stream.name, change);
  log.info("stream state changed", { stream: stream.name, change, state: status.state });
  return { status: 200, body: await view(deps, stream, status) };
}
