/**
 * Iceberg table maintenance against the embedded stack: snapshot listing and the current
 * snapshot's files (what `sluice table` prints) agree with icebird; expiry drops old snapshots
 * and deletes only what no kept snapshot reaches (the table still reads every record once, the
 * expired snapshot's manifest list is gone); orphan removal deletes an unreferenced data file
 * and leftover metadata but never a committed or a pending file, nor a young one.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { runTableCommand } from "../../bin/table-command.ts";
import { createMaintenance, maintainTable, type TableMaintenance } from "../../functions/commit/maintain.ts";
import { silentLogger } from "../../functions/core/logger.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, endpoint, glueUnavailable } from "../support/env.ts";
import { icebirdRows, readMetadata, snapshotFiles } from "../support/iceberg.ts";
import { startTestRunner } from "../support/runner.ts";

const noGlue = await glueUnavailable();
let runner: LocalRunner;
let maint: TableMaintenance;
const accepted = new Set<string>();

before(async () => {
  if (noGlue) return;
  runner = await startTestRunner("icem", {
    manifestPath: "test/fixtures/manifests/iceberg.yaml",
    commitIntervalMs: 0,
  });
  maint = createMaintenance({ config: runner.config, clients: runner.clients, glue: runner.glue });
});
const scratch = mkdtempSync(join(tmpdir(), "sluice-table-cli-"));
after(async () => {
  await runner?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

let n = 0;
async function sendAndCommit(count: number) {
  const records = Array.from({ length: count }, () => {
    const i = n++;
    return {
      data: {
        customerId: `m-${i}`,
        content: `text ${i}`,
        category: "other",
        isNegative: false,
        rating: 3,
        ts: `2026-03-02T0${i % 2}:${String(i % 60).padStart(2, "0")}:00Z`,
      },
    };
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
  const out = await runner.commit();
  assert.equal(out.lake?.status, "committed");
}

const bucket = () => runner.config.pipelines.lake!.sink.bucket;
const exists = async (url: string) => {
  const key = url.slice(`s3://${bucket()}/`.length);
  try {
    await runner.clients.s3.send(new HeadObjectCommand({ Bucket: bucket(), Key: key }));
    return true;
  } catch {
    return false;
  }
};
async function current() {
  const location = await maint.metadataLocation("lake");
  assert.ok(location);
  return readMetadata(runner.clients.s3, location);
}

describe("iceberg table maintenance", { skip: noGlue && "the endpoint has no Glue" }, () => {
  test("snapshots and files agree with icebird's reading of the table", async () => {
    await sendAndCommit(30);
    await sendAndCommit(20);
    await sendAndCommit(10);
    const snaps = await maint.snapshots("lake");
    assert.equal(snaps.length, 3);
    assert.deepEqual(
      snaps.map((s) => s.totalRecords),
      [30, 50, 60],
    );
    assert.equal(snaps.filter((s) => s.current).length, 1);
    assert.ok(snaps[2]!.current);
    const files = await maint.files("lake");
    const md = await current();
    const independent = await snapshotFiles(runner.clients.s3, md);
    assert.deepEqual(files.map((f) => f.path).sort(), independent.map((f) => f.path).sort());
    assert.equal(
      files.reduce((k, f) => k + f.records, 0),
      60,
    );
    const older = await maint.files("lake", snaps[0]!.id);
    assert.equal(
      older.reduce((k, f) => k + f.records, 0),
      30,
    );
    await assert.rejects(maint.files("lake", 42), /no snapshot 42/);
    await assert.rejects(maint.snapshots("nosuch"), /nosuch is not an Iceberg sink/);
  });

  test("expiry keeps the newest snapshots and deletes only what they do not reach", async () => {
    const before = await current();
    const oldest = before.snapshots[0]!;
    const dry = await maint.expire("lake", { olderThanMs: 0, retainLast: 2, dryRun: true });
    assert.deepEqual(dry.expired, [oldest["snapshot-id"]]);
    assert.ok(await exists(oldest["manifest-list"]), "a dry run deletes nothing");
    const out = await maint.expire("lake", { olderThanMs: 0, retainLast: 2 });
    assert.deepEqual(out.expired, [oldest["snapshot-id"]]);
    // Appends carry every manifest forward: only the expired snapshot's manifest list goes.
    assert.deepEqual(out.deleted, [oldest["manifest-list"]]);
    assert.equal(await exists(oldest["manifest-list"]), false);
    const after = await current();
    assert.equal(after.snapshots.length, 2);
    assert.equal(after["current-snapshot-id"], before["current-snapshot-id"]);
    const rows = await icebirdRows(runner.clients.s3, after);
    assert.deepEqual(new Set(rows.map((r) => r._id as string)), accepted);
    assert.equal(rows.length, accepted.size);
    const again = await maint.expire("lake", { olderThanMs: 0, retainLast: 2 });
    assert.deepEqual(again.expired, [], "a second run has nothing to expire");
    const young = await maint.expire("lake", { olderThanMs: 86_400_000, retainLast: 1 });
    assert.deepEqual(young.expired, [], "snapshots younger than the age limit stay");
  });

  test("orphan removal deletes unreferenced old files only", async () => {
    const md = await current();
    const stray = `feedback/dt=2026-03-02/hr=00/lake-shardId-000000000000-1-9.parquet`;
    const other = `feedback/dt=2026-03-02/hr=00/otherpipe-shardId-000000000000-1-0.parquet`;
    const leftover = `${md.location.slice(`s3://${bucket()}/`.length)}/metadata/99999-left.metadata.json`;
    for (const Key of [stray, other, leftover]) {
      await runner.clients.s3.send(new PutObjectCommand({ Bucket: bucket(), Key, Body: "x" }));
    }
    const young = await maint.orphans("lake", { dryRun: true });
    assert.deepEqual(young.orphans, [], "nothing younger than the grace period");
    const later = () => Date.now() + 2 * 86_400_000;
    const dry = await maint.orphans("lake", { dryRun: true, now: later });
    assert.deepEqual(
      [...dry.orphans].sort(),
      [`s3://${bucket()}/${leftover}`, `s3://${bucket()}/${stray}`].sort(),
      "another pipeline's file and every referenced file are not orphans",
    );
    const out = await maint.orphans("lake", { now: later });
    assert.equal(out.orphans.length, 2);
    assert.equal(await exists(`s3://${bucket()}/${stray}`), false);
    assert.equal(await exists(`s3://${bucket()}/${other}`), true);
    for (const f of await maint.files("lake")) assert.ok(await exists(f.path), `${f.path} still there`);
    const rows = await icebirdRows(runner.clients.s3, await current());
    assert.equal(rows.length, accepted.size);
  });

  test("sluice table: snapshots and files through the real entry point; usage errors exit 2", async () => {
    // The fixture under the runner's app name, so the CLI finds the same resources.
    const text = readFileSync("test/fixtures/manifests/iceberg.yaml", "utf8")
      .replace(/^name: .*$/m, `name: ${runner.config.app}`)
      .replace(/file: (.*)$/m, (_, f: string) => `file: ${resolve("test/fixtures/manifests", f)}`);
    const manifest = join(scratch, "sluice.yaml");
    writeFileSync(manifest, text);
    const sluice = (...args: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((done) => {
        execFile(
          process.execPath,
          [
            "--import",
            "tsx",
            "bin/sluice.ts",
            "table",
            ...args,
            "--manifest",
            manifest,
            "--endpoint",
            endpoint(),
          ],
          { timeout: 60_000 },
          (e, out, err) => done({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }),
        );
      });
    const snaps = await sluice("snapshots");
    assert.equal(snaps.code, 0, snaps.err);
    const lines = snaps.out.trim().split("\n");
    assert.equal(lines.length, 2, snaps.out);
    assert.match(lines[1]!, /^\* \d+ {2}\S+ {2}append {2}60 records/);
    const files = await sluice("files", "lake");
    assert.equal(files.code, 0, files.err);
    const listed = files.out
      .trim()
      .split("\n")
      .map((l) => l.split("\t"));
    assert.deepEqual(listed.map((l) => l[0]).sort(), (await maint.files("lake")).map((f) => f.path).sort());
    assert.equal(
      listed.reduce((k, l) => k + Number(l[1]), 0),
      60,
    );
    const io = { out: [] as string[], err: [] as string[] };
    const capture = { out: (t: string) => io.out.push(t), err: (t: string) => io.err.push(t) };
    assert.equal(await runTableCommand(["frobnicate"], capture, () => maint), 2);
    assert.equal(await runTableCommand(["files", "nosuch"], capture, () => maint), 2);
    assert.match(io.err.at(-1)!, /nosuch is not an Iceberg sink/);
    assert.equal(await runTableCommand(["expire", "--retain-last", "0"], capture, () => maint), 2);
    assert.equal(
      await runTableCommand(["expire", "--dry-run", "--older-than-days", "0"], capture, () => maint),
      0,
    );
    assert.match(io.out.at(-2)!, /lake: would expire 1 snapshots, 1 files/);
    assert.equal((await maint.snapshots("lake")).length, 2, "a dry run changes nothing");
  });

  test("the daily maintenance event: compaction, expiry then orphans; the table still reads every record once", async () => {
    const out = await maintainTable(
      maint,
      "lake",
      { expireDays: 0, retainLast: 1, graceHours: 0 },
      silentLogger,
    );
    // Hours 00 and 01 of a past day are closed: each one's three small files become one.
    assert.deepEqual(out, {
      compacted: { filesReplaced: 6, filesAdded: 2, droppedDuplicates: 0 },
      expired: 2,
      deleted: 11,
      orphans: 0,
    });
    assert.equal((await maint.snapshots("lake")).length, 1);
    const rows = await icebirdRows(runner.clients.s3, await current());
    assert.deepEqual(new Set(rows.map((r) => r._id as string)), accepted);
    assert.equal(rows.length, accepted.size);
  });
});
