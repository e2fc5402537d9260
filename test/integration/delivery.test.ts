/**
 * Delivery through the local runner: rolling, hour partitions, and exactly-once files under
 * injected crashes. The crash tests drive the runner in-process (fault injection between
 * PutObject and the checkpoint commit); everything is read back from S3 with DuckDB.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { CheckpointStore } from "../../functions/core/checkpoints.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, download, duckdb, listKeys } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

const runners: LocalRunner[] = [];
after(async () => {
  await Promise.all(runners.map((r) => r.stop()));
});

async function start(beforeCommit?: (pipeline: string) => void): Promise<LocalRunner> {
  const runner = await startTestRunner("dlv", {
    manifestPath: "test/fixtures/manifests/delivery.yaml",
    ...(beforeCommit ? { beforeCommit } : {}),
  });
  runners.push(runner);
  return runner;
}

function record(i: number, ts: string) {
  return {
    customerId: `c-${i}`,
    content: `text ${i}`,
    category: "other",
    isNegative: i % 2 === 0,
    tags: [],
    ts,
  };
}

async function send(runner: LocalRunner, records: { data: unknown; key?: string }[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < records.length; i += 500) {
    const res = await fetch(`${runner.url}/v1/streams/feedback/records`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeader(runner) },
      body: JSON.stringify({ records: records.slice(i, i + 500) }),
    });
    const body = (await res.json()) as { results: { recordId: string; status: string }[] };
    assert.equal(res.status, 200);
    for (const r of body.results) ids.push(r.recordId);
  }
  return ids;
}

async function rowsOf(runner: LocalRunner) {
  const bucket = runner.config.pipelines.lake!.sink.bucket;
  const keys = (await listKeys(runner.clients.s3, bucket)).filter((k) => k.endsWith(".parquet"));
  const dir = await download(runner.clients.s3, bucket, keys);
  const rows =
    keys.length === 0
      ? []
      : await duckdb<{ _id: string; file: string }>(
          `SELECT _id, filename AS file FROM read_parquet('${dir}/*.parquet', filename = true)`,
        );
  return { keys, rows };
}

describe("delivery", () => {
  test("500 records in one partition with max 100 per file give 5 files; an hour boundary splits partitions", async () => {
    const runner = await start();
    const before = Array.from({ length: 500 }, (_, i) => ({ data: record(i, "2026-11-23T10:59:59.999Z") }));
    const later = Array.from({ length: 20 }, (_, i) => ({ data: record(1000 + i, "2026-11-23T11:00:00Z") }));
    const ids = await send(runner, [...before, ...later]);
    await runner.drained();
    const { keys, rows } = await rowsOf(runner);
    const inTen = keys.filter((k) => k.startsWith("feedback/dt=2026-11-23/hr=10/"));
    const inEleven = keys.filter((k) => k.startsWith("feedback/dt=2026-11-23/hr=11/"));
    assert.equal(inTen.length, 5, `files in hour 10: ${inTen.join(", ")}`);
    assert.equal(inEleven.length, 1);
    assert.equal(rows.length, 520);
    assert.deepEqual(new Set(rows.map((r) => r._id)), new Set(ids));
  });

  test("crashes between PutObject and the checkpoint commit, with bisection, leave no duplicate and no loss", async () => {
    let crashes = 0;
    const runner = await start(() => {
      // The first four commits never happen: the function dies as a timeout would kill it.
      if (crashes < 4) {
        crashes++;
        throw new Error("injected crash before commit");
      }
    });
    const ids = await send(
      runner,
      Array.from({ length: 900 }, (_, i) => ({
        data: record(i, `2026-11-23T10:${String(i % 60).padStart(2, "0")}:00Z`),
      })),
    );
    await runner.drained(90_000);
    assert.equal(crashes, 4);
    const { rows } = await rowsOf(runner);
    const seen = rows.map((r) => r._id);
    assert.equal(seen.length, new Set(seen).size, "duplicated record ids in the data");
    assert.deepEqual(new Set(seen), new Set(ids), "missing record ids in the data");
    assert.equal(runner.mappings.get("lake")!.failedBatches.length, 0);
    const checkpoint = await new CheckpointStore(runner.clients.dynamo, runner.config.tables.checkpoints).get(
      "lake",
      "shardId-000000000000",
    );
    assert.equal(checkpoint.records, 900);
    assert.deepEqual(checkpoint.pending, []);
    assert.equal(checkpoint.watermark, "2026-11-23T10:59:00.000Z");
  });
});

describe("delivery under transient S3 faults", () => {
  test("PutObject throttled (503 SlowDown) is retried inside the invocation; nothing is lost or doubled", async () => {
    const runner = await start();
    let failures = 0;
    // A fault the emulator cannot produce on demand, injected at the client boundary.
    runner.clients.s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "PutObjectCommand" && failures < 3) {
          failures++;
          throw Object.assign(new Error("Slow Down"), {
            name: "SlowDown",
            $metadata: { httpStatusCode: 503 },
          });
        }
        return next(args);
      },
      { step: "finalizeRequest", name: "injectSlowDown" },
    );
    const ids = await send(
      runner,
      Array.from({ length: 150 }, (_, i) => ({ data: record(i, "2026-11-23T12:00:00Z") })),
    );
    await runner.drained();
    assert.equal(failures, 3);
    const { rows } = await rowsOf(runner);
    assert.equal(rows.length, 150);
    assert.deepEqual(new Set(rows.map((r) => r._id)), new Set(ids));
    assert.equal(runner.mappings.get("lake")!.failedBatches.length, 0);
  });
});
