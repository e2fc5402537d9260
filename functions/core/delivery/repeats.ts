/**
 * Possible repeats: when ingest takes over an idempotency claim whose holder died between
 * PutRecords and completing the claim, it cannot know whether that put happened, so it puts the
 * record again under the same record id and marks the envelope with the window in which the
 * earlier copy would have arrived (`rp`: first claim to the expiry of the lock it took over).
 * Both copies share the partition key, so they are on one shard, the earlier one first. Only
 * marked records are checked: the shard is read back over that window, and a marked record whose
 * id is already there at a lower sequence number is dropped as the copy it is. The normal path
 * pays nothing.
 */
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import { type BackoffPolicy, isTransient, withRetries } from "../backoff.ts";
import { compareSequence } from "../checkpoints.ts";
import { decodeRecordHead } from "../envelope.ts";
import type { DeliveryItem } from "./types.ts";

/** Clock difference allowed between ingest (which stamps the window) and Kinesis (arrival times). */
const SKEW_MS = 5_000;

export interface RepeatCheck {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly shardId: string;
  readonly retry: BackoffPolicy;
}

/** `arn:aws:kinesis:region:account:stream/name` -> name. */
export function streamNameOf(eventSourceArn: string | undefined): string | undefined {
  const at = eventSourceArn?.lastIndexOf(":stream/") ?? -1;
  return at < 0 ? undefined : eventSourceArn!.slice(at + ":stream/".length);
}

/** The window an item is marked with, if it is a well-formed mark. */
function repeatWindow(item: DeliveryItem): readonly [number, number] | undefined {
  const rp = item.envelope.rp as unknown;
  return Array.isArray(rp) && rp.length === 2 && rp.every((n) => Number.isFinite(n))
    ? (rp as [number, number])
    : undefined;
}

/** Ids found on the shard over [from, to] with the lowest sequence number of each. */
async function idsInWindow(
  c: RepeatCheck,
  wanted: ReadonlySet<string>,
  fromMs: number,
  toMs: number,
  beforeSeq: string,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const it = await withRetries(c.retry, isTransient, () =>
    c.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: c.streamName,
        ShardId: c.shardId,
        ShardIteratorType: "AT_TIMESTAMP",
        Timestamp: new Date(fromMs - SKEW_MS),
      }),
    ),
  );
  let iterator = it.ShardIterator;
  const needles = [...wanted].map((id) => ({ id, bytes: Buffer.from(`"${id}"`) }));
  while (iterator) {
    const current = iterator;
    const out = await withRetries(c.retry, isTransient, () =>
      c.kinesis.send(new GetRecordsCommand({ ShardIterator: current, Limit: 10_000 })),
    );
    for (const r of out.Records ?? []) {
      if (compareSequence(r.SequenceNumber ?? "0", beforeSeq) >= 0) return found;
      if ((r.ApproximateArrivalTimestamp?.getTime() ?? 0) > toMs + SKEW_MS) return found;
      const data = Buffer.from(r.Data ?? new Uint8Array());
      for (const n of needles) {
        if (found.has(n.id) || data.indexOf(n.bytes) < 0) continue;
        // The id's bytes appear; only the envelope's own id counts.
        try {
          if (decodeRecordHead(data).head.id === n.id) found.set(n.id, r.SequenceNumber!);
        } catch {
          // Not an envelope: not a copy of anything.
        }
      }
    }
    if ((out.Records ?? []).length === 0 && (out.MillisBehindLatest ?? 0) === 0) return found;
    iterator = out.NextShardIterator;
  }
  return found;
}

/**
 * Splits `items` (in sequence order) into those to deliver and the repeats of records already on
 * the shard. Without a way to read the shard (`c` undefined) marked records are kept: a possible
 * duplicate rather than a possible loss.
 */
export async function dropRepeats(
  items: readonly DeliveryItem[],
  c: RepeatCheck | undefined,
): Promise<{ items: DeliveryItem[]; repeats: number }> {
  const marked = items.filter((i) => repeatWindow(i) !== undefined);
  if (marked.length === 0) return { items: [...items], repeats: 0 };
  // Copies earlier in this batch need no read.
  const firstSeqOf = new Map<string, string>();
  for (const i of items) if (!firstSeqOf.has(i.envelope.id)) firstSeqOf.set(i.envelope.id, i.sequenceNumber);
  const toRead = marked.filter((i) => firstSeqOf.get(i.envelope.id) === i.sequenceNumber);
  if (toRead.length > 0 && c) {
    const from = Math.min(...toRead.map((i) => repeatWindow(i)![0]));
    const to = Math.max(...toRead.map((i) => repeatWindow(i)![1]));
    const last = toRead[toRead.length - 1]!.sequenceNumber;
    const found = await idsInWindow(c, new Set(toRead.map((i) => i.envelope.id)), from, to, last);
    for (const [id, seq] of found) {
      const mine = firstSeqOf.get(id)!;
      if (compareSequence(seq, mine) < 0) firstSeqOf.set(id, seq);
    }
  }
  const kept = items.filter(
    (i) => repeatWindow(i) === undefined || firstSeqOf.get(i.envelope.id) === i.sequenceNumber,
  );
  return { items: kept, repeats: items.length - kept.length };
}
