/**
 * Which files compaction rewrites: the small files of closed partitions, grouped by partition
 * and folder (a sink with `{stream}/` in its prefix keeps each stream's files apart).
 *
 * Closed: for a spec with an hour or day term, the partition's time range ended more than the
 * grace period ago (events later than that are rare, and a late file only makes the partition
 * eligible again); for a spec of identity terms only, which never closes, a file is eligible
 * once it was committed more than the grace period ago. Small: under 75% of the target size (the
 * files compaction writes reach the target, so they are not rewritten again). A group needs two
 * small files: rewriting one file alone gains nothing.
 */
import { createHash } from "node:crypto";
import type { ManifestEntryRecord, ManifestFileRecord } from "./avro-files.ts";
import type { PartitionField } from "./partition-spec.ts";

export interface CompactionSettings {
  /** Size of the files compaction writes. @default 134217728 (128 MiB) */
  readonly targetFileBytes: number;
  /** How long after a partition's time range ends (or a file's commit) it is compacted. */
  readonly graceMs: number;
}

export const DEFAULT_TARGET_FILE_BYTES = 128 * 1024 * 1024;
export const DEFAULT_GRACE_MINUTES = 60;

/** A live data file of the current snapshot, with where it sits and its resolved sequence numbers. */
export interface LiveFile {
  readonly entry: ManifestEntryRecord;
  readonly manifest: ManifestFileRecord;
  /** The data sequence number (an added entry's null inherits its manifest's). */
  readonly dataSequence: number;
  readonly fileSequence: number;
  /** When the snapshot that added it was committed; undefined once that snapshot expired. */
  readonly addedMs?: number;
}

export interface CompactionGroup {
  /** Deterministic over the inputs: the compaction's output keys are named after it. */
  readonly id: string;
  readonly folder: string;
  readonly partition: ManifestEntryRecord["data_file"]["partition"];
  /** In path order. */
  readonly files: readonly LiveFile[];
}

const UNIT_MS: Record<string, number> = { hour: 3_600_000, day: 86_400_000 };

/** Whether the partition `values` (under `fields`) is closed for `file` at `nowMs`. */
function closed(fields: readonly PartitionField[], file: LiveFile, graceMs: number, nowMs: number): boolean {
  const values = file.entry.data_file.partition;
  const time = fields.find((f) => UNIT_MS[f.transform] !== undefined);
  if (time) {
    const v = values[time.name];
    if (typeof v !== "number") return false;
    return (v + 1) * UNIT_MS[time.transform]! + graceMs <= nowMs;
  }
  return file.addedMs === undefined || file.addedMs + graceMs <= nowMs;
}

const folderOf = (path: string) => path.slice(0, path.lastIndexOf("/") + 1);

export function planCompaction(
  files: readonly LiveFile[],
  fields: readonly PartitionField[],
  settings: CompactionSettings,
  nowMs: number,
): CompactionGroup[] {
  const small = settings.targetFileBytes * 0.75;
  const groups = new Map<string, LiveFile[]>();
  for (const f of files) {
    if (f.entry.data_file.file_size_in_bytes >= small) continue;
    if (!closed(fields, f, settings.graceMs, nowMs)) continue;
    const key = JSON.stringify([f.entry.data_file.partition, folderOf(f.entry.data_file.file_path)]);
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  const out: CompactionGroup[] = [];
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const sorted = [...members].sort((a, b) =>
      a.entry.data_file.file_path < b.entry.data_file.file_path ? -1 : 1,
    );
    const id = createHash("sha256")
      .update(sorted.map((f) => f.entry.data_file.file_path).join("\n"))
      .digest("hex")
      .slice(0, 16);
    out.push({
      id,
      folder: folderOf(sorted[0]!.entry.data_file.file_path),
      partition: sorted[0]!.entry.data_file.partition,
      files: sorted,
    });
  }
  return out.sort((a, b) => (a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : a.id < b.id ? -1 : 1));
}

/** The name prefix of a sink's compaction outputs (orphan removal knows them by it). */
export const compactedPrefix = (sink: string) => `compact-${sink}-`;

/** The key of output `n` of `group`: the same inputs always give the same keys. */
export function compactedKey(folderKey: string, sink: string, group: CompactionGroup, n: number): string {
  return `${folderKey}${compactedPrefix(sink)}${group.id}-${n}.parquet`;
}
