/** Records with their idempotency keys, cut into batches within the ingest API's limits. */
import { createHash } from "node:crypto";
import { DEFAULT_LIMITS } from "../../functions/core/ingest/request.ts";
import type { InputProblem, InputRecord } from "../../functions/core/input/read-input.ts";

export interface OutgoingRecord {
  readonly ordinal: number;
  readonly data: unknown;
  readonly key: string;
  /** Bytes of `{"data":...,"key":...}` in the request body. */
  readonly bytes: number;
}

/** What identifies an input across runs: its bytes, so a re-run of the same file makes the same keys. */
export function inputId(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("base64url").slice(0, 22);
}

/**
 * The key of each record: `send:<input id>:<ordinal>`, or the value of `keyField` (a top-level
 * field) when given. A record without that field, or whose key is not 1-256 characters, is a problem.
 */
export function keyedRecords(
  records: readonly InputRecord[],
  id: string,
  keyField?: string,
): { records: OutgoingRecord[]; problems: InputProblem[] } {
  const out: OutgoingRecord[] = [];
  const problems: InputProblem[] = [];
  for (const r of records) {
    let key = `send:${id}:${r.ordinal}`;
    if (keyField !== undefined) {
      const value = (r.data as Record<string, unknown> | null)?.[keyField];
      if (typeof value !== "string" && typeof value !== "number") {
        problems.push({
          ordinal: r.ordinal,
          code: "KEY_FIELD_MISSING",
          message: `no string or number field ${JSON.stringify(keyField)}`,
        });
        continue;
      }
      key = String(value);
    }
    if (key.length < 1 || key.length > DEFAULT_LIMITS.maxKeyLength) {
      problems.push({
        ordinal: r.ordinal,
        code: "INVALID_IDEMPOTENCY_KEY",
        message: `the key is ${key.length} characters; 1-256 are allowed`,
      });
      continue;
    }
    out.push({ ...r, key, bytes: Buffer.byteLength(JSON.stringify({ data: r.data, key })) });
  }
  return { records: out, problems };
}

export interface BatchLimits {
  readonly maxRecords: number;
  readonly maxBytes: number;
}

/** The API's limits, with room for the `{"records":[...]}` around the records. */
export const API_BATCH_LIMITS: BatchLimits = {
  maxRecords: DEFAULT_LIMITS.maxRecords,
  maxBytes: DEFAULT_LIMITS.maxBodyBytes - 1024,
};

/** Consecutive batches; a record alone over the byte limit gets a batch of its own for the API to refuse. */
export function* batchesOf(
  records: readonly OutgoingRecord[],
  limits: BatchLimits = API_BATCH_LIMITS,
): Generator<OutgoingRecord[]> {
  let batch: OutgoingRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    if (batch.length > 0 && (batch.length >= limits.maxRecords || bytes + r.bytes + 1 > limits.maxBytes)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(r);
    bytes += r.bytes + 1;
  }
  if (batch.length > 0) yield batch;
}
