/**
 * Crash points of an Iceberg sink, driven in-process (failpoints throw where a timeout or a killed
 * process would end the invocation): in the batcher around its files and checkpoint, and in the
 * committer on both sides of the Glue swap. After each, the event source redelivers and the next
 * scheduled commit runs; icebird and DuckDB then count the current snapshot: every accepted
 * record once.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import {
  armFailpoint,
  disarmFailpoints,
  type FailpointName,
  failpointCounts,
} from "../../functions/core/failpoints.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, glueUnavailable } from "../support/env.ts";
import {
  duckdbCount,
  glueMetadataLocation,
  icebirdRows,
  readMetadata,
  snapshotFiles,
} from "../support/iceberg.ts";
import { startTestRunner } from "../support/runner.ts";

const noGlue = await glueUnavailable();
let runner: LocalRunner;
const accepted = new Set<string>();
before(async () => {
  if (noGlue) return;
  runner = await startTestRunner("icecrash", {
    manifestPath: "test/fixtures/manifests/iceberg.yaml",
    commitIntervalMs: 0,
  });
});
after(async () => {
  await runner?.stop();
});
afterEach(() => disarmFailpoints());

let n = 0;
async function send(count: number) {
  const records = Array.from({ length: count }, () => {
    const i = n++;
    const ts = `2026-03-02T0${i % 3}:00:00Z`;
    return { data: { customerId: `c-${i}`, content: `t ${i}`, category: "bug", isNegative: true, ts } };
  });
  const res = await fetch(`${runner.url}/v1/streams/feedback/records`, {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeader(runner) },
    body: JSON.stringify({ records }),
  });
  assert.equal(res.status, 200);
  for (const r of ((await res.json()) as { results: { recordId: string }[] }).results)
    accepted.add(r.recordId);
  await runner.drained(60_000);
}

/** The schedule's next runs: a commit that crashed is simply run again. */
async function commitUntilDone() {
  for (let i = 0; i < 3; i++) {
    try {
      return await runner.commit();
    } catch (err) {
      assert.match((err as Error).message, /failpoint commit\./);
    }
  }
  throw new Error("the committer kept failing");
}

async function assertExactlyOnce() {
  const { location } = await glueMetadataLocation(runner.glue, runner.config.catalog.database, "lake");
  const metadata = await readMetadata(runner.clients.s3, location!);
  const files = await snapshotFiles(runner.clients.s3, metadata);
  const ids = (await icebirdRows(runner.clients.s3, metadata)).map((r) => r._id as string);
  assert.equal(ids.length, accepted.size);
  assert.deepEqual(new Set(ids), accepted);
  const bucket = runner.config.pipelines.lake!.sink.bucket;
  assert.deepEqual(
    await duckdbCount(
      runner.clients.s3,
      bucket,
      files.map((f) => f.path),
    ),
    {
      rows: accepted.size,
      ids: accepted.size,
    },
  );
}

const POINTS: FailpointName[] = [
  "batch.after-put-object",
  "batch.before-commit",
  "batch.after-commit",
  "commit.before-swap",
  "commit.after-swap",
];

describe("iceberg crash points", { skip: noGlue }, () => {
  for (const point of POINTS) {
    test(`a crash at ${point}: the table holds every accepted record once`, async () => {
      armFailpoint(point, "throw");
      await send(12);
      await commitUntilDone();
      assert.equal(failpointCounts()[point], 1, `${point} fired`);
      await commitUntilDone();
      await assertExactlyOnce();
    });
  }
});
