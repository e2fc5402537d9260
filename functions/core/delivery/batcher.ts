/**
 * The batcher, top to bottom: decode -> decrypt -> transform -> partition -> roll -> encode -> put
 * -> commit.
 * Exactly-once files: object keys derive from the pipeline, the shard and the batch's first
 * sequence number past the checkpoint; the keys are recorded before they are written and the
 * checkpoint moves only after, so a retried or bisected batch finds what a failed attempt wrote
 * and replaces it. Nothing moves the checkpoint past a record that is in neither a data file nor
 * errors/: a file S3 refuses sends its records to errors/, and a batch that keeps failing is filed
 * under errors/ whole on its last attempts, before the event source would give up on it.
 */
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { S3Client } from "@aws-sdk/client-s3";
import type { KinesisStreamBatchResponse, KinesisStreamRecord } from "aws-lambda";
import { type BackoffPolicy, DEFAULT_BACKOFF, isTransient, withRetries } from "../backoff.ts";
import { type Checkpoint, type CheckpointStore, compareSequence } from "../checkpoints.ts";
import type { DataKeyOpener } from "../crypto/key-opener.ts";
import { readsStream } from "../esm-filter.ts";
import { failpoint } from "../failpoints.ts";
import type { TransformerInvoker } from "../firehose-contract.ts";
import { partitionTerms } from "../iceberg/partition-spec.ts";
import { pendingItem } from "../iceberg/pending-files.ts";
import type { Logger } from "../logger.ts";
import { type ColumnPlan, encodeParquet, type ParquetRow, planColumns } from "../parquet/index.ts";
import { compilePrefix, MAX_KEY_BYTES, utf8Bytes } from "../prefix.ts";
import type { PipelineRuntime } from "../runtime-config.ts";
import type { ValidatorCache } from "../validators.ts";
import { SLUICE_VERSION } from "../version.ts";
import { decodeRecords, shardOf } from "./decode.ts";
import { decryptItems } from "./decrypt.ts";
import { errorObjects } from "./error-files.ts";
import { pendingFileOf } from "./iceberg-files.ts";
import { deleteObjects, invalidKeyReason, putObject } from "./object-writer.ts";
import { type FileBatch, partitionItems } from "./partition.ts";
import { payloadNotJson } from "./payload.ts";
import { dropRepeats, streamNameOf } from "./repeats.ts";
import { deliveriesByStream, type StreamDelivery } from "./stream-summary.ts";
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
  /** Reads the shard back to check possible repeats; without it they are kept. */
  readonly kinesis?: KinesisClient;
  /**
   * Opens the data keys of payloads that came encrypted; without it they go to errors/ as
   * KEY_UNAVAILABLE.
   */
  readonly payloadKeys?: DataKeyOpener;
  /**
   * The attempt at one position from which its records are filed under errors/ instead of
   * delivered: below the event source's retry limit, so this happens before it gives up.
   * @default deadLetterAttempt(pipeline.batch.maxRetries)
   */
  readonly deadLetterAttempt?: number;
}

/**
 * The event source makes `maxRetries + 1` attempts (-1: until the records expire). The last two
 * file the batch under errors/ (the second in case the first could not write), leaving at least
 * one normal attempt.
 */
export function deadLetterAttempt(maxRetries: number): number {
  return maxRetries < 0 ? 10 : Math.max(2, maxRetries);
}

/** A data file and the records in it, so a file S3 refuses can send them to errors/. */
type DataObject = OutputObject & { readonly items: readonly DeliveryItem[] };

function describe(err: unknown): string {
  const e = err as Error;
  return `${e.name}: ${(e.message ?? "").slice(0, 200)}`;
}

export interface BatchSummary {
  readonly shardId: string;
  readonly skipped: number;
  readonly delivered: number;
  readonly failed: number;
  readonly dropped: number;
  readonly repeats: number;
  readonly files: readonly string[];
  /** Bytes of the data files written (error files not included). */
  readonly bytes: number;
  /** Records filed under errors/, by failure code. */
  readonly failedByCode: Readonly<Record<string, number>>;
  /** The earliest event time among the batch's records, in epoch ms; for the delivery lag. */
  readonly oldestEventMs?: number;
  /** What the data files hold of each source stream. */
  readonly byStream?: Readonly<Record<string, StreamDelivery>>;
}

function oldestEvent(items: readonly DeliveryItem[]): { oldestEventMs?: number } {
  let ms = Number.POSITIVE_INFINITY;
  for (const i of items) {
    const t = Date.parse(i.envelope.ts);
    if (t < ms) ms = t;
  }
  return Number.isFinite(ms) ? { oldestEventMs: ms } : {};
}

export type Batcher = (
  records: readonly KinesisStreamRecord[],
) => Promise<KinesisStreamBatchResponse & { summary?: BatchSummary }>;

export function createBatcher(deps: BatcherDeps): Batcher {
  const { pipeline } = deps;
  const retry = deps.retry ?? DEFAULT_BACKOFF;
  const prefixOf = compilePrefix(pipeline.sink.prefix);
  const reads = readsStream(pipeline);
  const plans = new Map<string, ColumnPlan>();
  const writer = { s3: deps.s3, bucket: pipeline.sink.bucket, kmsKeyId: pipeline.sink.kmsKeyId, retry };
  const lastAttempts = deps.deadLetterAttempt ?? deadLetterAttempt(pipeline.batch.maxRetries);
  // Iceberg sinks: the files of each committed batch are recorded for the table's committer.
  const icebergTerms = pipeline.sink.type === "iceberg" ? partitionTerms(pipeline.sink) : undefined;
  // The pipeline is in every key: pipelines that share a sink never write the same object.
  const fileName = (shardId: string, firstSeq: string, n: number) =>
    `${pipeline.name}-${shardId}-${firstSeq}-${n}.parquet`;

  async function planFor(subject: string, version: number): Promise<ColumnPlan | undefined> {
    const key = `${subject}@${version}`;
    let plan = plans.get(key);
    if (!plan) {
      const schema = await withRetries(retry, isTransient, () => deps.validators.get(subject, version));
      if (!schema) return undefined;
      plan = planColumns(schema.schema, schema.fieldIds);
      plans.set(key, plan);
    }
    return plan;
  }

  async function encodeFile(
    file: FileBatch,
    shardId: string,
    firstSeq: string,
    failures: DeliveryFailure[],
  ): Promise<DataObject | undefined> {
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
    const rejectedRows = new Set(encoded.rejected.map((r) => r.index));
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
      key: `${file.prefix}${fileName(shardId, firstSeq, file.n)}`,
      body: encoded.bytes,
      contentType: "application/vnd.apache.parquet",
      records: encoded.rowCount,
      items: file.items.filter((_, i) => !rejectedRows.has(i)),
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

  /** decode -> drop repeats; the records this pipeline delivers, and the failures so far. */
  async function decoded(fresh: readonly KinesisStreamRecord[], shardId: string) {
    const d = decodeRecords(fresh);
    const streamName = streamNameOf(fresh[0]?.eventSourceARN);
    const check =
      deps.kinesis && streamName ? { kinesis: deps.kinesis, streamName, shardId, retry } : undefined;
    const r = await dropRepeats(
      d.items.filter((i) => reads(i.envelope.stream)),
      check,
    );
    return { items: r.items, repeats: r.repeats, failures: [...d.failures] };
  }

  /** decode -> decrypt -> transform -> partition -> roll -> encode -> put; returns what was written. */
  async function deliver(
    fresh: readonly KinesisStreamRecord[],
    shardId: string,
    firstSeq: string,
    checkpoint: Checkpoint,
  ) {
    // decode
    const { items: received, repeats, failures } = await decoded(fresh, shardId);

    // decrypt
    const opened = await decryptItems(received, { keys: deps.payloadKeys, retry });
    const mine = opened.items;
    failures.push(...opened.failures);

    // transform
    let items: DeliveryItem[] = mine;
    let dropped = 0;
    if (pipeline.transformer !== undefined) {
      const t = await transformItems(mine, {
        invoke: async (name, event) => {
          const answer = await deps.invoke(name, event);
          failpoint("batch.in-transform");
          return answer;
        },
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
      MAX_KEY_BYTES - utf8Bytes(fileName(shardId, firstSeq, 999_999)),
    );
    failures.push(...partitioned.failures);

    // encode
    const data: DataObject[] = [];
    for (const file of partitioned.files) {
      const obj = await encodeFile(file, shardId, firstSeq, failures);
      if (obj) data.push(obj);
    }
    const written = await put(data, failures, shardId, firstSeq, checkpoint);
    return { ...written, failures, dropped, repeats, items };
  }

  /** The last attempts at a batch: every record of it under errors/, with why. */
  async function deliverAsErrors(
    fresh: readonly KinesisStreamRecord[],
    shardId: string,
    firstSeq: string,
    checkpoint: Checkpoint,
  ) {
    const message =
      `delivery failed on ${checkpoint.attempts - 1} attempts ` +
      `(last: ${checkpoint.lastError ?? "the invocation ended without an error, as on a timeout or crash"}); ` +
      "filed here so the shard moves on";
    let d: Awaited<ReturnType<typeof decoded>>;
    try {
      d = await decoded(fresh, shardId);
    } catch {
      // The shard cannot be read back to find repeats: file every record, a copy at worst.
      const plain = decodeRecords(fresh);
      d = {
        items: plain.items.filter((i) => reads(i.envelope.stream)),
        repeats: 0,
        failures: plain.failures,
      };
    }
    const failures: DeliveryFailure[] = [
      ...d.failures,
      ...d.items.map((item) => ({ item, stage: "deliver" as const, code: "RETRIES_EXHAUSTED", message })),
    ];
    const written = await put([], failures, shardId, firstSeq, checkpoint);
    return { ...written, failures, dropped: 0, repeats: d.repeats, items: d.items };
  }

  /**
   * put: record the keys first, clear what a failed attempt left that this one will not
   * overwrite, write the data files, then the error files (with the records of any data file S3
   * refused for good).
   */
  async function put(
    data: readonly DataObject[],
    failures: DeliveryFailure[],
    shardId: string,
    firstSeq: string,
    checkpoint: Checkpoint,
  ): Promise<{ objects: OutputObject[] }> {
    let errors = errorObjects(failures, pipeline.name, shardId, firstSeq);
    const keys = new Set([...data.map((o) => o.key), ...errors.map((o) => o.key)]);
    const begin = () =>
      withRetries(retry, isTransient, () =>
        deps.checkpoints.begin(pipeline.name, shardId, checkpoint.sequenceNumber, [...keys]),
      );
    await begin();
    failpoint("batch.after-begin");
    const stale = checkpoint.pending.filter((k) => !keys.has(k));
    if (stale.length > 0) await deleteObjects(stale, writer);

    const objects: OutputObject[] = [];
    const refused = (obj: DataObject, code: string, message: string) => {
      for (const item of obj.items) failures.push({ item, stage: "put", code, message });
    };
    for (const obj of data) {
      const invalid = invalidKeyReason(obj.key);
      if (invalid) {
        refused(obj, "KEY_INVALID", invalid);
        continue;
      }
      try {
        await putObject(obj, writer);
      } catch (err) {
        // Throttling and 5xx fail the attempt (the event source retries it); anything else is
        // S3 refusing this object, which no retry changes: its records go to errors/.
        if (isTransient(err)) throw err;
        refused(obj, "PUT_REFUSED", `S3 refused the data file: ${describe(err)}`);
        continue;
      }
      failpoint("batch.after-put-object");
      objects.push(obj);
    }
    if (objects.length < data.length) {
      errors = errorObjects(failures, pipeline.name, shardId, firstSeq);
      const before = keys.size;
      for (const e of errors) keys.add(e.key);
      if (keys.size > before) await begin();
    }
    for (const obj of errors) {
      await putObject(obj, writer);
      failpoint("batch.after-put-object");
      objects.push(obj);
    }
    return { objects };
  }

  return async (records) => {
    if (records.length === 0) return { batchItemFailures: [] };
    const shardId = shardOf(records[0]!);
    const log = deps.logger.child({ pipeline: pipeline.name, shardId });
    const seen = await withRetries(retry, isTransient, () => deps.checkpoints.get(pipeline.name, shardId));
    const fresh = records.filter(
      (r) =>
        seen.sequenceNumber === undefined ||
        compareSequence(r.kinesis.sequenceNumber, seen.sequenceNumber) > 0,
    );
    if (fresh.length === 0) return { batchItemFailures: [] };
    const firstSeq = fresh[0]!.kinesis.sequenceNumber;
    const lastSeq = fresh[fresh.length - 1]!.kinesis.sequenceNumber;

    const failBatch = async (err: unknown) => {
      // Nothing past the checkpoint is committed: ask the event source to retry from its first record.
      log.error("batch failed", {
        error: (err as Error).name,
        message: (err as Error).message?.slice(0, 200),
      });
      await deps.checkpoints
        .noteFailure(pipeline.name, shardId, seen.sequenceNumber, describe(err))
        .catch(() => undefined);
      return { batchItemFailures: [{ itemIdentifier: firstSeq }] };
    };

    let written: Awaited<ReturnType<typeof deliver>>;
    let checkpoint: Checkpoint;
    try {
      checkpoint = await withRetries(retry, isTransient, () =>
        deps.checkpoints.attempt(pipeline.name, shardId, seen.sequenceNumber),
      );
      const asErrors = checkpoint.attempts >= lastAttempts;
      if (asErrors) log.warn("filing the batch under errors/", { attempts: checkpoint.attempts });
      written = asErrors
        ? await deliverAsErrors(fresh, shardId, firstSeq, checkpoint)
        : await deliver(fresh, shardId, firstSeq, checkpoint);
    } catch (err) {
      return failBatch(err);
    }
    // A crash here (timeout, out of memory) leaves objects written and the checkpoint behind:
    // the retry finds them in `pending` and replaces them.
    failpoint("batch.before-commit");
    await deps.beforeCommit?.();
    try {
      const { objects, failures, dropped, repeats, items } = written;
      const delivered = objects.filter((o) => o.key.endsWith(".parquet")).reduce((n, o) => n + o.records, 0);
      // Compared as instants: ISO strings with different fraction digits do not sort as text.
      const watermarkMs = items.reduce(
        (max, i) => Math.max(max, Date.parse(i.envelope.ts)),
        checkpoint.watermark ? Date.parse(checkpoint.watermark) : Number.NEGATIVE_INFINITY,
      );
      const watermark = Number.isFinite(watermarkMs) ? new Date(watermarkMs).toISOString() : undefined;
      const tableFiles = icebergTerms
        ? objects
            .filter((o) => o.key.endsWith(".parquet"))
            .map((o) => pendingFileOf(o as DataObject, icebergTerms))
        : [];
      const alsoPut =
        tableFiles.length === 0
          ? undefined
          : pendingItem(pipeline.sink.name, {
              pipeline: pipeline.name,
              shard: shardId,
              lastSeq,
              files: tableFiles,
              createdAt: new Date().toISOString(),
            });
      await withRetries(retry, isTransient, () =>
        deps.checkpoints.commit(
          pipeline.name,
          shardId,
          checkpoint.sequenceNumber,
          lastSeq,
          watermark,
          { files: objects.length, records: delivered, errors: failures.length, dropped, repeats },
          alsoPut,
        ),
      );
      failpoint("batch.after-commit");
      const files = objects.map((o) => o.key);
      const summary = {
        shardId,
        skipped: records.length - fresh.length,
        delivered,
        failed: failures.length,
        dropped,
        repeats,
        files,
        bytes: objects.reduce((n, o) => n + (o.key.endsWith(".parquet") ? o.body.length : 0), 0),
        failedByCode: failures.reduce<Record<string, number>>((by, f) => {
          by[f.code] = (by[f.code] ?? 0) + 1;
          return by;
        }, {}),
        ...oldestEvent(items),
        byStream: deliveriesByStream(objects),
      };
      log.info("batch committed", {
        records: records.length,
        delivered,
        failed: failures.length,
        dropped,
        repeats,
        files: files.length,
      });
      return { batchItemFailures: [], summary };
    } catch (err) {
      return failBatch(err);
    }
  };
}
