/**
 * Manifests and manifest lists as the Iceberg table spec v2 defines them (sections "Manifests"
 * and "Manifest Lists", Appendix A "Avro"): Avro object container files written with avsc, every
 * field with its Iceberg field id, optional fields as unions with null defaulting to null, maps
 * with int keys as arrays of key/value records with the `map` logical type.
 */
import avro from "avsc";
import type { PartitionField } from "./partition-spec.ts";
import type { IcebergSchema } from "./schema.ts";

type AvroSchema = Record<string, unknown>;

const optional = (name: string, id: number, type: unknown) => ({
  name,
  type: ["null", type],
  default: null,
  "field-id": id,
});
const required = (name: string, id: number, type: unknown) => ({ name, type, "field-id": id });
const intMap = (keyId: number, valueId: number, value: "long" | "bytes") => ({
  type: "array",
  logicalType: "map",
  items: {
    type: "record",
    name: `k${keyId}_v${valueId}`,
    fields: [required("key", keyId, "int"), required("value", valueId, value)],
  },
});

/** The Avro type of a partition field's value (the transform's result type). */
export type PartitionValueType = "int" | "date" | "long" | "string" | "double" | "boolean";

export function partitionAvroType(t: PartitionValueType): unknown {
  return t === "date" ? { type: "int", logicalType: "date" } : t;
}

export function manifestEntrySchema(
  fields: readonly PartitionField[],
  types: readonly PartitionValueType[],
): AvroSchema {
  return {
    type: "record",
    name: "manifest_entry",
    fields: [
      required("status", 0, "int"),
      optional("snapshot_id", 1, "long"),
      optional("sequence_number", 3, "long"),
      optional("file_sequence_number", 4, "long"),
      required("data_file", 2, {
        type: "record",
        name: "r2",
        fields: [
          required("content", 134, "int"),
          required("file_path", 100, "string"),
          required("file_format", 101, "string"),
          required("partition", 102, {
            type: "record",
            name: "r102",
            fields: fields.map((f, i) => optional(f.name, f["field-id"], partitionAvroType(types[i]!))),
          }),
          required("record_count", 103, "long"),
          required("file_size_in_bytes", 104, "long"),
          optional("column_sizes", 108, intMap(117, 118, "long")),
          optional("value_counts", 109, intMap(119, 120, "long")),
          optional("null_value_counts", 110, intMap(121, 122, "long")),
          optional("nan_value_counts", 137, intMap(138, 139, "long")),
          optional("lower_bounds", 125, intMap(126, 127, "bytes")),
          optional("upper_bounds", 128, intMap(129, 130, "bytes")),
          optional("key_metadata", 131, "bytes"),
          optional("split_offsets", 132, { type: "array", items: "long", "element-id": 133 }),
          optional("equality_ids", 135, { type: "array", items: "int", "element-id": 136 }),
          optional("sort_order_id", 140, "int"),
        ],
      }),
    ],
  };
}

export const MANIFEST_FILE_SCHEMA: AvroSchema = {
  type: "record",
  name: "manifest_file",
  fields: [
    required("manifest_path", 500, "string"),
    required("manifest_length", 501, "long"),
    required("partition_spec_id", 502, "int"),
    required("content", 517, "int"),
    required("sequence_number", 515, "long"),
    required("min_sequence_number", 516, "long"),
    required("added_snapshot_id", 503, "long"),
    required("added_files_count", 504, "int"),
    required("existing_files_count", 505, "int"),
    required("deleted_files_count", 506, "int"),
    required("added_rows_count", 512, "long"),
    required("existing_rows_count", 513, "long"),
    required("deleted_rows_count", 514, "long"),
    optional("partitions", 507, {
      type: "array",
      "element-id": 508,
      items: {
        type: "record",
        name: "r508",
        fields: [
          required("contains_null", 509, "boolean"),
          optional("contains_nan", 518, "boolean"),
          optional("lower_bound", 510, "bytes"),
          optional("upper_bound", 511, "bytes"),
        ],
      },
    }),
    optional("key_metadata", 519, "bytes"),
  ],
};

export type IntMap<V> = { key: number; value: V }[];

export interface DataFileRecord {
  content: 0;
  file_path: string;
  file_format: "PARQUET";
  partition: Record<string, number | string | boolean | null>;
  record_count: number;
  file_size_in_bytes: number;
  column_sizes: IntMap<number> | null;
  value_counts: IntMap<number> | null;
  null_value_counts: IntMap<number> | null;
  nan_value_counts: IntMap<number> | null;
  lower_bounds: IntMap<Buffer> | null;
  upper_bounds: IntMap<Buffer> | null;
  key_metadata: null;
  split_offsets: number[] | null;
  equality_ids: null;
  sort_order_id: number | null;
}

export interface ManifestEntryRecord {
  /** 0 existing, 1 added, 2 deleted. */
  status: 0 | 1 | 2;
  snapshot_id: number | null;
  sequence_number: number | null;
  file_sequence_number: number | null;
  data_file: DataFileRecord;
}

export interface FieldSummaryRecord {
  contains_null: boolean;
  contains_nan: boolean | null;
  lower_bound: Buffer | null;
  upper_bound: Buffer | null;
}

export interface ManifestFileRecord {
  manifest_path: string;
  manifest_length: number;
  partition_spec_id: number;
  content: 0;
  sequence_number: number;
  min_sequence_number: number;
  added_snapshot_id: number;
  added_files_count: number;
  existing_files_count: number;
  deleted_files_count: number;
  added_rows_count: number;
  existing_rows_count: number;
  deleted_rows_count: number;
  partitions: FieldSummaryRecord[] | null;
  key_metadata: null;
}

/** One Avro object container file (null codec) holding `records`, with `metadata` in its header. */
export function avroFile(schema: AvroSchema, records: readonly unknown[], metadata: Record<string, string>) {
  // avsc takes header metadata though its typings omit it.
  const options = {
    // Uncompressed: manifests are small, and every reader takes the null codec (icebird's
    // inflate overflowed its stack on some deflate blocks here).
    codec: "null",
    metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v)])),
  } as unknown as ConstructorParameters<typeof avro.streams.BlockEncoder>[1];
  const encoder = new avro.streams.BlockEncoder(schema as unknown as avro.Schema, options);
  const chunks: Buffer[] = [];
  return new Promise<Buffer>((resolve, reject) => {
    encoder.on("data", (c: Buffer) => chunks.push(c));
    encoder.on("end", () => resolve(Buffer.concat(chunks)));
    encoder.on("error", reject);
    encoder.on("typeError", (err: Error) => reject(err));
    for (const r of records) encoder.write(r);
    encoder.end();
  });
}

/** Reads an Avro container file back (the committer carries a snapshot's manifests forward). */
export function readAvroFile<T>(bytes: Buffer): Promise<T[]> {
  const decoder = new avro.streams.BlockDecoder();
  const out: T[] = [];
  return new Promise<T[]>((resolve, reject) => {
    decoder.on("data", (r: T) => out.push(r));
    decoder.on("end", () => resolve(out));
    decoder.on("error", reject);
    decoder.end(bytes);
  });
}

export function manifestMetadata(schema: IcebergSchema, specId: number, fields: readonly PartitionField[]) {
  return {
    schema: JSON.stringify(schema),
    "schema-id": String(schema["schema-id"]),
    "partition-spec": JSON.stringify(fields),
    "partition-spec-id": String(specId),
    "format-version": "2",
    content: "data",
  };
}
