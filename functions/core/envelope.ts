/**
 * The record envelope on Kinesis. JSON, so event-source-mapping filter criteria can match
 * `stream`; see DESIGN.md "Contracts".
 */
import { monotonicFactory } from "ulid";

export interface Envelope {
  readonly v: 1;
  readonly id: string;
  readonly stream: string;
  readonly schema: { readonly name: string; readonly version: number };
  readonly key: string | null;
  /** Event time, ISO-8601 UTC. */
  readonly ts: string;
  /** Receive time, ISO-8601 UTC. */
  readonly rt: string;
  readonly data: unknown;
  /** CloudEvents attributes and similar, kept for downstream use. */
  readonly meta?: Readonly<Record<string, string>>;
}

const nextUlid = monotonicFactory();

/** A ULID: sortable by receive time, unique without coordination. */
export function newRecordId(now: number = Date.now()): string {
  return nextUlid(now);
}

/**
 * Serializes an envelope, data last. `rawData`, when given, is the payload's JSON text exactly as
 * the producer sent it (already parsed and validated), spliced in instead of serialized again.
 * Written by hand: the head is a handful of known fields, and this is the ingest hot path.
 */
export function encodeEnvelope(e: Envelope, rawData?: string): Uint8Array {
  const str = JSON.stringify;
  const meta = e.meta === undefined ? "" : `"meta":${str(e.meta)},`;
  const json =
    `{"v":1,"id":${str(e.id)},"stream":${str(e.stream)},` +
    `"schema":{"name":${str(e.schema.name)},"version":${e.schema.version}},` +
    `"key":${str(e.key)},"ts":${str(e.ts)},"rt":${str(e.rt)},${meta}"data":${rawData ?? str(e.data)}}`;
  // Buffer.from draws small records from Node's pooled slab; TextEncoder allocates each one.
  return Buffer.from(json, "utf8");
}

export class EnvelopeError extends Error {
  override readonly name = "EnvelopeError";
}

/** Parses and checks the shape of an envelope read back from Kinesis. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
  } catch {
    throw new EnvelopeError("record is not JSON");
  }
  if (typeof value !== "object" || value === null) throw new EnvelopeError("record is not an object");
  const e = value as Record<string, unknown>;
  const schema = e.schema as Record<string, unknown> | undefined;
  if (
    e.v !== 1 ||
    typeof e.id !== "string" ||
    typeof e.stream !== "string" ||
    typeof e.ts !== "string" ||
    typeof e.rt !== "string" ||
    typeof schema !== "object" ||
    schema === null ||
    typeof schema.name !== "string" ||
    typeof schema.version !== "number" ||
    !("data" in e)
  ) {
    throw new EnvelopeError("record is not a Sluice v1 envelope");
  }
  return e as unknown as Envelope;
}
