/**
 * Compaction of an Iceberg sink's table against the embedded stack (runner in-process, for a
 * commit racing the compaction): the small files of closed partitions become one file per
 * partition in one `replace` snapshot; a duplicated record is dropped and counted; an append
 * committed while the compaction runs is kept; icebird and DuckDB count every accepted record
 * exactly once and read the same rows as before; the pre-compaction snapshot still reads as it
 * was (time travel) until expiry, which is what deletes the replaced files.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { runTableCommand } from "../../bin/table-command.ts";
import { createMaintenance, type TableMaintenance } from "../../functions/commit/maintain.ts";
import { DROPPED_DUPLICATES } from "../../functions/core/iceberg/compaction.ts";
import { fileStats } from "../../functions/core/iceberg/file-stats.ts";
import type { TableMetadata } from "../../functions/core/iceberg/metadata.ts";
import { pendingItem } from "../../functions/core/iceberg/pending-files.ts";
import { sseEvents } from "../../functions/core/query/sse-events.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import {
  authHeader,
  duckdb,
  FEEDBACK_V1_COLUMN_TYPES,
  glueUnavailable,
  parquetColumnTypes,
} from "../support/env.ts";
import {
  duckdbCount,
  icebirdRows,
  localCopies,
  manifestEntries,
  readMetadata,
  snapshotFiles,
} from "../support/iceberg.ts";
import { startTestRunner } from "../support/runner.ts";

const noGlue = await glueUnavailable();
let runner: LocalRunner;
let maint: TableMaintenance;
const accepted = new Set<string>();

before(async () => {
  if (noGlue) return;
  runner = await startTestRunner("icecomp", {
    manifestPath: "test/fixtures/manifests/iceberg.yaml",
    commitIntervalMs: 0,
  });
  maint = createMaintenance({ config: runner.config, clients: runner.clients, glue: runner.glue });
});
after(async () => {
  await runner?.stop();
});

let n = 0;
/** Sends `count` records in hours 10 and 11 of a past day (closed partitions), then commits. */
async function sendAndCommit(count: number, hours: readonly string[] = ["10", "11"]) {
  const records = Array.from({ length: count }, () => {
    const i = n++;
    const ts = `2026-03-01T${hours[i % hours.length]}:${String(i % 60).padStart(2, "0")}:00.123456Z`;
    return {
      data: {
        customerId: `c-${i}`,
        content: `text ${i}`,
        category: "other",
        isNegative: i % 2 === 0,
        rating: (i % 5) + 1,
        tags: [`t${i}`],
        ts,
        // Undeclared: kept in _extra, which compaction must carry over as it is.
        ...(i % 3 === 0 ? { note: { source: "web", n: i } } : {}),
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
  assert.equal((await runner.commit()).lake?.status, "committed");
}

const bucket = () => runner.config.pipelines.lake!.sink.bucket;
async function current(): Promise<TableMetadata> {
  return readMetadata(runner.clients.s3, (await maint.metadataLocation("lake"))!);
}
const perPartition = (files: { partition: Record<string, unknown> }[]) => {
  const out: Record<string, number> = {};
  for (const f of files) {
    const k = String(f.partition._event_time_hour);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
};
const allColumns = Object.keys(FEEDBACK_V1_COLUMN_TYPES).join(", ");
const list = (paths: readonly string[]) => `[${paths.map((p) => `'${p}'`).join(", ")}]`;

/** Appends a copy of a committed file (its records a second time), as a stray duplicate would. */
async function appendDuplicateOf(path: string): Promise<number> {
  const key = path.slice(`s3://${bucket()}/`.length);
  const out = await runner.clients.s3.send(new GetObjectCommand({ Bucket: bucket(), Key: key }));
  const body = await out.Body!.transformToByteArray();
  const copy = key.replace(/[^/]+$/, "lake-shardId-dup-1-0.parquet");
  await runner.clients.s3.send(new PutObjectCommand({ Bucket: bucket(), Key: copy, Body: body }));
  const stats = fileStats(body);
  const hour = Math.floor(Date.parse("2026-03-01T10:00:00Z") / 3_600_000);
  await runner.clients.dynamo.send(
    new PutCommand({
      TableName: runner.config.tables.checkpoints,
      Item: pendingItem("lake", {
        pipeline: "lake",
        shard: "shardId-dup",
        lastSeq: "1",
        createdAt: new Date().toISOString(),
        files: [
          {
            key: copy,
            size: body.byteLength,
            records: stats.recordCount,
            partition: { _event_time_hour: hour },
            stats,
          },
        ],
      }),
    }),
  );
  assert.equal((await runner.commit()).lake?.status, "committed");
  return stats.recordCount;
}

describe("iceberg compaction", { skip: noGlue && "the endpoint has no Glue" }, () => {
  let before: TableMetadata;
  let beforeRows: number;
  let dupes: number;

  test("small files of closed partitions, a duplicate among them, before compaction", async () => {
    await sendAndCommit(30);
    await sendAndCommit(30);
    await sendAndCommit(30);
    const files = await snapshotFiles(runner.clients.s3, await current());
    const h10 = Math.floor(Date.parse("2026-03-01T10:00:00Z") / 3_600_000);
    dupes = await appendDuplicateOf(files.find((f) => Number(f.partition._event_time_hour) === h10)!.path);
    before = await current();
    const rows = await icebirdRows(runner.clients.s3, before);
    beforeRows = rows.length;
    assert.equal(beforeRows, accepted.size + dupes, "the table holds the duplicate's records twice");
    assert.deepEqual(perPartition(await snapshotFiles(runner.clients.s3, before)), {
      [h10]: 4,
      [h10 + 1]: 3,
    });
  });

  test("one replace snapshot: one file per partition, duplicates dropped and counted, a racing append kept", async () => {
    // Compaction's Glue swap waits until an append has been committed: its VersionId is stale then.
    let appended!: () => void;
    const appendDone = new Promise<void>((r) => {
      appended = r;
    });
    let swaps = 0;
    const racingGlue = new Proxy(runner.glue, {
      get(target, prop, receiver) {
        if (prop !== "send") return Reflect.get(target, prop, receiver);
        return async (command: { constructor: { name: string } }) => {
          if (command.constructor.name === "UpdateTableCommand" && swaps++ === 0) await appendDone;
          return target.send(command as never);
        };
      },
    });
    const racing = createMaintenance({ config: runner.config, clients: runner.clients, glue: racingGlue });
    const compaction = racing.compact("lake");
    // The late records land in hour 12, which compaction did not plan (nor is it racing for).
    await new Promise((r) => setTimeout(r, 500));
    await sendAndCommit(6, ["12"]);
    appended();
    const out = await compaction;
    assert.equal(out.status, "compacted");
    assert.equal(out.attempts, 2, "the append won the race; compaction built on it and swapped again");
    assert.equal(out.filesReplaced, 7);
    assert.equal(out.filesAdded, 2);
    assert.equal(out.droppedDuplicates, dupes);
    assert.equal(out.records, beforeRows - dupes);

    const md = await current();
    const snap = md.snapshots.find((s) => s["snapshot-id"] === md["current-snapshot-id"])!;
    assert.equal(snap.summary.operation, "replace");
    assert.equal(snap.summary[DROPPED_DUPLICATES], String(dupes));
    assert.equal(snap.summary["deleted-data-files"], "7");
    assert.equal(Number(snap.summary["total-records"]), accepted.size);
    assert.ok(
      snap.summary["sluice.committed.lake/shardId-000000000000"],
      "the shards' progress carries over",
    );

    const files = await snapshotFiles(runner.clients.s3, md);
    const h10 = Math.floor(Date.parse("2026-03-01T10:00:00Z") / 3_600_000);
    assert.deepEqual(perPartition(files), { [h10]: 1, [h10 + 1]: 1, [h10 + 2]: 1 });
    const ids = (await icebirdRows(runner.clients.s3, md)).map((r) => r._id as string);
    assert.equal(ids.length, accepted.size, "icebird reads every accepted record once");
    assert.deepEqual(new Set(ids), accepted);
    assert.deepEqual(
      await duckdbCount(
        runner.clients.s3,
        bucket(),
        files.map((f) => f.path),
      ),
      { rows: accepted.size, ids: accepted.size },
    );

    // DELETED entries keep the replaced files' sequence numbers; ADDED ones inherit the snapshot's.
    const entries = await manifestEntries(runner.clients.s3, md);
    const beforeEntries = new Map((await manifestEntries(runner.clients.s3, before)).map((e) => [e.path, e]));
    const deleted = entries.filter((e) => e.status === 2);
    assert.equal(deleted.length, 7);
    for (const e of deleted) {
      assert.equal(e.snapshotId, md["current-snapshot-id"]);
      assert.equal(e.sequenceNumber, beforeEntries.get(e.path)!.sequenceNumber);
    }
    const added = entries.filter((e) => e.status === 1 && e.path.includes("/compact-lake-"));
    assert.deepEqual(
      added.map((e) => e.sequenceNumber),
      [snap["sequence-number"], snap["sequence-number"]],
    );
    // The racing append's manifest is carried as it is: its file stays ADDED at its own number.
    const late = entries.filter((e) => e.path.includes("dt=2026-03-01/hr=12/"));
    assert.equal(late.length, 1);
    assert.equal(late[0]!.status, 1);
    assert.ok(late[0]!.sequenceNumber < snap["sequence-number"]);
  });

  test("the compacted files hold the same rows, typed as the batcher types them", async () => {
    const md = await current();
    const after = (await snapshotFiles(runner.clients.s3, md)).filter((f) =>
      f.path.includes("/compact-lake-"),
    );
    const pre = await localCopies(
      runner.clients.s3,
      bucket(),
      (await snapshotFiles(runner.clients.s3, before)).map((f) => f.path),
    );
    const post = await localCopies(
      runner.clients.s3,
      bucket(),
      after.map((f) => f.path),
    );
    assert.deepEqual(await parquetColumnTypes(post[0]!), FEEDBACK_V1_COLUMN_TYPES);
    const [diff] = await duckdb<{ missing: string; extra: string; rows: string }>(
      `WITH pre AS (SELECT DISTINCT ${allColumns} FROM read_parquet(${list(pre)})),
            post AS (SELECT ${allColumns} FROM read_parquet(${list(post)}))
       SELECT (SELECT count(*) FROM (SELECT * FROM pre EXCEPT SELECT * FROM post)) AS missing,
              (SELECT count(*) FROM (SELECT * FROM post EXCEPT SELECT * FROM pre)) AS extra,
              (SELECT count(*) FROM post) AS rows`,
    );
    assert.deepEqual(diff, { missing: "0", extra: "0", rows: String(beforeRows - dupes) });
  });

  test("time travel: the pre-compaction snapshot still reads as it was", async () => {
    const rows = await icebirdRows(runner.clients.s3, before);
    assert.equal(rows.length, beforeRows);
    const files = await maint.files("lake", before["current-snapshot-id"]);
    assert.equal(files.length, 7);
  });

  test("a re-run compacts what became eligible, then finds nothing; sluice compact says so", async () => {
    await sendAndCommit(4, ["12"]);
    const again = await maint.compact("lake");
    assert.equal(again.status, "compacted");
    assert.equal(again.filesReplaced, 2, "hour 12's two small files");
    const io = { out: [] as string[], err: [] as string[] };
    const capture = { out: (t: string) => io.out.push(t), err: (t: string) => io.err.push(t) };
    assert.equal(await runTableCommand(["compact"], capture, () => maint), 0);
    assert.deepEqual(io.out, ["lake: nothing to compact"]);
    const md = await current();
    assert.equal((await icebirdRows(runner.clients.s3, md)).length, accepted.size);
  });

  test("expiry drops the pre-compaction snapshots and only then deletes the replaced files", async () => {
    const replaced = (await snapshotFiles(runner.clients.s3, before)).map((f) => f.path);
    const out = await maint.expire("lake", { olderThanMs: 0, retainLast: 1 });
    for (const p of replaced)
      assert.ok(out.deleted.includes(p), `${p} deleted with the last snapshot listing it`);
    const md = await current();
    const ids = (await icebirdRows(runner.clients.s3, md)).map((r) => r._id as string);
    assert.equal(ids.length, accepted.size);
    assert.deepEqual(new Set(ids), accepted);
  });

  test("a query reads the table's snapshot: after compaction and expiry every record once, paged; hours prune files", async () => {
    const get = (query: string) =>
      fetch(`${runner.url}/v1/streams/feedback/records?${query}`, { headers: authHeader(runner) });
    const seen: string[] = [];
    let cursor: string | null = null;
    let files = 0;
    do {
      const res: Response = await get(
        cursor
          ? `cursor=${encodeURIComponent(cursor)}&limit=40`
          : "from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&limit=40",
      );
      assert.equal(res.status, 200, await res.clone().text());
      files += Number(res.headers.get("sluice-files-listed"));
      for (const line of (await res.text()).split("\n").filter(Boolean))
        seen.push((JSON.parse(line) as { _id: string })._id);
      cursor = res.headers.get("sluice-next-cursor");
    } while (cursor);
    assert.equal(seen.length, accepted.size, "no record missing or repeated across pages");
    assert.deepEqual(new Set(seen), accepted);
    assert.ok(files > 0);
    // Hour 12 only: the snapshot's files of hours 10 and 11 are not even listed.
    const hour = await get("from=2026-03-01T12:00:00Z&to=2026-03-01T13:00:00Z&limit=1000");
    assert.equal(hour.status, 200);
    const rows = (await hour.text()).split("\n").filter(Boolean);
    assert.equal(rows.length, 10, "the 6 and 4 records sent for hour 12");
    const all = (await snapshotFiles(runner.clients.s3, await current())).length;
    assert.ok(
      Number(hour.headers.get("sluice-files-listed")) < all,
      `${hour.headers.get("sluice-files-listed")} of ${all}`,
    );
  });

  test("the tail replays the table's snapshot after compaction and expiry, then follows Kinesis from the table's progress", async () => {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 60_000);
    const res = await fetch(`${runner.url}/v1/streams/feedback/tail?from=2026-03-01T00:00:00Z`, {
      headers: authHeader(runner),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const replayed: string[] = [];
    const live: string[] = [];
    const fresh = new Set<string>();
    try {
      for await (const e of sseEvents(res.body!)) {
        if (e.event === "live") {
          // Sent once the replay is over: on Kinesis only, after the shards' committed progress.
          const sent = await fetch(`${runner.url}/v1/streams/feedback/records`, {
            method: "POST",
            headers: { "content-type": "application/json", ...authHeader(runner) },
            body: JSON.stringify({
              records: [0, 1, 2].map((i) => ({
                data: {
                  customerId: `live-${i}`,
                  content: "x",
                  category: "other",
                  isNegative: false,
                  ts: "2026-03-01T12:30:00Z",
                },
              })),
            }),
          });
          assert.equal(sent.status, 200);
          for (const r of ((await sent.json()) as { results: { recordId: string }[] }).results)
            fresh.add(r.recordId);
          continue;
        }
        if (e.event !== "record") continue;
        const id = (JSON.parse(e.data) as { _id: string })._id;
        (fresh.size === 0 ? replayed : live).push(id);
        if (fresh.size > 0 && [...fresh].every((f) => live.includes(f))) break;
      }
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
    assert.equal(replayed.length, accepted.size, "every committed record replayed once");
    assert.deepEqual(new Set(replayed), accepted);
    assert.deepEqual(new Set(live), fresh, "then the live ones, once each, nothing replayed again");
    assert.equal(live.length, fresh.size);
    for (const id of fresh) accepted.add(id);
  });
});
