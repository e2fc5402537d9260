/**
 * One IngestStream call as plain logic, with no gRPC in it: records in, coalesced into one open
 * batch per stream (closed at 500 records, 5 MiB of body or a short linger), at most a few
 * batches in flight, acks out strictly in the order the records came.
 *
 * Memory is bounded by flow control, not by buffering: the session asks its caller to stop
 * reading when the records it holds (read, not yet acked) reach their limit or the client is
 * not reading its acks, and to go on when they drain. It never fails a call for being busy.
 */
import type { ForwardOutcome } from "./forwarder.ts";
import type { AckMessage, RecordMessage } from "./protos.ts";
import { bodyBytesWith, type ForwardItem, toForwardItem } from "./records.ts";
import type { ProxyStats } from "./stats.ts";
import { ackFromRefusal, ackFromResult, type Refusal, rejectedAck, unreachable } from "./status.ts";

export interface CoalescingLimits {
  /** Records per forwarded request. @default 500 */
  readonly maxBatchRecords: number;
  /** Body bytes per forwarded request. @default 5 MiB */
  readonly maxBatchBytes: number;
  /** How long an open batch waits for more records. @default 20 */
  readonly lingerMs: number;
  /** Forwarded requests one call may have outstanding. @default 4 */
  readonly maxInFlightBatches: number;
  /** Records one call may hold (read, not yet acked) before it stops reading. */
  readonly maxBufferedRecords: number;
  /** Item bytes one call may hold before it stops reading. */
  readonly maxBufferedBytes: number;
}

export interface StreamSessionHooks {
  /** Forwards one batch of one stream. */
  send(stream: string, items: readonly ForwardItem[]): Promise<ForwardOutcome>;
  /** Writes one ack; false when the client is behind (then wait for {@link StreamSession.drained}). */
  write(ack: AckMessage): boolean;
  /** Stop (false) or go on (true) reading records from the client. */
  setReading(reading: boolean): void;
  /** Every record read has its ack written: end the call, with this status when there is one. */
  finish(status: Refusal | undefined): void;
  readonly stats?: ProxyStats;
}

interface Slot {
  ack?: AckMessage;
  item?: ForwardItem;
  readonly clientId: string | undefined;
  readonly bytes: number;
}

interface Batch {
  readonly stream: string;
  readonly slots: Slot[];
  itemsBytes: number;
  timer?: NodeJS.Timeout;
  /** Its linger is over (or nothing more will come): send it as soon as a request may go out. */
  due: boolean;
}

export const SHUTTING_DOWN: Refusal = unreachable(
  "the proxy is shutting down: send the records without an ack again",
);

export class StreamSession {
  /** Records in arrival order, from `head`; each leaves once its ack is written. */
  private readonly slots: (Slot | undefined)[] = [];
  private head = 0;
  private bufferedBytes = 0;
  /** Batches not sent yet, oldest first; the last of a stream may still take records. */
  private readonly pending: Batch[] = [];
  /** Per stream, the batch that takes its next records. */
  private readonly open = new Map<string, Batch>();
  private inFlight = 0;
  private reading = true;
  /** The client is not taking acks as fast as they come. */
  private blocked = false;
  private ended = false;
  private closing = false;
  private terminal: Refusal | undefined;
  private done = false;
  private readonly whenDone: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly limits: CoalescingLimits,
    private readonly hooks: StreamSessionHooks,
  ) {
    this.whenDone = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  /** Records read and not yet acked. */
  get buffered(): number {
    return this.slots.length - this.head;
  }

  get isReading(): boolean {
    return this.reading;
  }

  /** Resolves once the call is finished or cancelled. */
  get finished(): Promise<void> {
    return this.whenDone;
  }

  push(record: RecordMessage): void {
    if (this.done) return;
    const converted = toForwardItem(record, { maxBatchBytes: this.limits.maxBatchBytes });
    const slot: Slot = {
      clientId: record.clientId || undefined,
      bytes: converted.ok ? converted.item.bytes : 0,
    };
    this.slots.push(slot);
    this.bufferedBytes += slot.bytes;
    this.hooks.stats?.buffered(1, slot.bytes);
    if (!converted.ok) slot.ack = rejectedAck(converted.error, slot.clientId);
    else if (this.terminal)
      slot.ack = ackFromRefusal(notForwarded(this.terminal), converted.item, slot.clientId);
    else {
      slot.item = converted.item;
      this.add(slot, converted.item);
    }
    this.emitReady();
    this.updateReading();
  }

  /** The client half-closed: forward what is open, finish once every ack is out. */
  end(): void {
    if (this.done) return;
    this.ended = true;
    this.allDue();
    this.updateReading();
    this.maybeFinish();
  }

  /** The client can take acks again. */
  drained(): void {
    if (this.done) return;
    this.blocked = false;
    this.emitReady();
    this.updateReading();
    this.maybeFinish();
  }

  /** The client went away: nothing more is written; requests already sent complete unseen. */
  cancel(): void {
    if (this.done) return;
    for (const batch of this.pending) clearTimeout(batch.timer);
    this.pending.length = 0;
    this.open.clear();
    this.hooks.stats?.buffered(-this.buffered, -this.bufferedBytes);
    this.slots.length = 0;
    this.head = 0;
    this.bufferedBytes = 0;
    this.done = true;
    this.resolveDone();
  }

  /**
   * Graceful shutdown: stop reading, forward what was read, write every ack, then end the call
   * with UNAVAILABLE so the client sends the rest elsewhere.
   */
  shutdown(): Promise<void> {
    if (!this.done) {
      this.closing = true;
      this.allDue();
      this.updateReading();
      this.maybeFinish();
    }
    return this.whenDone;
  }

  private add(slot: Slot, item: ForwardItem): void {
    let batch = this.open.get(item.stream);
    if (
      batch &&
      bodyBytesWith(batch.itemsBytes, batch.slots.length, item.bytes) > this.limits.maxBatchBytes
    ) {
      this.seal(batch);
      batch = undefined;
    }
    if (!batch) {
      const fresh: Batch = { stream: item.stream, slots: [], itemsBytes: 0, due: this.ended || this.closing };
      fresh.timer = setTimeout(() => {
        fresh.due = true;
        this.dispatch();
      }, this.limits.lingerMs);
      this.pending.push(fresh);
      this.open.set(item.stream, fresh);
      batch = fresh;
    }
    batch.slots.push(slot);
    batch.itemsBytes += item.bytes;
    if (batch.slots.length >= this.limits.maxBatchRecords) this.seal(batch);
    this.dispatch();
  }

  /** Full: it takes no more records and goes out first chance. */
  private seal(batch: Batch): void {
    if (this.open.get(batch.stream) === batch) this.open.delete(batch.stream);
    batch.due = true;
  }

  private allDue(): void {
    for (const batch of this.pending) batch.due = true;
    this.dispatch();
  }

  /**
   * Sends due batches while requests may go out. A batch that is due but must wait keeps taking
   * records, so a slow target gets full batches rather than many small ones.
   */
  private dispatch(): void {
    while (!this.done && this.inFlight < this.limits.maxInFlightBatches) {
      const next = this.pending.findIndex((b) => b.due);
      if (next < 0) return;
      const batch = this.pending.splice(next, 1)[0]!;
      if (this.open.get(batch.stream) === batch) this.open.delete(batch.stream);
      clearTimeout(batch.timer);
      this.inFlight++;
      this.hooks
        .send(
          batch.stream,
          batch.slots.map((s) => s.item!),
        )
        .catch((err: unknown): ForwardOutcome => ({ kind: "refused", refusal: unreachable(String(err)) }))
        .then((outcome) => this.complete(batch, outcome));
    }
  }

  private complete(batch: Batch, outcome: ForwardOutcome): void {
    this.inFlight--;
    if (this.done) return;
    if (outcome.kind === "results") {
      batch.slots.forEach((slot, i) => {
        slot.ack = ackFromResult(outcome.results[i]!, slot.item, slot.clientId, outcome.retryAfterSeconds);
        slot.item = undefined;
      });
    } else {
      for (const slot of batch.slots) {
        slot.ack = ackFromRefusal(outcome.refusal, slot.item, slot.clientId);
        slot.item = undefined;
      }
      if (outcome.refusal.endsStream) this.fail(outcome.refusal);
    }
    this.emitReady();
    this.dispatch();
    this.updateReading();
    this.maybeFinish();
  }

  /** The call cannot go on: what was read and not forwarded is rejected with the reason. */
  private fail(refusal: Refusal): void {
    if (this.terminal) return;
    this.terminal = refusal;
    const unsent = this.pending.splice(0);
    this.open.clear();
    for (const batch of unsent) {
      clearTimeout(batch.timer);
      for (const slot of batch.slots) {
        slot.ack = ackFromRefusal(notForwarded(refusal), slot.item, slot.clientId);
        slot.item = undefined;
      }
    }
  }

  private emitReady(): void {
    while (!this.blocked && this.head < this.slots.length) {
      const slot = this.slots[this.head];
      if (!slot?.ack) break;
      this.slots[this.head] = undefined;
      this.head++;
      this.bufferedBytes -= slot.bytes;
      this.hooks.stats?.buffered(-1, -slot.bytes);
      this.hooks.stats?.acked(slot.ack.status);
      if (!this.hooks.write(slot.ack)) this.blocked = true;
    }
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots.splice(0, this.head);
      this.head = 0;
    }
  }

  private updateReading(): void {
    const wanted =
      !this.done &&
      !this.terminal &&
      !this.ended &&
      !this.closing &&
      !this.blocked &&
      this.buffered < this.limits.maxBufferedRecords &&
      this.bufferedBytes < this.limits.maxBufferedBytes;
    if (wanted === this.reading) return;
    this.reading = wanted;
    if (!wanted) {
      if (!this.terminal && !this.ended && !this.closing) this.hooks.stats?.paused();
      // Nothing more comes until acks drain, so waiting out the linger would only add latency.
      this.allDue();
    }
    this.hooks.setReading(wanted);
  }

  private maybeFinish(): void {
    if (this.done || !(this.ended || this.terminal || this.closing)) return;
    if (this.buffered > 0 || this.inFlight > 0 || this.pending.length > 0) return;
    this.done = true;
    this.hooks.finish(this.terminal ?? (this.ended ? undefined : SHUTTING_DOWN));
    this.resolveDone();
  }
}

function notForwarded(refusal: Refusal): Refusal {
  return { ...refusal, message: `not forwarded: ${refusal.message}` };
}
