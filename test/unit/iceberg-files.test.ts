/**
 * The Iceberg files Sluice writes, read back by icebird's own Avro reader (independent of avsc):
 * manifest entries with partition tuples and bounds, manifest lists with their summaries, and
 * bounds in the spec's single-value encoding.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { avroMetadata, avroRead } from "icebird";
import { fileStats, singleValue } from "../../functions/core/iceberg/file-stats.ts";
import { fieldIdOfPath, icebergFields, icebergWidenings } from "../../functions/core/iceberg/schema.ts";
import { manifestFile, manifestListFile } from "../../functions/core/iceberg/snapshot-files.ts";
import { assignFieldIds } from "../../functions/core/parquet/field-ids.ts";
import { encodeParquet, planColumns } from "../../functions/core/parquet/index.ts";

const SCHEMA = {
  type: "object",
  properties: {
    n: { type: "integer" },
    s: { type: "string" },
    tags: { type: "array", items: { type: "string" } },
  },
};
const { ids } = assignFieldIds(planColumns(SCHEMA).fields);
const fields = icebergFields([{ schema: SCHEMA, fieldIds: ids }]);
const schema = { type: "struct" as const, "schema-id": 0, fields };
const spec = [{ "source-id": 2, "field-id": 1000, name: "_event_time_hour", transform: "hour" }];

function parquet() {
  const rows = [5, 1, 9].map((n, i) => ({
    id: `01J${i}`,
    eventTime: "2026-03-01T10:00:00.000001Z",
    receiveTime: "2026-03-01T10:00:01Z",
    schemaVersion: 1,
    data: i === 1 ? { s: "b" } : { n, s: i === 0 ? "a" : "c", tags: ["x"] },
  }));
  return encodeParquet(planColumns(SCHEMA, ids), rows, {
    compression: "zstd",
    rowGroupSize: 100,
    metadata: {},
  });
}

// biome-ignore lint/suspicious/noExplicitAny: icebird parses some header values itself
const json = (v: unknown): any => (typeof v === "string" ? JSON.parse(v) : v);

async function readAvro(bytes: Buffer) {
  const u8 = new Uint8Array(bytes);
  const ab = u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength);
  // biome-ignore lint/suspicious/noExplicitAny: icebird's reader takes its own DataReader
  const reader = { view: new DataView(ab), offset: 0 } as any;
  const { metadata, syncMarker } = avroMetadata(reader);
  return { metadata, records: avroRead({ reader, metadata, syncMarker }) as Record<string, unknown>[] };
}

describe("iceberg files", () => {
  test("the schema carries the registry's field ids, lists with their element ids", () => {
    const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
    assert.equal(byName.n!.id, ids["/properties/n"]);
    assert.equal(byName.n!.type, "long");
    assert.deepEqual(byName.tags!.type, {
      type: "list",
      "element-id": ids["/properties/tags/items"],
      "element-required": false,
      element: "string",
    });
    assert.equal(fieldIdOfPath(fields, "s"), ids["/properties/s"]);
  });

  test("integer -> number is a widening an Iceberg table refuses; a new field is not", () => {
    const wider = { ...SCHEMA, properties: { ...SCHEMA.properties, n: { type: "number" } } };
    assert.deepEqual(icebergWidenings(SCHEMA, wider), ["/properties/n"]);
    const added = { ...SCHEMA, properties: { ...SCHEMA.properties, m: { type: "number" } } };
    assert.deepEqual(icebergWidenings(SCHEMA, added), []);
  });

  test("single-value encoding: little-endian longs, micros for timestamps, UTF-8 strings", () => {
    assert.deepEqual([...singleValue("long", 1n, "lower")!], [1, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...singleValue("int", 258, "lower")!], [2, 1, 0, 0]);
    assert.equal(singleValue("string", "é", "lower")!.toString("utf8"), "é");
    const upper = singleValue("timestamptz", new Date(1000), "upper")!;
    assert.equal(upper.readBigInt64LE(0), 1_000_999n);
    assert.equal(singleValue("double", Number.NaN, "lower"), undefined);
  });

  test("file stats come from the Parquet footer: counts, nulls and bounds by field id", () => {
    const stats = fileStats(parquet().bytes);
    const n = String(ids["/properties/n"]);
    assert.equal(stats.recordCount, 3);
    assert.equal(stats.nullCounts[n], 1);
    assert.equal(stats.valueCounts[n], 3);
    assert.equal(Buffer.from(stats.lowerBounds[n]!, "base64").readBigInt64LE(0), 5n);
    assert.equal(Buffer.from(stats.upperBounds[n]!, "base64").readBigInt64LE(0), 9n);
    assert.equal(Buffer.from(stats.lowerBounds[ids["/properties/s"]!]!, "base64").toString(), "a");
    // Lists are counted but get no bounds (only top-level primitives do).
    assert.equal(stats.lowerBounds[ids["/properties/tags/items"]!], undefined);
  });

  test("a manifest and its manifest list read back with icebird's Avro reader, as the spec lays them out", async () => {
    const file = parquet();
    const m = await manifestFile({
      url: "s3://b/_iceberg/t/metadata/m0.avro",
      schema,
      specId: 0,
      fields: spec,
      snapshotId: 42,
      sequenceNumber: 1,
      entries: [
        {
          status: 1,
          snapshot_id: 42,
          sequence_number: null,
          file_sequence_number: null,
          data_file: {
            content: 0,
            file_path: "s3://b/f.parquet",
            file_format: "PARQUET",
            partition: { _event_time_hour: 493_210 },
            record_count: 3,
            file_size_in_bytes: file.bytes.length,
            column_sizes: null,
            value_counts: [{ key: 6, value: 3 }],
            null_value_counts: [{ key: 6, value: 1 }],
            nan_value_counts: null,
            lower_bounds: [{ key: 6, value: singleValue("long", 1n, "lower")! }],
            upper_bounds: [{ key: 6, value: singleValue("long", 9n, "upper")! }],
            key_metadata: null,
            split_offsets: [4],
            equality_ids: null,
            sort_order_id: 0,
          },
        },
      ],
    });
    const manifest = await readAvro(m.bytes);
    assert.equal(manifest.metadata["format-version"], "2");
    assert.equal(manifest.metadata.content, "data");
    assert.equal(json(manifest.metadata["partition-spec"])[0]["field-id"], 1000);
    const avroSchema = json(manifest.metadata["avro.schema"]);
    assert.equal(avroSchema.fields[4]["field-id"], 2, "data_file has field id 2");
    const [entry] = manifest.records;
    const df = entry!.data_file as Record<string, unknown>;
    assert.equal(entry!.status, 1);
    assert.equal(df.file_path, "s3://b/f.parquet");
    assert.equal(Number(df.record_count), 3);
    assert.deepEqual(df.partition, { _event_time_hour: 493_210 });

    const list = await readAvro(await manifestListFile([m.record], 42, undefined, 1));
    assert.equal(list.metadata["snapshot-id"], "42");
    const [mf] = list.records;
    assert.equal(mf!.manifest_path, "s3://b/_iceberg/t/metadata/m0.avro");
    assert.equal(Number(mf!.manifest_length), m.bytes.length);
    assert.equal(mf!.added_files_count, 1);
    assert.equal(Number(mf!.added_rows_count), 3);
    const [summary] = mf!.partitions as { contains_null: boolean; lower_bound: Uint8Array }[];
    assert.equal(summary!.contains_null, false);
    assert.equal(Buffer.from(summary!.lower_bound).readInt32LE(0), 493_210);
  });
});
