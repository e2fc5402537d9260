/** The decode stage: Kinesis records to envelope heads and payload text, or why they are not envelopes. */
import type { KinesisStreamRecord } from "aws-lambda";
import { decodeRecordHead, EnvelopeError } from "../envelope.ts";
import type { DeliveryFailure, DeliveryItem, ReceivedRecord } from "./types.ts";

/** The payload of a sealed item until the decrypt stage opens it. */
const UNOPENED = new Uint8Array(0);

/** The shard id ESM puts before the colon of each record's eventID. */
export function shardOf(record: KinesisStreamRecord): string {
  const id = record.eventID ?? "";
  const colon = id.indexOf(":");
  return colon > 0 ? id.slice(0, colon) : "shardId-unknown";
}

/**
 * Decodes envelopes; records that are not Sluice envelopes fail at the decode stage. Payloads stay
 * text (views into the records): a payload that is not JSON is found by whoever parses it first.
 * Encrypted payloads come out `sealed`, for the decrypt stage.
 */
export function decodeRecords(records: readonly KinesisStreamRecord[]): {
  items: DeliveryItem[];
  failures: DeliveryFailure[];
} {
  const items: DeliveryItem[] = [];
  const failures: DeliveryFailure[] = [];
  for (const r of records) {
    const base: ReceivedRecord = {
      sequenceNumber: r.kinesis.sequenceNumber,
      partitionKey: r.kinesis.partitionKey,
      arrivalMs: Math.round(r.kinesis.approximateArrivalTimestamp * 1000),
      raw: Buffer.from(r.kinesis.data, "base64"),
    };
    try {
      const decoded = decodeRecordHead(base.raw);
      const { head } = decoded;
      items.push(
        "sealed" in decoded
          ? {
              ...base,
              envelope: head,
              original: UNOPENED,
              payload: UNOPENED,
              payloadOrigin: "decode",
              sealed: decoded.sealed,
            }
          : {
              ...base,
              envelope: head,
              original: decoded.payload,
              payload: decoded.payload,
              payloadOrigin: "decode",
            },
      );
    } catch (err) {
      if (!(err instanceof EnvelopeError)) throw err;
      failures.push({ item: base, stage: "decode", code: "NOT_AN_ENVELOPE", message: err.message });
    }
  }
  return { items, failures };
}
