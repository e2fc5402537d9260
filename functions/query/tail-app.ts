/**
 * `GET /v1/streams/{stream}/tail?from=` as server-sent events: `record` events (the replay from
 * the lake, then live records), one `live` event at the switch, `skipped` for a record that could
 * not be opened, `error` if the tail fails after it started; a comment line every 15 s keeps
 * proxies from closing an idle stream. Authentication and bad input are answered as JSON errors
 * before the stream starts, exactly as the other routes answer them.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { DataKeyOpener } from "../core/crypto/key-opener.ts";
import { SluiceError } from "../core/errors.ts";
import { noRoute } from "../core/http-app.ts";
import type { ResponseWriter } from "../core/lambda-handler.ts";
import { knownStream } from "../core/query/records.ts";
import { parseInstant } from "../core/query/request.ts";
import { type TailDeps, type TailSink, tailStream } from "../core/query/tail.ts";
import { TAIL_ROUTE } from "../ingest/routes.ts";
import { actionFor, type QueryAppDeps, type QueryCore, queryCore } from "./app.ts";

/** A response that is written as it goes: the Node.js ServerResponse and Lambda's stream both fit. */
export type StreamingResponse = ResponseWriter;

export type StreamingApp = (
  event: APIGatewayProxyEventV2,
  response: StreamingResponse,
  signal: AbortSignal,
) => Promise<void>;

export const SSE = "text/event-stream";
const TAIL_PATH = /^\/v1\/streams\/([^/]+)\/tail\/?$/;

/**
 * The event as the API's route would give it. A function URL has no routes: its events carry
 * only the path (routeKey `$default`, no path parameters), so the stream is taken from it here.
 * Undefined when the request is not a tail.
 */
export function asTailRoute(event: APIGatewayProxyEventV2): APIGatewayProxyEventV2 | undefined {
  if (event.routeKey === TAIL_ROUTE) return event;
  const match = TAIL_PATH.exec(event.rawPath ?? "");
  if (!match || event.requestContext?.http?.method !== "GET") return undefined;
  let stream: string;
  try {
    stream = decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
  return { ...event, routeKey: TAIL_ROUTE, pathParameters: { stream } };
}
const KEEPALIVE_MS = 15_000;

export interface TailAppDeps extends QueryAppDeps {
  /** A tail ends after this long, so a client reconnects (with `from`) before Lambda's 15 minutes. @default 840000 */
  readonly maxTailMs?: number;
  readonly pollMs?: number;
}

function sse(event: string, data: unknown, id?: string): string {
  return `event: ${event}\n${id === undefined ? "" : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`;
}

export function createTailApp(deps: TailAppDeps, core: QueryCore = queryCore(deps)): StreamingApp {
  const tailDeps: TailDeps = {
    ...core.records,
    kinesis: deps.clients.kinesis,
    eventStream: deps.config.eventStream,
    payloadKeys: new DataKeyOpener(deps.clients.kms, { keyId: deps.config.kmsKeyId, app: deps.config.app }),
    ...(deps.pollMs === undefined ? {} : { pollMs: deps.pollMs }),
  };
  return async (received, response, signal) => {
    const log = deps.logger.child({ requestId: received.requestContext?.requestId, route: TAIL_ROUTE });
    const routed = asTailRoute(received);
    const event = routed ?? received;
    const name = event.pathParameters?.stream ?? "";
    let fromMs: number;
    try {
      if (!routed) throw noRoute(received);
      await core.auth.check(event.headers ?? {}, actionFor(event));
      knownStream(deps.config, name);
      const from = event.queryStringParameters?.from;
      fromMs = from === undefined ? Date.now() : parseInstant("from", from, Date.now());
    } catch (err) {
      const e = err instanceof SluiceError ? err : new SluiceError("INTERNAL", "internal error", 500);
      if (!(err instanceof SluiceError)) log.error("tail failed", { error: (err as Error).name });
      response.start(e.status, { "content-type": "application/json", ...e.headers });
      await response.write(JSON.stringify({ error: e.toDetail() }));
      response.end();
      return;
    }
    response.start(200, { "content-type": SSE, "cache-control": "no-store" });
    const stop = new AbortController();
    const abort = () => stop.abort();
    signal.addEventListener("abort", abort);
    const ends = setTimeout(abort, deps.maxTailMs ?? 840_000);
    const keepalive = setInterval(() => void response.write(": keepalive\n\n").catch(abort), KEEPALIVE_MS);
    let count = 0;
    const sink: TailSink = {
      record: async (row) => {
        count++;
        await response.write(sse("record", row, String(row._id)));
      },
      live: () => response.write(sse("live", { replayed: count })),
      skipped: (id, code, message) => response.write(sse("skipped", { id, code, message })),
    };
    try {
      await tailStream(tailDeps, name, fromMs, sink, stop.signal);
      log.info("tail ended", { stream: name, records: count });
    } catch (err) {
      const detail =
        err instanceof SluiceError ? err.toDetail() : { code: "INTERNAL", message: "the tail failed" };
      log.info("tail failed", { stream: name, code: detail.code });
      if (!stop.signal.aborted) await response.write(sse("error", detail)).catch(() => undefined);
    } finally {
      clearTimeout(ends);
      clearInterval(keepalive);
      signal.removeEventListener("abort", abort);
      response.end();
    }
  };
}
