/**
 * An item's payload travels as JSON text that nobody has parsed (see `DeliveryItem.payload`):
 * these are the few places that need its value, and the failure of a payload that is not JSON.
 */
import { asBuffer } from "../bytes.ts";
import type { DeliveryFailure, DeliveryItem } from "./types.ts";

/** What `parsePayload` returns for text that is not JSON (`undefined` is not JSON's either). */
export const NOT_JSON: unique symbol = Symbol("not JSON");

export const RECORD_NOT_JSON = "record is not JSON";
export const ANSWER_NOT_JSON = "the transformer returned data that is not JSON";
export const ANSWER_NOT_OBJECT = "the transformer returned data that is not a JSON object";

export function parsePayload(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8Text(bytes));
  } catch {
    return NOT_JSON;
  }
}

export function utf8Text(bytes: Uint8Array): string {
  return asBuffer(bytes).toString("utf8");
}

/**
 * The failure of a record whose own payload is not JSON, exactly as decode reported it when it
 * parsed whole records: the record is not JSON, so not an envelope, and is filed without one.
 */
export function recordNotJson(item: DeliveryItem): DeliveryFailure {
  const { sequenceNumber, partitionKey, arrivalMs, raw } = item;
  return {
    item: { sequenceNumber, partitionKey, arrivalMs, raw },
    stage: "decode",
    code: "NOT_AN_ENVELOPE",
    message: RECORD_NOT_JSON,
  };
}

/** The failure of an item whose payload turned out not to be JSON: the fault of whoever wrote it. */
export function payloadNotJson(item: DeliveryItem): DeliveryFailure {
  return item.payloadOrigin === "transform"
    ? { item, stage: "transform", code: "TRANSFORM_BAD_OUTPUT", message: ANSWER_NOT_JSON }
    : recordNotJson(item);
}
