/**
 * Turns an ingest request body into records, each with its own error if it is bad, so one bad
 * record never costs its neighbours. Whole-request problems (unreadable body, wrong media type,
 * limits) throw a SluiceError with the HTTP status to answer.
 *
 * Accepted bodies:
 * - `application/json`: one record (any JSON object), or `{"records": [{ "data": {...},
 *   "key"?: string, "time"?: string, "schemaVersion"?: number }]}`
 * - `application/x-ndjson`: one record per line
 * - `application/cloudevents+json` / `application/cloudevents-batch+json`: structured mode;
 *   `id` is the idempotency key, `time` the event time, `dataschema` the schema version (see
 *   schema-version.ts), `type`/`source`/`subject` kept as metadata.
 *
 * The `Sluice-Schema-Version` header names the version of every record that names none itself.
 */
import { epochMillis } from "../date-time-format.ts";
import { type ErrorDetail, SluiceError } from "../errors.ts";
import { fieldSpan, itemSpans, type Span } from "./json-spans.ts";
import {
  isErrorDetail,
  type SchemaChoice,
  versionFromDataschema,
  versionFromField,
  versionFromHeader,
} from "./schema-version.ts";

export interface IngestLimits {
  readonly maxBodyBytes: number;
  readonly maxRecords: number;
  readonly maxRecordBytes: number;
  readonly maxDepth: number;
  readonly maxKeys: number;
  readonly maxKeyLength: number;
}

export const DEFAULT_LIMITS: IngestLimits = {
  maxBodyBytes: 5 * 1024 * 1024,
  maxRecords: 500,
  // Kinesis takes 1 MiB per entry; the envelope needs room around the payload.
  maxRecordBytes: 1024 * 1024 - 2048,
  maxDepth: 64,
  maxKeys: 10_000,
  maxKeyLength: 256,
};

export interface ParsedRecord {
  readonly data?: unknown;
  /** The payload's JSON text as sent, when the record was its own line or body. */
  readonly raw?: string;
  readonly key?: string;
  readonly time?: string;
  readonly meta?: Readonly<Record<string, string>>;
  /** The schema version the producer named; the latest when absent. */
  readonly schema?: SchemaChoice;
  readonly error?: ErrorDetail;
}

type Format = "json" | "ndjson" | "cloudevent" | "cloudevents-batch";

function formatOf(contentType: string | undefined): Format {
  const type = (contentType ?? "application/json").split(";")[0]!.trim().toLowerCase();
  switch (type) {
    case "application/json":
    case "text/json":
      return "json";
    case "application/x-ndjson":
    case "application/ndjson":
    case "application/jsonl":
      return "ndjson";
    case "application/cloudevents+json":
      return "cloudevent";
    case "application/cloudevents-batch+json":
      return "cloudevents-batch";
    default:
      throw new SluiceError(
        "UNSUPPORTED_MEDIA_TYPE",
        `content type ${type} is not accepted; use application/json, application/x-ndjson or application/cloudevents+json`,
        415,
      );
  }
}

/** JSON.parse's complaint about `text`, as the byte offset of the fault in the body. */
function invalidJson(err: unknown, text: string, baseOffset: number): ErrorDetail {
  const match = /position (\d+)/.exec((err as Error).message);
  const charPos = match ? Number(match[1]) : text.length;
  const byteOffset = baseOffset + Buffer.byteLength(text.slice(0, charPos));
  return { code: "INVALID_JSON", message: `malformed JSON at byte offset ${byteOffset}`, path: "" };
}

/**
 * Depth and key count of a parsed value, and whether it holds a number JSON.parse read as
 * Infinity: JSON has no Infinity, so that is a number too large for a double (`1e400`), which no
 * column could store as sent. Recursion stops at the depth limit, so a hostile body nested a
 * million deep costs 65 frames; nothing is allocated on the way down. The number check rides on
 * the walk the limits need anyway: one subtraction per number.
 */
function shapeError(value: unknown, limits: IngestLimits): ErrorDetail | undefined {
  keysSeen = 0;
  const result = walk(value, 1, limits);
  if (result === 0) return undefined;
  if (result === NOT_FINITE) {
    return {
      code: "NUMBER_NOT_FINITE",
      message: "number too large for a double (JSON.parse reads it as Infinity); send it as a string",
      path: `/data${nonFinitePath(value, 1, limits) ?? ""}`,
    };
  }
  const what =
    result === DEEP ? `nesting deeper than ${limits.maxDepth}` : `more than ${limits.maxKeys} keys`;
  return { code: "RECORD_TOO_COMPLEX", message: `record has ${what}`, path: "/data" };
}

const DEEP = 1;
const WIDE = 2;
const NOT_FINITE = 3;
let keysSeen = 0;

function walk(v: unknown, depth: number, limits: IngestLimits): number {
  // `v - v` is 0 for every finite number, NaN for Infinity.
  if (typeof v !== "object") return typeof v === "number" && v - v !== 0 ? NOT_FINITE : 0;
  if (v === null) return 0;
  if (depth > limits.maxDepth) return DEEP;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = walk(v[i], depth + 1, limits);
      if (r !== 0) return r;
    }
    return 0;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    if (++keysSeen > limits.maxKeys) return WIDE;
    const r = walk(o[k], depth + 1, limits);
    if (r !== 0) return r;
  }
  return 0;
}

/** The JSON pointer to the first non-finite number in `v`, in `walk`'s order; built only for the error. */
function nonFinitePath(v: unknown, depth: number, limits: IngestLimits): string | undefined {
  if (typeof v === "number") return v - v !== 0 ? "" : undefined;
  if (v === null || typeof v !== "object" || depth > limits.maxDepth) return undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = nonFinitePath(v[i], depth + 1, limits);
      if (r !== undefined) return `/${i}${r}`;
    }
    return undefined;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    const r = nonFinitePath(o[k], depth + 1, limits);
    if (r !== undefined) return `/${k.replaceAll("~", "~0").replaceAll("/", "~1")}${r}`;
  }
  return undefined;
}

/**
 * Where a record sits in the request, as a JSON pointer: `prefix` alone, or `prefix` + `index`
 * when `index` is not negative. Built only for errors: most records have none.
 */
function pointer(prefix: string, index: number, rest: string): string {
  return index < 0 ? prefix + rest : `${prefix}${index}${rest}`;
}

/**
 * `bytes` is the record's exact size in bytes when `exact`, or else a bound on it (the size of the
 * text holding it), which spares serializing records that cannot be too large.
 */
function checkRecord(
  data: unknown,
  bytes: number,
  exact: boolean,
  limits: IngestLimits,
): ErrorDetail | undefined {
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return { code: "SCHEMA_VIOLATION", message: "a record must be a JSON object", path: "/data" };
  }
  // Depth is checked first, so serializing below never recurses deeper than the limit.
  const shape = shapeError(data, limits);
  if (shape) return shape;
  const size = exact ? bytes : bytes <= limits.maxRecordBytes ? 0 : Buffer.byteLength(JSON.stringify(data));
  if (size > limits.maxRecordBytes) {
    return {
      code: "RECORD_TOO_LARGE",
      message: `record is ${size} bytes; the limit is ${limits.maxRecordBytes}`,
      path: "/data",
    };
  }
  return undefined;
}

function checkKey(key: unknown, limits: IngestLimits): ErrorDetail | undefined {
  if (key === undefined) return undefined;
  if (typeof key !== "string" || key.length === 0 || key.length > limits.maxKeyLength) {
    return {
      code: "INVALID_IDEMPOTENCY_KEY",
      message: `idempotency key must be a string of 1 to ${limits.maxKeyLength} characters`,
      path: "/key",
    };
  }
  return undefined;
}

function checkTime(time: unknown): ErrorDetail | undefined {
  if (time === undefined) return undefined;
  if (typeof time !== "string" || Number.isNaN(epochMillis(time))) {
    return { code: "INVALID_EVENT_TIME", message: "event time must be an ISO-8601 date-time", path: "/time" };
  }
  return undefined;
}

/**
 * Where a record is and how big it is; see `pointer` and `checkRecord`. Callers reuse one Site for
 * all records of a body, moving `index`: `record` reads it and keeps nothing.
 */
interface Site {
  prefix: string;
  index: number;
  bytes: number;
  exact: boolean;
}

function record(
  data: unknown,
  site: Site,
  limits: IngestLimits,
  key?: unknown,
  time?: unknown,
  meta?: Record<string, string>,
  raw?: string,
  schema?: SchemaChoice | ErrorDetail,
): ParsedRecord {
  const error = checkKey(key, limits) ?? checkTime(time) ?? checkRecord(data, site.bytes, site.exact, limits);
  if (error) return { error: { ...error, path: pointer(site.prefix, site.index, error.path ?? "") } };
  // Its path already points into the request: it says whose version it was.
  if (schema !== undefined && isErrorDetail(schema)) return { error: schema };
  // One object literal with the same shape every time: the hot path of every request.
  return {
    data,
    raw,
    key: key as string | undefined,
    time: time as string | undefined,
    meta,
    schema,
  };
}

/** The text of `span`, when there is one. */
function textOf(text: string, span: Span | undefined): string | undefined {
  return span === undefined ? undefined : text.slice(span.start, span.end);
}

function cloudEvent(
  value: unknown,
  site: Site,
  limits: IngestLimits,
  raw: string | undefined,
  fromHeader: SchemaChoice | undefined,
): ParsedRecord {
  const path = pointer(site.prefix, site.index, "");
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: { code: "INVALID_REQUEST", message: "a CloudEvent must be a JSON object", path } };
  }
  const ce = value as Record<string, unknown>;
  if (
    ce.specversion !== "1.0" ||
    typeof ce.id !== "string" ||
    typeof ce.source !== "string" ||
    typeof ce.type !== "string"
  ) {
    return {
      error: {
        code: "INVALID_REQUEST",
        message: "a CloudEvent needs specversion 1.0, id, source and type",
        path,
      },
    };
  }
  const meta: Record<string, string> = { "ce.type": ce.type, "ce.source": ce.source };
  if (typeof ce.subject === "string") meta["ce.subject"] = ce.subject;
  const data = ce.data;
  const schema =
    ce.dataschema === undefined
      ? fromHeader
      : versionFromDataschema(ce.dataschema, pointer(site.prefix, site.index, "/dataschema"));
  return record(data, site, limits, ce.id, ce.time, meta, raw, schema);
}

export interface IngestBody {
  readonly contentType: string | undefined;
  /** Raw bytes, or text already decoded (API Gateway passes text bodies as strings). */
  readonly body: Buffer | string;
  /** `Idempotency-Key` header: the key of a single-record request. */
  readonly idempotencyKey?: string;
  /** `Sluice-Schema-Version` header: the version of each record that names none itself. */
  readonly schemaVersion?: string;
}

/**
 * One header key for a body of many records would make them all one record to the idempotency
 * table (all but the first answered "duplicate"), so the combination is refused, not ignored.
 */
function headerKeyRefused(req: IngestBody, how: string): void {
  if (req.idempotencyKey === undefined) return;
  throw new SluiceError(
    "INVALID_REQUEST",
    `the Idempotency-Key header keys a single-record request; ${how}`,
    400,
    "/headers/idempotency-key",
  );
}

export function parseIngestBody(req: IngestBody, limits: IngestLimits = DEFAULT_LIMITS): ParsedRecord[] {
  const format = formatOf(req.contentType);
  if (req.body.length === 0) throw new SluiceError("EMPTY_BODY", "the request body is empty", 400);
  // A bound on the size in bytes (a UTF-16 unit is at most 3 UTF-8 bytes): counting a large text
  // body's UTF-8 bytes costs a pass over it, needed only when the bound exceeds the limit.
  let bodyBytes = typeof req.body === "string" ? req.body.length * 3 : req.body.byteLength;
  if (bodyBytes > limits.maxBodyBytes && typeof req.body === "string")
    bodyBytes = Buffer.byteLength(req.body);
  if (bodyBytes > limits.maxBodyBytes) {
    throw new SluiceError(
      "BODY_TOO_LARGE",
      `the body is ${bodyBytes} bytes; the limit is ${limits.maxBodyBytes}`,
      413,
    );
  }
  const fromHeader = versionFromHeader(req.schemaVersion);
  const text = typeof req.body === "string" ? req.body : req.body.toString("utf8");
  if (
    typeof req.body !== "string" &&
    text.includes("\uFFFD") &&
    !Buffer.from(text, "utf8").equals(req.body)
  ) {
    throw new SluiceError("INVALID_JSON", "the body is not valid UTF-8", 400);
  }
  if (format === "ndjson") {
    headerKeyRefused(
      req,
      "an NDJSON body holds many records; give each line's record its own key in a batch body instead",
    );
    const records: ParsedRecord[] = [];
    const site: Site = { prefix: "/", index: 0, bytes: 0, exact: false };
    let offset = 0;
    for (const line of text.split("\n")) {
      // Character offset of the line.
      const lineStart = offset;
      offset += line.length + 1;
      const trimmed = line.trim();
      if (trimmed.length === 0) continue;
      if (records.length >= limits.maxRecords) {
        throw new SluiceError(
          "TOO_MANY_RECORDS",
          `more than ${limits.maxRecords} records in one request`,
          413,
        );
      }
      let value: unknown;
      try {
        value = JSON.parse(trimmed);
      } catch (err) {
        // The line's byte offset is counted only now that it is needed.
        const lineOffset = Buffer.byteLength(text.slice(0, lineStart + line.indexOf(trimmed[0]!)));
        records.push({ error: { ...invalidJson(err, trimmed, lineOffset), path: `/${records.length}` } });
        continue;
      }
      site.index = records.length;
      site.exact = trimmed.length * 3 > limits.maxRecordBytes;
      site.bytes = site.exact ? Buffer.byteLength(trimmed) : trimmed.length * 3;
      records.push(record(value, site, limits, undefined, undefined, undefined, trimmed, fromHeader));
    }
    if (records.length === 0) throw new SluiceError("EMPTY_BODY", "the request holds no records", 400);
    return records;
  }

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SluiceError("INVALID_JSON", invalidJson(err, text, 0).message, 400);
  }

  // Records inside the body: its size bounds theirs.
  const site: Site = { prefix: "", index: -1, bytes: bodyBytes, exact: false };
  if (format === "cloudevent")
    return [cloudEvent(value, site, limits, textOf(text, fieldSpan(text, "data")), fromHeader)];
  if (format === "cloudevents-batch") {
    headerKeyRefused(req, "a CloudEvents batch keys each event by its id");
    if (!Array.isArray(value))
      throw new SluiceError("INVALID_REQUEST", "a CloudEvents batch must be a JSON array", 400);
    if (value.length === 0) throw new SluiceError("EMPTY_BODY", "the request holds no records", 400);
    if (value.length > limits.maxRecords) {
      throw new SluiceError(
        "TOO_MANY_RECORDS",
        `${value.length} records in one request; the limit is ${limits.maxRecords}`,
        413,
      );
    }
    const spans = itemSpans(text, undefined, "data");
    site.prefix = "/";
    return value.map((v, i) => {
      site.index = i;
      return cloudEvent(v, site, limits, textOf(text, spans?.[i]), fromHeader);
    });
  }

  if (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    Array.isArray((value as { records?: unknown }).records)
  ) {
    headerKeyRefused(req, 'a batch body keys each item with its "key" field');
    const items = (value as { records: unknown[] }).records;
    if (items.length === 0) throw new SluiceError("EMPTY_BODY", "the request holds no records", 400);
    if (items.length > limits.maxRecords) {
      throw new SluiceError(
        "TOO_MANY_RECORDS",
        `${items.length} records in one request; the limit is ${limits.maxRecords}`,
        413,
      );
    }
    const spans = itemSpans(text, "records", "data");
    site.prefix = "/records/";
    return items.map((item, i) => {
      if (item === null || typeof item !== "object" || Array.isArray(item) || !("data" in item)) {
        return {
          error: {
            code: "INVALID_REQUEST",
            message: 'each batch item must be an object with "data"',
            path: `/records/${i}`,
          },
        };
      }
      const { data, key, time, schemaVersion } = item as {
        data: unknown;
        key?: unknown;
        time?: unknown;
        schemaVersion?: unknown;
      };
      site.index = i;
      const schema =
        schemaVersion === undefined
          ? fromHeader
          : versionFromField(schemaVersion, pointer(site.prefix, i, "/schemaVersion"));
      return record(data, site, limits, key, time, undefined, textOf(text, spans?.[i]), schema);
    });
  }
  site.exact = true;
  site.bytes = typeof req.body === "string" ? Buffer.byteLength(text) : bodyBytes;
  return [record(value, site, limits, req.idempotencyKey, undefined, undefined, text, fromHeader)];
}
