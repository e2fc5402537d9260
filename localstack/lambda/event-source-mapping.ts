/**
 * A local Kinesis event source mapping: polls every shard, keeps the records that pass the
 * filter criteria, batches them by size and window, invokes the function, and reproduces what
 * AWS does with the answer: partial batch responses retry from the failed item, a function
 * error retries (bisecting the batch when enabled), and a batch out of retries goes to the
 * on-failure destination so the shard moves on.
 */
import {
  type _Record,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from "@aws-sdk/client-kinesis";
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import { sleep } from "../../functions/core/backoff.ts";
import type { Logger } from "../../functions/core/logger.ts";

export interface FailedBatch {
  readonly shardId: string;
  readonly firstSequenceNumber: string;
  readonly lastSequenceNumber: string;
  readonly size: number;
  readonly reason: "RetryAttemptsExhausted";
}

export interface EventSourceMappingOptions {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly region: string;
  /** Filter criteria over the record's JSON data; records that fail it are skipped. */
  readonly filter: (data: unknown) => boolean;
  readonly batchSize: number;
  readonly batchingWindowMs: number;
  /** -1 retries until the records expire, as AWS does. */
  readonly maxRetries: number;
  readonly bisectOnError: boolean;
  readonly handler: (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse | undefined>;
  readonly onFailure?: (batch: FailedBatch) => void;
  readonly logger: Logger;
  /** @default 200 */
  readonly pollIntervalMs?: number;
}

export interface EventSourceMapping {
  /** Resolves once every shard is read to its end and nothing is buffered or in flight. */
  drained(timeoutMs?: number): Promise<void>;
  readonly failedBatches: readonly FailedBatch[];
  stop(): Promise<void>;
}

/** The ESM filter pattern Sluice uses: `{"data": {"stream": [names]}}`, evaluated like AWS does. */
/** One entry of a filter's list: an exact value, or `{ "anything-but": [...] }` as Lambda reads it. */
function matchesValue(allowed: unknown, value: unknown): boolean {
  if (allowed !== null && typeof allowed === "object" && "anything-but" in allowed) {
    const excluded = (allowed as { "anything-but": unknown[] })["anything-but"];
    return value !== undefined && !excluded.includes(value);
  }
  return allowed === value;
}

export function matchesPattern(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) return pattern.some((allowed) => matchesValue(allowed, value));
  if (pattern !== null && typeof pattern === "object") {
    if (value === null || typeof value !== "object") return false;
    return Object.entries(pattern).every(([k, p]) =>
      matchesPattern(p, (value as Record<string, unknown>)[k]),
    );
  }
  return pattern === value;
}

function toEventRecord(r: _Record, shardId: string, streamArn: string, region: string): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: "1.0",
      partitionKey: r.PartitionKey ?? "",
      sequenceNumber: r.SequenceNumber ?? "",
      data: Buffer.from(r.Data ?? new Uint8Array()).toString("base64"),
      approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) / 1000,
    },
    eventSource: "aws:kinesis",
    eventVersion: "1.0",
    eventID: `${shardId}:${r.SequenceNumber}`,
    eventName: "aws:kinesis:record",
    invokeIdentityArn: "arn:aws:iam::000000000000:role/local",
    awsRegion: region,
    eventSourceARN: streamArn,
  };
}

export function startEventSourceMapping(o: EventSourceMappingOptions): EventSourceMapping {
  const streamArn = `arn:aws:kinesis:${o.region}:000000000000:stream/${o.streamName}`;
  const pollMs = o.pollIntervalMs ?? 200;
  const failedBatches: FailedBatch[] = [];
  /** `quietSince`: start time of the latest poll that found the shard's end with nothing pending. */
  const shards = new Map<string, { quietSince: number | undefined }>();
  let stopped = false;

  async function invoke(shardId: string, batch: KinesisStreamRecord[]): Promise<void> {
    let attempts = 0;
    let pending = batch;
    while (pending.length > 0 && !stopped) {
      let failedFrom: number | undefined;
      let functionError = false;
      try {
        const response = await o.handler({ Records: pending });
        const failures = response?.batchItemFailures ?? [];
        if (failures.length > 0) {
          const ids = failures.map((f) =>
            pending.findIndex((r) => r.kinesis.sequenceNumber === f.itemIdentifier),
          );
          // An unknown or empty identifier fails the whole batch, as in AWS.
          failedFrom = ids.some((i) => i < 0) ? 0 : Math.min(...ids);
        }
      } catch (err) {
        functionError = true;
        failedFrom = 0;
        o.logger.warn("function error", { shardId, error: (err as Error).name });
      }
      if (failedFrom === undefined) return;
      attempts++;
      const rest = pending.slice(failedFrom);
      if (o.maxRetries >= 0 && attempts > o.maxRetries) {
        const failed: FailedBatch = {
          shardId,
          firstSequenceNumber: rest[0]!.kinesis.sequenceNumber,
          lastSequenceNumber: rest[rest.length - 1]!.kinesis.sequenceNumber,
          size: rest.length,
          reason: "RetryAttemptsExhausted",
        };
        failedBatches.push(failed);
        o.onFailure?.(failed);
        return;
      }
      if (functionError && o.bisectOnError && rest.length > 1) {
        const half = Math.ceil(rest.length / 2);
        await invoke(shardId, rest.slice(0, half));
        await invoke(shardId, rest.slice(half));
        return;
      }
      pending = rest;
      await sleep(Math.min(1000, 50 * 2 ** attempts));
    }
  }

  async function pollShard(shardId: string): Promise<void> {
    const state = shards.get(shardId)!;
    const it = await o.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: o.streamName,
        ShardId: shardId,
        ShardIteratorType: "TRIM_HORIZON",
      }),
    );
    let iterator = it.ShardIterator;
    let buffer: KinesisStreamRecord[] = [];
    let firstBufferedAt = 0;
    while (!stopped && iterator) {
      const cycleStarted = Date.now();
      let out: GetRecordsCommandOutput;
      try {
        out = await o.kinesis.send(
          new GetRecordsCommand({
            ShardIterator: iterator,
            Limit: Math.min(10_000, Math.max(o.batchSize, 100)),
          }),
        );
      } catch (err) {
        if (stopped) return;
        o.logger.warn("GetRecords failed", { shardId, error: (err as Error).name });
        await sleep(pollMs * 5);
        continue;
      }
      iterator = out.NextShardIterator;
      const records = out.Records ?? [];
      for (const r of records) {
        let data: unknown;
        try {
          data = JSON.parse(Buffer.from(r.Data ?? new Uint8Array()).toString("utf8"));
        } catch {
          data = undefined;
        }
        if (!o.filter(data)) continue;
        if (buffer.length === 0) firstBufferedAt = Date.now();
        buffer.push(toEventRecord(r, shardId, streamArn, o.region));
      }
      const atEnd = records.length === 0 || (out.MillisBehindLatest ?? 0) === 0;
      while (
        buffer.length >= o.batchSize ||
        (buffer.length > 0 && atEnd && Date.now() - firstBufferedAt >= o.batchingWindowMs)
      ) {
        const batch = buffer.slice(0, o.batchSize);
        buffer = buffer.slice(batch.length);
        firstBufferedAt = Date.now();
        await invoke(shardId, batch);
      }
      const quiet = records.length === 0 && (out.MillisBehindLatest ?? 0) === 0 && buffer.length === 0;
      state.quietSince = quiet ? cycleStarted : undefined;
      if (records.length === 0 || buffer.length > 0) await sleep(pollMs);
    }
  }

  const loops: Promise<void>[] = [];
  async function discover(): Promise<void> {
    while (!stopped) {
      try {
        const out = await o.kinesis.send(new ListShardsCommand({ StreamName: o.streamName }));
        for (const s of out.Shards ?? []) {
          if (!s.ShardId || shards.has(s.ShardId)) continue;
          shards.set(s.ShardId, { quietSince: undefined });
          loops.push(
            pollShard(s.ShardId).catch((err: Error) =>
              o.logger.error("shard poller stopped", { shardId: s.ShardId, error: err.name }),
            ),
          );
        }
      } catch (err) {
        if (!stopped) o.logger.warn("ListShards failed", { error: (err as Error).name });
      }
      for (let waited = 0; waited < 5_000 && !stopped; waited += pollMs) await sleep(pollMs);
    }
  }
  const discovery = discover();

  return {
    failedBatches,
    async drained(timeoutMs = 60_000) {
      // Only a poll that began after this call can have seen records put before it.
      const since = Date.now();
      const deadline = since + timeoutMs;
      for (;;) {
        const all = [...shards.values()];
        if (all.length > 0 && all.every((s) => s.quietSince !== undefined && s.quietSince >= since)) return;
        if (Date.now() > deadline) throw new Error(`event source mapping not drained after ${timeoutMs} ms`);
        await sleep(pollMs);
      }
    },
    async stop() {
      stopped = true;
      await discovery;
      await Promise.all(loops);
    },
  };
}
