/**
 * The data files of a stream whose lake is an Iceberg table, from the table's snapshot (its
 * manifests, not a listing): a compaction's output is read and the files it replaced are not,
 * whether or not an expiry has deleted them yet. A query's cursor keeps the snapshot id of its
 * first page, so later pages read the same files however many commits land meanwhile. The
 * snapshot also carries, per shard, the last sequence number the table holds of the lake's
 * pipeline (its summary's progress): the tail follows Kinesis from there, with no gap.
 */
import { SluiceError } from "../errors.ts";
import { tableFiles } from "../iceberg/maintenance.ts";
import { committedProgress, currentSchema } from "../iceberg/metadata.ts";
import { keyOfUrl, type TableStore } from "../iceberg/table-store.ts";
import type { DataFile, DataFileSource, LakeSnapshot, TimeRange } from "./types.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const SNAPSHOT = "iceberg";

export interface IcebergFilesOptions {
  readonly store: TableStore;
  /** The lake's pipeline, whose shards' progress the snapshot carries. */
  readonly pipeline: string;
  readonly bucket: string;
  /** The fixed head of the stream's keys (the sink template up to its first per-record value). */
  readonly keyPrefix: string;
  /** Fields whose hour() or day() partition is the record's event time. */
  readonly eventTimeFields: readonly string[];
}

export class IcebergTableFiles implements DataFileSource {
  // One per read: its snapshot() and files() share one Glue GetTable and metadata GET.
  private loaded?: ReturnType<TableStore["load"]>;

  constructor(private readonly o: IcebergFilesOptions) {}

  private load(): ReturnType<TableStore["load"]> {
    this.loaded ??= this.o.store.load();
    return this.loaded;
  }

  async snapshot(): Promise<LakeSnapshot> {
    const { metadata } = await this.load();
    const shards: Record<string, string> = {};
    if (metadata) {
      for (const [key, seq] of committedProgress(metadata)) {
        const [pipeline, shard] = [key.slice(0, key.lastIndexOf("/")), key.slice(key.lastIndexOf("/") + 1)];
        if (pipeline === this.o.pipeline) shards[shard] = seq;
      }
    }
    return { ...shards, [SNAPSHOT]: String(metadata?.["current-snapshot-id"] ?? -1) };
  }

  async files(range: TimeRange | undefined, snapshot: LakeSnapshot): Promise<DataFile[]> {
    const id = Number(snapshot[SNAPSHOT] ?? -1);
    if (id === -1) return [];
    const { metadata } = await this.load();
    if (!metadata?.snapshots.some((s) => s["snapshot-id"] === id)) {
      throw new SluiceError(
        "CURSOR_EXPIRED",
        "the table snapshot this cursor reads has expired: start the query again without a cursor",
        410,
        "/cursor",
      );
    }
    const names = new Map(currentSchema(metadata).fields.map((f) => [f.id, f.name]));
    const spec = metadata["partition-specs"].find((s) => s["spec-id"] === metadata["default-spec-id"]);
    // The partition field that places a file in an event-time bucket, if the spec has one.
    const timeField = spec?.fields.find(
      (f) =>
        (f.transform === "hour" || f.transform === "day") &&
        this.o.eventTimeFields.includes(names.get(f["source-id"]) ?? ""),
    );
    const width = timeField?.transform === "hour" ? HOUR_MS : DAY_MS;
    const out: DataFile[] = [];
    for (const f of await tableFiles(this.o.store, metadata, id)) {
      const key = keyOfUrl(f.path, this.o.bucket);
      if (!key.startsWith(this.o.keyPrefix)) continue;
      const value = timeField === undefined ? undefined : f.partition[timeField.name];
      // hour() is hours since the epoch, day() days (a date): both integers here.
      const bucket =
        typeof value === "number" ? { fromMs: value * width, toMs: (value + 1) * width } : undefined;
      if (range && bucket && (bucket.toMs <= range.fromMs || bucket.fromMs >= range.toMs)) continue;
      out.push({ key, size: f.size, ...(bucket ? { bucket } : {}) });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
