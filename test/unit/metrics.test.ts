/** The EMF the handlers flush: metric names, units, dimensions and values for known requests and batches. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Context } from "aws-lambda";
import type { BatchSummary } from "../../functions/core/delivery/batcher.ts";
import type { RecordResult } from "../../functions/core/ingest/ingest.ts";
import { lambdaHandler, observability } from "../../functions/core/lambda-handler.ts";
import { countBatch, countIngest, tallyResults } from "../../functions/core/metrics.ts";

interface Emf {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

/** The EMF objects printed to stdout while `fn` runs. */
async function emfOf(fn: () => Promise<unknown>): Promise<Emf[]> {
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = write;
  }
  return chunks
    .join("")
    .split("\n")
    .filter((l) => l.startsWith('{"_aws"'))
    .map((l) => JSON.parse(l) as Emf);
}

/** One EMF object as `{ namespace, dimensions: {name: value}, metrics: {name: [unit, value]} }`. */
function read(emf: Emf) {
  const [directive] = emf._aws.CloudWatchMetrics;
  const dimensions: Record<string, unknown> = {};
  for (const name of directive!.Dimensions.flat()) dimensions[name] = emf[name];
  const metrics: Record<string, [string, unknown]> = {};
  for (const m of directive!.Metrics) metrics[m.Name] = [m.Unit, emf[m.Name]];
  return { namespace: directive!.Namespace, dimensionSets: directive!.Dimensions, dimensions, metrics };
}

const context = { functionName: "fn", awsRequestId: "req-1" } as Context;

describe("batcher metrics", () => {
  test("a committed batch flushes files, bytes, repeats, lag and its errors by code, per pipeline", async () => {
    const o = await observability({
      service: "sluice-batch",
      app: "shop",
      env: {},
      dimensions: { Pipeline: "lake" },
    });
    const now = Date.parse("2026-12-01T12:00:10.000Z");
    const summary: BatchSummary = {
      shardId: "shardId-000000000000",
      skipped: 0,
      delivered: 97,
      failed: 3,
      dropped: 5,
      repeats: 2,
      files: [
        "feedback/dt=2026-12-01/lake-shardId-000000000000-49-0.parquet",
        "feedback/dt=2026-12-01/lake-shardId-000000000000-49-1.parquet",
        "errors/lake/shardId-000000000000-49.jsonl.gz",
      ],
      bytes: 123_456,
      failedByCode: { SCHEMA_VIOLATION: 2, TRANSFORM_FAILED: 1 },
      oldestEventMs: Date.parse("2026-12-01T12:00:00.000Z"),
      byStream: {
        orders: { delivered: 60, files: 2, oldestEventMs: Date.parse("2026-12-01T12:00:00.000Z") },
        refunds: { delivered: 37, files: 1, oldestEventMs: Date.parse("2026-12-01T12:00:04.000Z") },
      },
    };
    const handler = lambdaHandler(async () => {
      countBatch(o.metrics, summary, now);
      return { batchItemFailures: [] };
    }, o);
    const emitted = (await emfOf(() => handler({}, context))).map(read);

    const main = emitted.find((e) => "FilesWritten" in e.metrics && !("Stream" in e.dimensions))!;
    assert.equal(main.namespace, "Sluice/shop");
    assert.deepEqual(main.dimensionSets, [["service", "Pipeline"]]);
    assert.deepEqual(main.dimensions, { service: "sluice-batch", Pipeline: "lake" });
    assert.deepEqual(main.metrics, {
      FilesWritten: ["Count", 2],
      BytesWritten: ["Bytes", 123_456],
      RecordsRepeated: ["Count", 2],
      DeliveryLag: ["Milliseconds", 10_000],
    });

    const byCode = emitted
      .filter((e) => "RecordsFailed" in e.metrics)
      .map((e) => [e.dimensions.Code, e.dimensions.Pipeline, e.metrics.RecordsFailed]);
    assert.deepEqual(byCode, [
      ["SCHEMA_VIOLATION", "lake", ["Count", 2]],
      ["TRANSFORM_FAILED", "lake", ["Count", 1]],
    ]);
    for (const e of emitted.filter((x) => "RecordsFailed" in x.metrics)) {
      assert.deepEqual(e.dimensionSets, [["service", "Pipeline", "Code"]]);
    }

    // Per stream: delivered, files and lag with Pipeline and Stream, one metric per EMF object.
    const perStream = emitted
      .filter((e) => "Stream" in e.dimensions)
      .map((e) => [e.dimensions.Stream, e.dimensions.Pipeline, ...Object.entries(e.metrics).flat(2)]);
    assert.deepEqual(perStream, [
      ["orders", "lake", "RecordsDelivered", "Count", 60],
      ["orders", "lake", "FilesWritten", "Count", 2],
      ["orders", "lake", "DeliveryLag", "Milliseconds", 10_000],
      ["refunds", "lake", "RecordsDelivered", "Count", 37],
      ["refunds", "lake", "FilesWritten", "Count", 1],
      ["refunds", "lake", "DeliveryLag", "Milliseconds", 6_000],
    ]);
    for (const e of emitted.filter((x) => "Stream" in x.dimensions)) {
      assert.deepEqual(e.dimensionSets, [["service", "Pipeline", "Stream"]]);
    }

    // The app's lag by `service` alone, for the one delivery-lag alarm over every pipeline.
    const app = emitted.filter(
      (e) => e.dimensionSets.length === 1 && e.dimensionSets[0]!.join() === "service",
    );
    assert.deepEqual(
      app.map((e) => [e.dimensions, e.metrics]),
      [[{ service: "sluice-batch" }, { DeliveryLag: ["Milliseconds", 10_000] }]],
    );

    // Delivered, dropped and the failed total by Pipeline alone come from the `batch committed` log line.
    for (const e of emitted.filter((x) => !("Stream" in x.dimensions))) {
      for (const name of ["RecordsDelivered", "RecordsDropped"]) assert.ok(!(name in e.metrics), name);
    }
  });

  test("an event time ahead of the clock counts as no lag, and a batch without one sends none", async () => {
    const o = await observability({
      service: "sluice-batch",
      app: "shop",
      env: {},
      dimensions: { Pipeline: "p" },
    });
    const base = {
      shardId: "s",
      skipped: 0,
      delivered: 1,
      failed: 0,
      dropped: 0,
      repeats: 0,
      files: [],
      bytes: 0,
      failedByCode: {},
    };
    const emitted = await emfOf(async () => {
      countBatch(o.metrics, { ...base, oldestEventMs: 2_000 }, 1_000);
      o.metrics.publishStoredMetrics();
      countBatch(o.metrics, base, 1_000);
      o.metrics.publishStoredMetrics();
    });
    const [appLag, first, second, ...rest] = emitted.map(read);
    assert.deepEqual(
      [appLag?.dimensions, appLag?.metrics.DeliveryLag],
      [{ service: "sluice-batch" }, ["Milliseconds", 0]],
    );
    assert.deepEqual(first?.metrics.DeliveryLag, ["Milliseconds", 0]);
    assert.ok(second && !("DeliveryLag" in second.metrics));
    assert.deepEqual(rest, []);
  });
});

describe("ingest metrics", () => {
  test("a request's records are counted by outcome per stream, and rejections by code alone", async () => {
    const o = await observability({ service: "sluice-ingest", app: "shop", env: {} });
    const results: RecordResult[] = [
      { recordId: "a", status: "accepted" },
      { recordId: "b", status: "accepted" },
      { recordId: "c", status: "duplicate" },
      { recordId: null, status: "rejected", error: { code: "SCHEMA_VIOLATION", message: "m", path: "/x" } },
      { recordId: null, status: "rejected", error: { code: "SCHEMA_VIOLATION", message: "m", path: "/y" } },
      { recordId: null, status: "rejected", error: { code: "RECORD_TOO_LARGE", message: "m" } },
    ];
    const handler = lambdaHandler(async () => {
      countIngest(o.metrics, "feedback", tallyResults(results), 2_048);
      return { statusCode: 207 };
    }, o);
    const emitted = (await emfOf(() => handler({}, context))).map(read);

    const main = emitted.find((e) => "RecordsAccepted" in e.metrics)!;
    assert.equal(main.namespace, "Sluice/shop");
    assert.deepEqual(main.dimensions, { service: "sluice-ingest", Stream: "feedback" });
    assert.deepEqual(main.metrics, {
      RecordsAccepted: ["Count", 2],
      RecordsDuplicate: ["Count", 1],
      RecordsRejected: ["Count", 3],
      BytesAccepted: ["Bytes", 2_048],
    });
    const byCode = emitted
      .filter((e) => e !== main && "RecordsRejected" in e.metrics)
      .map((e) => [e.dimensionSets, e.dimensions.Code, e.metrics.RecordsRejected]);
    assert.deepEqual(byCode, [
      [[["service", "Code"]], "SCHEMA_VIOLATION", ["Count", 2]],
      [[["service", "Stream", "Code"]], "SCHEMA_VIOLATION", ["Count", 2]],
      [[["service", "Code"]], "RECORD_TOO_LARGE", ["Count", 1]],
      [[["service", "Stream", "Code"]], "RECORD_TOO_LARGE", ["Count", 1]],
    ]);
  });

  test("an invocation that counts nothing flushes nothing and says nothing about it", async () => {
    const o = await observability({ service: "sluice-registry", app: "shop", env: {} });
    const handler = lambdaHandler(async () => ({ statusCode: 200 }), o);
    await handler({}, context);
    const chunks: string[] = [];
    const write = process.stdout.write;
    const err = process.stderr.write;
    const capture = ((c: string) => {
      chunks.push(c);
      return true;
    }) as typeof process.stdout.write;
    process.stdout.write = capture;
    process.stderr.write = capture;
    try {
      await handler({}, { ...context, awsRequestId: "req-2" });
    } finally {
      process.stdout.write = write;
      process.stderr.write = err;
    }
    assert.deepEqual(chunks, []);
  });
});
