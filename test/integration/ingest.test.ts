/**
 * Ingest over HTTP against the local stack: idempotency, batches with bad records, concurrent
 * duplicates, and rejection when Kinesis cannot take the records. Kinesis is read back directly.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, readStream, uniqueApp } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

interface Result {
  recordId: string | null;
  status: string;
  error?: { code: string; message: string; path?: string };
}

let runner: LocalRunner;

const feedback = (i: number) => ({
  customerId: `c-${i}`,
  content: `feedback number ${i}`,
  category: "praise",
  isNegative: false,
  tags: ["t"],
  ts: "2026-11-23T10:00:00Z",
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${runner.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeader(runner), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as { results?: Result[]; error?: Result["error"] },
  };
}

before(async () => {
  runner = await startTestRunner("ing", { pipelines: false });
});

after(async () => {
  await runner?.stop();
});

describe("ingest", () => {
  test("the same idempotency key twice gives one Kinesis record and the original record id", async () => {
    const first = await post("/v1/streams/feedback/records", feedback(1), { "idempotency-key": "order-1" });
    const second = await post("/v1/streams/feedback/records", feedback(1), { "idempotency-key": "order-1" });
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.equal(first.body.results![0]!.status, "accepted");
    assert.deepEqual(second.body.results![0], {
      recordId: first.body.results![0]!.recordId,
      status: "duplicate",
    });
    const onStream = (await readStream(runner.clients.kinesis, runner.config.eventStream)).filter(
      (e) => e.key === "order-1",
    );
    assert.equal(onStream.length, 1);
    assert.equal(onStream[0]!.id, first.body.results![0]!.recordId);
  });

  test("a 500-record batch with 3 invalid records puts 497 on Kinesis and names each error", async () => {
    const tag = uniqueApp("batch");
    const records = Array.from({ length: 500 }, (_, i) => ({
      data: { ...feedback(i), customerId: `${tag}-${i}` },
      key: `${tag}-${i}`,
    }));
    records[7] = {
      data: { ...feedback(7), customerId: `${tag}-7`, isNegative: "no" } as never,
      key: `${tag}-7`,
    };
    records[250] = {
      data: { ...feedback(250), customerId: `${tag}-250`, category: "spam" },
      key: `${tag}-250`,
    };
    const { category: _c, ...missing } = feedback(499);
    records[499] = { data: { ...missing, customerId: `${tag}-499` } as never, key: `${tag}-499` };
    const res = await post("/v1/streams/feedback/records", { records });
    assert.equal(res.status, 207);
    const results = res.body.results!;
    assert.equal(results.length, 500);
    const rejected = results.map((r, i) => [i, r] as const).filter(([, r]) => r.status === "rejected");
    assert.deepEqual(
      rejected.map(([i, r]) => [i, r.error!.code, r.error!.path]),
      [
        [7, "SCHEMA_VIOLATION", "/isNegative"],
        [250, "SCHEMA_VIOLATION", "/category"],
        [499, "SCHEMA_VIOLATION", "/category"],
      ],
    );
    assert.match(rejected[1]![1].error!.message, /must be one of "praise"/);
    const mine = (await readStream(runner.clients.kinesis, runner.config.eventStream)).filter((e) =>
      String((e.data as { customerId?: string }).customerId).startsWith(`${tag}-`),
    );
    assert.equal(mine.length, 497);
    assert.equal(new Set(mine.map((e) => e.id)).size, 497);
  });

  test("20 parallel requests with one key give exactly one accepted", async () => {
    const key = uniqueApp("race");
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        post("/v1/streams/feedback/records", feedback(3), { "idempotency-key": key }),
      ),
    );
    const statuses = responses.map((r) => r.body.results![0]!.status);
    assert.equal(statuses.filter((s) => s === "accepted").length, 1);
    for (const r of responses) {
      const result = r.body.results![0]!;
      if (result.status === "rejected") {
        assert.equal(r.status, 409);
        assert.equal(result.error!.code, "IN_PROGRESS");
        assert.ok(Number(r.headers.get("retry-after")) >= 1);
      } else {
        assert.equal(r.status, 200);
      }
    }
    const onStream = (await readStream(runner.clients.kinesis, runner.config.eventStream)).filter(
      (e) => e.key === key,
    );
    assert.equal(onStream.length, 1);
  });

  test("unknown stream is 404 UNKNOWN_STREAM; a bad stream name is 400", async () => {
    const unknown = await post("/v1/streams/nope/records", feedback(1));
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error!.code, "UNKNOWN_STREAM");
    const bad = await post("/v1/streams/Bad_Name!/records", feedback(1));
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error!.code, "INVALID_STREAM_NAME");
  });

  test("an event time further in the future than allowed is INVALID_EVENT_TIME", async () => {
    const res = await post("/v1/streams/feedback/records", { ...feedback(1), ts: "2099-01-01T00:00:00Z" });
    assert.equal(res.status, 400);
    assert.equal(res.body.results![0]!.error!.code, "INVALID_EVENT_TIME");
    assert.equal(res.body.results![0]!.error!.path, "/ts");
  });

  test("a record holding 1e400 is rejected as NUMBER_NOT_FINITE; its neighbours in the batch go on Kinesis", async () => {
    const tag = uniqueApp("inf");
    const good = (i: number) => JSON.stringify({ data: { ...feedback(i), customerId: `${tag}-${i}` } });
    // JSON.stringify cannot write 1e400: the text is written by hand, as a producer might send it.
    const bad = `{"data":{"customerId":"${tag}-1","content":"x","category":"praise","isNegative":false,"ts":"2026-11-23T10:00:00Z","score":1e400}}`;
    const res = await post("/v1/streams/feedback/records", `{"records":[${good(0)},${bad},${good(2)}]}`);
    assert.equal(res.status, 207);
    const results = res.body.results!;
    assert.deepEqual(
      results.map((r) => r.status),
      ["accepted", "rejected", "accepted"],
    );
    assert.deepEqual(
      [results[1]!.error!.code, results[1]!.error!.path],
      ["NUMBER_NOT_FINITE", "/records/1/data/score"],
    );
    const mine = (await readStream(runner.clients.kinesis, runner.config.eventStream))
      .map((e) => String((e.data as { customerId?: string }).customerId))
      .filter((id) => id.startsWith(`${tag}-`))
      .sort();
    assert.deepEqual(mine, [`${tag}-0`, `${tag}-2`]);

    const alone = await post("/v1/streams/feedback/records", `{"records":[${bad}]}`);
    assert.equal(alone.status, 400);
    assert.equal(alone.body.results![0]!.error!.code, "NUMBER_NOT_FINITE");
  });

  test("a leap-second event time is accepted and carried as the following second", async () => {
    const tag = uniqueApp("leap");
    const res = await post("/v1/streams/feedback/records", {
      ...feedback(1),
      customerId: tag,
      ts: "2016-12-31T18:59:60.5-05:00",
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.results![0]!.status, "accepted");
    const [envelope] = (await readStream(runner.clients.kinesis, runner.config.eventStream)).filter(
      (e) => (e.data as { customerId?: string }).customerId === tag,
    );
    assert.ok(envelope, "the record is on Kinesis");
    assert.equal(envelope.ts, "2017-01-01T00:00:00.500Z");
    // The payload keeps the producer's own text.
    assert.equal((envelope.data as { ts?: string }).ts, "2016-12-31T18:59:60.5-05:00");
  });
});

describe("ingest when Kinesis refuses", () => {
  let broken: LocalRunner;
  before(async () => {
    broken = await startTestRunner("down", { pipelines: false });
    // Real fault: the stream is gone, so every PutRecords fails.
    const { DeleteStreamCommand } = await import("@aws-sdk/client-kinesis");
    await broken.clients.kinesis.send(
      new DeleteStreamCommand({ StreamName: broken.config.eventStream, EnforceConsumerDeletion: true }),
    );
    await new Promise((r) => setTimeout(r, 500));
  });
  after(async () => {
    await broken?.stop();
  });

  test("a record Kinesis never takes is rejected, not accepted, and its key is released", async () => {
    const res = await fetch(`${broken.url}/v1/streams/feedback/records`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "k-down", ...authHeader(broken) },
      body: JSON.stringify(feedback(9)),
    });
    const body = (await res.json()) as { results: Result[] };
    assert.equal(res.status, 503);
    assert.equal(body.results[0]!.status, "rejected");
    assert.equal(body.results[0]!.error!.code, "UNAVAILABLE");
    assert.equal(body.results[0]!.recordId, null);
    const retry = await fetch(`${broken.url}/v1/streams/feedback/records`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "k-down", ...authHeader(broken) },
      body: JSON.stringify(feedback(9)),
    });
    const again = (await retry.json()) as { results: Result[] };
    // Not "duplicate" and not "in progress": the claim was released.
    assert.equal(again.results[0]!.error!.code, "UNAVAILABLE");
  });
});
