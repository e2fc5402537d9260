/**
 * 5,000 records over two streams and two pipelines into one sink: one pipeline runs a custom
 * transform, the other filter + rename + coerce. Data rows + error rows + dropped count equal
 * the accepted records, to the record; every PutObject asked for SSE-KMS with the sink's key
 * (checked on the request, since the emulated S3 does not echo it).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, download, duckdb, getBytes, listKeys, parquetColumnTypes } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

let runner: LocalRunner;
const puts: { key: string; sse?: string; kmsKey?: string }[] = [];

before(async () => {
  runner = await startTestRunner("fan", { manifestPath: "test/fixtures/manifests/fanout.yaml" });
  // Read what goes on the wire, after the SDK has serialized the request.
  runner.clients.s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "PutObjectCommand") {
        const headers = (args.request as { headers: Record<string, string>; path: string }).headers;
        puts.push({
          key: decodeURIComponent((args.request as { path: string }).path),
          sse: headers["x-amz-server-side-encryption"],
          kmsKey: headers["x-amz-server-side-encryption-aws-kms-key-id"],
        });
      }
      return next(args);
    },
    { step: "finalizeRequest", name: "recordSse" },
  );
});

after(async () => {
  await runner?.stop();
});

async function send(stream: string, records: unknown[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < records.length; i += 500) {
    const res = await fetch(`${runner.url}/v1/streams/${stream}/records`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeader(runner) },
      body: JSON.stringify({ records: records.slice(i, i + 500).map((data) => ({ data })) }),
    });
    const body = (await res.json()) as { results: { recordId: string; status: string }[] };
    assert.equal(res.status, 200, JSON.stringify(body).slice(0, 300));
    ids.push(...body.results.map((r) => r.recordId));
  }
  return ids;
}

test("5,000 records, 2 streams, 2 pipelines: data + errors + dropped = accepted, typed, under their prefixes, SSE-KMS", async () => {
  const hour = (i: number) => `2026-11-23T${String(8 + (i % 3)).padStart(2, "0")}:15:00Z`;
  const feedback = Array.from({ length: 2500 }, (_, i) => ({
    customerId: `c-${i % 97}`,
    content: i % 2 === 0 ? "great product, love it" : "slow and broken checkout",
    category: "other",
    isNegative: i % 2 === 1,
    tags: [],
    ts: hour(i),
  }));
  const orders = Array.from({ length: 2500 }, (_, i) => ({
    orderId: `o-${i}`,
    amount: i < 50 ? "abc" : `${(i % 1000) + 0.25}`,
    status: i >= 50 && i < 80 ? "test" : i % 10 === 0 ? "refunded" : "paid",
    ts: hour(i),
    customer: { id: `c-${i % 97}` },
  }));
  const feedbackIds = await send("feedback", feedback);
  const orderIds = await send("orders", orders);
  assert.equal(new Set([...feedbackIds, ...orderIds]).size, 5000);
  await runner.drained(120_000);

  const bucket = runner.config.pipelines["orders-clean"]!.sink.bucket;
  const keys = await listKeys(runner.clients.s3, bucket);
  const dataKeys = keys.filter((k) => k.endsWith(".parquet"));
  const errorKeys = keys.filter((k) => k.startsWith("errors/"));
  for (const k of dataKeys)
    assert.match(
      k,
      /^(feedback-sentiment\/feedback\/dt=2026-11-23\/hr=(08|09|10)\/feedback-sentiment|orders-clean\/orders\/dt=2026-11-23\/hr=(08|09|10)\/orders-clean)-shardId-/,
    );
  for (const k of errorKeys)
    assert.match(k, /^errors\/orders-clean\/transform\/2026\/11\/23\/(08|09|10)\/shardId-.*\.jsonl\.gz$/);

  const dir = await download(runner.clients.s3, bucket, dataKeys);
  const fb = await duckdb<{ _id: string; sentiment: string; sentimentScore: number; customerId: string }>(
    `SELECT _id, sentiment, sentimentScore, customerId FROM read_parquet('${dir}/feedback-sentiment*.parquet')`,
  );
  const od = await duckdb<{
    _id: string;
    amount: number;
    customerId: string;
    status: string;
    _extra: string | null;
  }>(`SELECT _id, amount, customerId, status, _extra FROM read_parquet('${dir}/orders-clean*.parquet')`);
  const errors =
    errorKeys.length === 0
      ? []
      : (
          await Promise.all(
            errorKeys.map(async (k) =>
              gunzipSync(await getBytes(runner.clients.s3, bucket, k))
                .toString("utf8")
                .trim()
                .split("\n"),
            ),
          )
        )
          .flat()
          .map(
            (line) =>
              JSON.parse(line) as {
                recordId: string;
                stage: string;
                code: string;
                payload: { amount: string };
              },
          );
  const dropped = await droppedCount("orders-clean");

  assert.equal(fb.length, 2500);
  assert.equal(od.length, 2420);
  assert.equal(errors.length, 50);
  assert.equal(dropped, 30);
  assert.equal(fb.length + od.length + errors.length + dropped, 5000);
  const landed = new Set([
    ...fb.map((r) => r._id),
    ...od.map((r) => r._id),
    ...errors.map((e) => e.recordId),
  ]);
  assert.equal(landed.size, 4970);
  for (const id of landed) assert.ok(feedbackIds.includes(id) || orderIds.includes(id));

  for (const e of errors) {
    assert.deepEqual([e.stage, e.code, e.payload.amount], ["transform", "COERCE_FAILED", "abc"]);
  }
  const types = await parquetColumnTypes(`${dir}/orders-clean*.parquet`);
  assert.equal(types.amount, "DOUBLE");
  assert.equal(types.customerId, "VARCHAR");
  assert.equal(types._extra, "VARCHAR");
  assert.ok(!("customer" in types));
  const o100 = od.find((r) => r._id === orderIds[100]);
  assert.deepEqual([o100?.amount, o100?.customerId, o100?.status], [100.25, "c-3", "refunded"]);
  assert.ok(od.every((r) => r._extra === null));
  const fbTypes = await parquetColumnTypes(`${dir}/feedback-sentiment*.parquet`);
  assert.deepEqual([fbTypes.sentiment, fbTypes.sentimentScore], ["VARCHAR", "DOUBLE"]);
  assert.equal(fb.find((r) => r._id === feedbackIds[0])?.sentiment, "positive");
  assert.equal(fb.find((r) => r._id === feedbackIds[1])?.sentiment, "negative");

  const kmsAlias = runner.config.kmsKeyId;
  assert.equal(puts.length, keys.length);
  for (const p of puts) assert.deepEqual([p.sse, p.kmsKey], ["aws:kms", kmsAlias], p.key);
});

async function droppedCount(pipeline: string): Promise<number> {
  const out = await runner.clients.dynamo.send(
    new QueryCommand({
      TableName: runner.config.tables.checkpoints,
      KeyConditionExpression: "pipeline = :p",
      ExpressionAttributeValues: { ":p": pipeline },
    }),
  );
  return (out.Items ?? []).reduce((n, item) => n + Number(item.dropped ?? 0), 0);
}
