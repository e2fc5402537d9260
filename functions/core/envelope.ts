/**
 * The record envelope on Kinesis. JSON, so event-source-mapping filter criteria can match
 * `stream`; see DESIGN.md "Contracts".
 */
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

/** What the records of one request share. */
export type EnvelopeShared = Pick<Envelope, "stream" | "schema" | "rt">;

/** What each record has of its own; `raw` is explained at `envelopeEncoder`. */
export type EnvelopeOwn = Pick<Envelope, "id" | "key" | "ts" | "data" | "meta"> & { readonly raw?: string };

/**
 * An encoder for the envelopes of records that share a stream, schema version and receive time:
 * the shared part is serialized once. Data goes last. `raw`, when given, is the payload's JSON text
 * exactly as the producer sent it (already parsed and validated), spliced in instead of serialized
 * again. Written by hand: the head is a handful of known fields, and this is the ingest hot path.
 * `id` is a ULID, so it needs no escaping.
 */
export function envelopeEncoder(shared: EnvelopeShared): (own: EnvelopeOwn) => Uint8Array {
  const str = JSON.stringify;
  const afterId =
    `","stream":${str(shared.stream)},` +
    `"schema":{"name":${str(shared.schema.name)},"version":${shared.schema.version}},"key":`;
  const afterTs = `,"rt":${str(shared.rt)},`;
  let slab = Buffer.allocUnsafe(0);
  let used = 0;
  return (own) => {
    const meta = own.meta === undefined ? "" : `"meta":${str(own.meta)},`;
    const head = `{"v":1,"id":"${own.id}${afterId}${str(own.key)},"ts":${str(own.ts)}${afterTs}${meta}"data":`;
    const data = own.raw ?? str(own.data);
    // The pieces are written straight into a shared slab: no joined string to flatten, and one
    // allocation for many records. A UTF-16 unit is at most 3 UTF-8 bytes.
    const bound = (head.length + data.length) * 3 + 1;
    if (used + bound > slab.length) {
      // Slabs double up to SLAB_BYTES, so a one-record request does not take a large one.
      slab = Buffer.allocUnsafe(Math.max(bound, Math.min(SLAB_BYTES, slab.length * 2 || 4096)));
      used = 0;
    }
    const start = used;
    used += slab.write(head, used, "utf8");
    used += slab.write(data, used, "utf8");
    slab[used++] = 0x7d; // }
    return slab.subarray(start, used);
  };
}

/** The largest slab envelopes are cut from. */
const SLAB_BYTES = 256 * 1024;

/** One envelope on its own; see `envelopeEncoder`. */
export function encodeEnvelope(e: Envelope, raw?: string): Uint8Array {
  return envelopeEncoder(e)(raw === undefined ? e : { ...e, raw });
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
