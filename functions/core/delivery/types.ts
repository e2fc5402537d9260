/** What the batcher's stages hand each other: records, items on their way, failures, objects. */
import type { SealedPayload } from "../crypto/types.ts";
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
  /**
   * The payload as the producer sent it: a view into `raw`, or the decrypted text. Error files
   * show this one, unless the record came `sealed`.
   */
  readonly original: Uint8Array;
  /** The payload's UTF-8 JSON text as the later stages read it: `original`, or the transformer's answer. */
  readonly payload: Uint8Array;
  readonly payloadOrigin: PayloadOrigin;
  readonly partitionKeys?: Readonly<Record<string, string>>;
  /**
   * The record's `enc` as received, when its payload came encrypted. Until the decrypt stage has
   * opened it, `original` and `payload` are empty. Error files show this in place of the payload,
   * so they never hold plaintext that Kinesis did not.
   */
  readonly sealed?: SealedPayload;
}

/**
 * `decrypt`: an encrypted payload could not be opened; `put`: S3 refused the record's data file;
 * `deliver`: its batch failed on every attempt.
 */
export type FailureStage = "decode" | "decrypt" | "transform" | "partition" | "convert" | "put" | "deliver";

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
