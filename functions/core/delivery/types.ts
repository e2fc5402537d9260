import type { Envelope } from "../envelope.ts";

/** One Kinesis record on its way through the batcher. */
export interface DeliveryItem {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly arrivalMs: number;
  readonly raw: Uint8Array;
  readonly envelope?: Envelope;
  /** The payload after transformation. */
  readonly data?: unknown;
  readonly partitionKeys?: Readonly<Record<string, string>>;
}

export type FailureStage = "decode" | "transform" | "partition" | "convert";

/** A record the batcher could not deliver; it goes to the errors prefix with this reason. */
export interface DeliveryFailure {
  readonly item: DeliveryItem;
  readonly stage: FailureStage;
  readonly code: string;
  readonly message: string;
}

/** An object to put, with everything needed to write it again identically. */
export interface OutputObject {
  readonly key: string;
  readonly body: Uint8Array;
  readonly contentType: string;
  readonly contentEncoding?: string;
  readonly records: number;
}
