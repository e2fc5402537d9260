/**
 * A gRPC record as one item of the HTTPS API's batch body (`{"data", "key"?, "time"?,
 * "schemaVersion"?}`), or the error that keeps it out of the batch. Whatever could make the
 * target refuse a whole request (unreadable JSON, hostile nesting, an oversize item, a bad stream
 * name) is caught here, per record, so one bad record never costs the others of its batch.
 */
import type { ErrorDetail } from "../core/errors.ts";
import type {
  ListValueMessage,
  RecordMessage,
  StructMessage,
  TimestampMessage,
  ValueMessage,
} from "./protos.ts";
import { MalformedMessage } from "./protos.ts";

export const STREAM_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

/** `{"records":[` and `]}` around the items. */
export const BODY_FRAME_BYTES = 14;

/** The ingest API refuses a whole body nested deeper than 10,000; the batch frame adds 3. */
const MAX_BODY_NESTING = 9_990;

/** Struct values are converted recursively; deeper is never a useful record. */
const MAX_STRUCT_DEPTH = 256;

export interface ForwardItem {
  readonly stream: string;
  /** The item's JSON text, ready to join into a batch body. */
  readonly text: string;
  readonly bytes: number;
  /** Where the payload was: error paths from the target are rewritten against it. */
  readonly payloadField: "json" | "struct";
  readonly hasEventTime: boolean;
}

export type Converted =
  | { readonly ok: true; readonly item: ForwardItem }
  | { readonly ok: false; readonly error: ErrorDetail };

export interface RecordLimits {
  /** Largest body the target takes; an item that cannot fit alone is RECORD_TOO_LARGE. */
  readonly maxBatchBytes: number;
}

function fail(code: ErrorDetail["code"], message: string, path: string): Converted {
  return { ok: false, error: { code, message, path } };
}

export function checkStreamName(stream: string | undefined): ErrorDetail | undefined {
  if (stream && STREAM_NAME.test(stream)) return undefined;
  return {
    code: "INVALID_STREAM_NAME",
    message: "stream names match ^[a-z0-9][a-z0-9._-]{0,127}$",
    path: "/stream",
  };
}

/** True when brackets outside strings nest deeper than `limit`. */
function nestsDeeperThan(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

function jsonPayload(bytes: Buffer): { text: string } | { error: ErrorDetail } {
  const text = bytes.toString("utf8");
  if (text.includes("\uFFFD") && !Buffer.from(text, "utf8").equals(bytes)) {
    return { error: { code: "INVALID_JSON", message: "the payload is not valid UTF-8", path: "/json" } };
  }
  if (nestsDeeperThan(text, MAX_BODY_NESTING)) {
    return {
      error: {
        code: "RECORD_TOO_COMPLEX",
        message: `record has nesting deeper than ${MAX_BODY_NESTING}`,
        path: "/json",
      },
    };
  }
  try {
    JSON.parse(text);
  } catch (err) {
    const match = /position (\d+)/.exec((err as Error).message);
    const at = match ? Buffer.byteLength(text.slice(0, Number(match[1]))) : bytes.length;
    return { error: { code: "INVALID_JSON", message: `malformed JSON at byte offset ${at}`, path: "/json" } };
  }
  // The validated text is embedded as is: parsing it again inside the batch gives the same value.
  return { text };
}

class StructError extends Error {
  constructor(
    readonly code: ErrorDetail["code"],
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

const pointerToken = (key: string) => key.replaceAll("~", "~0").replaceAll("/", "~1");

function fromValue(value: ValueMessage | undefined, path: string, depth: number): unknown {
  if (depth > MAX_STRUCT_DEPTH) {
    throw new StructError("RECORD_TOO_COMPLEX", `struct nesting deeper than ${MAX_STRUCT_DEPTH}`, path);
  }
  switch (value?.kind) {
    case "numberValue": {
      const n = value.numberValue ?? 0;
      if (!Number.isFinite(n))
        throw new StructError("INVALID_JSON", "NaN and Infinity have no JSON form", path);
      return n;
    }
    case "stringValue":
      return value.stringValue ?? "";
    case "boolValue":
      return value.boolValue ?? false;
    case "structValue":
      return fromStruct(value.structValue, path, depth + 1);
    case "listValue":
      return fromList(value.listValue, path, depth + 1);
    default:
      // An unset Value is read as null, as the protobuf JSON mapping does.
      return null;
  }
}

function fromList(list: ListValueMessage | undefined, path: string, depth: number): unknown[] {
  return (list?.values ?? []).map((v, i) => fromValue(v, `${path}/${i}`, depth));
}

function fromStruct(struct: StructMessage | undefined, path: string, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) {
    out[key] = fromValue(value, `${path}/${pointerToken(key)}`, depth);
  }
  return out;
}

/** google.protobuf.Struct as the JSON object it stands for. */
export function structToJson(struct: StructMessage | undefined): { text: string } | { error: ErrorDetail } {
  try {
    return { text: JSON.stringify(fromStruct(struct, "", 1)) };
  } catch (err) {
    if (err instanceof StructError)
      return { error: { code: err.code, message: err.message, path: err.path } };
    throw err;
  }
}

const MIN_SECONDS = -62_135_596_800; // 0001-01-01T00:00:00Z
const MAX_SECONDS = 253_402_300_799; // 9999-12-31T23:59:59Z

/** RFC 3339 in UTC, keeping nanoseconds when the timestamp has them. */
export function timestampToIso(ts: TimestampMessage): string | undefined {
  const seconds = Number(ts.seconds ?? 0);
  const nanos = ts.nanos ?? 0;
  if (!Number.isInteger(seconds) || seconds < MIN_SECONDS || seconds > MAX_SECONDS) return undefined;
  if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) return undefined;
  const whole = new Date(seconds * 1000).toISOString().slice(0, 19);
  const fraction =
    nanos % 1_000_000 === 0 ? String(nanos / 1_000_000).padStart(3, "0") : String(nanos).padStart(9, "0");
  return `${whole}.${fraction}Z`;
}

/**
 * `batchSchemaVersion` is the IngestBatch request's own, for a record that names none; 0 (proto3's
 * unset) means the latest, so nothing is sent and the ingest API picks it as for any record.
 */
export function toForwardItem(
  record: RecordMessage,
  limits: RecordLimits,
  batchSchemaVersion = 0,
): Converted {
  // A stream's frames are length-prefixed: one that does not decode costs only itself.
  if ((record as unknown) instanceof MalformedMessage) {
    return {
      ok: false,
      error: { code: "INVALID_REQUEST", message: (record as unknown as MalformedMessage).reason },
    };
  }
  const badStream = checkStreamName(record.stream);
  if (badStream) return { ok: false, error: badStream };
  const stream = record.stream!;

  let payload: { text: string } | { error: ErrorDetail };
  let payloadField: ForwardItem["payloadField"];
  if (record.payload === "json" || (record.payload === undefined && record.json !== undefined)) {
    payloadField = "json";
    payload = jsonPayload(record.json ?? Buffer.alloc(0));
  } else if (record.payload === "struct" || record.struct !== undefined) {
    payloadField = "struct";
    payload = structToJson(record.struct);
  } else {
    return fail("INVALID_REQUEST", "a record needs a payload: json or struct", "/json");
  }
  if ("error" in payload) return { ok: false, error: payload.error };

  let time: string | undefined;
  if (record.eventTime) {
    time = timestampToIso(record.eventTime);
    if (time === undefined) {
      return fail(
        "INVALID_EVENT_TIME",
        "event time is outside 0001-01-01 to 9999-12-31 or malformed",
        "/event_time",
      );
    }
  }
  const key = record.idempotencyKey ? `,"key":${JSON.stringify(record.idempotencyKey)}` : "";
  const schemaVersion = record.schemaVersion || batchSchemaVersion;
  const version = schemaVersion ? `,"schemaVersion":${schemaVersion}` : "";
  const text = `{"data":${payload.text}${key}${time === undefined ? "" : `,"time":"${time}"`}${version}}`;
  const bytes = Buffer.byteLength(text);
  if (bytes + BODY_FRAME_BYTES > limits.maxBatchBytes) {
    return fail(
      "RECORD_TOO_LARGE",
      `record is ${bytes} bytes; a request takes at most ${limits.maxBatchBytes - BODY_FRAME_BYTES}`,
      `/${payloadField}`,
    );
  }
  return { ok: true, item: { stream, text, bytes, payloadField, hasEventTime: time !== undefined } };
}

/** The batch body for items of one stream. */
export function batchBody(items: readonly ForwardItem[]): Buffer {
  return Buffer.from(`{"records":[${items.map((i) => i.text).join(",")}]}`, "utf8");
}

/** Body bytes of `items` plus one more item of `bytes`. */
export function bodyBytesWith(currentItemsBytes: number, currentCount: number, bytes: number): number {
  return BODY_FRAME_BYTES + currentItemsBytes + bytes + currentCount;
}
