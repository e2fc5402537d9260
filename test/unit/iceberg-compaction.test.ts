/**
 * Compaction's pure parts: which files it picks (closed partitions, small files, two or more per
 * partition and folder, ids fixed by the inputs), and its way back from stored rows to the
 * encoder: a file read with hyparquet and encoded again is byte for byte the file the batcher
 * wrote, microsecond timestamps, 64-bit integers, nested and undeclared (`_extra`) fields and
 * JSON-text columns included; the streaming writer's row groups read back in order.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import type { ManifestEntryRecord, ManifestFileRecord } from "../../functions/core/iceberg/avro-files.ts";
import { type LiveFile, planCompaction } from "../../functions/core/iceberg/compaction-plan.ts";
import { EXACT_PARSERS, encoderRow, type StoredRow } from "../../functions/core/iceberg/compaction-rows.ts";
import type { PartitionField } from "../../functions/core/iceberg/partition-spec.ts";
import type { JsonSchema } from "../../functions/core/manifest/types.ts";
import type { CompiledPlan } from "../../functions/core/parquet/columns.ts";
import { buildBatch } from "../../functions/core/parquet/convert-rows.ts";
import { encodeParquet, type ParquetRow, planColumns } from "../../functions/core/parquet/index.ts";
import { ParquetStreamWriter } from "../../functions/core/parquet/writer/stream-writer.ts";
import { COMPRESSORS } from "../../functions/core/query/lake-file.ts";

const HOUR = 3_600_000;
const h10 = Date.UTC(2026, 2, 1, 10) / HOUR;

function live(
  path: string,
  partition: Record<string, number | string>,
  size: number,
  addedMs?: number,
): LiveFile {
  const entry = {
    status: 1,
    snapshot_id: 1,
    sequence_number: null,
    file_sequence_number: null,
    data_file: { file_path: path, partition, file_size_in_bytes: size, record_count: 1 },
  } as unknown as ManifestEntryRecord;
  return {
    entry,
    manifest: { manifest_path: "m", sequence_number: 1 } as ManifestFileRecord,
    dataSequence: 1,
    fileSequence: 1,
    ...(addedMs === undefined ? {} : { addedMs }),
  };
}

const HOURLY: PartitionField[] = [
  { "source-id": 2, "field-id": 1000, name: "_event_time_hour", transform: "hour" },
];
const BY_REGION: PartitionField[] = [
  { "source-id": 9, "field-id": 1000, name: "region", transform: "identity" },
];
const settings = { targetFileBytes: 1000, graceMs: HOUR };

describe("planCompaction", () => {
  test("closed hours only: the hour must have ended more than the grace period ago", () => {
    const files = [
      live("s3://b/x/hr=10/a.parquet", { _event_time_hour: h10 }, 10),
      live("s3://b/x/hr=10/b.parquet", { _event_time_hour: h10 }, 10),
      live("s3://b/x/hr=11/a.parquet", { _event_time_hour: h10 + 1 }, 10),
      live("s3://b/x/hr=11/b.parquet", { _event_time_hour: h10 + 1 }, 10),
    ];
    // 12:30: hour 10 ended 90 minutes ago, hour 11 only 30.
    const groups = planCompaction(files, HOURLY, settings, (h10 + 2.5) * HOUR);
    assert.deepEqual(
      groups.map((g) => g.files.map((f) => f.entry.data_file.file_path)),
      [["s3://b/x/hr=10/a.parquet", "s3://b/x/hr=10/b.parquet"]],
    );
    assert.equal(groups[0]!.folder, "s3://b/x/hr=10/");
  });

  test("small files only (under 75% of the target), two or more per partition and folder", () => {
    const p = { _event_time_hour: h10 };
    const files = [
      live("s3://b/s1/a.parquet", p, 10),
      live("s3://b/s1/big.parquet", p, 750),
      live("s3://b/s2/a.parquet", p, 10),
      live("s3://b/s2/b.parquet", p, 10),
    ];
    const groups = planCompaction(files, HOURLY, settings, (h10 + 5) * HOUR);
    assert.deepEqual(
      groups.map((g) => g.folder),
      ["s3://b/s2/"],
      "s1 has one small file, s2 two: folders are not mixed",
    );
  });

  test("identity partitions never close: a file is eligible once committed a grace period ago", () => {
    const now = 100 * HOUR;
    const files = [
      live("s3://b/r=eu/a.parquet", { region: "eu" }, 10, now - 2 * HOUR),
      live("s3://b/r=eu/b.parquet", { region: "eu" }, 10, now - 2 * HOUR),
      live("s3://b/r=eu/c.parquet", { region: "eu" }, 10, now - 10_000),
      live("s3://b/r=us/a.parquet", { region: "us" }, 10, now - 2 * HOUR),
    ];
    const groups = planCompaction(files, BY_REGION, settings, now);
    assert.equal(groups.length, 1);
    assert.deepEqual(
      groups[0]!.files.map((f) => f.entry.data_file.file_path),
      ["s3://b/r=eu/a.parquet", "s3://b/r=eu/b.parquet"],
    );
  });

  test("a group's id depends on its inputs, not their order", () => {
    const p = { _event_time_hour: h10 };
    const a = live("s3://b/x/a.parquet", p, 10);
    const b = live("s3://b/x/b.parquet", p, 10);
    const c = live("s3://b/x/c.parquet", p, 10);
    const now = (h10 + 5) * HOUR;
    const id = (fs: LiveFile[]) => planCompaction(fs, HOURLY, settings, now)[0]!.id;
    assert.equal(id([a, b]), id([b, a]));
    assert.notEqual(id([a, b]), id([a, b, c]));
  });
});

const SCHEMA: JsonSchema = {
  type: "object",
  properties: {
    s: { type: "string" },
    big: { type: "integer" },
    d: { type: "number" },
    day: { type: "string", format: "date" },
    at: { type: "string", format: "date-time" },
    flag: { type: "boolean" },
    obj: { type: "object", properties: { a: { type: "string" }, n: { type: "integer" } } },
    items: { type: "array", items: { type: "object", properties: { k: { type: "string" } } } },
    any: {},
  },
  additionalProperties: true,
};

function rows(n: number): ParquetRow[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `id-${String(i).padStart(4, "0")}`,
    eventTime: `2026-03-01T10:00:${String(i % 60).padStart(2, "0")}.123456Z`,
    receiveTime: "2026-03-01T10:05:00.000001Z",
    schemaVersion: 1,
    data: Buffer.from(
      i % 2 === 0
        ? `{"extra":[1,2,{"q":${i}}],"s":"s${i}","big":${2n ** 60n + BigInt(i)},"d":${i}.5,"day":"2026-03-0${(i % 9) + 1}","at":"2026-03-01T10:00:00.00000${i % 10}Z","flag":true,"obj":{"x":"undeclared","a":"A","n":-${i}},"items":[{"k":"k1","z":1},{"k":"k2"}],"any":{"deep": [1, "a", null]}}`
        : `{"s":"s${i}","obj":{"a":null},"items":[],"tail":"last"}`,
    ),
  }));
}

function read(bytes: Uint8Array): Promise<StoredRow[]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return parquetReadObjects({ file, compressors: COMPRESSORS, parsers: EXACT_PARSERS }) as Promise<
    StoredRow[]
  >;
}

const OPTIONS = { compression: "zstd" as const, metadata: { "sluice.schema.version": "1" } };

describe("compaction rows", () => {
  test("stored rows encode again into the very bytes the batcher wrote", async () => {
    const plan = planColumns(SCHEMA) as CompiledPlan;
    const original = encodeParquet(plan, rows(20), { ...OPTIONS, rowGroupSize: 1000 });
    assert.equal(original.rejected.length, 0);
    const again = (await read(original.bytes)).map((r) => encoderRow(plan, r));
    const writer = new ParquetStreamWriter({ ...OPTIONS, fieldIds: plan.fieldIds });
    writer.writeRowGroup(buildBatch(plan, again).columns, again.length);
    assert.deepEqual(Buffer.from(writer.finish()), Buffer.from(original.bytes));
  });

  test("the streaming writer's row groups read back as one file, in order", async () => {
    const plan = planColumns(SCHEMA) as CompiledPlan;
    const all = rows(30);
    const writer = new ParquetStreamWriter({ ...OPTIONS, fieldIds: plan.fieldIds });
    for (let i = 0; i < 30; i += 10) {
      const part = all.slice(i, i + 10);
      writer.writeRowGroup(buildBatch(plan, part).columns, part.length);
    }
    const bytes = writer.finish();
    const md = parquetMetadata(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    );
    assert.equal(md.row_groups.length, 3);
    assert.equal(Number(md.num_rows), 30);
    const back = await read(bytes);
    assert.deepEqual(
      back.map((r) => r._id),
      all.map((r) => r.id),
    );
    assert.equal(back[0]!.big, 2n ** 60n);
    assert.equal(back[0]!._event_time, "2026-03-01T10:00:00.123456Z");
  });
});
