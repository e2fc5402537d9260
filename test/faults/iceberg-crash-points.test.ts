/**
 * Crash points of an Iceberg sink, driven in-process (failpoints throw where a timeout or a killed
 * process would end the invocation): in the batcher around its files and checkpoint, in the
 * committer on both sides of the Glue swap, and mid-compaction (its files written, before its
 * swap; after its swap, before the maintenance cleanup). After each, the event source redelivers
 * and the next scheduled run goes again; icebird and DuckDB then count the current snapshot:
 * every accepted record once; orphan removal deletes the outputs no snapshot references.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { createMaintenance, type TableMaintenance } from "../../functions/commit/maintain.ts";
import {
  armFailpoint,
  disarmFailpoints,
  type FailpointName,
  failpointCounts,
} from "../../functions/core/failpoints.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, glueUnavailable, listKeys } from "../support/env.ts";
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
/** Sends `count` records, spread over hours 00-02 of a past day (or all in `hour`). */
async function send(count: number, hour?: number) {
  const records = Array.from({ length: count }, () => {
    const i = n++;
    const ts = `2026-03-02T0${hour ?? i % 3}:00:00Z`;
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

async function currentMetadata() {
  const { location } = await glueMetadataLocation(runner.glue, runner.config.catalog.database, "lake");
  return readMetadata(runner.clients.s3, location!);
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

  const maint = (): TableMaintenance =>
    createMaintenance({ config: runner.config, clients: runner.clients, glue: runner.glue });
  const bucket = () => runner.config.pipelines.lake!.sink.bucket;
  const compacted = async () =>
    (await listKeys(runner.clients.s3, bucket())).filter((k) => k.includes("/compact-lake-"));
  const later = () => Date.now() + 2 * 86_400_000;

  test("a crash mid-compaction, after its files, before its swap: the re-run writes the same keys; orphans go", async () => {
    await commitUntilDone();
    const table = await currentMetadata();
    armFailpoint("compact.before-commit", "throw");
    await assert.rejects(maint().compact("lake"), /failpoint compact.before-commit/);
    const written = await compacted();
    assert.ok(written.length >= 3, "outputs written for the three closed hours");
    assert.equal(
      (await currentMetadata())["current-snapshot-id"],
      table["current-snapshot-id"],
      "nothing swapped",
    );
    await assertExactlyOnce();
    // A late file for hour 02 changes that group's inputs, so its outputs get other keys.
    await send(3, 2);
    await commitUntilDone();
    const out = await maint().compact("lake");
    assert.equal(out.status, "compacted");
    const rewrittenKeys = out.outputs.map((u) => u.slice(`s3://${bucket()}/`.length));
    const reused = written.filter((k) => rewrittenKeys.includes(k));
    const stale = written.filter((k) => !rewrittenKeys.includes(k));
    assert.ok(reused.length >= 2, "hours 00 and 01: the same deterministic keys");
    assert.ok(
      stale.length >= 1 && stale.every((k) => k.includes("/hr=02/")),
      "hour 02's first outputs are unreferenced",
    );
    await assertExactlyOnce();
    const { orphans } = await maint().orphans("lake", { now: later });
    for (const k of stale) assert.ok(orphans.includes(`s3://${bucket()}/${k}`), `${k} removed as an orphan`);
    for (const u of out.outputs) assert.ok(!orphans.includes(u), `${u} is referenced and stays`);
    assert.deepEqual((await compacted()).sort(), rewrittenKeys.sort());
    await assertExactlyOnce();
  });

  test("a crash mid-compaction, after its swap, before the cleanup: the re-run finds nothing to do", async () => {
    await send(4, 4);
    await commitUntilDone();
    await send(4, 4);
    await commitUntilDone();
    armFailpoint("compact.after-commit", "throw");
    await assert.rejects(maint().compact("lake"), /failpoint compact.after-commit/);
    const md = await currentMetadata();
    const snap = md.snapshots.find((s) => s["snapshot-id"] === md["current-snapshot-id"])!;
    assert.equal(snap.summary.operation, "replace");
    await assertExactlyOnce();
    const again = await maint().compact("lake");
    assert.equal(again.status, "unchanged");
    const { orphans } = await maint().orphans("lake", { now: later });
    assert.ok(!orphans.some((u) => u.includes("/compact-lake-")), "every compacted file is referenced");
    await assertExactlyOnce();
  });
});
