/**
 * The Avro files of one append: a manifest of the added data files (partition tuple, counts,
 * sizes, column statistics) and the manifest list that carries the parent's manifests forward.
 */
import {
  avroFile,
  type DataFileRecord,
  type FieldSummaryRecord,
  MANIFEST_FILE_SCHEMA,
  type ManifestEntryRecord,
  type ManifestFileRecord,
  manifestEntrySchema,
  manifestMetadata,
  type PartitionValueType,
  readAvroFile,
} from "./avro-files.ts";
import { singleValue } from "./file-stats.ts";
import type { PartitionField } from "./partition-spec.ts";
import type { PendingFile } from "./pending-files.ts";
import type { IcebergSchema } from "./schema.ts";

const intMap = (m: Readonly<Record<string, number>>) =>
  Object.entries(m).map(([key, value]) => ({ key: Number(key), value }));
const bytesMap = (m: Readonly<Record<string, string>>) =>
  Object.entries(m).map(([key, value]) => ({ key: Number(key), value: Buffer.from(value, "base64") }));

/** The Avro type of each partition field: hour -> int, day -> date, identity -> the source's. */
export function partitionTypes(
  fields: readonly PartitionField[],
  schema: IcebergSchema,
): PartitionValueType[] {
  return fields.map((f) => {
    if (f.transform === "hour") return "int";
    if (f.transform === "day") return "date";
    const find = (fs: IcebergSchema["fields"]): string | undefined => {
      for (const x of fs) {
        if (x.id === f["source-id"]) return typeof x.type === "string" ? x.type : "nested";
        if (typeof x.type !== "string" && x.type.type === "struct") {
          const t = find(x.type.fields);
          if (t) return t;
        }
      }
      return undefined;
    };
    const t = find(schema.fields);
    if (t === "string" || t === "long" || t === "int" || t === "double" || t === "boolean") return t;
    throw new Error(`identity partition on ${f.name}: source type ${t} is not supported`);
  });
}

export function dataFileRecord(
  bucket: string,
  file: PendingFile,
  fields: readonly PartitionField[],
  sortOrderId: number,
): DataFileRecord {
  const s = file.stats;
  return {
    content: 0,
    file_path: `s3://${bucket}/${file.key}`,
    file_format: "PARQUET",
    partition: Object.fromEntries(fields.map((f) => [f.name, file.partition[f.name] ?? null])),
    record_count: file.records,
    file_size_in_bytes: file.size,
    column_sizes: intMap(s.columnSizes),
    value_counts: intMap(s.valueCounts),
    null_value_counts: intMap(s.nullCounts),
    nan_value_counts: null,
    lower_bounds: bytesMap(s.lowerBounds),
    upper_bounds: bytesMap(s.upperBounds),
    key_metadata: null,
    split_offsets: s.splitOffsets.length > 0 ? [...s.splitOffsets] : null,
    equality_ids: null,
    sort_order_id: sortOrderId,
  };
}

function fieldSummaries(
  files: readonly DataFileRecord[],
  fields: readonly PartitionField[],
  types: readonly PartitionValueType[],
): FieldSummaryRecord[] {
  return fields.map((f, i) => {
    const values = files.map((d) => d.partition[f.name]);
    const present = values.filter((v) => v !== null && v !== undefined) as (number | string | boolean)[];
    const sorted = [...present].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const type = types[i] === "date" ? "date" : types[i]!;
    return {
      contains_null: present.length < values.length,
      contains_nan: false,
      lower_bound: sorted.length ? (singleValue(type, sorted[0], "lower") ?? null) : null,
      upper_bound: sorted.length ? (singleValue(type, sorted[sorted.length - 1], "upper") ?? null) : null,
    };
  });
}

export interface ManifestInput {
  readonly url: string;
  readonly schema: IcebergSchema;
  readonly specId: number;
  readonly fields: readonly PartitionField[];
  readonly snapshotId: number;
  readonly sequenceNumber: number;
  /** Entries with status and their own sequence numbers (null: inherited, for added files). */
  readonly entries: readonly ManifestEntryRecord[];
}

/** Writes nothing: returns the manifest's bytes and its manifest-list record. */
export async function manifestFile(m: ManifestInput): Promise<{ bytes: Buffer; record: ManifestFileRecord }> {
  const types = partitionTypes(m.fields, m.schema);
  const bytes = await avroFile(
    manifestEntrySchema(m.fields, types),
    m.entries,
    manifestMetadata(m.schema, m.specId, m.fields),
  );
  const count = (status: number) => m.entries.filter((e) => e.status === status);
  const rows = (status: number) => count(status).reduce((n, e) => n + e.data_file.record_count, 0);
  const live = m.entries.filter((e) => e.status !== 2);
  const seqs = live.map((e) => e.sequence_number ?? m.sequenceNumber);
  return {
    bytes,
    record: {
      manifest_path: m.url,
      manifest_length: bytes.length,
      partition_spec_id: m.specId,
      content: 0,
      sequence_number: m.sequenceNumber,
      min_sequence_number: seqs.length ? Math.min(...seqs) : m.sequenceNumber,
      added_snapshot_id: m.snapshotId,
      added_files_count: count(1).length,
      existing_files_count: count(0).length,
      deleted_files_count: count(2).length,
      added_rows_count: rows(1),
      existing_rows_count: rows(0),
      deleted_rows_count: rows(2),
      partitions: fieldSummaries(
        live.map((e) => e.data_file),
        m.fields,
        types,
      ),
      key_metadata: null,
    },
  };
}

export function manifestListFile(
  manifests: readonly ManifestFileRecord[],
  snapshotId: number,
  parentId: number | undefined,
  sequenceNumber: number,
): Promise<Buffer> {
  return avroFile(MANIFEST_FILE_SCHEMA, manifests, {
    "snapshot-id": String(snapshotId),
    ...(parentId === undefined ? {} : { "parent-snapshot-id": String(parentId) }),
    "sequence-number": String(sequenceNumber),
    "format-version": "2",
  });
}

export const readManifestList = (bytes: Buffer) => readAvroFile<ManifestFileRecord>(bytes);
export const readManifest = (bytes: Buffer) => readAvroFile<ManifestEntryRecord>(bytes);
