/**
 * The admin routes of the stream lifecycle: list streams with their state and schema, pause,
 * resume and delete one. Served by ingest's function, which reads the same states at intake.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { Action } from "../core/auth/index.ts";
import { SluiceError } from "../core/errors.ts";
import { currentSchema } from "../core/ingest/ingest.ts";
import type { Logger } from "../core/logger.ts";
import type { RuntimeConfig } from "../core/runtime-config.ts";
import type { StreamChange, StreamStates, StreamStatus } from "../core/streams/lifecycle.ts";
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

async function view(deps: StreamRouteDeps, status: StreamStatus) {
  const stream = deps.config.streams[status.name]!;
  let schema: { subject: string; version: number | null } = { subject: stream.subject, version: null };
  try {
    const s = await currentSchema(deps.validators, stream);
    schema = { subject: s.subject, version: s.version };
  } catch {
    // Listed even when its subject has no version yet: the state is what an operator came for.
  }
  return { ...status, schema };
}

export async function streamRoute(
  event: APIGatewayProxyEventV2,
  deps: StreamRouteDeps,
  log: Logger,
): Promise<Answer | undefined> {
  if (event.routeKey === "GET /v1/streams") {
    const stored = await deps.states.stored();
    const streams = await Promise.all(
      Object.keys(deps.config.streams).map((name) =>
        view(deps, stored.get(name) ?? { name, state: "active" }),
      ),
    );
    return { status: 200, body: { streams } };
  }
  const change = CHANGE_OF[event.routeKey];
  if (!change) return undefined;
  const name = event.pathParameters?.stream ?? "";
  if (!deps.config.streams[name]) {
    throw new SluiceError("UNKNOWN_STREAM", `stream ${name} does not exist`, 404, "/stream");
  }
  const status = await deps.states.change(name, change);
  log.info("stream state changed", { stream: name, change, state: status.state });
  return { status: 200, body: await view(deps, status) };
}
