/** The record envelope on Kinesis: its types, ingest's encoder and the batcher's decoders. */
import { asBuffer } from "./bytes.ts";
import type { SealedPayload, SealPayload } from "./crypto/types.ts";
import { memberValueSpan } from "./json-member-span.ts";

/**
 * The record envelope on Kinesis. JSON, so event-source-mapping filter criteria can match
 * `stream`; see DESIGN.md "Contracts". With payload encryption, `enc` stands in place of `data`
 * (`SealedEnvelope`) and every other member stays as it is.
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
  /**
   * Possible repeat: set when ingest took over an abandoned idempotency claim and put this
   * record again under the claim's record id. The window (epoch ms) in which an earlier copy
   * would have reached Kinesis; the batcher drops this one if it finds that copy.
   */
  readonly rp?: readonly [number, number];
}

/** An envelope whose payload is encrypted: `enc` in place of `data`. */
export type SealedEnvelope = EnvelopeHead & { readonly enc: SealedPayload };

/** What the records of one request share when they share a schema version too. */
export type EnvelopeShared = Pick<Envelope, "stream" | "schema" | "rt">;

/** What the records of one request share whatever schema version each was validated against. */
export type RequestShared = Pick<Envelope, "stream" | "rt">;

/**
 * Encodes one record's envelope from what it has of its own; `raw` is explained at
 * `envelopeEncoder`. Positional, to spare an argument object per record.
 */
export type EncodeEnvelope = (
  id: string,
  key: string | null,
  ts: string,
  data: unknown,
  raw?: string,
  meta?: Envelope["meta"],
  repeat?: Envelope["rp"],
) => Uint8Array;

/**
 * An encoder for the envelopes of records that share a stream, schema version and receive time:
 * the shared part is encoded once. Data goes last. `raw`, when given, is the payload's JSON text
 * exactly as the producer sent it (already parsed and validated), spliced in instead of serialized
 * again.
 *
 * This is the ingest hot path, so the pieces are written straight into a shared slab rather than
 * joined into one string first: joining makes a chain of intermediate strings that must then be
 * flattened, which cost more than the writing. ASCII pieces (the ULID, a plain timestamp) are
 * copied byte by byte; anything else goes through JSON.stringify and UTF-8.
 *
 * With `seal`, the payload's JSON text (the exact bytes `data` would carry) is encrypted under
 * the record's id and written as `enc` instead.
 */
export function envelopeEncoder(shared: EnvelopeShared, seal?: SealPayload): EncodeEnvelope {
  const str = JSON.stringify;
  const member = seal === undefined ? '"data":' : '"enc":';
  const afterId = utf8(
    `","stream":${str(shared.stream)},` +
      `"schema":{"name":${str(shared.schema.name)},"version":${shared.schema.version}},"key":`,
  );
  const rt = `","rt":${str(shared.rt)},`;
  const afterTs = utf8(`${rt}${member}`);
  const afterTsBeforeMeta = utf8(rt);
  let slab = Buffer.allocUnsafe(0);
  let used = 0;
  return (id, key, ts, value, raw, metadata, repeat) => {
    // Rare (a takeover of an abandoned claim), so it rides with `meta` off the hot path.
    const marks = repeat === undefined ? "" : `"rp":[${repeat[0]},${repeat[1]}],`;
    const meta =
      metadata === undefined
        ? repeat === undefined
          ? undefined
          : `${marks}${member}`
        : `${marks}"meta":${str(metadata)},${member}`;
    const text = raw ?? str(value);
    const data = seal === undefined ? text : seal(text, id);
    // A UTF-16 unit is at most 3 UTF-8 bytes, or 6 as a JSON escape.
    const bound =
      HEAD_BYTES +
      afterId.length +
      afterTs.length +
      6 * (id.length + ts.length + (key?.length ?? 0)) +
      3 * ((meta?.length ?? 0) + data.length);
    if (used + bound > slab.length) {
      // Slabs double up to SLAB_BYTES, so a one-record request does not take a large one.
      slab = Buffer.allocUnsafe(Math.max(bound, Math.min(SLAB_BYTES, slab.length * 2 || 4096)));
      used = 0;
    }
    const start = used;
    let at = copy(slab, used, OPEN);
    at = writeString(slab, at, id);
    at = copy(slab, at, afterId);
    if (key === null) {
      at = copy(slab, at, KEY_NULL);
    } else {
      slab[at++] = 0x22; // "
      at = writeString(slab, at, key);
      at = copy(slab, at, BEFORE_TS);
    }
    at = writeString(slab, at, ts);
    if (meta === undefined) {
      at = copy(slab, at, afterTs);
    } else {
      at = copy(slab, at, afterTsBeforeMeta);
      at += utf8Write(slab, meta, at);
    }
    at += utf8Write(slab, data, at);
    slab[at++] = 0x7d; // }
    used = at;
    return slab.subarray(start, at);
  };
}

/**
 * Encoders for the envelopes of one request's records when each may have its own schema version
 * (a producer may name the version it writes): one `envelopeEncoder` per version, made on first
 * use. A request of one version, the common case, runs exactly the single encoder it always did;
 * only a request that mixes versions pays for a second head and slab.
 */
export function envelopeEncoders(
  shared: RequestShared,
  sealFor?: (schema: Envelope["schema"]) => SealPayload,
): (schema: Envelope["schema"]) => EncodeEnvelope {
  const byVersion = new Map<string, EncodeEnvelope>();
  return (schema) => {
    const key = `${schema.name}\n${schema.version}`;
    let encode = byVersion.get(key);
    if (encode === undefined) {
      encode = envelopeEncoder({ stream: shared.stream, schema, rt: shared.rt }, sealFor?.(schema));
      byVersion.set(key, encode);
    }
    return encode;
  };
}

/** The fixed ASCII pieces of every head, encoded once per container rather than per request. */
const OPEN = Buffer.from('{"v":1,"id":"', "latin1");
const KEY_NULL = Buffer.from('null,"ts":"', "latin1");
const BEFORE_TS = Buffer.from('","ts":"', "latin1");

/** The largest slab envelopes are cut from. */
const SLAB_BYTES = 256 * 1024;
/** Room for the fixed ASCII pieces of a head and the quotes around `ts`. */
const HEAD_BYTES = 64;

/**
 * Buffer#utf8Write, the binding Buffer#write ends in: Buffer#write's argument handling costs more
 * than writing a few hundred bytes. It has been on Buffer.prototype since Node 0.x.
 */
type Utf8Writable = Buffer & { utf8Write(s: string, offset: number, length: number): number };

function utf8Write(into: Buffer, s: string, at: number): number {
  return (into as Utf8Writable).utf8Write(s, at, into.length - at);
}

function utf8(s: string): Uint8Array {
  return Buffer.from(s, "utf8");
}

function copy(into: Uint8Array, at: number, piece: Uint8Array): number {
  into.set(piece, at);
  return at + piece.length;
}

/**
 * The contents of a JSON string for `s`, which is usually plain ASCII (an id, a timestamp) and
 * then copied as is; otherwise it is escaped by JSON.stringify and written as UTF-8.
 */
function writeString(into: Buffer, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
      const quoted = JSON.stringify(s);
      return at + utf8Write(into, quoted.slice(1, -1), at);
    }
    into[at + i] = c;
  }
  return at + s.length;
}

/** One envelope on its own; see `envelopeEncoder`. */
export function encodeEnvelope(e: Envelope, raw?: string): Uint8Array {
  return envelopeEncoder(e)(e.id, e.key, e.ts, e.data, raw, e.meta, e.rp);
}

export class EnvelopeError extends Error {
  override readonly name = "EnvelopeError";
}

/** Whether a parsed value has the shape of a Sluice v1 envelope with a `data` member. */
function isEnvelope(value: unknown): value is Envelope {
  return isHead(value) && "data" in value;
}

/** Whether a parsed value is a v1 envelope with `enc` (four strings) and no `data`. */
function isSealedEnvelope(value: unknown): value is SealedEnvelope {
  if (!isHead(value) || "data" in value) return false;
  const enc = (value as { enc?: unknown }).enc as Record<string, unknown> | null | undefined;
  return (
    typeof enc === "object" &&
    enc !== null &&
    typeof enc.kid === "string" &&
    typeof enc.iv === "string" &&
    typeof enc.ct === "string" &&
    typeof enc.tag === "string"
  );
}

function isHead(value: unknown): value is EnvelopeHead {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Record<string, unknown>;
  const schema = e.schema as Record<string, unknown> | undefined;
  return (
    e.v === 1 &&
    typeof e.id === "string" &&
    typeof e.stream === "string" &&
    typeof e.ts === "string" &&
    typeof e.rt === "string" &&
    typeof schema === "object" &&
    schema !== null &&
    typeof schema.name === "string" &&
    typeof schema.version === "number"
  );
}

/** Parses and checks the shape of an envelope read back from Kinesis. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  let value: unknown;
  try {
    value = JSON.parse(asBuffer(bytes).toString("utf8"));
  } catch {
    throw new EnvelopeError("record is not JSON");
  }
  if (typeof value !== "object" || value === null) throw new EnvelopeError("record is not an object");
  if (!isEnvelope(value)) throw new EnvelopeError("record is not a Sluice v1 envelope");
  return value;
}

/** An envelope without its payload. */
export type EnvelopeHead = Omit<Envelope, "data">;

export interface DecodedEnvelope {
  readonly head: EnvelopeHead;
  /**
   * The payload's JSON text as it stands in the record: a view into the decoded bytes, not a
   * copy. Not yet checked to be JSON; if it is not, the record was not JSON either.
   */
  readonly payload: Uint8Array;
}

/**
 * Decodes an envelope without parsing its payload, which is most of its text and, parsed, most
 * of the batcher's work: the payload's span is found by a structural scan, and the rest of the
 * envelope is parsed and checked with `null` standing in for it, so the head is still judged by
 * JSON.parse. Accepts what `decodeEnvelope` accepts and rejects it with the same error, except a
 * record whose only fault is inside its payload: that one decodes, and the payload's first parser
 * finds it is not JSON.
 */
export function decodeEnvelopeHead(bytes: Uint8Array): DecodedEnvelope {
  return decodeHead(bytes, memberValueSpan(bytes, "data"));
}

function decodeHead(bytes: Uint8Array, span: ReturnType<typeof memberValueSpan>): DecodedEnvelope {
  if (span !== undefined) {
    const text = asBuffer(bytes);
    let head: unknown;
    try {
      head = JSON.parse(`${text.toString("utf8", 0, span.start)}null${text.toString("utf8", span.end)}`);
    } catch {
      head = undefined;
    }
    if (isEnvelope(head)) return { head, payload: text.subarray(span.start, span.end) };
  }
  // Rare: the record is not an envelope. The full decoder says why, in the words it always has.
  const envelope = decodeEnvelope(bytes);
  // Unreachable for a valid envelope, whose data member the scan always finds; kept so that a
  // record is never rejected here that the full decoder accepts.
  return { head: envelope, payload: Buffer.from(JSON.stringify(envelope.data)) };
}

/** A sealed envelope's head and its `enc` as received. */
export interface DecodedSealedEnvelope {
  readonly head: EnvelopeHead;
  readonly sealed: SealedPayload;
}

/**
 * What the batcher decodes every record with: `decodeEnvelopeHead` for envelopes with `data`,
 * and for those without one, a sealed envelope (parsed whole: it holds only base64 text), or the
 * full decoder's error. A record with both `data` and `enc` is read as plain, so `enc` never
 * hides a payload that travelled in the clear.
 */
export function decodeRecordHead(bytes: Uint8Array): DecodedEnvelope | DecodedSealedEnvelope {
  const span = memberValueSpan(bytes, "data");
  if (span === undefined) {
    let value: unknown;
    try {
      value = JSON.parse(asBuffer(bytes).toString("utf8"));
    } catch {
      value = undefined;
    }
    if (isSealedEnvelope(value)) {
      const { enc, ...head } = value;
      return { head, sealed: { kid: enc.kid, iv: enc.iv, ct: enc.ct, tag: enc.tag } };
    }
  }
  return decodeHead(bytes, span);
}
