/**
 * The batcher driven in-process with Kinesis records no Sluice producer writes (envelopes laid
 * out by another writer, a payload that is not JSON behind a valid head, records that are not
 * envelopes): each record ends in exactly one place, read back from S3 with DuckDB and from the
 * error lines. In-process because the event source mapping's filter drops records that are not
 * JSON before any batcher sees them.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { gunzipSync } from "node:zlib";
import type { KinesisStreamRecord } from "aws-lambda";
import { createBatchApp } from "../../functions/batch/app.ts";
import { CheckpointStore } from "../../functions/core/checkpoints.ts";
import { silentLogger } from "../../functions/core/logger.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { download, duckdb, getBytes, listKeys } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

const runners: LocalRunner[] = [];
after(async () => {
  await Promise.all(runners.map((r) => r.stop()));
});

const SHARD = "shardId-000000000000";

function kinesisRecord(text: string, n: number): KinesisStreamRecord {
  const sequenceNumber = String(49_000_000_000 + n);
  return {
    eventID: `${SHARD}:${sequenceNumber}`,
    kinesis: {
      sequenceNumber,
      partitionKey: `pk-${n}`,
      approximateArrivalTimestamp: Date.UTC(2026, 10, 23, 10, 30) / 1000,
      data: Buffer.from(text).toString("base64"),
    },
  } as KinesisStreamRecord;
}

/** Data first, spaced out, `meta` after it: valid, but not how Sluice's encoder lays it out. */
function envelope(id: string, payloadText: string): string {
  return (
    `{\n  "data" : ${payloadText},\n  "v": 1, "id": "${id}", "stream": "feedback",` +
    ` "schema": {"name": "sluice.feedback", "version": 1}, "key": null,` +
    ` "ts": "2026-11-23T10:15:00Z", "rt": "2026-11-23T10:15:01Z", "meta": {"ce.type": "t"} }`
  );
}

const feedback = (i: number) =>
  `{"customerId": "c-${i}", "content": "a \\"quoted\\" }{ text", "category": "other", "isNegative": false,` +
  ` "tags": ["x"], "ts": "2026-11-23T10:15:00Z"}`;

test("records no producer writes, driven in-process: each ends in a data file or the errors prefix as before", async () => {
  const runner = await startTestRunner("raw", {
    manifestPath: "test/fixtures/manifests/delivery.yaml",
    pipelines: false,
  });
  runners.push(runner);
  const batch = createBatchApp({
    config: runner.config,
    pipeline: "lake",
    region: "us-east-1",
    clients: runner.clients,
    invoke: async () => {
      throw new Error("this pipeline has no transformer");
    },
    logger: silentLogger,
  });

  const texts: string[] = [];
  for (let i = 0; i < 20; i++) texts.push(envelope(`ok-${i}`, feedback(i)));
  texts.push(envelope("broken", '{"customerId": "c-x",}'));
  texts.push(envelope("array", "[1, 2]"));
  texts.push(envelope("mismatch", feedback(99).replace('"isNegative": false', '"isNegative": "no"')));
  texts.push("not an envelope");
  const out = await batch({ Records: texts.map(kinesisRecord) });
  assert.deepEqual(out.batchItemFailures, []);

  const bucket = runner.config.pipelines.lake!.sink.bucket;
  const dataKeys = (await listKeys(runner.clients.s3, bucket)).filter((k) => k.endsWith(".parquet"));
  const dir = await download(runner.clients.s3, bucket, dataKeys);
  const rows = await duckdb<{ _id: string; customerId: string; content: string; _extra: string | null }>(
    `SELECT _id, customerId, content, _extra FROM read_parquet('${dir}/*.parquet') ORDER BY customerId`,
  );
  assert.equal(rows.length, 20);
  assert.deepEqual(new Set(rows.map((r) => r._id)), new Set(texts.slice(0, 20).map((_, i) => `ok-${i}`)));
  assert.ok(rows.every((r) => r.content === 'a "quoted" }{ text'));

  const errorKeys = (await listKeys(runner.clients.s3, bucket, "errors/")).sort();
  const lines = (
    await Promise.all(
      errorKeys.map(async (k) =>
        gunzipSync(await getBytes(runner.clients.s3, bucket, k))
          .toString("utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      ),
    )
  ).flat();
  assert.deepEqual(
    lines.map((l) => [l.recordId, l.stage, l.code, l.message]).sort(),
    [
      [null, "decode", "NOT_AN_ENVELOPE", "record is not JSON"],
      [null, "decode", "NOT_AN_ENVELOPE", "record is not JSON"],
      ["array", "convert", "TYPE_MISMATCH", ": expected the record to be an object, got array"],
      ["mismatch", "convert", "TYPE_MISMATCH", "/isNegative: expected boolean, got string"],
    ].sort(),
  );
  const byId = new Map(lines.map((l) => [l.recordId ?? l.payload, l]));
  // The payload that is not JSON is filed as the old decoder filed the whole record: as text.
  assert.equal(byId.get(texts[20]!)?.payload, texts[20]);
  assert.equal(byId.get("not an envelope")?.payload, "not an envelope");
  assert.deepEqual(byId.get("array")?.payload, [1, 2]);
  assert.deepEqual(byId.get("mismatch")?.payload, JSON.parse(texts[22]!).data);
  assert.ok(
    errorKeys.some((k) => k.startsWith("errors/lake/decode/2026/11/23/10/")),
    errorKeys.join(","),
  );

  const checkpoint = await new CheckpointStore(runner.clients.dynamo, runner.config.tables.checkpoints).get(
    "lake",
    SHARD,
  );
  assert.equal(checkpoint.records, 20);
  assert.equal(checkpoint.errors, 4);
  assert.equal(checkpoint.sequenceNumber, String(49_000_000_000 + texts.length - 1));
});
