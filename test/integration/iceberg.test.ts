/**
 * The Iceberg sink end to end (runner in-process, for the failpoints and a second committer):
 * records sent over HTTPS are committed to the table, which independent readers (icebird for
 * metadata, manifests and rows; DuckDB over the current snapshot's files) count exactly once,
 * across several commits, a repeated commit, crashes on both sides of the Glue swap, a batch
 * crash after its files, and two committers racing on the table's VersionId; an older snapshot
 * still reads with its own count.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createCommitApp } from "../../functions/commit/app.ts";
import { armFailpoint, disarmFailpoints } from "../../functions/core/failpoints.ts";
import { PendingFiles } from "../../functions/core/iceberg/pending-files.ts";
import { silentLogger } from "../../functions/core/logger.ts";
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
  runner = await startTestRunner("ice", {
    manifestPath: "test/fixtures/manifests/iceberg.yaml",
    commitIntervalMs: 0,
  });
});
after(async () => {
  disarmFailpoints();
  await runner?.stop();
});

let n = 0;
async function send(count: number) {
  const records = Array.from({ length: count }, () => {
    const i = n++;
    // Two event hours, so every commit spans two partitions.
    const ts = `2026-03-01T${i % 2 === 0 ? "10" : "11"}:${String(i % 60).padStart(2, "0")}:00Z`;
    return {
      data: {
        customerId: `c-${i}`,
        content: `text ${i}`,
        category: "other",
        isNegative: false,
        rating: (i % 5) + 1,
        ts,
      },
    };
  });
  const res = await fetch(`${runner.url}/v1/streams/feedback/records`, {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeader(runner) },
    body: JSON.stringify({ records }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { results: { recordId: string; status: string }[] };
  for (const r of body.results) {
    assert.equal(r.status, "accepted");
    accepted.add(r.recordId);
  }
  await runner.drained(60_000);
}

const db = () => runner.config.catalog.database;
const bucket = () => runner.config.pipelines.lake!.sink.bucket;

async function table() {
  const { location, table: glue } = await glueMetadataLocation(runner.glue, db(), "lake");
  assert.ok(location, "the Glue table points at its metadata");
  return { metadata: await readMetadata(runner.clients.s3, location), glue };
}

/** Counts the current snapshot with icebird and DuckDB; both must see each accepted id once. */
async function assertExactlyOnce() {
  const { metadata } = await table();
  const files = await snapshotFiles(runner.clients.s3, metadata);
  assert.equal(new Set(files.map((f) => f.path)).size, files.length, "no file listed twice");
  const rows = await icebirdRows(runner.clients.s3, metadata);
  const ids = rows.map((r) => r._id as string);
  assert.equal(ids.length, accepted.size, "icebird reads every accepted record once");
  assert.deepEqual(new Set(ids), accepted);
  const duck = await duckdbCount(
    runner.clients.s3,
    bucket(),
    files.map((f) => f.path),
  );
  assert.deepEqual(duck, { rows: accepted.size, ids: accepted.size });
  const summary = metadata.snapshots.find(
    (s) => s["snapshot-id"] === metadata["current-snapshot-id"],
  )!.summary;
  assert.equal(Number(summary["total-records"]), accepted.size);
  return metadata;
}

describe("iceberg sink", { skip: noGlue }, () => {
  test("npm start's provisioning creates the table: Glue type ICEBERG, metadata v2 with the registry's field ids", async () => {
    const { metadata, glue } = await table();
    assert.equal(glue.Parameters?.table_type, "ICEBERG");
    assert.equal(metadata["format-version"], 2);
    assert.equal(metadata["current-snapshot-id"], -1);
    const fields = Object.fromEntries(metadata.schemas[0]!.fields.map((f) => [f.name, f]));
    assert.equal(fields._id!.id, 1);
    assert.equal(fields._event_time!.type, "timestamptz");
    assert.equal(fields.rating!.type, "long");
    assert.deepEqual(metadata["partition-specs"][0]!.fields, [
      { "source-id": 2, "field-id": 1000, name: "_event_time_hour", transform: "hour" },
    ]);
  });

  test("a version widening integer to number is refused at registration (Iceberg forbids long -> double)", async () => {
    const schema = JSON.parse((await import("node:fs")).readFileSync("schemas/feedback.v1.json", "utf8")) as {
      properties: Record<string, unknown>;
    };
    schema.properties.rating = { type: "number" };
    const res = await fetch(`${runner.url}/v1/schemas`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeader(runner) },
      body: JSON.stringify({ name: "feedback", namespace: "sluice", schema }),
    });
    const text = await res.text();
    assert.equal(res.status, 409, text);
    assert.match(text, /SCHEMA_INCOMPATIBLE/);
    assert.match(text, /\/properties\/rating/);
  });

  test("records committed in several snapshots are each in the table once; a repeated commit is a no-op", async () => {
    await send(30);
    const first = await runner.commit();
    assert.equal(first.lake!.status, "committed");
    assert.equal(first.lake!.records, 30);
    await assertExactlyOnce();
    await send(20);
    assert.equal((await runner.commit()).lake!.status, "committed");
    const md = await assertExactlyOnce();
    assert.equal(md.snapshots.length, 2);
    const again = await runner.commit();
    assert.equal(again.lake!.status, "unchanged");
    assert.equal((await table()).metadata.snapshots.length, 2);
  });

  test("manifests carry partition values and column bounds engines prune by", async () => {
    const { metadata } = await table();
    const files = await snapshotFiles(runner.clients.s3, metadata);
    const hours = new Set(files.map((f) => Number(f.partition._event_time_hour)));
    const h10 = Date.UTC(2026, 2, 1, 10) / 3_600_000;
    assert.deepEqual([...hours].sort(), [h10, h10 + 1]);
    assert.ok(files.every((f) => f.records > 0 && f.size > 0));
  });

  test("an older snapshot still reads with its own count (time travel)", async () => {
    const { metadata } = await table();
    const older = metadata["metadata-log"].at(-1)!["metadata-file"];
    const before = await readMetadata(runner.clients.s3, older);
    const rows = await icebirdRows(runner.clients.s3, before);
    assert.equal(rows.length, 30);
  });

  test("a crash after the batch's files, before its checkpoint commit, adds nothing twice", async () => {
    armFailpoint("batch.before-commit", "throw");
    await send(10);
    await runner.commit();
    await assertExactlyOnce();
  });

  test("a crash after the table's metadata files, before the Glue swap, commits nothing; the next commit does", async () => {
    await send(10);
    armFailpoint("commit.before-swap", "throw");
    await assert.rejects(runner.commit(), /failpoint commit.before-swap/);
    const { metadata } = await table();
    assert.equal(Number(metadata.snapshots.at(-1)!.summary["total-records"]), accepted.size - 10);
    assert.equal((await runner.commit()).lake!.status, "committed");
    await assertExactlyOnce();
  });

  test("a crash after the swap, before the pending files are cleared, is a no-op when repeated", async () => {
    await send(10);
    armFailpoint("commit.after-swap", "throw");
    await assert.rejects(runner.commit(), /failpoint commit.after-swap/);
    const pending = new PendingFiles(runner.clients.dynamo, runner.config.tables.checkpoints);
    assert.ok((await pending.list("lake")).length > 0, "the pending items survive the crash");
    const again = await runner.commit();
    assert.equal(again.lake!.status, "unchanged");
    assert.equal((await pending.list("lake")).length, 0);
    await assertExactlyOnce();
  });

  test("two committers race: the one that loses the VersionId retries; each file is added once", async () => {
    await send(10);
    const app = (glue: typeof runner.glue) =>
      createCommitApp({ config: runner.config, clients: runner.clients, glue, logger: silentLogger });
    // B reads the table, then waits to swap until A has committed: B's VersionId is stale.
    let aDone!: () => void;
    const aCommitted = new Promise<void>((r) => {
      aDone = r;
    });
    const slowGlue = new Proxy(runner.glue, {
      get(target, prop, receiver) {
        if (prop !== "send") return Reflect.get(target, prop, receiver);
        return async (command: { constructor: { name: string } }) => {
          if (command.constructor.name === "UpdateTableCommand") await aCommitted;
          return target.send(command as never);
        };
      },
    });
    const b = app(slowGlue)();
    await new Promise((r) => setTimeout(r, 800));
    const a = await app(runner.glue)();
    aDone();
    const bResult = await b;
    assert.equal(a.lake!.status, "committed");
    assert.equal(a.lake!.attempts, 1);
    assert.equal(bResult.lake!.attempts, 2, "B lost the race and tried again");
    assert.equal(bResult.lake!.status, "unchanged", "on retry B finds A's snapshot holds the files");
    await assertExactlyOnce();
  });
});
