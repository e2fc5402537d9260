/**
 * Sends keyed records batch by batch, a few batches in flight, and retries what the server says
 * to retry: a whole request answered 409, 429 or 503 (or not answered), and single records
 * rejected IN_PROGRESS, THROTTLED or UNAVAILABLE. Waits are the backoff's, or the server's
 * Retry-After when longer. Every record ends accepted, duplicate or rejected with a reason.
 */
import { type BackoffPolicy, backoffDelay, sleep } from "../../functions/core/backoff.ts";
import { type BatchLimits, batchesOf, type OutgoingRecord } from "./batches.ts";
import type { RecordOutcome, Transport } from "./transport.ts";

export interface Rejection {
  readonly ordinal: number;
  readonly code: string;
  readonly message: string;
  readonly path?: string;
  readonly data?: unknown;
}

export interface SendTally {
  accepted: number;
  duplicate: number;
  rejected: number;
  /** Bytes of records finished (any outcome). */
  bytes: number;
  retries: number;
}

export interface SendOptions {
  readonly stream: string;
  readonly transport: Transport;
  readonly concurrency?: number;
  readonly backoff?: BackoffPolicy;
  readonly limits?: BatchLimits;
  /** After every batch finishes, with the running tally. */
  readonly onProgress?: (tally: Readonly<SendTally>) => void;
  readonly onReject?: (rejection: Rejection) => void;
}

/** Up to 10 tries, 0.2 s doubling to 20 s: a minute or more of patience for a restarting stack. */
export const SEND_BACKOFF: BackoffPolicy = { attempts: 10, baseMs: 200, capMs: 20_000 };

const RETRYABLE_CODES = new Set(["IN_PROGRESS", "THROTTLED", "UNAVAILABLE"]);

/** A refusal no retry will change (bad key, unknown stream): the send stops. */
export class SendFailed extends Error {
  override readonly name = "SendFailed";
}

export async function sendRecords(records: readonly OutgoingRecord[], o: SendOptions): Promise<SendTally> {
  const tally: SendTally = { accepted: 0, duplicate: 0, rejected: 0, bytes: 0, retries: 0 };
  const policy = o.backoff ?? SEND_BACKOFF;
  const batches = batchesOf(records, o.limits);
  let failure: Error | undefined;

  const finish = (r: OutgoingRecord, outcome: RecordOutcome) => {
    tally.bytes += r.bytes;
    if (outcome.status === "accepted") tally.accepted++;
    else if (outcome.status === "duplicate") tally.duplicate++;
    else {
      tally.rejected++;
      o.onReject?.({
        ordinal: r.ordinal,
        code: outcome.error?.code ?? "REJECTED",
        message: outcome.error?.message ?? "rejected",
        ...(outcome.error?.path === undefined ? {} : { path: outcome.error.path }),
        data: r.data,
      });
    }
  };

  async function sendBatch(batch: OutgoingRecord[]): Promise<void> {
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      const answer = await o.transport.send(o.stream, pending);
      let retry: OutgoingRecord[] = [];
      let serverWaitMs = answer.retryAfterMs ?? 0;
      if (answer.results) {
        answer.results.forEach((outcome, i) => {
          const r = pending[i]!;
          if (outcome.status === "rejected" && RETRYABLE_CODES.has(outcome.error?.code ?? "")) {
            retry.push(r);
            serverWaitMs = Math.max(serverWaitMs, (outcome.retryAfterSeconds ?? 0) * 1000);
          } else finish(r, outcome);
        });
      } else if (answer.retryable) retry = pending;
      else throw new SendFailed(`the server refused the batch (${answer.status}): ${answer.message ?? ""}`);
      if (retry.length === 0) break;
      if (attempt + 1 >= policy.attempts) {
        const code = answer.results ? undefined : String(answer.status);
        for (const r of retry) {
          finish(r, {
            status: "rejected",
            error: {
              code: code ?? "GAVE_UP",
              message: `still refused after ${policy.attempts} attempts; send again later`,
            },
          });
        }
        break;
      }
      tally.retries++;
      await sleep(Math.max(serverWaitMs, backoffDelay(policy, attempt)));
      pending = retry;
    }
    o.onProgress?.(tally);
  }

  async function worker(): Promise<void> {
    while (failure === undefined) {
      const next = batches.next();
      if (next.done) return;
      try {
        await sendBatch(next.value);
      } catch (err) {
        failure ??= err as Error;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 4) }, worker));
  if (failure) throw failure;
  return tally;
}
