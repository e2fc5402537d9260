/**
 * Table maintenance over plain metadata: listing snapshots and their files, snapshot expiry and
 * orphan file removal (compaction is in compaction.ts). Expiry swaps the Glue table like a commit (VersionId; a lost race starts
 * again) and only then deletes what no kept snapshot reaches, so a file is never both referenced
 * and deleted. Orphans are files under the table's data and metadata folders that nothing
 * references (not the current metadata, its log, any snapshot, nor a pending batch) and that are
 * older than a grace period: a batcher writes its files before the checkpoint commit that records
 * them, so a young unreferenced file may be about to be recorded.
 */
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { type BackoffPolicy, isTransient, withRetries } from "../backoff.ts";
import { deleteObjects } from "../delivery/object-writer.ts";
import { metadataFileUrl } from "./committer.ts";
import { compactedPrefix } from "./compaction-plan.ts";
import type { Snapshot, TableMetadata } from "./metadata.ts";
import type { PendingFiles } from "./pending-files.ts";
import { readManifest, readManifestList } from "./snapshot-files.ts";
import { ConcurrentCommit, keyOfUrl, type LoadedTable, type TableStore } from "./table-store.ts";

export interface SnapshotInfo {
  readonly id: number;
  readonly parent?: number;
  readonly timestampMs: number;
  readonly operation: string;
  readonly totalRecords: number;
  readonly totalFiles: number;
  readonly current: boolean;
}

export function snapshotInfos(md: TableMetadata): SnapshotInfo[] {
  return md.snapshots.map((s) => ({
    id: s["snapshot-id"],
    ...(s["parent-snapshot-id"] === undefined ? {} : { parent: s["parent-snapshot-id"] }),
    timestampMs: s["timestamp-ms"],
    operation: s.summary.operation,
    totalRecords: Number(s.summary["total-records"] ?? 0),
    totalFiles: Number(s.summary["total-data-files"] ?? 0),
    current: s["snapshot-id"] === md["current-snapshot-id"],
  }));
}

export interface DataFileInfo {
  readonly path: string;
  readonly records: number;
  readonly size: number;
  readonly partition: Readonly<Record<string, unknown>>;
}

/** Every object a snapshot reaches: its manifest list, manifests and live data files. */
export interface SnapshotReach {
  readonly manifestList: string;
  readonly manifests: readonly string[];
  readonly dataFiles: readonly DataFileInfo[];
}

export async function snapshotReach(store: TableStore, snapshot: Snapshot): Promise<SnapshotReach> {
  const list = await readManifestList(await store.read(snapshot["manifest-list"]));
  const dataFiles: DataFileInfo[] = [];
  for (const m of list) {
    for (const e of await readManifest(await store.read(m.manifest_path))) {
      if (e.status === 2) continue;
      dataFiles.push({
        path: e.data_file.file_path,
        records: Number(e.data_file.record_count),
        size: Number(e.data_file.file_size_in_bytes),
        partition: e.data_file.partition,
      });
    }
  }
  return { manifestList: snapshot["manifest-list"], manifests: list.map((m) => m.manifest_path), dataFiles };
}

/** The live data files of a snapshot (the current one when `snapshotId` is absent). */
export async function tableFiles(
  store: TableStore,
  md: TableMetadata,
  snapshotId?: number,
): Promise<DataFileInfo[]> {
  const id = snapshotId ?? md["current-snapshot-id"];
  if (id === -1) return [];
  const snapshot = md.snapshots.find((s) => s["snapshot-id"] === id);
  if (!snapshot) throw new Error(`table has no snapshot ${id}`);
  return [...(await snapshotReach(store, snapshot)).dataFiles];
}

export interface ExpireOptions {
  /** Snapshots older than this are expired... */
  readonly olderThanMs: number;
  /** ...except the newest `retainLast` (the current one always stays). @default 1 */
  readonly retainLast?: number;
  /** Compute, delete nothing. @default false */
  readonly dryRun?: boolean;
  readonly now?: () => number;
  /** @default 10 */
  readonly maxAttempts?: number;
}

export interface ExpireResult {
  readonly expired: readonly number[];
  /** Manifest lists, manifests and data files only expired snapshots reached, now deleted. */
  readonly deleted: readonly string[];
  readonly metadataLocation?: string;
}

/** The snapshots to expire: old enough, not among the newest `retainLast`, never the current. */
export function snapshotsToExpire(md: TableMetadata, o: ExpireOptions, nowMs: number): Snapshot[] {
  const newestFirst = [...md.snapshots].sort((a, b) => b["timestamp-ms"] - a["timestamp-ms"]);
  const keep = new Set(newestFirst.slice(0, Math.max(1, o.retainLast ?? 1)).map((s) => s["snapshot-id"]));
  keep.add(md["current-snapshot-id"]);
  for (const ref of Object.values(md.refs)) keep.add(ref["snapshot-id"]);
  return md.snapshots.filter((s) => !keep.has(s["snapshot-id"]) && s["timestamp-ms"] < nowMs - o.olderThanMs);
}

export async function expireSnapshots(
  store: TableStore,
  s3: S3Client,
  retry: BackoffPolicy,
  o: ExpireOptions,
): Promise<ExpireResult> {
  const now = o.now ?? Date.now;
  for (let attempt = 1; ; attempt++) {
    const loaded = await store.load();
    const md = loaded.metadata;
    if (!md) return { expired: [], deleted: [] };
    const expired = snapshotsToExpire(md, o, now());
    if (expired.length === 0) return { expired: [], deleted: [] };
    const gone = new Set(expired.map((s) => s["snapshot-id"]));
    const kept = md.snapshots.filter((s) => !gone.has(s["snapshot-id"]));
    const reached = async (snaps: readonly Snapshot[]) => {
      const out = new Set<string>();
      for (const s of snaps) {
        const r = await snapshotReach(store, s);
        out.add(r.manifestList);
        for (const m of r.manifests) out.add(m);
        for (const f of r.dataFiles) out.add(f.path);
      }
      return out;
    };
    const keptReach = await reached(kept);
    const candidates = [...(await reached(expired))].filter((u) => !keptReach.has(u));
    if (o.dryRun) return { expired: [...gone], deleted: candidates };
    const next: TableMetadata = {
      ...md,
      "last-updated-ms": now(),
      snapshots: kept,
      "snapshot-log": md["snapshot-log"].filter((e) => !gone.has(e["snapshot-id"])),
      "metadata-log": [
        ...md["metadata-log"],
        { "timestamp-ms": md["last-updated-ms"], "metadata-file": loaded.metadataLocation! },
      ],
    };
    const location = metadataFileUrl(next);
    await store.write(location, Buffer.from(JSON.stringify(next)), "application/json");
    try {
      await store.swap(loaded, location, [...(loaded.glue.StorageDescriptor?.Columns ?? [])]);
    } catch (err) {
      if (err instanceof ConcurrentCommit && attempt < (o.maxAttempts ?? 10)) continue;
      throw err;
    }
    await deleteUrls(s3, store, retry, candidates);
    return { expired: [...gone], deleted: candidates, metadataLocation: location };
  }
}

async function deleteUrls(s3: S3Client, store: TableStore, retry: BackoffPolicy, urls: readonly string[]) {
  const { bucket, kmsKeyId } = store.where;
  await deleteObjects(
    urls.map((u) => keyOfUrl(u, bucket)),
    { s3, bucket, kmsKeyId, retry },
  );
}

/** A data file of the table's pipelines (`{pipeline}-...`) or of its compaction (`compact-{sink}-...`). */
function isDataFile(key: string, pipelines: readonly string[], sink: string): boolean {
  if (!key.endsWith(".parquet") || key.startsWith("errors/") || key.startsWith("_iceberg/")) return false;
  const name = key.slice(key.lastIndexOf("/") + 1);
  return name.startsWith(compactedPrefix(sink)) || pipelines.some((p) => name.startsWith(`${p}-`));
}

export interface OrphanOptions {
  /** Key prefixes holding the table's data files (the sink's prefixes up to their first placeholder). */
  readonly dataPrefixes: readonly string[];
  /** Only data files these pipelines wrote (their names start `{pipeline}-`): a shared bucket's other files stay. */
  readonly pipelines: readonly string[];
  /** Unreferenced files younger than this stay. @default 24 h */
  readonly graceMs?: number;
  readonly dryRun?: boolean;
  readonly now?: () => number;
}

/** Files nothing references, old enough to remove; removed unless dryRun. */
export async function removeOrphans(
  store: TableStore,
  s3: S3Client,
  pending: PendingFiles,
  sink: string,
  retry: BackoffPolicy,
  o: OrphanOptions,
): Promise<{ orphans: readonly string[] }> {
  const loaded: LoadedTable = await store.load();
  const md = loaded.metadata;
  const { bucket } = store.where;
  const referenced = new Set<string>();
  if (md) {
    referenced.add(loaded.metadataLocation!);
    for (const e of md["metadata-log"]) referenced.add(e["metadata-file"]);
    for (const s of md.snapshots) {
      const r = await snapshotReach(store, s);
      referenced.add(r.manifestList);
      for (const m of r.manifests) referenced.add(m);
      for (const f of r.dataFiles) referenced.add(f.path);
    }
  }
  for (const b of await pending.list(sink))
    for (const f of b.files) referenced.add(`s3://${bucket}/${f.key}`);
  const cutoff = (o.now ?? Date.now)() - (o.graceMs ?? 86_400_000);
  const metadataPrefix = md ? `${keyOfUrl(md.location, bucket)}/metadata/` : undefined;
  const orphans: string[] = [];
  const prefixes = [
    ...o.dataPrefixes.map((p) => ({ p, data: true })),
    ...(metadataPrefix ? [{ p: metadataPrefix, data: false }] : []),
  ];
  for (const { p, data } of prefixes) {
    let token: string | undefined;
    do {
      const page = await withRetries(retry, isTransient, () =>
        s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p, ContinuationToken: token })),
      );
      for (const obj of page.Contents ?? []) {
        const key = obj.Key!;
        if (data && !isDataFile(key, o.pipelines, sink)) continue;
        if ((obj.LastModified?.getTime() ?? 0) >= cutoff) continue;
        if (!referenced.has(`s3://${bucket}/${key}`)) orphans.push(`s3://${bucket}/${key}`);
      }
      token = page.NextContinuationToken;
    } while (token);
  }
  // A commit may have referenced an orphan-looking file since the listing: check once more.
  const again = await store.load();
  if (again.versionId !== loaded.versionId) return removeOrphans(store, s3, pending, sink, retry, o);
  if (!o.dryRun) await deleteUrls(s3, store, retry, orphans);
  return { orphans };
}
