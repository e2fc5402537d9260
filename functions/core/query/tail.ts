/**
 * The live tail of a stream: replay the lake from `from` as of each shard's committed checkpoint,
 * then follow every shard on Kinesis from just after that checkpoint (AFTER_SEQUENCE_NUMBER), so
 * the switch has no gap; record ids already sent are not sent again. Encrypted payloads are opened
 * as the batcher opens them; a record that cannot be opened is reported by id and code, never shown.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type Shard,
} from "@aws-sdk/client-kinesis";
import type { KinesisStreamRecord } from "aws-lambda";
import { type BackoffPolicy, DEFAULT_BACKOFF, isTransient, withRetries } from "../backoff.ts";
import type { DataKeyOpener } from "../crypto/key-opener.ts";
import { decodeRecords } from "../delivery/decode.ts";
import { decryptItems } from "../delivery/decrypt.ts";
import type { DeliveryItem } from "../delivery/types.ts";
import { readLake } from "./lake-reader.ts";
import { type RecordsDeps, readableLake, streamLake } from "./records.ts";
import { jsonRow } from "./results.ts";
import type { LakeSnapshot, Position } from "./types.ts";

export interface TailDeps extends RecordsDeps {
  readonly kinesis: KinesisClient;
  readonly eventStream: string;
  readonly payloadKeys: DataKeyOpener;
  /** Wait between empty GetRecords polls. @default 500 */
  readonly pollMs?: number;
  readonly retry?: BackoffPolicy;
}

/** Where the tail's events go: an SSE response, a gRPC stream. */
export interface TailSink {
  record(row: Record<string, unknown>): Promise<void>;
  /** The replay is over: what follows is live. */
  live(): Promise<void>;
  /** A record on Kinesis that could not be shown (it could not be decrypted), by id and reason. */
  skipped(id: string, code: string, message: string): Promise<void>;
}

/** Ids sent at most this long ago are remembered for de-duplication at the switch. */
const REMEMBERED = 200_000;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });

/** The row a live record shows: the envelope columns as the lake names them, then the payload. */
function liveRow(item: DeliveryItem): Record<string, unknown> {
  const data = JSON.parse(Buffer.from(item.payload).toString("utf8")) as Record<string, unknown>;
  return {
    _id: item.envelope.id,
    _event_time: new Date(Date.parse(item.envelope.ts)).toISOString(),
    _receive_time: new Date(Date.parse(item.envelope.rt)).toISOString(),
    _schema_version: item.envelope.schema.version,
    ...data,
  };
}

export async function tailStream(
  deps: TailDeps,
  name: string,
  fromMs: number,
  sink: TailSink,
  signal: AbortSignal,
): Promise<void> {
  const lake = readableLake(deps, streamLake(deps, name));
  const retry = deps.retry ?? DEFAULT_BACKOFF;
  const sent = new Set<string>();
  const remember = (id: string) => {
    sent.add(id);
    if (sent.size > REMEMBERED) sent.delete(sent.values().next().value!);
  };
  // Shards first, then the snapshot: a shard created after this listing has no checkpoint and is
  // read from its start, so nothing falls between the two.
  const shards = await listShards(deps.kinesis, deps.eventStream);
  const snapshot = await lake.source.snapshot();

  let after: Position | undefined;
  do {
    if (signal.aborted) return;
    const page = await readLake(
      {
        range: { fromMs, toMs: Number.MAX_SAFE_INTEGER },
        limit: 1000,
        snapshot,
        ...(after ? { after } : {}),
        ...(lake.subject ? { subject: lake.subject } : {}),
      },
      { source: lake.source, s3: deps.s3, bucket: lake.bucket, limits: deps.limits },
    );
    for (const row of page.rows) {
      remember(String(row._id));
      await sink.record(jsonRow(row));
    }
    after = page.next;
  } while (after);
  await sink.live();
  await Promise.all(
    shards.map((shard) => follow(deps, name, fromMs, shard, snapshot, sink, signal, remember, sent, retry)),
  );
}

async function listShards(kinesis: KinesisClient, stream: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let token: string | undefined;
  do {
    const out = await kinesis.send(
      new ListShardsCommand(token ? { NextToken: token } : { StreamName: stream }),
    );
    shards.push(...(out.Shards ?? []));
    token = out.NextToken;
  } while (token);
  return shards;
}

async function follow(
  deps: TailDeps,
  name: string,
  fromMs: number,
  shard: Shard,
  snapshot: LakeSnapshot,
  sink: TailSink,
  signal: AbortSignal,
  remember: (id: string) => void,
  sent: ReadonlySet<string>,
  retry: BackoffPolicy,
): Promise<void> {
  const shardId = shard.ShardId!;
  const committed = snapshot[shardId];
  let iterator = (
    await withRetries(retry, isTransient, () =>
      deps.kinesis.send(
        new GetShardIteratorCommand({
          StreamName: deps.eventStream,
          ShardId: shardId,
          ...(committed === undefined
            ? { ShardIteratorType: "TRIM_HORIZON" }
            : { ShardIteratorType: "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber: committed }),
        }),
      ),
    )
  ).ShardIterator;
  while (iterator && !signal.aborted) {
    const out = await withRetries(retry, isTransient, () =>
      deps.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 })),
    );
    iterator = out.NextShardIterator;
    const records: KinesisStreamRecord[] = (out.Records ?? []).map((r) => ({
      eventID: `${shardId}:${r.SequenceNumber}`,
      kinesis: {
        sequenceNumber: r.SequenceNumber!,
        partitionKey: r.PartitionKey ?? "",
        data: Buffer.from(r.Data ?? new Uint8Array()).toString("base64"),
        approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp?.getTime() ?? 0) / 1000,
        kinesisSchemaVersion: "1.0",
      },
    })) as KinesisStreamRecord[];
    // Other streams share the event stream; records that are not envelopes are the batcher's to file.
    const mine = decodeRecords(records).items.filter(
      (i) => i.envelope.stream === name && Date.parse(i.envelope.ts) >= fromMs && !sent.has(i.envelope.id),
    );
    const opened = await decryptItems(mine, { keys: deps.payloadKeys, retry });
    for (const f of opened.failures) {
      const id = (f.item as DeliveryItem).envelope.id;
      remember(id);
      await sink.skipped(id, f.code, f.message);
    }
    for (const item of opened.items) {
      if (sent.has(item.envelope.id)) continue;
      remember(item.envelope.id);
      await sink.record(liveRow(item));
    }
    if ((out.Records ?? []).length === 0) await sleep(deps.pollMs ?? 500, signal);
  }
}
