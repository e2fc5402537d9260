/**
 * What the HTTPS API answers, in gRPC terms: its error codes as gRPC statuses, its per-record
 * results as acks (with error paths rewritten from the HTTP body to the gRPC record), and the
 * trailing metadata that carries the Sluice code of a failed call.
 */
import { Metadata, status } from "@grpc/grpc-js";
import type { AckMessage, AckStatus } from "./protos.ts";
import type { ForwardItem } from "./records.ts";

/** One entry of the HTTPS API's `results`. */
export interface TargetResult {
  readonly recordId: string | null;
  readonly status: "accepted" | "duplicate" | "rejected";
  readonly error?: { readonly code: string; readonly message: string; readonly path?: string };
}

/** An error that refused a whole request (or never let it be answered). */
export interface Refusal {
  readonly code: string;
  readonly message: string;
  readonly path?: string;
  readonly grpcStatus: status;
  readonly retryAfterSeconds?: number;
  /**
   * The error concerns the call, not its records: the credentials were refused or the target
   * cannot be reached. A stream ends with it instead of rejecting record after record.
   */
  readonly endsStream: boolean;
}

const BY_CODE: Readonly<Record<string, status>> = {
  INVALID_JSON: status.INVALID_ARGUMENT,
  INVALID_REQUEST: status.INVALID_ARGUMENT,
  UNSUPPORTED_MEDIA_TYPE: status.INVALID_ARGUMENT,
  EMPTY_BODY: status.INVALID_ARGUMENT,
  RECORD_TOO_COMPLEX: status.INVALID_ARGUMENT,
  NUMBER_NOT_FINITE: status.INVALID_ARGUMENT,
  INVALID_STREAM_NAME: status.INVALID_ARGUMENT,
  SCHEMA_VIOLATION: status.INVALID_ARGUMENT,
  INVALID_SCHEMA: status.INVALID_ARGUMENT,
  INVALID_IDEMPOTENCY_KEY: status.INVALID_ARGUMENT,
  INVALID_EVENT_TIME: status.INVALID_ARGUMENT,
  // gRPC itself answers RESOURCE_EXHAUSTED for a message over the size limit; sizes agree.
  BODY_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  TOO_MANY_RECORDS: status.RESOURCE_EXHAUSTED,
  RECORD_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  THROTTLED: status.RESOURCE_EXHAUSTED,
  UNKNOWN_STREAM: status.NOT_FOUND,
  // The record names a version of its schema that is not registered (yet).
  SCHEMA_VERSION_NOT_FOUND: status.NOT_FOUND,
  SCHEMA_MISMATCH: status.INVALID_ARGUMENT,
  INVALID_DATASCHEMA: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  FORBIDDEN: status.PERMISSION_DENIED,
  // Another writer holds the idempotency key: a concurrency conflict to retry after a while.
  IN_PROGRESS: status.ABORTED,
  // A paused stream takes nothing until resumed: retrying as is will not help.
  STREAM_PAUSED: status.FAILED_PRECONDITION,
  // A cursor whose table snapshot expired: start the query again.
  CURSOR_EXPIRED: status.FAILED_PRECONDITION,
  INVALID_STREAM_STATE: status.FAILED_PRECONDITION,
  UNAVAILABLE: status.UNAVAILABLE,
  SCHEMA_NOT_FOUND: status.UNAVAILABLE,
  METHOD_NOT_ALLOWED: status.UNIMPLEMENTED,
  INTERNAL: status.INTERNAL,
};

function byHttpStatus(http: number): status {
  if (http === 400) return status.INVALID_ARGUMENT;
  if (http === 401) return status.UNAUTHENTICATED;
  if (http === 403) return status.PERMISSION_DENIED;
  if (http === 404) return status.NOT_FOUND;
  if (http === 409) return status.ABORTED;
  if (http === 413 || http === 429) return status.RESOURCE_EXHAUSTED;
  if (http >= 500) return status.UNAVAILABLE;
  return status.UNKNOWN;
}

/** The gRPC status for a Sluice error code; the HTTP status decides for codes it does not know. */
export function grpcStatusFor(code: string, httpStatus = 0): status {
  return BY_CODE[code] ?? byHttpStatus(httpStatus);
}

/** Codes a producer should retry after a pause. */
const RETRYABLE = new Set(["THROTTLED", "IN_PROGRESS", "UNAVAILABLE"]);

/** A refusal for a request that got no usable answer: connection refused or reset, timeout. */
export function unreachable(message: string): Refusal {
  return {
    code: "UNAVAILABLE",
    message,
    grpcStatus: status.UNAVAILABLE,
    retryAfterSeconds: 1,
    endsStream: true,
  };
}

/** A whole-request answer of the HTTPS API (or of what stands in front of it) as a refusal. */
export function refusalFromResponse(httpStatus: number, body: unknown, retryAfterSeconds?: number): Refusal {
  const error = (body as { error?: { code?: unknown; message?: unknown; path?: unknown } } | null)?.error;
  const retry = retryAfterSeconds === undefined ? {} : { retryAfterSeconds };
  if (error && typeof error.code === "string" && typeof error.message === "string") {
    return {
      code: error.code,
      message: error.message,
      ...(typeof error.path === "string" ? { path: error.path } : {}),
      grpcStatus: grpcStatusFor(error.code, httpStatus),
      ...retry,
      endsStream: error.code === "UNAUTHENTICATED",
    };
  }
  // Not the ingest function's answer: the gateway's own (unknown route, throttling, a failed
  // integration) or something that is not Sluice at all.
  if (httpStatus === 401) {
    return {
      code: "UNAUTHENTICATED",
      message: "the target refused the credentials",
      grpcStatus: status.UNAUTHENTICATED,
      endsStream: true,
    };
  }
  if (httpStatus === 403) {
    return {
      code: "FORBIDDEN",
      message: "the target refused access",
      grpcStatus: status.PERMISSION_DENIED,
      endsStream: false,
    };
  }
  if (httpStatus === 404) {
    return {
      code: "NOT_FOUND",
      message: "the target has no ingest route here: check the proxy's --target",
      grpcStatus: status.NOT_FOUND,
      endsStream: true,
    };
  }
  if (httpStatus === 413) {
    return {
      code: "BODY_TOO_LARGE",
      message: "the target refused the request size",
      grpcStatus: status.RESOURCE_EXHAUSTED,
      endsStream: false,
    };
  }
  if (httpStatus === 429) {
    return {
      code: "THROTTLED",
      message: "the target is throttling requests",
      grpcStatus: status.RESOURCE_EXHAUSTED,
      retryAfterSeconds: retryAfterSeconds ?? 1,
      endsStream: false,
    };
  }
  return {
    ...unreachable(`the target answered HTTP ${httpStatus} without a Sluice error`),
    ...(httpStatus >= 500 || httpStatus === 0 ? {} : { grpcStatus: byHttpStatus(httpStatus) }),
  };
}

const ACK_STATUS: Readonly<Record<TargetResult["status"], AckStatus>> = {
  accepted: "ACK_STATUS_ACCEPTED",
  duplicate: "ACK_STATUS_DUPLICATE",
  rejected: "ACK_STATUS_REJECTED",
};

const RECORD_FIELD = /^\/records\/\d+(\/.*)?$/;

/**
 * The target names fields of its JSON body (`/records/3/key`); the producer sent a gRPC record.
 * Pointers into the payload stay as they are.
 */
export function recordPath(
  path: string | undefined,
  code: string,
  item: ForwardItem | undefined,
): string | undefined {
  if (path === undefined) return undefined;
  const field = RECORD_FIELD.exec(path);
  if (field) {
    const rest = field[1] ?? "";
    if (rest === "/key") return "/idempotency_key";
    if (rest === "/time") return "/event_time";
    if (rest === "/schemaVersion") return "/schema_version";
    if (rest === "/data" || rest.startsWith("/data/")) {
      const inside = rest.slice("/data".length);
      return inside === "" ? `/${item?.payloadField ?? "json"}` : inside;
    }
    return rest === "" ? undefined : rest;
  }
  // The ingest core names an explicit event time `/time`, as it does the payload's own field.
  if (code === "INVALID_EVENT_TIME" && path === "/time" && item?.hasEventTime) return "/event_time";
  return path;
}

export function ackFromResult(
  result: TargetResult,
  item: ForwardItem | undefined,
  clientId: string | undefined,
  retryAfterSeconds?: number,
): AckMessage {
  const status = ACK_STATUS[result.status] ?? "ACK_STATUS_REJECTED";
  if (status !== "ACK_STATUS_REJECTED" || !result.error) {
    return {
      status,
      ...(result.recordId ? { recordId: result.recordId } : {}),
      ...(clientId ? { clientId } : {}),
    };
  }
  return rejectedAck(
    {
      code: result.error.code,
      message: result.error.message,
      path: recordPath(result.error.path, result.error.code, item),
    },
    clientId,
    RETRYABLE.has(result.error.code) ? (retryAfterSeconds ?? 1) : undefined,
  );
}

export function rejectedAck(
  error: { readonly code: string; readonly message: string; readonly path?: string | undefined },
  clientId: string | undefined,
  retryAfterSeconds?: number,
): AckMessage {
  return {
    status: "ACK_STATUS_REJECTED",
    errorCode: error.code,
    errorMessage: error.message,
    ...(error.path ? { errorPath: error.path } : {}),
    ...(clientId ? { clientId } : {}),
    ...(retryAfterSeconds ? { retryAfterSeconds } : {}),
  };
}

/** A refusal as the rejection of one record it covered. */
export function ackFromRefusal(
  refusal: Refusal,
  item: ForwardItem | undefined,
  clientId: string | undefined,
): AckMessage {
  return rejectedAck(
    { code: refusal.code, message: refusal.message, path: recordPath(refusal.path, refusal.code, item) },
    clientId,
    refusal.retryAfterSeconds ?? (RETRYABLE.has(refusal.code) ? 1 : undefined),
  );
}

export interface CallError {
  readonly code: status;
  readonly details: string;
  readonly metadata: Metadata;
}

/** A failed call: the gRPC status, the Sluice code and path in trailers, and when to retry. */
export function callError(
  grpcStatus: status,
  error: { readonly code: string; readonly message: string; readonly path?: string | undefined },
  retryAfterSeconds?: number,
): CallError {
  const metadata = new Metadata();
  metadata.set("sluice-error-code", error.code);
  if (error.path) metadata.set("sluice-error-path", error.path);
  if (retryAfterSeconds) {
    metadata.set("retry-after", String(retryAfterSeconds));
    // What gRPC retry policies read to wait before the next attempt.
    metadata.set("grpc-retry-pushback-ms", String(retryAfterSeconds * 1000));
  }
  return { code: grpcStatus, details: `${error.code}: ${error.message}`, metadata };
}

export function callErrorFromRefusal(refusal: Refusal): CallError {
  return callError(refusal.grpcStatus, refusal, refusal.retryAfterSeconds);
}

/** A rejected ack as the failure of a unary call. */
export function callErrorFromAck(ack: AckMessage): CallError {
  const code = ack.errorCode ?? "INTERNAL";
  return callError(
    grpcStatusFor(code),
    { code, message: ack.errorMessage ?? "", ...(ack.errorPath ? { path: ack.errorPath } : {}) },
    ack.retryAfterSeconds,
  );
}
