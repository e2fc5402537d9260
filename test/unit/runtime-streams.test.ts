/** Run-time streams without AWS: the create request's checks, and which streams a pipeline's filter and batcher take. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SluiceError } from "../../functions/core/errors.ts";
import { pipelineFilter, readsStream } from "../../functions/core/esm-filter.ts";
import { parseCreateStream, runtimeStream } from "../../functions/core/streams/runtime-streams.ts";
import { matchesPattern } from "../../localstack/lambda/event-source-mapping.ts";

function refusal(body: string): { code: string; path?: string } {
  try {
    parseCreateStream(body);
  } catch (err) {
    assert.ok(err instanceof SluiceError);
    return { code: err.code, ...(err.path === undefined ? {} : { path: err.path }) };
  }
  assert.fail(`accepted ${body}`);
}

describe("parseCreateStream", () => {
  test("takes a name, a subject and optional field paths", () => {
    assert.deepEqual(
      parseCreateStream(
        JSON.stringify({
          name: "shop.orders-2",
          schema: "shop.order",
          eventTimeField: "at",
          partitionKey: "order.id",
        }),
      ),
      { name: "shop.orders-2", subject: "shop.order", eventTimeField: "at", partitionKey: "order.id" },
    );
  });

  test("refuses each bad field with its path", () => {
    assert.deepEqual(refusal("{"), { code: "INVALID_JSON" });
    assert.deepEqual(refusal("[]"), { code: "INVALID_REQUEST", path: "" });
    for (const name of ["", "Orders", "-x", "a b", "a".repeat(129), 7]) {
      assert.deepEqual(refusal(JSON.stringify({ name, schema: "s.t" })), {
        code: "INVALID_STREAM_NAME",
        path: "/name",
      });
    }
    assert.deepEqual(refusal(JSON.stringify({ name: "o" })), { code: "INVALID_REQUEST", path: "/schema" });
    assert.deepEqual(refusal(JSON.stringify({ name: "o", schema: "" })), {
      code: "INVALID_REQUEST",
      path: "/schema",
    });
    assert.deepEqual(refusal(JSON.stringify({ name: "o", schema: "s.t", partitionKey: "a..b" })), {
      code: "INVALID_REQUEST",
      path: "/partitionKey",
    });
    assert.deepEqual(refusal(JSON.stringify({ name: "o", schema: "s.t", retention: 3 })), {
      code: "INVALID_REQUEST",
      path: "/retention",
    });
  });

  test("a run-time stream takes the manifest's run-time settings", () => {
    assert.deepEqual(
      runtimeStream(
        "o",
        { subject: "s.t" },
        { pipeline: "p", idempotencyTtlSeconds: 600, maxFutureSkewSeconds: 5 },
      ),
      { name: "o", subject: "s.t", idempotencyTtlSeconds: 600, maxFutureSkewSeconds: 5 },
    );
  });
});

describe("which streams a pipeline reads", () => {
  const plain = { sources: ["feedback"] };
  const runtime = { sources: ["feedback"], runtimeStreams: { declared: ["feedback", "clicks"] } };
  const envelope = (stream: string) => ({ v: 1, stream, data: {} });

  test("a plain pipeline: its sources only, in the filter and in the batcher", () => {
    assert.deepEqual(pipelineFilter(plain), { data: { stream: ["feedback"] } });
    const reads = readsStream(plain);
    assert.deepEqual(["feedback", "clicks", "orders"].map(reads), [true, false, false]);
    assert.deepEqual(
      ["feedback", "clicks", "orders"].map((s) => matchesPattern(pipelineFilter(plain).data, envelope(s))),
      [true, false, false],
    );
  });

  test("the run-time pipeline: its sources and every undeclared stream, not other pipelines' declared ones", () => {
    assert.deepEqual(pipelineFilter(runtime), {
      data: { stream: ["feedback", { "anything-but": ["feedback", "clicks"] }] },
    });
    const reads = readsStream(runtime);
    assert.deepEqual(["feedback", "clicks", "orders"].map(reads), [true, false, true]);
    assert.deepEqual(
      ["feedback", "clicks", "orders"].map((s) => matchesPattern(pipelineFilter(runtime).data, envelope(s))),
      [true, false, true],
    );
    // An envelope without a stream matches nothing, as in Lambda's filtering.
    assert.equal(matchesPattern(pipelineFilter(runtime).data, { v: 1 }), false);
  });
});
