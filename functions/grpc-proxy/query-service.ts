/**
 * The sluice.v1.QueryService handlers: each call becomes a GET of the HTTPS read API (the records
 * route for QueryTimeRange and LookupByKey, the tail's server-sent events for StreamingRead) with
 * the caller's credentials passed through, and its answer becomes records, or a status with the
 * API's error code in the trailers, as the ingest service does.
 */
import type {
  ServerUnaryCall,
  ServerWritableStream,
  sendUnaryData,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import type { Logger } from "../core/logger.ts";
import { sseEvents } from "../core/query/sse-events.ts";
import { passThroughHeaders } from "./ingest-service.ts";
import { MalformedMessage, type StructMessage, type TimestampMessage, type ValueMessage } from "./protos.ts";
import { checkStreamName, timestampToIso } from "./records.ts";
import {
  type CallError,
  callError,
  callErrorFromRefusal,
  refusalFromResponse,
  unreachable,
} from "./status.ts";

export interface QueryServiceDeps {
  /** Base URL of the HTTPS API, as the ingest service forwards to. */
  readonly target: string;
  readonly logger: Logger;
  /** How long a page may take. @default 30000 */
  readonly requestTimeoutMs?: number;
}

interface PageRequest {
  readonly stream?: string;
  readonly from?: TimestampMessage;
  readonly to?: TimestampMessage;
  readonly key?: string;
  readonly limit?: number;
  readonly cursor?: string;
  readonly fields?: readonly string[];
}

interface QueryPageMessage {
  readonly records: StructMessage[];
  readonly nextCursor?: string;
  readonly counters: Record<string, string>;
}

interface StreamingReadRequest {
  readonly stream?: string;
  readonly from?: TimestampMessage;
}

/** A JSON value as google.protobuf.Value (the inverse of records.ts's structToJson). */
export function jsonToValue(v: unknown): ValueMessage {
  if (v === null || v === undefined) return { kind: "nullValue", nullValue: "NULL_VALUE" };
  if (typeof v === "number") return { kind: "numberValue", numberValue: v };
  if (typeof v === "string") return { kind: "stringValue", stringValue: v };
  if (typeof v === "boolean") return { kind: "boolValue", boolValue: v };
  if (Array.isArray(v)) return { kind: "listValue", listValue: { values: v.map(jsonToValue) } };
  return { kind: "structValue", structValue: jsonToStruct(v as Record<string, unknown>) };
}

export function jsonToStruct(o: Record<string, unknown>): StructMessage {
  const fields: Record<string, ValueMessage> = {};
  for (const [k, v] of Object.entries(o)) fields[k] = jsonToValue(v);
  return { fields };
}

function invalid(message: string, path: string): CallError {
  return callError(status.INVALID_ARGUMENT, { code: "INVALID_QUERY", message, path });
}

/** The query string of a page request, or the error of a field the HTTP API could not be given. */
function pageQuery(req: PageRequest, byKey: boolean): URLSearchParams | CallError {
  const q = new URLSearchParams();
  for (const [name, ts] of [
    ["from", req.from],
    ["to", req.to],
  ] as const) {
    if (!ts) continue;
    const iso = timestampToIso(ts);
    if (!iso) return invalid(`${name} is not a valid timestamp`, `/${name}`);
    q.set(name, iso);
  }
  if (byKey) {
    if (!req.key && !req.cursor) return invalid("key is required", "/key");
    if (req.key) q.set("key", req.key);
  }
  if (req.limit) q.set("limit", String(req.limit));
  if (req.cursor) q.set("cursor", req.cursor);
  if (req.fields && req.fields.length > 0) q.set("fields", req.fields.join(","));
  return q;
}

const COUNTERS = {
  filesListed: "sluice-files-listed",
  filesRead: "sluice-files-read",
  rowGroupsTotal: "sluice-row-groups-total",
  rowGroupsRead: "sluice-row-groups-read",
  bytesScanned: "sluice-bytes-scanned",
} as const;

function isCallError(x: unknown): x is CallError {
  return typeof x === "object" && x !== null && "details" in x && "metadata" in x;
}

async function refusalOf(res: Response): Promise<CallError> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  return callErrorFromRefusal(refusalFromResponse(res.status, body));
}

export function createQueryService(deps: QueryServiceDeps): UntypedServiceImplementation {
  const base = deps.target.replace(/\/+$/, "");
  const timeoutMs = deps.requestTimeoutMs ?? 30_000;
  const urlOf = (stream: string, route: "records" | "tail", q: URLSearchParams) =>
    `${base}/v1/streams/${encodeURIComponent(stream)}/${route}${q.size > 0 ? `?${q}` : ""}`;

  function checked(request: unknown): { stream: string } | CallError {
    if (request instanceof MalformedMessage)
      return callError(status.INVALID_ARGUMENT, { code: "INVALID_REQUEST", message: request.reason });
    const problem = checkStreamName((request as { stream?: string }).stream);
    if (problem) return callError(status.INVALID_ARGUMENT, problem);
    return { stream: (request as { stream: string }).stream };
  }

  function page(method: string, byKey: boolean) {
    return async (
      call: ServerUnaryCall<PageRequest, QueryPageMessage>,
      callback: sendUnaryData<QueryPageMessage>,
    ): Promise<void> => {
      const ok = checked(call.request);
      if (isCallError(ok)) return callback(ok);
      const q = pageQuery(call.request, byKey);
      if (isCallError(q)) return callback(q);
      if (!byKey && !call.request.from && !call.request.cursor)
        return callback(invalid("from is required for a time-range query", "/from"));
      let res: Response;
      try {
        res = await fetch(urlOf(ok.stream, "records", q), {
          headers: passThroughHeaders(call.metadata),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        deps.logger.warn("read target unreachable", { method, error: (err as Error).name });
        return callback(callErrorFromRefusal(unreachable("the read API could not be reached")));
      }
      if (res.status !== 200) {
        const e = await refusalOf(res);
        deps.logger.info("call refused", { method, stream: ok.stream, status: res.status });
        return callback(e);
      }
      const text = await res.text();
      const records = text
        .split("\n")
        .filter((l) => l.length > 0)
        .map((l) => jsonToStruct(JSON.parse(l) as Record<string, unknown>));
      const counters: Record<string, string> = {};
      for (const [field, headerName] of Object.entries(COUNTERS))
        counters[field] = res.headers.get(headerName) ?? "0";
      const next = res.headers.get("sluice-next-cursor");
      callback(null, { records, ...(next ? { nextCursor: next } : {}), counters });
    };
  }

  async function streamingRead(call: ServerWritableStream<StreamingReadRequest, unknown>): Promise<void> {
    const fail = (e: CallError): void => {
      call.emit("error", e);
    };
    const ok = checked(call.request);
    if (isCallError(ok)) return fail(ok);
    const q = new URLSearchParams();
    if (call.request.from) {
      const iso = timestampToIso(call.request.from);
      if (!iso) return fail(invalid("from is not a valid timestamp", "/from"));
      q.set("from", iso);
    }
    const gone = new AbortController();
    call.on("cancelled", () => gone.abort());
    let res: Response;
    try {
      res = await fetch(urlOf(ok.stream, "tail", q), {
        headers: passThroughHeaders(call.metadata),
        signal: gone.signal,
      });
    } catch (err) {
      if (gone.signal.aborted) return;
      deps.logger.warn("read target unreachable", { method: "StreamingRead", error: (err as Error).name });
      return fail(callErrorFromRefusal(unreachable("the read API could not be reached")));
    }
    if (res.status !== 200 || !res.body) return fail(await refusalOf(res));
    try {
      for await (const { event, data } of sseEvents(res.body)) {
        const d = JSON.parse(data) as Record<string, unknown>;
        if (event === "record") call.write({ record: jsonToStruct(d) });
        else if (event === "live") call.write({ live: { replayed: String(d.replayed ?? 0) } });
        else if (event === "skipped")
          call.write({ skipped: { recordId: d.id, code: d.code, message: d.message } });
        else if (event === "error")
          return fail(
            callErrorFromRefusal(refusalFromResponse(500, { error: d as { code: string; message: string } })),
          );
      }
      call.end();
    } catch (err) {
      if (gone.signal.aborted) return;
      deps.logger.warn("tail ended early", { method: "StreamingRead", error: (err as Error).name });
      fail(callErrorFromRefusal(unreachable("the read API ended the tail")));
    }
  }

  return {
    QueryTimeRange: page("QueryTimeRange", false),
    LookupByKey: page("LookupByKey", true),
    StreamingRead: streamingRead,
  };
}
