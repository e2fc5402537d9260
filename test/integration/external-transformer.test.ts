/**
 * A pipeline with an external transformer (any function speaking the Firehose contract), run
 * in-process under its ARN: every answer a transformer can give lands where it should, and a
 * transformer that hangs costs its records a TRANSFORM_TIMEOUT error, never the shard.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { CheckpointStore } from "../../functions/core/checkpoints.ts";
import type {
  TransformationEvent,
  TransformationRecordOut,
  TransformationResponse,
} from "../../functions/core/firehose-contract.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, download, duckdb, getBytes, listKeys } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

const ARN = "arn:aws:lambda:us-east-1:000000000000:function:ext-transformer";
const runners: LocalRunner[] = [];
after(async () => {
  await Promise.all(runners.map((r) => r.stop()));
});

async function start(fn: (e: TransformationEvent) => Promise<TransformationResponse>): Promise<LocalRunner> {
  const runner = await startTestRunner("ext", {
    manifestPath: "test/fixtures/manifests/external.yaml",
    transformTimeoutMs: 200,
    transformers: new Map([[ARN, fn]]),
  });
  runners.push(runner);
  return runner;
}

async function send(runner: LocalRunner, n: number): Promise<string[]> {
  const records = Array.from({ length: n }, (_, i) => ({
    data: {
      customerId: `c-${i}`,
      content: `n=${i}`,
      category: "other",
      isNegative: false,
      tags: [],
      ts: "2026-11-23T10:00:00Z",
    },
  }));
  const res = await fetch(`${runner.url}/v1/streams/feedback/records`, {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeader(runner) },
    body: JSON.stringify({ records }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { results: { recordId: string }[] }).results.map((r) => r.recordId);
}

async function errorLines(runner: LocalRunner): Promise<{ recordId: string; code: string; stage: string }[]> {
  const bucket = runner.config.pipelines.ext!.sink.bucket;
  const keys = (await listKeys(runner.clients.s3, bucket, "errors/")).filter((k) => k.endsWith(".jsonl.gz"));
  const lines = await Promise.all(
    keys.map(async (k) =>
      gunzipSync(await getBytes(runner.clients.s3, bucket, k))
        .toString("utf8")
        .trim()
        .split("\n"),
    ),
  );
  return lines.flat().map((l) => JSON.parse(l));
}

test("Ok with partition keys, Dropped, ProcessingFailed and omitted records each end in their place", async () => {
  const runner = await start(async (event) => ({
    records: event.records.flatMap((r): TransformationRecordOut[] => {
      const n = Number(/n=(\d+)/.exec(Buffer.from(r.data, "base64").toString("utf8"))![1]);
      if (n % 10 === 1) return [{ recordId: r.recordId, result: "Dropped" as const, data: r.data }];
      if (n % 10 === 2) return [{ recordId: r.recordId, result: "ProcessingFailed" as const, data: r.data }];
      if (n % 10 === 3) return [];
      const data = { ...JSON.parse(Buffer.from(r.data, "base64").toString("utf8")), touched: true };
      return [
        {
          recordId: r.recordId,
          result: "Ok" as const,
          data: Buffer.from(JSON.stringify(data)).toString("base64"),
          metadata: { partitionKeys: { region: n % 2 === 0 ? "eu/west" : "us" } },
        },
      ];
    }),
  }));
  const ids = await send(runner, 200);
  await runner.drained();
  const bucket = runner.config.pipelines.ext!.sink.bucket;
  const dataKeys = (await listKeys(runner.clients.s3, bucket)).filter((k) => k.endsWith(".parquet"));
  assert.ok(
    dataKeys.every((k) => /^region=(eu%2Fwest|us)\/dt=2026-11-23\//.test(k)),
    dataKeys.join(","),
  );
  const dir = await download(runner.clients.s3, bucket, dataKeys);
  const rows = await duckdb<{ _id: string; _extra: string }>(
    `SELECT _id, _extra FROM read_parquet('${dir}/*.parquet')`,
  );
  const errors = await errorLines(runner);
  const checkpoint = await new CheckpointStore(runner.clients.dynamo, runner.config.tables.checkpoints).get(
    "ext",
    "shardId-000000000000",
  );
  assert.equal(rows.length, 140);
  assert.ok(rows.every((r) => JSON.parse(r._extra).touched === true));
  assert.equal(checkpoint.dropped, 20);
  assert.deepEqual(
    errors.map((e) => e.code).sort(),
    [...Array(20).fill("PROCESSING_FAILED"), ...Array(20).fill("TRANSFORM_MISSING_RECORD")].sort(),
  );
  assert.equal(rows.length + errors.length + checkpoint.dropped, ids.length);
  assert.deepEqual(new Set([...rows.map((r) => r._id), ...errors.map((e) => e.recordId)]).size, 180);
});

test("a transformer that never answers costs its records TRANSFORM_TIMEOUT and the shard moves on", async () => {
  let calls = 0;
  const runner = await start(async (event) => {
    calls++;
    return new Promise<TransformationResponse>(() => {
      void event;
    });
  });
  const ids = await send(runner, 30);
  await runner.drained(60_000);
  const errors = await errorLines(runner);
  assert.equal(errors.length, 30);
  assert.ok(errors.every((e) => e.code === "TRANSFORM_TIMEOUT" && e.stage === "transform"));
  assert.deepEqual(new Set(errors.map((e) => e.recordId)), new Set(ids));
  assert.ok(calls >= 1);
  const checkpoint = await new CheckpointStore(runner.clients.dynamo, runner.config.tables.checkpoints).get(
    "ext",
    "shardId-000000000000",
  );
  assert.equal(checkpoint.errors, 30);
});
