/**
 * The ingest core: validate each parsed record against its stream's current schema, or the
 * version its producer named, wrap it in an envelope that carries that version (its payload
 * encrypted, when the stream says so) and put it on Kinesis. A record is `accepted` only once
 * Kinesis holds it.
 */
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { DataKeyCache } from "../crypto/key-cache.ts";
import { epochMillis, utcMillis } from "../date-time-format.ts";
import { type EncodeEnvelope, envelopeEncoders } from "../envelope.ts";
import type { ErrorDetail } from "../errors.ts";
import { failpoint } from "../failpoints.ts";
import type { IdempotencyStore } from "../idempotency.ts";
import { newRecordId } from "../record-id.ts";
import type { StreamRuntime } from "../runtime-config.ts";
import type { CompiledSchema, ValidatorCache } from "../validators.ts";
import { KINESIS_LIMITS, type KinesisEntry, putToKinesis } from "./kinesis-writer.ts";
import { payloadSealing } from "./payload-sealing.ts";
import type { ParsedRecord } from "./request.ts";
import { isErrorDetail, selectSchemas } from "./schema-version.ts";

export { currentSchema } from "./schema-version.ts";

export type RecordStatus = "accepted" | "duplicate" | "rejected";

export interface RecordResult {
  readonly recordId: string | null;
  readonly status: RecordStatus;
  readonly error?: ErrorDetail & { readonly details?: readonly { path: string; message: string }[] };
}

export interface IngestDeps {
  readonly kinesis: KinesisClient;
  readonly eventStream: string;
  readonly validators: ValidatorCache;
  readonly idempotency: IdempotencyStore;
  /** Data keys for streams with `encryption: payload`; required when ingest serves one. */
  readonly payloadKeys?: DataKeyCache;
  readonly clock?: () => Date;
}

function rejected(error: RecordResult["error"]): RecordResult {
  return { recordId: null, status: "rejected", ...(error ? { error } : {}) };
}

/** The record's event time as ISO-8601 UTC, or why it has none that can be used. */
function eventTimeOf(record: ParsedRecord, stream: StreamRuntime, receivedAt: Date): string | ErrorDetail {
  let raw: unknown = record.time;
  const fromField = raw === undefined && stream.eventTimeField !== undefined;
  if (fromField) raw = (record.data as Record<string, unknown>)[stream.eventTimeField!];
  if (raw === undefined) return receivedAt.toISOString();
  const utc = typeof raw === "string" ? utcMillis(raw) : Number.NaN;
  const ms = Number.isNaN(utc) && typeof raw === "string" ? epochMillis(raw) : utc;
  if (Number.isNaN(ms)) return timeError("event time is not an ISO-8601 date-time", fromField, stream);
  if (ms - receivedAt.getTime() > stream.maxFutureSkewSeconds * 1000) {
    return timeError(
      `event time is more than ${stream.maxFutureSkewSeconds} s in the future`,
      fromField,
      stream,
    );
  }
  // UTC forms keep their sub-millisecond digits; other offsets are normalised to UTC.
  return Number.isNaN(utc) ? new Date(ms).toISOString() : (raw as string);
}

/** Built only on failure: the path names the field the time came from. */
function timeError(message: string, fromField: boolean, stream: StreamRuntime): ErrorDetail {
  return { code: "INVALID_EVENT_TIME", message, path: fromField ? `/${stream.eventTimeField}` : "/time" };
}

function partitionKeyOf(data: unknown, id: string, stream: StreamRuntime): string {
  if (stream.partitionKey !== undefined) {
    const value = (data as Record<string, unknown>)[stream.partitionKey];
    if (typeof value === "string" && value.length > 0)
      return value.length > 256 ? value.slice(0, 256) : value;
    if (typeof value === "number") return String(value).slice(0, 256);
  }
  return id;
}

/** A record on its way to Kinesis. */
interface Outgoing extends KinesisEntry {
  readonly index: number;
  readonly id: string;
  readonly key: string | null;
  readonly ts: string;
  /** Set when it goes as a possible repeat (see `Takeover`). */
  readonly rp?: readonly [number, number];
  /** The encoder of the schema version it was validated against, to encode it again. */
  readonly encode: EncodeEnvelope;
}

function tooLarge(bytes: number, stream: StreamRuntime): ErrorDetail {
  const encrypted = stream.encryption === "payload" ? ", with the payload encrypted," : "";
  return {
    code: "RECORD_TOO_LARGE",
    message: `its envelope${encrypted} is ${bytes} bytes; Kinesis takes ${KINESIS_LIMITS.entryBytes} with the partition key`,
    path: "/data",
  };
}

function validated(schema: CompiledSchema, record: ParsedRecord): RecordResult["error"] | undefined {
  const violations = schema.validate(record.data);
  if (violations.length === 0) return undefined;
  const first = violations[0]!;
  return {
    code: "SCHEMA_VIOLATION",
    message: violations.map((v) => `${v.path} ${v.message}`).join("; "),
    path: first.path,
    details: violations,
  };
}

/** Returns one result per record, in request order. */
export async function ingestRecords(
  deps: IngestDeps,
  stream: StreamRuntime,
  records: readonly ParsedRecord[],
): Promise<RecordResult[]> {
  const receivedAt = (deps.clock ?? (() => new Date()))();
  const rt = receivedAt.toISOString();
  const schemas = await selectSchemas(deps.validators, stream, records);
  const results: RecordResult[] = new Array(records.length);
  const toPut: Outgoing[] = [];
  const sealing = await payloadSealing(deps.payloadKeys, stream, records.length);
  const encoders = envelopeEncoders({ stream: stream.name, rt }, sealing?.sealFor);
  // Records of a request mostly share one version: its encoder is kept at hand.
  let lastSchema: CompiledSchema | undefined;
  let lastEncode: EncodeEnvelope | undefined;

  for (let index = 0; index < records.length; index++) {
    const record = records[index]!;
    if (record.error) {
      results[index] = rejected(record.error);
      continue;
    }
    const named = record.schema === undefined ? undefined : schemas.named(record.schema);
    if (named !== undefined && isErrorDetail(named)) {
      results[index] = rejected(named);
      continue;
    }
    const schema = named ?? schemas.latest!;
    const violation = validated(schema, record);
    if (violation) {
      results[index] = rejected(violation);
      continue;
    }
    const ts = eventTimeOf(record, stream, receivedAt);
    if (typeof ts !== "string") {
      results[index] = rejected(ts);
      continue;
    }
    if (sealing?.error !== undefined) {
      results[index] = rejected(sealing.error);
      continue;
    }
    if (schema !== lastSchema) {
      lastSchema = schema;
      lastEncode = encoders({ name: schema.subject, version: schema.version });
    }
    const encode = lastEncode!;
    const id = newRecordId(receivedAt.getTime());
    const key = record.key ?? null;
    const data = encode(id, key, ts, record.data, record.raw, record.meta);
    const partitionKey = partitionKeyOf(record.data, id, stream);
    if (data.byteLength > KINESIS_LIMITS.entryBytes - 4 * partitionKey.length) {
      // Mostly an encrypted payload: its base64 is a third larger than its text.
      results[index] = rejected(tooLarge(data.byteLength, stream));
      continue;
    }
    toPut.push({ index, id, key, ts, data, partitionKey, encode });
  }

  // Idempotency: a key seen twice in one request is a duplicate of its first occurrence.
  const firstByKey = new Map<string, number>();
  const repeats: { index: number; of: number }[] = [];
  const keyed: typeof toPut = [];
  const unkeyed: typeof toPut = [];
  toPut.forEach((p, i) => {
    const key = p.key;
    const first = key === null ? undefined : firstByKey.get(key);
    if (key === null) unkeyed.push(p);
    else if (first !== undefined) repeats.push({ index: p.index, of: first });
    else {
      firstByKey.set(key, i);
      keyed.push(p);
    }
  });
  const claims = keyed.map((p) => ({ key: p.key!, recordId: p.id, partitionKey: p.partitionKey }));
  const outcomes =
    claims.length > 0 ? await deps.idempotency.claim(stream.name, claims, stream.idempotencyTtlSeconds) : [];
  failpoint("ingest.after-claim");
  /** The envelope again under another id or as a possible repeat; only after a crash or timeout. */
  const reencoded = (p: Outgoing, id: string, rp: readonly [number, number]) => {
    const record = records[p.index]!;
    return p.encode(id, p.key, p.ts, record.data, record.raw, record.meta, rp);
  };
  const claimed: typeof toPut = [];
  keyed.forEach((p, i) => {
    const outcome = outcomes[i]!;
    if (outcome.kind === "claimed") {
      const t = outcome.takeover;
      claimed.push(
        t === undefined
          ? p
          : {
              ...p,
              id: t.recordId,
              partitionKey: t.partitionKey ?? p.partitionKey,
              rp: t.window,
              data: reencoded(p, t.recordId, t.window),
            },
      );
    } else if (outcome.kind === "duplicate")
      results[p.index] = { recordId: outcome.recordId, status: "duplicate" };
    else {
      results[p.index] = rejected({
        code: "IN_PROGRESS",
        message: `a record with this idempotency key is being written; retry in ${outcome.retryAfterSeconds} s`,
      });
    }
  });

  const sending = [...claimed, ...unkeyed];
  if (sending.length > 0) {
    const remark = (i: number, window: readonly [number, number]) => {
      const p = sending[i]!;
      return reencoded(p, p.id, [Math.min(p.rp?.[0] ?? window[0], window[0]), window[1]]);
    };
    const put = await putToKinesis(deps.kinesis, deps.eventStream, sending, undefined, remark);
    failpoint("ingest.after-put-records");
    const completed: { key: string; recordId: string; shardId: string; sequenceNumber: string }[] = [];
    const released: { key: string; recordId: string; mayBeWritten: boolean }[] = [];
    sending.forEach((p, i) => {
      const outcome = put[i]!;
      if (outcome.ok) {
        results[p.index] = { recordId: p.id, status: "accepted" };
        if (p.key !== null) {
          completed.push({
            key: p.key,
            recordId: p.id,
            shardId: outcome.shardId,
            sequenceNumber: outcome.sequenceNumber,
          });
        }
      } else {
        results[p.index] = rejected({ code: outcome.code, message: outcome.message });
        if (p.key !== null) {
          released.push({
            key: p.key,
            recordId: p.id,
            mayBeWritten: outcome.maybeWritten === true || p.rp !== undefined,
          });
        }
      }
    });
    await Promise.all([
      completed.length > 0
        ? deps.idempotency.complete(stream.name, completed, stream.idempotencyTtlSeconds)
        : undefined,
      released.length > 0 ? deps.idempotency.release(stream.name, released) : undefined,
    ]);
  }
  for (const r of repeats) {
    const first = results[toPut[r.of]!.index]!;
    results[r.index] =
      first.status === "rejected" ? first : { recordId: first.recordId, status: "duplicate" };
  }
  return results;
}
