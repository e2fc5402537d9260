/** Logs through Powertools: secrets and payloads never written, request and correlation ids on every line. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { APIGatewayProxyEventV2, Context, KinesisStreamEvent } from "aws-lambda";
import { lambdaHandler, observability } from "../../functions/core/lambda-handler.ts";
import {
  createLogger,
  createPowertoolsLogger,
  fieldAt,
  loggerOver,
  REDACTED,
  redactSecrets,
  silentLogger,
} from "../../functions/core/logger.ts";

const API_KEY = `sk_${"k".repeat(20)}Zq9xW3vB7nM2pL5tR8yU1e`;
const JWT =
  "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlcyI6WyJ3cml0ZXIiXX0.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIzNDU2Nzg5MA";
const PAYLOAD_MARKER = "customer-said-something-private-7d41";

/**
 * Every log line written while `fn` runs (Powertools' console sends warnings and errors to
 * stderr), without the EMF lines of the metrics the handler flushes.
 */
async function stdoutOf(fn: () => Promise<unknown> | unknown): Promise<string[]> {
  const chunks: string[] = [];
  const capture = ((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    return true;
  }) as typeof process.stdout.write;
  const { write: out } = process.stdout;
  const { write: err } = process.stderr;
  process.stdout.write = capture;
  process.stderr.write = capture;
  try {
    await fn();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return chunks
    .join("")
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith('{"_aws"'));
}

function assertClean(lines: readonly string[]): void {
  const text = lines.join("\n");
  assert.ok(!text.includes(API_KEY), "the API key was written");
  assert.ok(!text.includes(API_KEY.slice(3)), "part of the API key was written");
  assert.ok(!text.includes(JWT), "the bearer token was written");
  assert.ok(!text.includes(JWT.split(".")[1]!), "the token's claims were written");
  assert.ok(!text.includes(PAYLOAD_MARKER), "the payload was written");
}

const context = {
  functionName: "sluice-ingest",
  awsRequestId: "lambda-request-1",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:sluice-ingest",
  memoryLimitInMB: "512",
  functionVersion: "$LATEST",
} as Context;

function apiEvent(): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: "POST /v1/streams/{stream}/records",
    rawPath: "/v1/streams/feedback/records",
    rawQueryString: "",
    headers: {
      authorization: `Bearer ${JWT}`,
      "x-api-key": API_KEY,
      "content-type": "application/json",
    },
    isBase64Encoded: false,
    body: JSON.stringify({ records: [{ data: { text: PAYLOAD_MARKER } }] }),
    requestContext: { requestId: "apigw-request-42" },
  } as unknown as APIGatewayProxyEventV2;
}

describe("redaction", () => {
  test("an API key, a bearer token and a payload passed as fields never reach the output", async () => {
    const lines = await stdoutOf(() => {
      const log = createLogger("sluice-test", "debug");
      log.info("request", {
        authorization: `Bearer ${JWT}`,
        "x-api-key": API_KEY,
        apiKey: API_KEY,
        data: JSON.stringify({ text: PAYLOAD_MARKER }),
        payload: PAYLOAD_MARKER,
        body: PAYLOAD_MARKER,
        records: 3,
      });
    });
    assert.equal(lines.length, 1);
    assertClean(lines);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(line.authorization, REDACTED);
    assert.equal(line["x-api-key"], REDACTED);
    assert.equal(line.data, REDACTED);
    assert.equal(line.payload, REDACTED);
    // Counts under a payload's name are counts: they stay.
    assert.equal(line.records, 3);
  });

  test("credentials quoted inside messages and other fields are cut out, the rest of the text kept", async () => {
    const lines = await stdoutOf(() => {
      const log = createLogger("sluice-test");
      log.warn(`rejected header Bearer ${JWT} from client`, {
        error: `key ${API_KEY} is disabled`,
        token_hint: "abc",
      });
    });
    assertClean(lines);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(line.message, `rejected header Bearer ${REDACTED} from client`);
    assert.equal(line.error, `key sk_${REDACTED} is disabled`);
  });

  test("the whole event, logged with POWERTOOLS_LOGGER_LOG_EVENT, keeps its shape but not its secrets or body", async () => {
    process.env.POWERTOOLS_LOGGER_LOG_EVENT = "true";
    let lines: string[];
    try {
      const o = await observability({ service: "sluice-ingest", app: "sluice", env: {} });
      const handler = lambdaHandler(async () => ({ statusCode: 200 }), o, "requestContext.requestId");
      lines = await stdoutOf(() => handler(apiEvent(), context));
    } finally {
      delete process.env.POWERTOOLS_LOGGER_LOG_EVENT;
    }
    const eventLine = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event);
    assert.ok(eventLine, lines.join("\n"));
    const logged = eventLine.event as { headers: Record<string, string>; body: string; rawPath: string };
    assert.equal(logged.rawPath, "/v1/streams/feedback/records");
    assert.equal(logged.headers.authorization, REDACTED);
    assert.equal(logged.headers["x-api-key"], REDACTED);
    assert.equal(logged.headers["content-type"], "application/json");
    assert.equal(logged.body, REDACTED);
    assertClean(lines);
  });

  test("nested objects under a secret key go whole, and the replacer leaves other values alone", () => {
    assert.equal(redactSecrets("records", [{ data: PAYLOAD_MARKER }]), REDACTED);
    assert.equal(redactSecrets("Set-Cookie", "id=1"), REDACTED);
    assert.equal(redactSecrets("client_secret", "x"), REDACTED);
    assert.equal(redactSecrets("stream", "feedback"), "feedback");
    assert.equal(redactSecrets("delivered", 500), 500);
    assert.deepEqual(redactSecrets("", { a: 1 }), { a: 1 });
  });
});

describe("ids on every line", () => {
  test("an API request's lines carry the Lambda request id and API Gateway's request id as correlation id", async () => {
    const o = await observability({ service: "sluice-ingest", app: "sluice", env: {} });
    const handler = lambdaHandler(
      async () => {
        o.logger.info("one");
        o.logger.child({ route: "POST /v1/streams/{stream}/records" }).warn("two");
        return { statusCode: 200 };
      },
      o,
      "requestContext.requestId",
    );
    const lines = (await stdoutOf(() => handler(apiEvent(), context))).map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
    assert.deepEqual(
      lines.map((l) => l.message),
      ["one", "two"],
    );
    for (const line of lines) {
      assert.equal(line.function_request_id, "lambda-request-1");
      assert.equal(line.correlation_id, "apigw-request-42");
      assert.equal(line.service, "sluice-ingest");
    }
    assert.equal(lines[1]!.route, "POST /v1/streams/{stream}/records");
  });

  test("a batch's lines carry its first sequence number, and the next invocation's its own", async () => {
    const o = await observability({ service: "sluice-batch", app: "sluice", env: {} });
    const handler = lambdaHandler(
      async (_: KinesisStreamEvent) => {
        o.logger.info("batch");
        return { batchItemFailures: [] };
      },
      o,
      "Records[0].kinesis.sequenceNumber",
    );
    const batch = (seq: string) =>
      ({ Records: [{ kinesis: { sequenceNumber: seq } }, { kinesis: { sequenceNumber: "9" } }] }) as never;
    const lines = (
      await stdoutOf(async () => {
        await handler(batch("4960001"), context);
        await handler(batch("4960002"), { ...context, awsRequestId: "lambda-request-2" });
      })
    ).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.map((l) => [l.correlation_id, l.function_request_id]),
      [
        ["4960001", "lambda-request-1"],
        ["4960002", "lambda-request-2"],
      ],
    );
  });

  test("fieldAt follows the dotted paths with indexes the handlers use", () => {
    const event = { Records: [{ kinesis: { sequenceNumber: "7" } }], requestContext: { requestId: "r" } };
    assert.equal(fieldAt("Records[0].kinesis.sequenceNumber", event), "7");
    assert.equal(fieldAt("requestContext.requestId", event), "r");
    assert.equal(fieldAt("Records[3].kinesis", event), undefined);
    assert.equal(fieldAt("nope.deeper", event), undefined);
  });
});

describe("Sluice's Logger over Powertools", () => {
  test("child() adds fields to its lines only; the parent and siblings are unchanged", async () => {
    const parent = loggerOver(createPowertoolsLogger("sluice-test"));
    const lines = (
      await stdoutOf(() => {
        const a = parent.child({ pipeline: "lake" });
        const b = a.child({ shardId: "shardId-000000000001" });
        b.info("b");
        a.info("a");
        parent.info("parent");
      })
    ).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.map((l) => [l.message, l.pipeline, l.shardId]),
      [
        ["b", "lake", "shardId-000000000001"],
        ["a", "lake", undefined],
        ["parent", undefined, undefined],
      ],
    );
  });

  test("a field named like one Powertools reserves keeps its value under another name", async () => {
    const lines = await stdoutOf(() =>
      createLogger("sluice-test").error("batch failed", { error: "TimeoutError", message: "took too long" }),
    );
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(line.message, "batch failed");
    assert.equal(line.detail, "took too long");
    assert.equal(line.level, "ERROR");
  });

  test("levels below the logger's are dropped, and silentLogger writes nothing", async () => {
    const lines = await stdoutOf(() => {
      const log = createLogger("sluice-test", "warn");
      log.debug("no");
      log.info("no");
      log.warn("yes");
      silentLogger.error("no");
      silentLogger.child({ a: 1 }).error("no");
    });
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { message: string }).message),
      ["yes"],
    );
  });
});
