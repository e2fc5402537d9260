/**
 * Service faults, injected by a fault edge in front of the stack the suite runs on (the embedded
 * one or LocalStack): PutRecords answers with some entries throttled and not written, S3 answers
 * 503 SlowDown and 500 InternalError (some after the object was stored), DynamoDB throttles and
 * cancels transactions on conflict, KMS throttles. The producer retries as a real one would; the
 * lake is counted with DuckDB: every accepted record once, none missing, none twice.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { GetRecordsCommand, GetShardIteratorCommand, PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createAwsClients } from "../../functions/core/aws-clients.ts";
import type { TransformationEvent } from "../../functions/core/firehose-contract.ts";
import { type FaultEdge, type FaultRule, startFaultEdge } from "../../localstack/faults.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, endpoint } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";
import { assertExactlyOnce, checkpointOf, countLake, marked, sendUntilAnswered } from "./lake.ts";

const TRANSFORMER = "arn:aws:lambda:us-east-1:000000000000:function:faults-transformer";

async function passThrough(event: TransformationEvent) {
  return {
    records: event.records.map((r) => ({ recordId: r.recordId, result: "Ok" as const, data: r.data })),
  };
}

let edge: FaultEdge;
before(async () => {
  edge = await startFaultEdge(endpoint());
});
after(async () => {
  await edge.close();
});

/** A one-shard pipeline behind the fault edge. */
function startEdgeRunner(prefix = "faultedge"): Promise<LocalRunner> {
  return startTestRunner(prefix, {
    endpoint: edge.endpoint,
    manifestPath: "test/fixtures/manifests/faults.yaml",
    transformers: new Map([[TRANSFORMER, passThrough]]),
  });
}

describe("the fault edge", () => {
  test("a partial PutRecords fault fails every n-th entry, writes only the others, and keeps the answer in order", async () => {
    const runner = await startEdgeRunner();
    try {
      const { kinesis } = createAwsClients({ endpoint: edge.endpoint });
      edge.faults.set([
        {
          service: "kinesis",
          operation: "PutRecords",
          action: { kind: "partial", code: "ProvisionedThroughputExceededException", every: 3 },
        },
      ]);
      const since = new Date(Date.now() - 1000);
      const out = await kinesis.send(
        new PutRecordsCommand({
          StreamName: runner.config.eventStream,
          Records: Array.from({ length: 7 }, (_, i) => ({
            Data: Buffer.from(`e${i}`),
            PartitionKey: `p${i}`,
          })),
        }),
      );
      edge.faults.clear();
      assert.equal(out.FailedRecordCount, 3);
      assert.deepEqual(
        out.Records?.map((r) => r.ErrorCode ?? "ok"),
        [
          "ProvisionedThroughputExceededException",
          "ok",
          "ok",
          "ProvisionedThroughputExceededException",
          "ok",
          "ok",
          "ProvisionedThroughputExceededException",
        ],
      );
      const shardId = out.Records?.[1]?.ShardId;
      const { ShardIterator } = await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: runner.config.eventStream,
          ShardId: shardId,
          ShardIteratorType: "AT_TIMESTAMP",
          Timestamp: since,
        }),
      );
      const got = await kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: 100 }));
      const texts = (got.Records ?? [])
        .map((r) => Buffer.from(r.Data!).toString())
        .filter((t) => /^e\d$/.test(t));
      assert.deepEqual(texts, ["e1", "e2", "e4", "e5"]);
    } finally {
      await runner.stop();
    }
  });

  test("an S3 fault after the write answers 500 though the object is stored; a SlowDown stores nothing", async () => {
    const runner = await startEdgeRunner();
    try {
      // One attempt, so the test sees what S3 answered rather than the SDK's retry of it.
      const s3 = new S3Client({
        endpoint: edge.endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        maxAttempts: 1,
      });
      const bucket = runner.config.pipelines.lake!.sink.bucket;
      const put = (Key: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: "x" }));
      edge.faults.set([
        {
          service: "s3",
          operation: "PutObject",
          action: { kind: "error", status: 503, code: "SlowDown" },
          times: 4,
        },
      ]);
      await assert.rejects(put("probe/slow"), { name: "SlowDown" });
      edge.faults.set([
        {
          service: "s3",
          operation: "PutObject",
          action: { kind: "error", status: 500, code: "InternalError", after: true },
          times: 1,
        },
      ]);
      await assert.rejects(put("probe/after"), { name: "InternalError" });
      edge.faults.clear();
      const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "probe/after" }));
      assert.equal(await stored.Body?.transformToString(), "x");
      await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: "probe/slow" })), {
        name: "NoSuchKey",
      });
    } finally {
      await runner.stop();
    }
  });
});

/** What a busy account answers; each rule faults a share of its operation's calls. */
const BUSY_ACCOUNT: FaultRule[] = [
  // Written, but the answer is lost: the ingest re-sends as possible repeats, the batcher drops them.
  {
    service: "kinesis",
    operation: "PutRecords",
    skip: 1,
    every: 3,
    times: 2,
    action: { kind: "error", status: 500, code: "InternalFailure", after: true },
  },
  {
    service: "kinesis",
    operation: "PutRecords",
    every: 2,
    action: { kind: "partial", code: "ProvisionedThroughputExceededException", every: 4 },
  },
  {
    service: "kinesis",
    operation: "GetRecords",
    every: 3,
    action: {
      kind: "error",
      status: 400,
      code: "ProvisionedThroughputExceededException",
      message: "Rate exceeded for shard",
    },
  },
  {
    service: "s3",
    operation: "PutObject",
    every: 5,
    action: { kind: "error", status: 503, code: "SlowDown", message: "Please reduce your request rate." },
  },
  {
    service: "s3",
    operation: "PutObject",
    skip: 1,
    every: 7,
    action: {
      kind: "error",
      status: 500,
      code: "InternalError",
      message: "We encountered an internal error.",
      after: true,
    },
  },
  {
    service: "dynamodb",
    operation: "TransactWriteItems",
    every: 3,
    action: { kind: "cancel", reason: "TransactionConflict" },
  },
  {
    service: "dynamodb",
    operation: "UpdateItem",
    every: 4,
    action: {
      kind: "error",
      status: 400,
      code: "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
      message: "The level of configured provisioned throughput for the table was exceeded.",
    },
  },
  {
    service: "dynamodb",
    operation: "GetItem",
    every: 5,
    action: {
      kind: "error",
      status: 400,
      code: "com.amazonaws.dynamodb.v20120810#ThrottlingException",
      message: "Rate of requests exceeds the allowed throughput.",
    },
  },
  {
    service: "kms",
    operation: "DescribeKey",
    action: { kind: "error", status: 400, code: "ThrottlingException", message: "Rate exceeded" },
  },
];

describe("a busy account", () => {
  let runner: LocalRunner;
  before(async () => {
    runner = await startEdgeRunner("svcfault");
  });
  after(async () => {
    edge.faults.clear();
    await runner.stop();
  });

  test("throttling, SlowDown, InternalError and transaction conflicts everywhere: every accepted record once in each sink", async (t) => {
    edge.faults.set(BUSY_ACCOUNT);
    const groups = Array.from({ length: 3 }, (_, g) => marked(`busy${g}`, 40));
    const sent = await Promise.all(
      groups.map((records) => sendUntilAnswered(runner.url, authHeader(runner), records, 90_000)),
    );
    // KMS is not on the record path: throttled, it shows in readiness, and ingest goes on.
    const health = await fetch(`${runner.url}/v1/health`, { headers: authHeader(runner) });
    const ready = (await health.json()) as { checks: { kms: { ok: boolean; error?: string } } };
    assert.equal(health.status, 503);
    // The SDK's backoff on ThrottlingException can outlast the probe's 2 s.
    assert.equal(ready.checks.kms.ok, false);
    assert.match(ready.checks.kms.error ?? "", /^(ThrottlingException|Timeout)$/);

    await runner.drained(90_000);
    const counts = edge.faults.counts();
    edge.faults.clear();

    const accepted = sent.flatMap((s) => [...s.accepted.keys()]);
    assert.equal(accepted.length, 120, "every record is accepted in the end");
    assert.deepEqual(
      sent.flatMap((s) => [...s.rejected.keys()]),
      [],
    );
    for (const c of counts) assert.ok(c.injected > 0, `${c.service} ${c.operation} was never faulted`);

    const figures = [];
    for (const pipeline of ["lake", "vetted", "by-customer"]) {
      const count = await countLake(runner, runner.config.pipelines[pipeline]!.sink.bucket, pipeline);
      assert.ok(count.dataKeys.length > 0, `${pipeline} wrote files`);
      figures.push(assertExactlyOnce(count, accepted, () => "data"));
    }
    // The lost PutRecords answers were re-sent; the copies they made were found and dropped.
    const repeats = await Promise.all(["lake", "vetted", "by-customer"].map((p) => checkpointOf(runner, p)));
    for (const c of repeats) assert.ok(c.repeats > 0, "the batcher dropped the re-sent copies");
    const missing = figures.reduce((n, f) => n + f.missing, 0);
    const duplicated = figures.reduce((n, f) => n + f.duplicated, 0);
    t.diagnostic(
      `records ${accepted.length} x 3 pipelines, missing ${missing}, duplicated ${duplicated}, ` +
        `repeats dropped ${repeats.map((c) => c.repeats).join("/")}, ` +
        `producer retries ${sent.reduce((n, s) => n + s.retries, 0)}; faults ${counts
          .map(
            (c) => `${c.service}.${c.operation}=${c.injected}${c.entries ? ` (${c.entries} entries)` : ""}`,
          )
          .join(", ")}`,
    );
  });
});
