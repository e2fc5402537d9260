/**
 * An IngestBatch call as one HTTPS request: the checks that refuse the whole batch, the records
 * rejected on their own before it is sent, and the acks put back in the records' order.
 */
import { status } from "@grpc/grpc-js";
import type { ForwardOutcome } from "./forwarder.ts";
import type { AckMessage, RecordMessage } from "./protos.ts";
import {
  BODY_FRAME_BYTES,
  checkStreamName,
  type ForwardItem,
  type RecordLimits,
  toForwardItem,
} from "./records.ts";
import { ackFromResult, type CallError, callError, rejectedAck } from "./status.ts";

export interface BatchLimits extends RecordLimits {
  readonly maxBatchRecords: number;
}

export interface BatchPlan {
  readonly stream: string;
  /** What goes to the target, with each item's place in the call. */
  readonly sent: readonly { readonly index: number; readonly item: ForwardItem }[];
  /** Acks by place; those of records rejected before sending are already set. */
  readonly acks: (AckMessage | undefined)[];
  readonly records: readonly RecordMessage[];
}

/** `schemaVersion` is the request's own: that of each record that names none (0: the latest). */
export function planBatch(
  records: readonly RecordMessage[],
  limits: BatchLimits,
  schemaVersion = 0,
): BatchPlan | CallError {
  if (records.length === 0) {
    return callError(status.INVALID_ARGUMENT, { code: "EMPTY_BODY", message: "the batch holds no records" });
  }
  if (records.length > limits.maxBatchRecords) {
    return callError(status.RESOURCE_EXHAUSTED, {
      code: "TOO_MANY_RECORDS",
      message: `${records.length} records in one batch; the limit is ${limits.maxBatchRecords}`,
    });
  }
  const stream = records[0]!.stream;
  const other = records.findIndex((r) => r.stream !== stream);
  if (other >= 0) {
    return callError(status.INVALID_ARGUMENT, {
      code: "INVALID_REQUEST",
      message: "all records of one batch must name the same stream; use IngestStream to mix streams",
      path: `/records/${other}/stream`,
    });
  }
  const badName = checkStreamName(stream);
  if (badName) return callError(status.INVALID_ARGUMENT, badName);

  const acks: (AckMessage | undefined)[] = new Array(records.length);
  const sent: { index: number; item: ForwardItem }[] = [];
  let bodyBytes = BODY_FRAME_BYTES - 1;
  records.forEach((record, index) => {
    const converted = toForwardItem(record, limits, schemaVersion);
    if (converted.ok) {
      sent.push({ index, item: converted.item });
      bodyBytes += converted.item.bytes + 1;
    } else acks[index] = rejectedAck(converted.error, record.clientId);
  });
  if (bodyBytes > limits.maxBatchBytes) {
    return callError(status.RESOURCE_EXHAUSTED, {
      code: "BODY_TOO_LARGE",
      message: `the batch is ${bodyBytes} bytes as JSON; the limit is ${limits.maxBatchBytes}`,
    });
  }
  return { stream: stream!, sent, acks, records };
}

export function isCallError(value: BatchPlan | CallError): value is CallError {
  return "details" in value;
}

/** Every ack in place: the target's results for the records sent, beside those rejected before. */
export function batchAcks(
  plan: BatchPlan,
  answer: Extract<ForwardOutcome, { kind: "results" }> | undefined,
): AckMessage[] {
  if (answer) {
    plan.sent.forEach(({ index, item }, i) => {
      plan.acks[index] = ackFromResult(
        answer.results[i]!,
        item,
        plan.records[index]!.clientId,
        answer.retryAfterSeconds,
      );
    });
  }
  return plan.acks as AckMessage[];
}
