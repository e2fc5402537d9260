/**
 * Crash points, driven in-process (fault injection through named failpoints): each test arms a
 * point in the ingest or batcher path to throw there, as a timeout or a killed process would
 * end the invocation, lets the producer retry with the same idempotency keys and the event
 * source mapping redeliver as AWS would, then counts every marker in the lake with DuckDB and
 * the error lines: each accepted record exactly once, none missing, none twice.
 */
import assert from "node:assert/strict";
import { after, afterEach, describe, test } from "node:test";
import {
  armFailpoint,
  disarmFailpoints,
  type FailpointName,
  failpointCounts,
} from "../../functions/core/failpoints.ts";
import type { TransformationEvent } from "../../functions/core/firehose-contract.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { startTestRunner } from "../support/runner.ts";
import { assertExactlyOnce, checkpointOf, countLake, marked, send } from "./lake.ts";

const TRANSFORMER = "arn:aws:lambda:us-east-1:000000000000:function:faults-transformer";

/** The vetted pipeline's transformer: passes records through, fails any call with a poison record. */
async function vetting(event: TransformationEvent) {
  for (const r of event.records) {
    if (Buffer.from(r.data, "base64").toString("utf8").includes("poison")) throw new Error("cannot vet this");
  }
  return {
    records: event.records.map((r) => ({ recordId: r.recordId, result: "Ok" as const, data: r.data })),
  };
}

const runners: LocalRunner[] = [];
after(async () => {
  await Promise.all(runners.map((r) => r.stop()));
});
afterEach(() => disarmFailpoints());

async function start(): Promise<LocalRunner> {
  const runner = await startTestRunner("crash", {
    manifestPath: "test/fixtures/manifests/faults.yaml",
    idempotencyLockSeconds: 2,
    transformers: new Map([[TRANSFORMER, vetting]]),
  });
  runners.push(runner);
  return runner;
}

/** Counts both sinks: `lake` (one pipeline) and `vetted` (two pipelines fanning in). */
async function countAll(runner: LocalRunner) {
  return {
    lake: await countLake(runner, runner.config.pipelines.lake!.sink.bucket),
    vetted: await countLake(runner, runner.config.pipelines.vetted!.sink.bucket),
  };
}

describe("ingest crash points", () => {
  test("a crash after the claims, before PutRecords: the retry takes the claims over and each record lands once", async () => {
    const runner = await start();
    armFailpoint("ingest.after-claim", "throw");
    const records = marked("claim", 20);
    const sent = await send(runner, records);
    assert.equal(failpointCounts()["ingest.after-claim"], 1);
    assert.ok(sent.retries >= 1);
    assert.equal(sent.accepted.size, 20);
    await runner.drained(60_000);
    const { lake } = await countAll(runner);
    assertExactlyOnce(lake, sent.accepted.keys(), () => "data");
    // Nothing had reached Kinesis, so the marked records had no copy to drop.
    assert.equal((await checkpointOf(runner, "lake")).repeats, 0);
  });

  test("a crash after PutRecords, before the claims complete, twice: the retries reuse the record ids and the batcher drops the copies", async () => {
    const runner = await start();
    armFailpoint("ingest.after-put-records", "throw", { times: 2 });
    const records = marked("put", 40);
    const sent = await send(runner, records);
    assert.equal(failpointCounts()["ingest.after-put-records"], 2);
    await runner.drained(60_000);
    const { lake, vetted } = await countAll(runner);
    const figures = assertExactlyOnce(lake, sent.accepted.keys(), () => "data");
    assert.equal(figures.markers, 40);
    // Three copies of each record reached Kinesis; every pipeline kept one.
    const checkpoint = await checkpointOf(runner, "lake");
    assert.equal(checkpoint.repeats, 80);
    assert.equal(checkpoint.records, 40);
    for (const m of sent.accepted.keys())
      assert.equal(vetted.data.get(m), 2, `${m} once per vetted-sink pipeline`);
    // The ids the producer got are the ones in the data.
    for (const id of sent.accepted.values()) assert.equal(lake.ids.get(id), 1);
  });
});

describe("batcher crash points", () => {
  const cases: { point: FailpointName; skip?: number; times?: number }[] = [
    { point: "batch.after-begin" },
    { point: "batch.after-put-object", skip: 1, times: 2 },
    { point: "batch.before-commit", times: 2 },
    { point: "batch.after-commit" },
    { point: "batch.in-transform", times: 2 },
  ];
  for (const c of cases) {
    test(`a crash at ${c.point}: the redelivered batch replaces what the failed attempt wrote, nothing lost or doubled`, async () => {
      const runner = await start();
      armFailpoint(c.point, "throw", { skip: c.skip ?? 0, times: c.times ?? 1 });
      const sent = await send(runner, marked(c.point, 120));
      await runner.drained(90_000);
      assert.equal(failpointCounts()[c.point], c.times ?? 1, "the failpoint fired");
      const { lake, vetted } = await countAll(runner);
      assertExactlyOnce(lake, sent.accepted.keys(), () => "data");
      // Two pipelines write the vetted sink: each marker once per pipeline, in files of its own.
      assert.equal(vetted.dataKeys.filter((k) => k.includes("/vetted-shardId-")).length, 120);
      assert.equal(vetted.dataKeys.filter((k) => k.includes("/by-customer-shardId-")).length, 120);
      for (const [m, n] of vetted.data) assert.equal(n, 2, `${m} once per pipeline`);
      assert.equal(vetted.data.size, 120);
      for (const p of ["lake", "vetted", "by-customer"]) {
        const cp = await checkpointOf(runner, p);
        assert.equal(cp.records, 120, `${p} committed every record once`);
        assert.deepEqual(cp.pending, []);
      }
    });
  }
});
