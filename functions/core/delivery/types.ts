import type { EnvelopeHead } from "../envelope.ts";

/** One Kinesis record as the batcher received it. */
export interface ReceivedRecord {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly arrivalMs: number;
  readonly raw: Uint8Array;
}

/**
 * Who wrote an item's payload text. The text is checked to be JSON only by whoever parses it
 * first, possibly a late stage, and a payload that is not JSON is the fault of its writer: the
 * record (decode) or the transformer (transform).
 */
export type PayloadOrigin = "decode" | "transform";

/** A record decoded as a Sluice envelope, on its way through the batcher. */
export interface DeliveryItem extends ReceivedRecord {
  readonly envelope: EnvelopeHead;
  /** The payload as the producer sent it: a view into `raw`. Error files show this one. */
  readonly original: Uint8Array;
  /** The payload's UTF-8 JSON text as the later stages read it: `original`, or the transformer's answer. */
  readonly payload: Uint8Array;
  readonly payloadOrigin: PayloadOrigin;
  readonly partitionKeys?: Readonly<Record<string, string>>;
}

/** `put`: S3 refused the record's data file; `deliver`: its batch failed on every attempt. */
export type FailureStage = "decode" | "transform" | "partition" | "convert" | "put" | "deliver";

/** A record the batcher could not deliver; it goes to the errors prefix with this reason. */
export interface DeliveryFailure {
  readonly item: ReceivedRecord | DeliveryItem;
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
