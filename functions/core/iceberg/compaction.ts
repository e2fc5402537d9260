/**
 * Compaction of an Iceberg sink's table: the small files of closed partitions (compaction-plan.ts)
 * rewritten into target-size files (compaction-rewrite.ts) and swapped in by one `replace`
 * snapshot. Its manifests mark each replaced file DELETED (keeping its data and file sequence
 * numbers, as the spec requires of a deleted entry) and carry the other files of the manifests
 * it touches as EXISTING; the new files are ADDED and inherit the snapshot's sequence number.
 *
 * The swap is the committer's: Glue UpdateTable on the VersionId read with the metadata. When an
 * append wins the race, compaction reads the new snapshot and builds its replace on top (the
 * appended manifests are carried as they are), so no appended file is lost; it gives up only if
 * one of its inputs is no longer live (another compaction replaced it), and then deletes its own
 * unreferenced outputs. Replaced files stay in S3: older snapshots still list them (time travel)
 * until expiry drops those snapshots and deletes what only they reached. Output keys are named
 * after the inputs, so a compaction re-run after a crash rewrites the same keys; outputs of a run
 * whose inputs changed are orphans, which orphan removal deletes.
 */
import { randomUUID } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import type { BackoffPolicy } from "../backoff.ts";
import { deleteObjects } from "../delivery/object-writer.ts";
import { failpoint } from "../failpoints.ts";
import type { ManifestEntryRecord, ManifestFileRecord } from "./avro-files.ts";
import { metadataFileUrl } from "./committer.ts";
import {
  type CompactionGroup,
  type CompactionSettings,
  type LiveFile,
  planCompaction,
} from "./compaction-plan.ts";
import { type RewriteDeps, rewriteGroup } from "./compaction-rewrite.ts";
import {
  currentSchema,
  currentSnapshot,
  progressEntries,
  type Snapshot,
  type TableMetadata,
  withSnapshot,
} from "./metadata.ts";
import type { PendingFile } from "./pending-files.ts";
import {
  dataFileRecord,
  manifestFile,
  manifestListFile,
  readManifest,
  readManifestList,
} from "./snapshot-files.ts";
import { ConcurrentCommit, type LoadedTable, s3Url, type TableStore } from "./table-store.ts";

/** Snapshot summary key: records compaction dropped because their id was already in the group. */
export const DROPPED_DUPLICATES = "sluice.compaction.dropped-duplicates";

export interface CompactionDeps {
  readonly store: TableStore;
  readonly s3: S3Client;
  readonly retry: BackoffPolicy;
  readonly rewrite: Omit<RewriteDeps, "s3" | "bucket" | "kmsKeyId" | "retry" | "targetFileBytes">;
  readonly settings: CompactionSettings;
  readonly now?: () => number;
  /** @default 10 */
  readonly maxAttempts?: number;
}

export interface CompactionResult {
  readonly status: "compacted" | "unchanged" | "conflict";
  readonly snapshotId?: number;
  readonly partitions: number;
  readonly filesReplaced: number;
  readonly filesAdded: number;
  readonly recordsIn: number;
  readonly records: number;
  readonly droppedDuplicates: number;
  readonly attempts: number;
  readonly outputs: readonly string[];
}

const UNCHANGED: CompactionResult = {
  status: "unchanged",
  partitions: 0,
  filesReplaced: 0,
  filesAdded: 0,
  recordsIn: 0,
  records: 0,
  droppedDuplicates: 0,
  attempts: 1,
  outputs: [],
};

const snapshotIdOf = () => Math.floor(Math.random() * 2 ** 52) + 1;

/** The live files of a snapshot with their manifests and resolved sequence numbers. */
export async function liveFiles(
  store: TableStore,
  md: TableMetadata,
  snapshot: Snapshot,
): Promise<LiveFile[]> {
  const added = new Map(md.snapshots.map((s) => [s["snapshot-id"], s["timestamp-ms"]]));
  const out: LiveFile[] = [];
  for (const manifest of await readManifestList(await store.read(snapshot["manifest-list"]))) {
    for (const entry of await readManifest(await store.read(manifest.manifest_path))) {
      if (entry.status === 2) continue;
      const dataSequence = entry.sequence_number ?? manifest.sequence_number;
      const addedMs = entry.snapshot_id === null ? undefined : added.get(entry.snapshot_id);
      out.push({
        entry,
        manifest,
        dataSequence,
        fileSequence: entry.file_sequence_number ?? dataSequence,
        ...(addedMs === undefined ? {} : { addedMs }),
      });
    }
  }
  return out;
}

interface Rewritten {
  readonly group: CompactionGroup;
  readonly outputs: readonly PendingFile[];
  readonly recordsIn: number;
  readonly droppedDuplicates: number;
}

export async function compactTable(deps: CompactionDeps): Promise<CompactionResult> {
  const now = deps.now ?? Date.now;
  const where = deps.store.where;
  let loaded = await deps.store.load();
  const md0 = loaded.metadata;
  const snap0 = md0 && currentSnapshot(md0);
  if (!md0 || !snap0) return UNCHANGED;
  const spec0 = md0["partition-specs"].find((s) => s["spec-id"] === md0["default-spec-id"])!;
  const groups = planCompaction(await liveFiles(deps.store, md0, snap0), spec0.fields, deps.settings, now());
  if (groups.length === 0) return UNCHANGED;

  const rewritten: Rewritten[] = [];
  for (const group of groups) {
    const r = await rewriteGroup(
      {
        ...deps.rewrite,
        s3: deps.s3,
        bucket: where.bucket,
        kmsKeyId: where.kmsKeyId,
        retry: deps.retry,
        targetFileBytes: deps.settings.targetFileBytes,
      },
      group,
    );
    rewritten.push({ group, ...r });
  }
  const outputs = rewritten.flatMap((r) => r.outputs);
  const outputUrls = outputs.map((o) => s3Url(where.bucket, o.key));
  // New files written, table not swapped: a re-run rewrites the same keys; a run over other
  // inputs leaves these unreferenced, for orphan removal.
  failpoint("compact.before-commit");

  const replaced = new Set(rewritten.flatMap((r) => r.group.files.map((f) => f.entry.data_file.file_path)));
  for (let attempt = 1; ; attempt++) {
    const md = loaded.metadata!;
    const snapshot = currentSnapshot(md)!;
    const live = await liveFiles(deps.store, md, snapshot);
    const livePaths = new Set(live.map((f) => f.entry.data_file.file_path));
    if ([...replaced].some((p) => !livePaths.has(p))) {
      // Another compaction (or an operator) replaced some inputs first: this run's files are unused.
      await deleteUnreferenced(deps, outputUrls);
      return { ...UNCHANGED, status: "conflict", attempts: attempt };
    }
    const snapshotId = snapshotIdOf();
    const next = await writeReplace(deps, loaded, live, replaced, rewritten, snapshotId, now());
    const location = metadataFileUrl(next);
    await deps.store.write(location, Buffer.from(JSON.stringify(next)), "application/json");
    try {
      await deps.store.swap(loaded, location, [...(loaded.glue.StorageDescriptor?.Columns ?? [])]);
    } catch (err) {
      if (!(err instanceof ConcurrentCommit) || attempt >= (deps.maxAttempts ?? 10)) throw err;
      loaded = await deps.store.load();
      continue;
    }
    // Swapped: the maintenance run's cleanup (expiry, orphan removal) has not run yet. A crash
    // here leaves a compacted table; the re-run finds nothing left to compact.
    failpoint("compact.after-commit");
    return {
      status: "compacted",
      snapshotId,
      partitions: new Set(rewritten.map((r) => JSON.stringify(r.group.partition))).size,
      filesReplaced: replaced.size,
      filesAdded: outputs.length,
      recordsIn: rewritten.reduce((n, r) => n + r.recordsIn, 0),
      records: outputs.reduce((n, o) => n + o.records, 0),
      droppedDuplicates: rewritten.reduce((n, r) => n + r.droppedDuplicates, 0),
      attempts: attempt,
      outputs: outputUrls,
    };
  }
}

/** Writes the manifests, manifest list and returns the table with the `replace` snapshot. */
async function writeReplace(
  deps: CompactionDeps,
  loaded: LoadedTable,
  live: readonly LiveFile[],
  replaced: ReadonlySet<string>,
  rewritten: readonly Rewritten[],
  snapshotId: number,
  nowMs: number,
): Promise<TableMetadata> {
  const md = loaded.metadata!;
  const parent = currentSnapshot(md)!;
  const where = deps.store.where;
  const schema = currentSchema(md);
  const spec = md["partition-specs"].find((s) => s["spec-id"] === md["default-spec-id"])!;
  const sequenceNumber = md["last-sequence-number"] + 1;
  const id = randomUUID();
  const manifests: ManifestFileRecord[] = [];
  const write = async (n: number, entries: ManifestEntryRecord[], specId: number) => {
    const url = `${md.location}/metadata/${id}-m${n}.avro`;
    const m = await manifestFile({
      url,
      schema,
      specId,
      fields: spec.fields,
      snapshotId,
      sequenceNumber,
      entries,
    });
    await deps.store.write(url, m.bytes, "application/avro");
    manifests.push(m.record);
  };
  const outputs = rewritten.flatMap((r) => r.outputs);
  await write(
    0,
    outputs.map((f) => ({
      status: 1,
      snapshot_id: snapshotId,
      sequence_number: null,
      file_sequence_number: null,
      data_file: dataFileRecord(where.bucket, f, spec.fields, md["default-sort-order-id"]),
    })),
    spec["spec-id"],
  );
  // Manifests holding a replaced file are rewritten: DELETED for it, EXISTING for the others.
  const byManifest = new Map<string, LiveFile[]>();
  for (const f of live)
    byManifest.set(f.manifest.manifest_path, [...(byManifest.get(f.manifest.manifest_path) ?? []), f]);
  const list = await readManifestList(await deps.store.read(parent["manifest-list"]));
  let n = 1;
  for (const m of list) {
    const files = byManifest.get(m.manifest_path) ?? [];
    if (!files.some((f) => replaced.has(f.entry.data_file.file_path))) {
      // Untouched; a manifest with no live file left (only earlier deletes) is dropped.
      if (m.added_files_count + m.existing_files_count > 0) manifests.push(m);
      continue;
    }
    const entries: ManifestEntryRecord[] = files.map((f) => {
      const gone = replaced.has(f.entry.data_file.file_path);
      return {
        status: gone ? 2 : 0,
        snapshot_id: gone ? snapshotId : f.entry.snapshot_id,
        sequence_number: f.dataSequence,
        file_sequence_number: f.fileSequence,
        data_file: f.entry.data_file,
      };
    });
    await write(n++, entries, m.partition_spec_id);
  }
  const listUrl = `${md.location}/metadata/snap-${snapshotId}-1-${id}.avro`;
  await deps.store.write(
    listUrl,
    await manifestListFile(manifests, snapshotId, parent["snapshot-id"], sequenceNumber),
    "application/avro",
  );
  const gone = live.filter((f) => replaced.has(f.entry.data_file.file_path));
  const sum = (xs: readonly { readonly n: number }[]) => xs.reduce((k, x) => k + x.n, 0);
  const deleted = {
    files: gone.length,
    records: sum(gone.map((f) => ({ n: f.entry.data_file.record_count }))),
    bytes: sum(gone.map((f) => ({ n: f.entry.data_file.file_size_in_bytes }))),
  };
  const added = {
    files: outputs.length,
    records: sum(outputs.map((o) => ({ n: o.records }))),
    bytes: sum(outputs.map((o) => ({ n: o.size }))),
  };
  const prev = parent.summary;
  const total = (k: string, delta: number) => String(Number(prev[k] ?? 0) + delta);
  const snapshot: Snapshot = {
    "snapshot-id": snapshotId,
    "parent-snapshot-id": parent["snapshot-id"],
    "sequence-number": sequenceNumber,
    "timestamp-ms": nowMs,
    "manifest-list": listUrl,
    "schema-id": schema["schema-id"],
    summary: {
      operation: "replace",
      "added-data-files": String(added.files),
      "deleted-data-files": String(deleted.files),
      "added-records": String(added.records),
      "deleted-records": String(deleted.records),
      "added-files-size": String(added.bytes),
      "removed-files-size": String(deleted.bytes),
      "total-data-files": total("total-data-files", added.files - deleted.files),
      "total-records": total("total-records", added.records - deleted.records),
      "total-files-size": total("total-files-size", added.bytes - deleted.bytes),
      "total-delete-files": "0",
      "total-position-deletes": "0",
      "total-equality-deletes": "0",
      [DROPPED_DUPLICATES]: String(rewritten.reduce((k, r) => k + r.droppedDuplicates, 0)),
      // The appends' per-shard progress stays with the current snapshot, where the committer reads it.
      ...progressEntries(md),
    },
  };
  return withSnapshot(md, snapshot, loaded.metadataLocation, nowMs);
}

/** Deletes those of `urls` that no snapshot of the table references. */
async function deleteUnreferenced(deps: CompactionDeps, urls: readonly string[]): Promise<void> {
  const md = (await deps.store.load()).metadata;
  const referenced = new Set<string>();
  for (const s of md?.snapshots ?? []) {
    for (const f of await liveFiles(deps.store, md!, s)) referenced.add(f.entry.data_file.file_path);
  }
  const { bucket, kmsKeyId } = deps.store.where;
  const keys = urls.filter((u) => !referenced.has(u)).map((u) => u.slice(`s3://${bucket}/`.length));
  await deleteObjects(keys, { s3: deps.s3, bucket, kmsKeyId, retry: deps.retry });
}
