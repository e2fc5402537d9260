import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import type { ForwardItem } from "../../functions/grpc-proxy/records.ts";
import {
  ackFromResult,
  callErrorFromAck,
  grpcStatusFor,
  recordPath,
  refusalFromResponse,
} from "../../functions/grpc-proxy/status.ts";

const jsonItem: ForwardItem = { stream: "s", text: "", bytes: 0, payloadField: "json", hasEventTime: true };
const structItem: ForwardItem = { ...jsonItem, payloadField: "struct", hasEventTime: false };

describe("status mapping", () => {
  test("each Sluice error code has the gRPC status a client can act on", () => {
    const expected: [string, status][] = [
      ["SCHEMA_VIOLATION", status.INVALID_ARGUMENT],
      ["INVALID_JSON", status.INVALID_ARGUMENT],
      ["INVALID_STREAM_NAME", status.INVALID_ARGUMENT],
      ["UNAUTHENTICATED", status.UNAUTHENTICATED],
      ["FORBIDDEN", status.PERMISSION_DENIED],
      ["UNKNOWN_STREAM", status.NOT_FOUND],
      ["RECORD_TOO_LARGE", status.RESOURCE_EXHAUSTED],
      ["BODY_TOO_LARGE", status.RESOURCE_EXHAUSTED],
      ["THROTTLED", status.RESOURCE_EXHAUSTED],
      ["IN_PROGRESS", status.ABORTED],
      ["UNAVAILABLE", status.UNAVAILABLE],
    ];
    for (const [code, grpc] of expected) assert.equal(grpcStatusFor(code), grpc, code);
    assert.equal(grpcStatusFor("SOMETHING_NEW", 403), status.PERMISSION_DENIED);
  });

  test("whole-request errors: Sluice bodies keep their code; gateway answers get one", () => {
    assert.deepEqual(
      refusalFromResponse(404, { error: { code: "UNKNOWN_STREAM", message: "no", path: "/stream" } }),
      {
        code: "UNKNOWN_STREAM",
        message: "no",
        path: "/stream",
        grpcStatus: status.NOT_FOUND,
        endsStream: false,
      },
    );
    const unauthenticated = refusalFromResponse(401, {
      error: { code: "UNAUTHENTICATED", message: "missing" },
    });
    assert.equal(unauthenticated.grpcStatus, status.UNAUTHENTICATED);
    assert.equal(unauthenticated.endsStream, true, "credentials are the call's, so the stream ends");
    assert.equal(refusalFromResponse(403, { error: { code: "FORBIDDEN", message: "x" } }).endsStream, false);
    const route = refusalFromResponse(404, { message: "Not Found" });
    assert.equal(route.code, "NOT_FOUND");
    assert.equal(route.endsStream, true);
    const throttled = refusalFromResponse(429, { message: "Too Many Requests" }, 3);
    assert.deepEqual(
      [throttled.code, throttled.grpcStatus, throttled.retryAfterSeconds],
      ["THROTTLED", status.RESOURCE_EXHAUSTED, 3],
    );
    const failed = refusalFromResponse(502, { message: "Internal Server Error" });
    assert.deepEqual(
      [failed.code, failed.grpcStatus, failed.endsStream],
      ["UNAVAILABLE", status.UNAVAILABLE, true],
    );
  });

  test("error paths are rewritten from the HTTP body to the gRPC record", () => {
    assert.equal(recordPath("/records/7/key", "INVALID_IDEMPOTENCY_KEY", jsonItem), "/idempotency_key");
    assert.equal(recordPath("/records/7/time", "INVALID_EVENT_TIME", jsonItem), "/event_time");
    assert.equal(recordPath("/records/7/data", "RECORD_TOO_LARGE", structItem), "/struct");
    assert.equal(recordPath("/records/7/data/a", "SCHEMA_VIOLATION", jsonItem), "/a");
    assert.equal(recordPath("/category", "SCHEMA_VIOLATION", jsonItem), "/category");
    // The ingest core names an explicit event time /time; only then is it the record's field.
    assert.equal(recordPath("/time", "INVALID_EVENT_TIME", jsonItem), "/event_time");
    assert.equal(recordPath("/time", "INVALID_EVENT_TIME", structItem), "/time");
    assert.equal(recordPath(undefined, "THROTTLED", jsonItem), undefined);
  });

  test("results become acks; retryable rejections say when to retry", () => {
    assert.deepEqual(ackFromResult({ recordId: "01A", status: "duplicate" }, jsonItem, "c"), {
      status: "ACK_STATUS_DUPLICATE",
      recordId: "01A",
      clientId: "c",
    });
    const throttled = ackFromResult(
      { recordId: null, status: "rejected", error: { code: "THROTTLED", message: "slow down" } },
      jsonItem,
      undefined,
      2,
    );
    assert.deepEqual(throttled, {
      status: "ACK_STATUS_REJECTED",
      errorCode: "THROTTLED",
      errorMessage: "slow down",
      retryAfterSeconds: 2,
    });
    const error = callErrorFromAck(throttled);
    assert.equal(error.code, status.RESOURCE_EXHAUSTED);
    assert.deepEqual(error.metadata.get("sluice-error-code"), ["THROTTLED"]);
    assert.deepEqual(error.metadata.get("grpc-retry-pushback-ms"), ["2000"]);
  });
});
