/**
 * A stream's records from its lake: which sink holds them, how a key is found (partition key
 * column, record id, or an idempotency key through the claim that kept its record id), and the
 * page with its cursor.
 */
import type { GlueClient } from "@aws-sdk/client-glue";
import type { S3Client } from "@aws-sdk/client-s3";
import { DEFAULT_BACKOFF } from "../backoff.ts";
import type { CheckpointStore } from "../checkpoints.ts";
import { SluiceError } from "../errors.ts";
import { TableStore } from "../iceberg/table-store.ts";
import type { IdempotencyStore } from "../idempotency.ts";
import { PREFIX_PLACEHOLDER } from "../prefix.ts";
import {
  lakePipelineOf,
  type ReadConfig,
  type ReadPipelineRuntime,
  type StreamRuntime,
} from "../runtime-config.ts";
import { encodeCursor } from "./cursor.ts";
import { IcebergTableFiles } from "./iceberg-files.ts";
import { type LakePage, readLake } from "./lake-reader.ts";
import { PrefixTemplateFiles } from "./prefix-files.ts";
import type { RecordsRequest } from "./request.ts";
import type { KeyMatch } from "./row-groups.ts";
import { streamPrefix } from "./stream-files.ts";
import type { DataFileSource, ReadLimits } from "./types.ts";

export interface StreamLake {
  readonly stream: StreamRuntime;
  readonly pipeline: ReadPipelineRuntime;
  readonly bucket: string;
  readonly source: DataFileSource;
  /** Set when the sink mixes streams in the same files: only this subject's files are the stream's. */
  readonly subject?: string;
}

export interface RecordsDeps {
  readonly config: ReadConfig;
  readonly s3: S3Client;
  readonly checkpoints: CheckpointStore;
  readonly idempotency: IdempotencyStore;
  readonly limits: ReadLimits;
  /** Reads Iceberg sinks' table metadata; without it their prefixes are listed. */
  readonly glue?: GlueClient;
  readonly clock?: () => number;
}

export function knownStream(config: ReadConfig, name: string): StreamRuntime {
  const stream = config.streams[name];
  if (!stream)
    throw new SluiceError("UNKNOWN_STREAM", `stream ${JSON.stringify(name)} is not declared`, 404, "/stream");
  return stream;
}

/** The lake of a stream: its pipeline's files (`lakePipelineOf`). */
export function streamLake(
  deps: Pick<RecordsDeps, "config" | "s3" | "checkpoints">,
  name: string,
): StreamLake {
  const stream = knownStream(deps.config, name);
  const pipeline = lakePipelineOf(deps.config.pipelines, name);
  if (!pipeline)
    throw new SluiceError(
      "NOT_FOUND",
      `stream ${JSON.stringify(name)} has no pipeline, so no lake to read`,
      404,
      "/stream",
    );
  const placeholders = [...pipeline.sink.prefix.matchAll(PREFIX_PLACEHOLDER)].map((m) => m[1]);
  const mixed =
    !placeholders.includes("stream") && pipeline.sources.length > 1 && pipeline.outputSubject === undefined;
  return {
    stream,
    pipeline,
    bucket: pipeline.sink.bucket,
    source: new PrefixTemplateFiles({
      s3: deps.s3,
      bucket: pipeline.sink.bucket,
      template: pipeline.sink.prefix,
      stream: name,
      pipeline: pipeline.name,
      checkpoints: deps.checkpoints,
    }),
    ...(mixed ? { subject: stream.subject } : {}),
  };
}

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Where a key may be: the partition key's column, the record id, a record id an idempotency key kept. */
async function keyMatches(deps: RecordsDeps, lake: StreamLake, key: string): Promise<KeyMatch[]> {
  const ids = new Set<string>();
  if (ULID.test(key)) ids.add(key);
  const kept = await deps.idempotency.recordIdOf(lake.stream.name, key);
  if (kept) ids.add(kept);
  const matches: KeyMatch[] = [];
  if (ids.size > 0) matches.push({ column: "_id", values: [...ids] });
  if (lake.stream.partitionKey !== undefined)
    matches.push({ column: lake.stream.partitionKey, values: [key] });
  return matches;
}

/**
 * A read of an Iceberg sink (query or tail) takes the table's snapshot instead of the prefix:
 * after a compaction and an expiry only the snapshot knows the files, and its summary says how
 * far each shard is in the table, where the tail's Kinesis reads start.
 */
export function readableLake(deps: RecordsDeps, lake: StreamLake): StreamLake {
  const table = lake.pipeline.sink.table;
  if (table === undefined || deps.glue === undefined) return lake;
  const store = new TableStore(
    deps.glue,
    deps.s3,
    { ...table, bucket: lake.bucket, kmsKeyId: deps.config.kmsKeyId },
    DEFAULT_BACKOFF,
  );
  return {
    ...lake,
    source: new IcebergTableFiles({
      store,
      pipeline: lake.pipeline.name,
      bucket: lake.bucket,
      keyPrefix: streamPrefix(lake.pipeline.sink.prefix, lake.stream.name, lake.pipeline.name),
      eventTimeFields: ["_event_time", ...(lake.stream.eventTimeField ? [lake.stream.eventTimeField] : [])],
    }),
  };
}

export interface RecordsPage extends LakePage {
  readonly cursor?: string;
}

export async function readRecords(
  deps: RecordsDeps,
  name: string,
  req: RecordsRequest,
): Promise<RecordsPage> {
  const lake = readableLake(deps, streamLake(deps, name));
  const keys = req.key === undefined ? undefined : await keyMatches(deps, lake, req.key);
  const limits = {
    ...deps.limits,
    maxScanBytes: Math.min(deps.limits.maxScanBytes, req.maxScanBytes ?? Infinity),
  };
  const page = await readLake(
    {
      ...(req.range ? { range: req.range } : {}),
      ...(keys ? { keys } : {}),
      ...(req.fields ? { fields: req.fields } : {}),
      limit: req.limit,
      ...(req.cursor ? { after: req.cursor.after, snapshot: req.cursor.snapshot } : {}),
      ...(lake.subject ? { subject: lake.subject } : {}),
    },
    {
      source: lake.source,
      s3: deps.s3,
      bucket: lake.bucket,
      limits,
      ...(deps.clock ? { clock: deps.clock } : {}),
    },
  );
  if (!page.next) return page;
  const cursor = encodeCursor({
    stream: name,
    ...(req.range ? { fromMs: req.range.fromMs, toMs: req.range.toMs } : {}),
    ...(req.key === undefined ? {} : { key: req.key }),
    ...(req.fields ? { fields: req.fields } : {}),
    snapshot: page.snapshot,
    after: page.next,
  });
  return { ...page, cursor };
}
