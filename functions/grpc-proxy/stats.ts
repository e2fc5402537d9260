/**
 * What the proxy holds and has done, for logs, tests and benchmarks: records read but not yet
 * acked (the memory that flow control bounds), batches in flight, and totals.
 */
import type { AckStatus } from "./protos.ts";

const COUNTER = {
  ACK_STATUS_ACCEPTED: "accepted",
  ACK_STATUS_DUPLICATE: "duplicate",
  ACK_STATUS_REJECTED: "rejected",
} as const;

export interface ProxyStatsSnapshot {
  /** Records read from stream calls and not yet acked, across calls. */
  readonly bufferedRecords: number;
  readonly bufferedBytes: number;
  readonly peakBufferedRecords: number;
  readonly peakBufferedBytes: number;
  readonly inFlightBatches: number;
  readonly peakInFlightBatches: number;
  readonly batches: number;
  readonly records: number;
  readonly accepted: number;
  readonly duplicate: number;
  readonly rejected: number;
  /** Times a stream call stopped reading because its buffer was full or its client slow. */
  readonly pauses: number;
}

export class ProxyStats {
  private state = {
    bufferedRecords: 0,
    bufferedBytes: 0,
    peakBufferedRecords: 0,
    peakBufferedBytes: 0,
    inFlightBatches: 0,
    peakInFlightBatches: 0,
    batches: 0,
    records: 0,
    accepted: 0,
    duplicate: 0,
    rejected: 0,
    pauses: 0,
  };

  buffered(records: number, bytes: number): void {
    const s = this.state;
    s.bufferedRecords += records;
    s.bufferedBytes += bytes;
    if (s.bufferedRecords > s.peakBufferedRecords) s.peakBufferedRecords = s.bufferedRecords;
    if (s.bufferedBytes > s.peakBufferedBytes) s.peakBufferedBytes = s.bufferedBytes;
  }

  inFlight(delta: number): void {
    const s = this.state;
    s.inFlightBatches += delta;
    if (delta > 0) s.batches += delta;
    if (s.inFlightBatches > s.peakInFlightBatches) s.peakInFlightBatches = s.inFlightBatches;
  }

  acked(status: AckStatus): void {
    this.state.records++;
    this.state[COUNTER[status]]++;
  }

  paused(): void {
    this.state.pauses++;
  }

  snapshot(): ProxyStatsSnapshot {
    return { ...this.state };
  }
}
