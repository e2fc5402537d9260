/**
 * The tail's Lambda handler shape: Middy's streamifyResponse around an app that writes as it
 * goes. `awslambda` is the Node.js runtime's global; here a stand-in does what the runtime's does
 * (HttpResponseStream.from writes the status and headers as a JSON prelude and 8 NUL bytes
 * before the body, on the stream Lambda gives the handler).
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { before, describe, test } from "node:test";
import { observability, streamingLambdaHandler } from "../../functions/core/lambda-handler.ts";

type Handler = (event: unknown, stream: PassThrough, context: object) => Promise<void>;

before(() => {
  (globalThis as { awslambda?: unknown }).awslambda = {
    streamifyResponse: (fn: Handler) => fn,
    HttpResponseStream: {
      from: (stream: PassThrough, meta: object) => {
        stream.write(JSON.stringify(meta));
        stream.write(Buffer.alloc(8));
        return stream;
      },
    },
  };
});

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(Buffer.from(c)));
  return () => Buffer.concat(chunks).toString("latin1");
}

describe("streamingLambdaHandler", () => {
  test("sends the status and headers the app starts with, then what it writes, in order", async () => {
    const o = await observability({ service: "test", env: {} });
    const handler = streamingLambdaHandler(async (_event, response) => {
      response.start(200, { "content-type": "text/event-stream" });
      for (const chunk of ["event: record\n", "data: 1\n\n", "event: live\n\n"]) await response.write(chunk);
      response.end();
    }, o) as unknown as Handler;
    const client = new PassThrough();
    const received = collect(client);
    await handler({}, client, {});
    assert.equal(
      received(),
      `${JSON.stringify({ statusCode: 200, headers: { "content-type": "text/event-stream" } })}${"\0".repeat(8)}event: record\ndata: 1\n\nevent: live\n\n`,
    );
  });

  test("a refusal before the stream starts is a whole response; a client gone aborts the app", async () => {
    const o = await observability({ service: "test", env: {} });
    const refuse = streamingLambdaHandler(async (_event, response) => {
      response.start(401, { "content-type": "application/json" });
      await response.write('{"error":{"code":"UNAUTHENTICATED"}}');
      response.end();
    }, o) as unknown as Handler;
    const client = new PassThrough();
    const received = collect(client);
    await refuse({}, client, {});
    assert.match(received(), /^\{"statusCode":401.*\0{8}\{"error":\{"code":"UNAUTHENTICATED"\}\}$/s);

    let aborted = false;
    const follow = streamingLambdaHandler(async (_event, response, signal) => {
      response.start(200, {});
      for (let i = 0; i < 100_000 && !signal.aborted; i++) await response.write("x").catch(() => undefined);
      aborted = signal.aborted;
      response.end();
    }, o) as unknown as Handler;
    const gone = new PassThrough();
    gone.once("data", () => gone.destroy());
    await follow({}, gone, {}).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(aborted, true);
  });
});
