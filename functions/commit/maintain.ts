/**
 * Maintenance of the Iceberg sinks' tables, for `sluice table ...`, `sluice compact` and the
 * maintenance schedules: the same table store the committer uses, one sink at a time.
 */
import type { GlueClient } from "@aws-sdk/client-glue";
import type { S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DEFAULT_BACKOFF } from "../core/backoff.ts";
import { glueName, staticPrefix } from "../core/catalog/projection.ts";
import { type CompactionResult, compactTable } from "../core/iceberg/compaction.ts";
import {
  type CompactionSettings,
  DEFAULT_GRACE_MINUTES,
  DEFAULT_TARGET_FILE_BYTES,
} from "../core/iceberg/compaction-plan.ts";
import {
  type DataFileInfo,
  type ExpireOptions,
  type ExpireResult,
  expireSnapshots,
  type OrphanOptions,
  removeOrphans,
  type SnapshotInfo,
  snapshotInfos,
  tableFiles,
} from "../core/iceberg/maintenance.ts";
import { PendingFiles } from "../core/iceberg/pending-files.ts";
import { TableStore } from "../core/iceberg/table-store.ts";
import type { Logger } from "../core/logger.ts";
import type { RuntimeConfig, SinkRuntime } from "../core/runtime-config.ts";
import { SchemaRegistry } from "../core/schema-registry.ts";
import { icebergSinks } from "./app.ts";

export interface MaintenanceDeps {
  readonly config: RuntimeConfig;
  readonly clients: { readonly dynamo: DynamoDBDocumentClient; readonly s3: S3Client };
  readonly glue: GlueClient;
}

export interface TableMaintenance {
  readonly sinks: readonly string[];
  snapshots(sink: string): Promise<SnapshotInfo[]>;
  files(sink: string, snapshotId?: number): Promise<DataFileInfo[]>;
  /** The table's current metadata file, as Glue points at it. */
  metadataLocation(sink: string): Promise<string | undefined>;
  expire(sink: string, o: ExpireOptions): Promise<ExpireResult>;
  orphans(
    sink: string,
    o: Omit<OrphanOptions, "dataPrefixes" | "pipelines">,
  ): Promise<{ orphans: readonly string[] }>;
  /** Rewrites the small files of closed partitions in one replace snapshot. */
  compact(sink: string, o?: { readonly now?: () => number }): Promise<CompactionResult>;
}

/** A sink's compaction settings, the manifest's defaults filled in. */
export function compactionSettings(sink: SinkRuntime): CompactionSettings {
  return {
    targetFileBytes: sink.compaction?.targetFileBytes ?? DEFAULT_TARGET_FILE_BYTES,
    graceMs: (sink.compaction?.graceMinutes ?? DEFAULT_GRACE_MINUTES) * 60_000,
  };
}

export class UnknownSink extends Error {
  override readonly name = "UnknownSink";
}

export function createMaintenance(deps: MaintenanceDeps): TableMaintenance {
  const sinks = icebergSinks(deps.config);
  const pending = new PendingFiles(deps.clients.dynamo, deps.config.tables.checkpoints);
  const registry = new SchemaRegistry(deps.clients.dynamo, deps.config.tables.schemas);
  const storeOf = (name: string) => {
    const sink = sinks.find((s) => s.name === name);
    if (!sink) {
      throw new UnknownSink(
        `${name} is not an Iceberg sink a pipeline writes to (Iceberg sinks: ${sinks.map((s) => s.name).join(", ") || "none"})`,
      );
    }
    const table = glueName(sink.name);
    const store = new TableStore(
      deps.glue,
      deps.clients.s3,
      { database: deps.config.catalog.database, table, bucket: sink.bucket, kmsKeyId: sink.kmsKeyId },
      DEFAULT_BACKOFF,
    );
    return { sink, store };
  };
  const metadataOf = async (name: string) => (await storeOf(name).store.load()).metadata;
  return {
    sinks: sinks.map((s) => s.name),
    async snapshots(name) {
      const md = await metadataOf(name);
      return md ? snapshotInfos(md) : [];
    },
    async files(name, snapshotId) {
      const { store } = storeOf(name);
      const md = (await store.load()).metadata;
      return md ? tableFiles(store, md, snapshotId) : [];
    },
    async metadataLocation(name) {
      return (await storeOf(name).store.load()).metadataLocation;
    },
    expire(name, o) {
      return expireSnapshots(storeOf(name).store, deps.clients.s3, DEFAULT_BACKOFF, o);
    },
    orphans(name, o) {
      const { sink, store } = storeOf(name);
      const pipelines = Object.values(deps.config.pipelines).filter((p) => p.sink.name === name);
      return removeOrphans(store, deps.clients.s3, pending, name, DEFAULT_BACKOFF, {
        ...o,
        dataPrefixes: [staticPrefix(sink.prefix)],
        pipelines: pipelines.map((p) => p.name),
      });
    },
    compact(name, o = {}) {
      const { sink, store } = storeOf(name);
      return compactTable({
        store,
        s3: deps.clients.s3,
        retry: DEFAULT_BACKOFF,
        settings: compactionSettings(sink),
        rewrite: {
          sink: sink.name,
          compression: sink.compression,
          rowGroupSize: sink.rowGroupSize,
          schemaOf: async (subject, version) =>
            (await registry.versions(subject)).find((v) => v.version === version),
        },
        ...(o.now ? { now: o.now } : {}),
      });
    },
  };
}

/** What the maintenance rules send the committer function. */
export interface MaintenanceEvent {
  readonly maintain: {
    /** Compaction first. @default true */
    readonly compact?: boolean;
    /** Snapshot expiry and orphan removal after it. @default true */
    readonly expire?: boolean;
    readonly expireDays: number;
    readonly retainLast: number;
    readonly graceHours: number;
  };
}

export interface MaintenanceResult {
  readonly compacted?: {
    readonly filesReplaced: number;
    readonly filesAdded: number;
    readonly droppedDuplicates: number;
  };
  readonly expired: number;
  readonly deleted: number;
  readonly orphans: number;
}

/** Compaction, then expiry and orphan removal (the cleanup), of one sink's table. */
export async function maintainTable(
  m: TableMaintenance,
  sink: string,
  o: MaintenanceEvent["maintain"],
  logger: Logger,
): Promise<MaintenanceResult> {
  let compacted: MaintenanceResult["compacted"];
  if (o.compact !== false) {
    const c = await m.compact(sink);
    compacted = {
      filesReplaced: c.filesReplaced,
      filesAdded: c.filesAdded,
      droppedDuplicates: c.droppedDuplicates,
    };
    if (c.status !== "unchanged") logger.info("iceberg compaction", { sink, status: c.status, ...compacted });
  }
  if (o.expire === false) return { ...(compacted ? { compacted } : {}), expired: 0, deleted: 0, orphans: 0 };
  const expired = await m.expire(sink, { olderThanMs: o.expireDays * 86_400_000, retainLast: o.retainLast });
  const { orphans } = await m.orphans(sink, { graceMs: o.graceHours * 3_600_000 });
  const out = { expired: expired.expired.length, deleted: expired.deleted.length, orphans: orphans.length };
  logger.info("iceberg maintenance", { sink, ...out });
  return { ...(compacted ? { compacted } : {}), ...out };
}
