/** The dev gateway's handling of odd requests, over real sockets. */
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, before, test } from "node:test";
import { matchRoute } from "../../functions/ingest/routes.ts";
import { type HttpGateway, startHttpGateway } from "../../localstack/lambda/http-gateway.ts";

let gateway: HttpGateway;
const seen: string[] = [];
before(async () => {
  gateway = await startHttpGateway(
    async (event) => {
      seen.push(event.pathParameters?.stream ?? "");
      return { statusCode: 200, body: "{}" };
    },
    0,
    "127.0.0.1",
    300,
  );
});
after(() => gateway.close());

/** Sends raw bytes and reads the whole answer until the server closes or `waitMs` passes. */
async function raw(bytes: string, waitMs = 3_000): Promise<{ text: string; closed: boolean; ms: number }> {
  const { port } = new URL(gateway.url);
  const socket = net.connect(Number(port), "127.0.0.1");
  await once(socket, "connect");
  const started = Date.now();
  socket.write(bytes);
  let text = "";
  socket.on("data", (c: Buffer) => {
    text += c.toString("latin1");
  });
  const closed = await Promise.race([
    once(socket, "close").then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), waitMs)),
  ]);
  socket.destroy();
  return { text, closed, ms: Date.now() - started };
}

test("a body shorter than its Content-Length is answered 408 after the idle timeout, and the connection closed", async () => {
  const answer = await raw(
    'POST /v1/streams/feedback/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":1}',
  );
  assert.match(answer.text, /^HTTP\/1\.1 408 /);
  assert.match(answer.text, /the body ended before its Content-Length/);
  assert.equal(answer.closed, true);
  assert.ok(answer.ms >= 250, `answered after ${answer.ms} ms, before the timeout`);
  assert.ok(!seen.includes("feedback"), "the handler never saw the cut request");
});

test("a complete body reaches the handler", async () => {
  const answer = await raw(
    'POST /v1/streams/feedback/records HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 7\r\n\r\n{"a":1}',
  );
  assert.match(answer.text, /^HTTP\/1\.1 200 /);
  assert.deepEqual(seen, ["feedback"]);
});

test("a malformed percent-escape in the path reaches the handler as sent, not as a router crash", () => {
  for (const name of ["%E0%A4%A", "feedback%", "%ff"]) {
    const match = matchRoute("POST", `/v1/streams/${name}/records`);
    assert.ok(match !== undefined && match !== "METHOD_NOT_ALLOWED");
    assert.equal(match.pathParameters.stream, name);
  }
  const good = matchRoute("GET", "/v1/streams/feed%2Dback");
  assert.ok(good !== undefined && good !== "METHOD_NOT_ALLOWED");
  assert.equal(good.pathParameters.stream, "feed-back");
});
