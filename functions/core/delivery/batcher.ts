/**
 * The batcher, top to bottom: decode -> transform -> partition -> roll -> encode -> put -> commit.
 * Exactly-once files: object keys derive from the shard and the batch's first sequence number
 * past the checkpoint; the keys are recorded before they are written and the checkpoint moves
 * only after, so a retried or bisected batch finds what a failed attempt wrote and replaces it.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { KinesisStreamBatchResponse, KinesisStreamRecord } from "aws-lambda";
import { type BackoffPolicy, DEFAULT_BACKOFF, isTransient, withRetries } from "../backoff.ts";
import { type Checkpoint, type CheckpointStore, compareSequence } from "../checkpoints.ts";
import type { TransformerInvoker } from "../firehose-contract.ts";
import type { Logger } from "../logger.ts";
import { type ColumnPlan, encodeParquet, type ParquetRow, planColumns } from "../parquet/index.ts";
import { compilePrefix } from "../prefix.ts";
import type { PipelineRuntime } from "../runtime-config.ts";
import type { ValidatorCache } from "../validators.ts";
import { SLUICE_VERSION } from "../version.ts";
import { decodeRecords, shardOf } from "./decode.ts";
import { errorObjects } from "./error-files.ts";
import { deleteObjects, putObjects } from "./object-writer.ts";
import { type FileBatch, partitionItems } from "./partition.ts";
import { payloadNotJson } from "./payload.ts";
import { transformItems } from "./transform.ts";
import type { DeliveryFailure, DeliveryItem, OutputObject } from "./types.ts";

export interface BatcherDeps {
  readonly pipeline: PipelineRuntime;
  readonly region: string;
  readonly s3: S3Client;
  readonly checkpoints: CheckpointStore;
  readonly validators: ValidatorCache;
  readonly invoke: TransformerInvoker;
  readonly logger: Logger;
  readonly retry?: BackoffPolicy;
  /** @default 60000 */
  readonly transformTimeoutMs?: number;
  /** Fault injection for tests: runs after the objects are put, before the commit. */
  readonly beforeCommit?: () => Promise<void> | void;
}

export interface BatchSummary {
  readonly shardId: string;
  readonly skipped: number;
  readonly delivered: number;
  readonly failed: number;
  readonly dropped: number;
  readonly files: readonly string[];
}

export type Batcher = (
  records: readonly KinesisStreamRecord[],
) => Promise<KinesisStreamBatchResponse & { summary?: BatchSummary }>;

export function createBatcher(deps: BatcherDeps): Batcher {
  const { pipeline } = deps;
  const retry = deps.retry ?? DEFAULT_BACKOFF;
  const prefixOf = compilePrefix(pipeline.sink.prefix);
  const sources = new Set(pipeline.sources);
  const plans = new Map<string, ColumnPlan>();
  const writer = { s3: deps.s3, bucket: pipeline.sink.bucket, kmsKeyId: pipeline.sink.kmsKeyId, retry };

  async function planFor(subject: string, version: number): Promise<ColumnPlan | undefined> {
    const key = `${subject}@${version}`;
    let plan = plans.get(key);
    if (!plan) {
      const schema = await withRetries(retry, isTransient, () => deps.validators.get(subject, version));
      if (!schema) return undefined;
      plan = planColumns(schema.schema);
      plans.set(key, plan);
    }
    return plan;
  }

  async function encodeFile(
    file: FileBatch,
    shardId: string,
    firstSeq: string,
    failures: DeliveryFailure[],
  ): Promise<OutputObject | undefined> {
    const plan = await planFor(file.subject, file.version);
    if (!plan) {
      for (const item of file.items) {
        failures.push({
          item,
          stage: "convert",
          code: "SCHEMA_NOT_FOUND",
          message: `schema ${file.subject} version ${file.version} is not registered`,
        });
      }
      return undefined;
    }
    // The payloads go as their JSON text: the encoder reads it straight into columns.
    const rows: ParquetRow[] = file.items.map((item) => ({
      id: item.envelope.id,
      eventTime: item.envelope.ts,
      receiveTime: item.envelope.rt,
      schemaVersion: file.version,
      data: item.payload,
    }));
    const encoded = encodeParquet(plan, rows, {
      compression: pipeline.sink.compression,
      rowGroupSize: pipeline.sink.rowGroupSize,
      metadata: {
        "sluice.schema.name": file.subject,
        "sluice.schema.version": String(file.version),
        "sluice.pipeline": pipeline.name,
        "sluice.version": SLUICE_VERSION,
      },
    });
    for (const r of encoded.rejected) {
      const item = file.items[r.index]!;
      // A payload that is not JSON is its writer's fault, whichever stage finds out.
      failures.push(
        r.code === "INVALID_JSON"
          ? payloadNotJson(item)
          : { item, stage: "convert", code: r.code, message: `${r.path}: ${r.message}` },
      );
    }
    if (encoded.rowCount === 0) return undefined;
    return {
      key: `${file.prefix}${shardId}-${firstSeq}-${file.n}.parquet`,
      body: encoded.bytes,
      contentType: "application/vnd.apache.parquet",
      records: encoded.rowCount,
    };
  }

  /** The pipeline's declared output schema at its latest version, if it declares one. */
  async function outputSchema(): Promise<{ subject: string; version: number } | undefined> {
    if (pipeline.outputSubject === undefined) return undefined;
    const latest = await withRetries(retry, isTransient, () =>
      deps.validators.latest(pipeline.outputSubject!),
    );
    if (!latest) throw new Error(`output schema ${pipeline.outputSubject} is not registered`);
    return { subject: latest.subject, version: latest.version };
  }

  /** decode -> transform -> partition -> roll -> encode -> put; returns what was written. */
  async function deliver(
    fresh: readonly KinesisStreamRecord[],
    shardId: string,
    firstSeq: string,
    checkpoint: Checkpoint,
  ) {
    // decode
    const decoded = decodeRecords(fresh);
    const failures = [...decoded.failures];
    const mine = decoded.items.filter((i) => sources.has(i.envelope.stream));

    // transform
    let items: DeliveryItem[] = mine;
    let dropped = 0;
    if (pipeline.transformer !== undefined) {
      const t = await transformItems(mine, {
        invoke: deps.invoke,
        transformer: pipeline.transformer,
        pipeline: pipeline.name,
        region: deps.region,
        shardId,
        invocationId: `${shardId}-${firstSeq}`,
        retry,
        timeoutMs: deps.transformTimeoutMs ?? 60_000,
      });
      items = t.items;
      dropped = t.dropped;
      failures.push(...t.failures);
    }

    // partition and roll
    const partitioned = partitionItems(
      items,
      prefixOf,
      pipeline.name,
      pipeline.sink.roll,
      await outputSchema(),
    );
    failures.push(...partitioned.failures);

    // encode
    const objects: OutputObject[] = [];
    for (const file of partitioned.files) {
      const obj = await encodeFile(file, shardId, firstSeq, failures);
      if (obj) objects.push(obj);
    }
    objects.push(...errorObjects(failures, pipeline.name, shardId, firstSeq));

    // put: record the keys first, clear what a failed attempt left that this one will not overwrite
    const keys = objects.map((o) => o.key);
    await withRetries(retry, isTransient, () =>
      deps.checkpoints.begin(pipeline.name, shardId, checkpoint.sequenceNumber, keys),
    );
    const stale = checkpoint.pending.filter((k) => !keys.includes(k));
    if (stale.length > 0) await deleteObjects(stale, writer);
    await putObjects(objects, writer);
    return { objects, failures, dropped, items };
  }

  return async (records) => {
    if (records.length === 0) return { batchItemFailures: [] };
    const shardId = shardOf(records[0]!);
    const log = deps.logger.child({ pipeline: pipeline.name, shardId });
    const checkpoint = await withRetries(retry, isTransient, () =>
      deps.checkpoints.get(pipeline.name, shardId),
    );
    const fresh = records.filter(
      (r) =>
        checkpoint.sequenceNumber === undefined ||
        compareSequence(r.kinesis.sequenceNumber, checkpoint.sequenceNumber) > 0,
    );
    if (fresh.length === 0) return { batchItemFailures: [] };
    const firstSeq = fresh[0]!.kinesis.sequenceNumber;
    const lastSeq = fresh[fresh.length - 1]!.kinesis.sequenceNumber;

    const failBatch = (err: unknown) => {
      // Nothing past the checkpoint is committed: ask the event source to retry from its first record.
      log.error("batch failed", {
        error: (err as Error).name,
        message: (err as Error).message.slice(0, 200),
      });
      return { batchItemFailures: [{ itemIdentifier: firstSeq }] };
    };

    let written: Awaited<ReturnType<typeof deliver>>;
    try {
      written = await deliver(fresh, shardId, firstSeq, checkpoint);
    } catch (err) {
      return failBatch(err);
    }
    // A crash here (timeout, out of memory) leaves objects written and the checkpoint behind:
    // the retry finds them in `pending` and replaces them.
    await deps.beforeCommit?.();
    try {
      const { objects, failures, dropped, items } = written;
      const delivered = objects.filter((o) => o.key.endsWith(".parquet")).reduce((n, o) => n + o.records, 0);
      // Compared as instants: ISO strings with different fraction digits do not sort as text.
      const watermarkMs = items.reduce(
        (max, i) => Math.max(max, Date.parse(i.envelope.ts)),
        checkpoint.watermark ? Date.parse(checkpoint.watermark) : Number.NEGATIVE_INFINITY,
      );
      const watermark = Number.isFinite(watermarkMs) ? new Date(watermarkMs).toISOString() : undefined;
      await withRetries(retry, isTransient, () =>
        deps.checkpoints.commit(pipeline.name, shardId, checkpoint.sequenceNumber, lastSeq, watermark, {
          files: objects.length,
          records: delivered,
          errors: failures.length,
          dropped,
        }),
      );
      const files = objects.map((o) => o.key);
      const summary = {
        shardId,
        skipped: records.length - fresh.length,
        delivered,
        failed: failures.length,
        dropped,
        files,
      };
      log.info("batch committed", {
        records: records.length,
        delivered,
        failed: failures.length,
        dropped,
        files: files.length,
      });
      return { batchItemFailures: [], summary };
    } catch (err) {
      return failBatch(err);
    }
  };
}
