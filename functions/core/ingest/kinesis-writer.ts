/**
 * PutRecords in chunks within the service limits (500 entries, 5 MiB, 1 MiB per entry), retrying
 * only the entries Kinesis refused, with jittered backoff. Each entry ends either stored (with
 * its shard and sequence number) or refused with the reason. A request that fails without an
 * answer (a network error, a 5xx) may have stored its entries anyway: those are sent again
 * through `remark`, which marks them as possible repeats, and if they still fail they are
 * reported as `maybeWritten`.
 */
import { type KinesisClient, PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF, isTransient, sleep } from "../backoff.ts";

export interface KinesisEntry {
  readonly data: Uint8Array;
  readonly partitionKey: string;
}

export type KinesisOutcome =
  | { readonly ok: true; readonly shardId: string; readonly sequenceNumber: string }
  | {
      readonly ok: false;
      readonly code: "THROTTLED" | "UNAVAILABLE";
      readonly message: string;
      /** An attempt failed without an answer: Kinesis may hold the entry after all. */
      readonly maybeWritten?: boolean;
    };

/** The entry `index` encoded again as a possible repeat of copies sent over `window` (epoch ms). */
export type Remark = (index: number, window: readonly [number, number]) => Uint8Array;

/** Whether a failed PutRecords call may still have stored entries: it got no refusal back. */
function unanswered(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === undefined || status >= 500;
}

export const KINESIS_LIMITS = { entries: 500, requestBytes: 5 * 1024 * 1024, entryBytes: 1024 * 1024 };

function entrySize(e: KinesisEntry): number {
  return e.data.byteLength + Buffer.byteLength(e.partitionKey);
}

/** Splits entry indexes into request-sized chunks, preserving order. */
export function chunkEntries(entries: readonly KinesisEntry[]): number[][] {
  const chunks: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  entries.forEach((e, i) => {
    const size = entrySize(e);
    if (
      current.length > 0 &&
      (current.length === KINESIS_LIMITS.entries || bytes + size > KINESIS_LIMITS.requestBytes)
    ) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(i);
    bytes += size;
  });
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export async function putToKinesis(
  kinesis: KinesisClient,
  streamName: string,
  entries: readonly KinesisEntry[],
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  remark?: Remark,
): Promise<KinesisOutcome[]> {
  const outcomes: (KinesisOutcome | undefined)[] = new Array(entries.length);
  const data = entries.map((e) => e.data);
  const maybeWritten = new Set<number>();
  for (const chunk of chunkEntries(entries)) {
    let pending = chunk;
    const startedMs = Date.now();
    for (let attempt = 0; pending.length > 0 && attempt < policy.attempts; attempt++) {
      if (attempt > 0) await sleep(backoffDelay(policy, attempt));
      let results: { ShardId?: string; SequenceNumber?: string; ErrorCode?: string; ErrorMessage?: string }[];
      try {
        const out = await kinesis.send(
          new PutRecordsCommand({
            StreamName: streamName,
            Records: pending.map((i) => ({ Data: data[i]!, PartitionKey: entries[i]!.partitionKey })),
          }),
        );
        results = out.Records ?? [];
      } catch (err) {
        const code =
          (err as { name?: string }).name === "ProvisionedThroughputExceededException"
            ? "THROTTLED"
            : "UNAVAILABLE";
        if (unanswered(err)) {
          for (const i of pending) {
            maybeWritten.add(i);
            if (remark) data[i] = remark(i, [startedMs, Date.now()]);
          }
        }
        for (const i of pending)
          outcomes[i] = { ok: false, code, message: `Kinesis refused the record (${code.toLowerCase()})` };
        if (!isTransient(err) && code !== "THROTTLED") break;
        continue;
      }
      const retry: number[] = [];
      pending.forEach((i, pos) => {
        const r = results[pos];
        if (r?.SequenceNumber && r.ShardId && !r.ErrorCode) {
          outcomes[i] = { ok: true, shardId: r.ShardId, sequenceNumber: r.SequenceNumber };
        } else {
          const code =
            r?.ErrorCode === "ProvisionedThroughputExceededException" ? "THROTTLED" : "UNAVAILABLE";
          outcomes[i] = { ok: false, code, message: `Kinesis refused the record (${code.toLowerCase()})` };
          retry.push(i);
        }
      });
      pending = retry;
    }
  }
  return outcomes.map((o, i) => {
    const outcome = o ?? {
      ok: false as const,
      code: "UNAVAILABLE" as const,
      message: "Kinesis did not answer",
    };
    return !outcome.ok && maybeWritten.has(i) ? { ...outcome, maybeWritten: true } : outcome;
  });
}
