/**
 * The committer of one Iceberg sink: appends the files of every batch whose checkpoint commit
 * recorded them (pending-files.ts) in one snapshot, whose summary holds per pipeline and shard
 * the last sequence number committed. A batch at or below that number is already in the table,
 * so a repeated or duplicated commit is a no-op (the Iceberg Kafka Connect sink keeps its
 * offsets the same way). The swap is Glue UpdateTable on the VersionId read with the metadata; a
 * committer that loses the race reads the winner's snapshot and starts again, so two committers
 * never add a file twice.
 */
import { randomUUID } from "node:crypto";
import type { Column } from "@aws-sdk/client-glue";
import { compareSequence } from "../checkpoints.ts";
import { failpoint } from "../failpoints.ts";
import type { ManifestEntryRecord, ManifestFileRecord } from "./avro-files.ts";
import {
  committedProgress,
  currentSchema,
  currentSnapshot,
  newTableMetadata,
  PROGRESS_PREFIX,
  progressKey,
  type Snapshot,
  type SortField,
  type TableMetadata,
  withSchema,
  withSnapshot,
} from "./metadata.ts";
import { partitionFields, partitionTerms } from "./partition-spec.ts";
import type { PendingBatch, PendingFiles } from "./pending-files.ts";
import { fieldIdOfPath, type IcebergField, icebergFields, type RegisteredSchema } from "./schema.ts";
import { dataFileRecord, manifestFile, manifestListFile, readManifestList } from "./snapshot-files.ts";
import { ConcurrentCommit, type LoadedTable, type TableStore } from "./table-store.ts";

export interface IcebergSinkSpec {
  readonly name: string;
  readonly prefix: string;
  readonly partition?: readonly string[];
  readonly sortOrder?: readonly string[];
}

export interface CommitterDeps {
  readonly store: TableStore;
  readonly pending: PendingFiles;
  readonly sink: IcebergSinkSpec;
  /** Every registered version of the subjects the sink holds, newest first. */
  readonly schemas: () => Promise<readonly RegisteredSchema[]>;
  /** The Glue columns for those versions (what Athena lists before it reads the metadata). */
  readonly columns: (schemas: readonly RegisteredSchema[]) => Column[];
  /** @default 10 */
  readonly maxAttempts?: number;
  readonly now?: () => number;
}

export interface CommitResult {
  readonly status: "committed" | "created" | "evolved" | "unchanged";
  readonly snapshotId?: number;
  readonly files: number;
  readonly records: number;
  /** Commit attempts, 1 unless another committer won a race. */
  readonly attempts: number;
  readonly metadataLocation?: string;
}

/** The table's metadata folder; data files stay where the batcher wrote them. */
export const tableLocation = (bucket: string, table: string) => `s3://${bucket}/_iceberg/${table}`;

// Snapshot ids are longs; kept within 2^53 so JSON and Avro readers in JS keep them exact.
const snapshotIdOf = () => Math.floor(Math.random() * 2 ** 52) + 1;

function sortFields(sink: IcebergSinkSpec, fields: readonly IcebergField[]): SortField[] {
  return (sink.sortOrder ?? []).map((entry) => {
    const [path, dir] = entry.split(" ");
    const id = fieldIdOfPath(fields, path!);
    if (id === undefined) throw new Error(`sort field ${path} is not a column of the table`);
    return {
      transform: "identity",
      "source-id": id,
      direction: dir === "desc" ? "desc" : "asc",
      "null-order": dir === "desc" ? "nulls-last" : "nulls-first",
    };
  });
}

function isCommitted(b: PendingBatch, progress: ReadonlyMap<string, string>): boolean {
  const done = progress.get(`${b.pipeline}/${b.shard}`);
  return done !== undefined && compareSequence(b.lastSeq, done) <= 0;
}

interface Attempt {
  readonly result: CommitResult;
  /** Batches the table holds after this attempt: their pending items can go. */
  readonly settled: readonly PendingBatch[];
}

/** Where the metadata file of `md` goes: its version (the log's length + 1) and a fresh UUID. */
export const metadataFileUrl = (md: TableMetadata) =>
  `${md.location}/metadata/${String(md["metadata-log"].length + 1).padStart(5, "0")}-${randomUUID()}.metadata.json`;

export async function commitTable(deps: CommitterDeps): Promise<CommitResult> {
  const max = deps.maxAttempts ?? 10;
  for (let attempt = 1; ; attempt++) {
    const loaded = await deps.store.load();
    try {
      const { result, settled } = await commitOnce(deps, loaded, attempt);
      // After the swap, before the pending items go: a crash here leaves them for the next
      // commit, which finds them at or below the table's progress and only removes them.
      failpoint("commit.after-swap");
      await deps.pending.remove(deps.sink.name, settled);
      return result;
    } catch (err) {
      if (!(err instanceof ConcurrentCommit) || attempt >= max) throw err;
    }
  }
}

async function commitOnce(deps: CommitterDeps, loaded: LoadedTable, attempt: number): Promise<Attempt> {
  const now = deps.now ?? Date.now;
  const where = deps.store.where;
  const schemas = await deps.schemas();
  const fields = icebergFields(schemas);
  const base =
    loaded.metadata ??
    newTableMetadata({
      uuid: randomUUID(),
      location: tableLocation(where.bucket, where.table),
      fields,
      partition: partitionFields(partitionTerms(deps.sink), (p) => fieldIdOfPath(fields, p)),
      sort: sortFields(deps.sink, fields),
      nowMs: now(),
    });
  const evolved = withSchema(base, fields);
  const progress = committedProgress(evolved);
  const pending = await deps.pending.list(deps.sink.name);
  const fresh = pending.filter((b) => !isCommitted(b, progress));
  const settled = pending.filter((b) => isCommitted(b, progress));
  if (fresh.length === 0 && loaded.metadata !== undefined && evolved === loaded.metadata) {
    return { result: { status: "unchanged", files: 0, records: 0, attempts: attempt }, settled };
  }

  let next: TableMetadata;
  let snapshotId: number | undefined;
  const files = fresh.flatMap((b) => b.files);
  if (fresh.length > 0) {
    snapshotId = snapshotIdOf();
    const snapshot = await writeAppend(deps, evolved, fresh, snapshotId, now());
    next = withSnapshot(evolved, snapshot, loaded.metadataLocation, now());
  } else {
    next = {
      ...evolved,
      "last-updated-ms": now(),
      "metadata-log": loaded.metadataLocation
        ? [
            ...evolved["metadata-log"],
            { "timestamp-ms": evolved["last-updated-ms"], "metadata-file": loaded.metadataLocation },
          ]
        : evolved["metadata-log"],
    };
  }
  const metadataLocation = metadataFileUrl(next);
  await deps.store.write(metadataLocation, Buffer.from(JSON.stringify(next)), "application/json");
  // Files written, table not swapped: a crash leaves only unreferenced metadata (orphans).
  failpoint("commit.before-swap");
  await deps.store.swap(loaded, metadataLocation, deps.columns(schemas));
  return {
    result: {
      status: fresh.length > 0 ? "committed" : loaded.metadata ? "evolved" : "created",
      ...(snapshotId === undefined ? {} : { snapshotId }),
      files: files.length,
      records: files.reduce((n, f) => n + f.records, 0),
      attempts: attempt,
      metadataLocation,
    },
    settled: [...settled, ...fresh],
  };
}

/** Writes the manifest and manifest list of an append; returns the snapshot to add. */
async function writeAppend(
  deps: CommitterDeps,
  md: TableMetadata,
  batches: readonly PendingBatch[],
  snapshotId: number,
  nowMs: number,
): Promise<Snapshot> {
  const where = deps.store.where;
  const schema = currentSchema(md);
  const spec = md["partition-specs"].find((s) => s["spec-id"] === md["default-spec-id"])!;
  const sequenceNumber = md["last-sequence-number"] + 1;
  const parent = currentSnapshot(md);
  const sortOrderId = md["default-sort-order-id"];
  const entries: ManifestEntryRecord[] = batches
    .flatMap((b) => b.files)
    .map((f) => ({
      status: 1,
      snapshot_id: snapshotId,
      sequence_number: null,
      file_sequence_number: null,
      data_file: dataFileRecord(where.bucket, f, spec.fields, sortOrderId),
    }));
  const id = randomUUID();
  const manifestUrl = `${md.location}/metadata/${id}-m0.avro`;
  const manifest = await manifestFile({
    url: manifestUrl,
    schema,
    specId: spec["spec-id"],
    fields: spec.fields,
    snapshotId,
    sequenceNumber,
    entries,
  });
  await deps.store.write(manifestUrl, manifest.bytes, "application/avro");
  const carried: ManifestFileRecord[] = parent
    ? await readManifestList(await deps.store.read(parent["manifest-list"]))
    : [];
  const listUrl = `${md.location}/metadata/snap-${snapshotId}-1-${id}.avro`;
  await deps.store.write(
    listUrl,
    await manifestListFile(
      [manifest.record, ...carried],
      snapshotId,
      parent?.["snapshot-id"],
      sequenceNumber,
    ),
    "application/avro",
  );

  const progress = new Map(committedProgress(md));
  for (const b of batches) {
    const key = `${b.pipeline}/${b.shard}`;
    const seen = progress.get(key);
    if (seen === undefined || compareSequence(b.lastSeq, seen) > 0) progress.set(key, b.lastSeq);
  }
  const prev: Readonly<Record<string, string>> = parent?.summary ?? {};
  const added = {
    files: entries.length,
    records: entries.reduce((n, e) => n + e.data_file.record_count, 0),
    bytes: entries.reduce((n, e) => n + e.data_file.file_size_in_bytes, 0),
  };
  const total = (k: string, add: number) => String(Number(prev[k] ?? 0) + add);
  return {
    "snapshot-id": snapshotId,
    ...(parent ? { "parent-snapshot-id": parent["snapshot-id"] } : {}),
    "sequence-number": sequenceNumber,
    "timestamp-ms": nowMs,
    "manifest-list": listUrl,
    "schema-id": schema["schema-id"],
    summary: {
      operation: "append",
      "added-data-files": String(added.files),
      "added-records": String(added.records),
      "added-files-size": String(added.bytes),
      "total-data-files": total("total-data-files", added.files),
      "total-records": total("total-records", added.records),
      "total-files-size": total("total-files-size", added.bytes),
      "total-delete-files": "0",
      "total-position-deletes": "0",
      "total-equality-deletes": "0",
      ...Object.fromEntries([...progress].map(([k, v]) => [`${PROGRESS_PREFIX}${k}`, v])),
    },
  };
}

export { progressKey };
