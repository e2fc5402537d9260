/**
 * Table metadata JSON, format version 2 (spec "Table Metadata" and Appendix C), as plain values
 * and pure transitions: a new table, a schema change, a new snapshot, snapshot expiry.
 */
import type { PartitionField } from "./partition-spec.ts";
import { highestFieldId, type IcebergField, type IcebergSchema } from "./schema.ts";

export interface SortField {
  readonly transform: "identity";
  readonly "source-id": number;
  readonly direction: "asc" | "desc";
  readonly "null-order": "nulls-first" | "nulls-last";
}

export interface Snapshot {
  readonly "snapshot-id": number;
  readonly "parent-snapshot-id"?: number;
  readonly "sequence-number": number;
  readonly "timestamp-ms": number;
  readonly "manifest-list": string;
  readonly summary: Readonly<Record<string, string>> & { readonly operation: string };
  readonly "schema-id": number;
}

export interface TableMetadata {
  readonly "format-version": 2;
  readonly "table-uuid": string;
  readonly location: string;
  readonly "last-sequence-number": number;
  readonly "last-updated-ms": number;
  readonly "last-column-id": number;
  readonly schemas: readonly IcebergSchema[];
  readonly "current-schema-id": number;
  readonly "partition-specs": readonly {
    readonly "spec-id": number;
    readonly fields: readonly PartitionField[];
  }[];
  readonly "default-spec-id": number;
  readonly "last-partition-id": number;
  readonly properties: Readonly<Record<string, string>>;
  readonly "current-snapshot-id": number;
  readonly snapshots: readonly Snapshot[];
  readonly "snapshot-log": readonly { readonly "timestamp-ms": number; readonly "snapshot-id": number }[];
  readonly "metadata-log": readonly { readonly "timestamp-ms": number; readonly "metadata-file": string }[];
  readonly "sort-orders": readonly { readonly "order-id": number; readonly fields: readonly SortField[] }[];
  readonly "default-sort-order-id": number;
  readonly refs: Readonly<
    Record<string, { readonly "snapshot-id": number; readonly type: "branch" | "tag" }>
  >;
}

export interface NewTable {
  readonly uuid: string;
  readonly location: string;
  readonly fields: readonly IcebergField[];
  readonly partition: readonly PartitionField[];
  readonly sort: readonly SortField[];
  readonly nowMs: number;
}

export function newTableMetadata(t: NewTable): TableMetadata {
  return {
    "format-version": 2,
    "table-uuid": t.uuid,
    location: t.location,
    "last-sequence-number": 0,
    "last-updated-ms": t.nowMs,
    "last-column-id": highestFieldId(t.fields),
    schemas: [{ type: "struct", "schema-id": 0, fields: t.fields }],
    "current-schema-id": 0,
    "partition-specs": [{ "spec-id": 0, fields: t.partition }],
    "default-spec-id": 0,
    "last-partition-id": t.partition.reduce((m, f) => Math.max(m, f["field-id"]), 999),
    properties: { "write.format.default": "parquet", "write.parquet.compression-codec": "zstd" },
    "current-snapshot-id": -1,
    snapshots: [],
    "snapshot-log": [],
    "metadata-log": [],
    "sort-orders":
      t.sort.length === 0
        ? [{ "order-id": 0, fields: [] }]
        : [
            { "order-id": 0, fields: [] },
            { "order-id": 1, fields: t.sort },
          ],
    "default-sort-order-id": t.sort.length === 0 ? 0 : 1,
    refs: {},
  };
}

export function currentSchema(md: TableMetadata): IcebergSchema {
  const s = md.schemas.find((x) => x["schema-id"] === md["current-schema-id"]);
  if (!s) throw new Error(`table metadata has no schema ${md["current-schema-id"]}`);
  return s;
}

export function currentSnapshot(md: TableMetadata): Snapshot | undefined {
  return md.snapshots.find((s) => s["snapshot-id"] === md["current-snapshot-id"]);
}

/** The table with `fields` as its current schema: the same table when nothing changed. */
export function withSchema(md: TableMetadata, fields: readonly IcebergField[]): TableMetadata {
  if (JSON.stringify(currentSchema(md).fields) === JSON.stringify(fields)) return md;
  const same = md.schemas.find((s) => JSON.stringify(s.fields) === JSON.stringify(fields));
  const id = same?.["schema-id"] ?? Math.max(...md.schemas.map((s) => s["schema-id"])) + 1;
  return {
    ...md,
    schemas: same ? md.schemas : [...md.schemas, { type: "struct", "schema-id": id, fields }],
    "current-schema-id": id,
    "last-column-id": Math.max(md["last-column-id"], highestFieldId(fields)),
  };
}

/** The table after committing `snapshot`; `previousLocation` joins the metadata log. */
export function withSnapshot(
  md: TableMetadata,
  snapshot: Snapshot,
  previousLocation: string | undefined,
  nowMs: number,
): TableMetadata {
  return {
    ...md,
    "last-sequence-number": snapshot["sequence-number"],
    "last-updated-ms": nowMs,
    "current-snapshot-id": snapshot["snapshot-id"],
    snapshots: [...md.snapshots, snapshot],
    "snapshot-log": [
      ...md["snapshot-log"],
      { "timestamp-ms": snapshot["timestamp-ms"], "snapshot-id": snapshot["snapshot-id"] },
    ],
    "metadata-log": previousLocation
      ? [...md["metadata-log"], { "timestamp-ms": md["last-updated-ms"], "metadata-file": previousLocation }]
      : md["metadata-log"],
    refs: { ...md.refs, main: { "snapshot-id": snapshot["snapshot-id"], type: "branch" } },
  };
}

/** Summary key holding the last sequence number committed from one pipeline's shard. */
export const PROGRESS_PREFIX = "sluice.committed.";
export const progressKey = (pipeline: string, shard: string) => `${PROGRESS_PREFIX}${pipeline}/${shard}`;

/** Per `pipeline/shard`, the last sequence number the current snapshot holds. */
export function committedProgress(md: TableMetadata): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(currentSnapshot(md)?.summary ?? {})) {
    if (k.startsWith(PROGRESS_PREFIX)) out.set(k.slice(PROGRESS_PREFIX.length), v);
  }
  return out;
}

/** The summary's progress entries, carried into a snapshot that commits no new batches. */
export function progressEntries(md: TableMetadata): Record<string, string> {
  return Object.fromEntries([...committedProgress(md)].map(([k, v]) => [`${PROGRESS_PREFIX}${k}`, v]));
}
