/**
 * Reads a record's JSON text (UTF-8 bytes) straight into the batch's value arrays, without
 * JSON.parse. Parsing every payload into objects, and keeping them all alive until the columns
 * are built, was half of a batch's encoding time: the objects and their strings were allocated,
 * copied by the young-generation GC, and read again by the gather. Here a top-level string field
 * becomes a byte span of the text, copied once into its column (or, when its values repeat, one
 * shared string per value); an array field's items are gathered for the whole batch; other values
 * become the JS values JSON.parse would have given.
 *
 * It reads the common shapes only and gives up (`false`) on anything else: an escape in a key,
 * a non-ASCII key, malformed JSON, a text that is not an object. The caller then uses JSON.parse
 * on the whole text, so what is read here must always equal what JSON.parse would give; parts
 * it does not read itself (escaped strings, nested arrays and objects) it hands to JSON.parse.
 * One exception: in a field that holds integer columns (an INT64 field, a list or struct with
 * one inside), a number whose double may be rounded (at or beyond ±2^53) comes as its text,
 * `NumberText`, so the column gets the exact integer (see number-text.ts).
 */
import { asBuffer } from "../bytes.ts";
import {
  BACKSLASH,
  CLOSE_BRACE,
  CLOSE_BRACKET,
  COLON,
  COMMA,
  OPEN_BRACE,
  OPEN_BRACKET,
  QUOTE,
  skipJsonSpace,
} from "../json-chars.ts";
import { skipValue } from "../json-member-span.ts";
import type { FieldSpec } from "./columns.ts";
import { mayBeRounded, NumberText, parseKeepingNumbers, roundedIntegerCheck } from "./number-text.ts";

/** Stands in a value array for a string kept as a byte span of the record's text. */
export const SPAN: unique symbol = Symbol("span");

const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
/** Integers with at most this many digits are exact as doubles, so they are summed in place. */
const EXACT_DIGITS = 15;

/** What a byte inside a JSON string is. */
const PLAIN = 0;
const CLOSE = 1;
const ESCAPE = 2;
const WIDE = 3;
const CONTROL = 4;
const STRING_BYTE = new Uint8Array(256).map((_, c) =>
  c === QUOTE ? CLOSE : c === BACKSLASH ? ESCAPE : c < 0x20 ? CONTROL : c >= 0x80 ? WIDE : PLAIN,
);

/**
 * A string field's first values are made into (cached) strings; if fewer than half of them were
 * made before, the field's values are unlikely to repeat and are left as spans from then on.
 */
const PROBES = 256;
const PROBING = 0;
const STRINGS = 1;
const SPANS = 2;

/** Strings up to this long are looked up among those seen before instead of made again. */
const SHORT = 16;
const CACHE_SLOTS = 4096;

/** Thrown inside the reader to give up on a record; caught by `read`. */
const GIVE_UP = new Error("json-reader: needs JSON.parse");

/**
 * Buffer's string-slicing bindings, which `toString(encoding, start, end)` ends in: its argument
 * handling costs more than slicing a short string. On Buffer.prototype since Node 0.x.
 */
type Text = Buffer & {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
};

/** Stands in a value array for an array whose items were gathered into the field's `Lists`. */
export const LIST: unique symbol = Symbol("list");

/** Where the top-level string fields of the batch's records are, by field and position. */
export interface Spans {
  readonly start: Int32Array;
  readonly end: Int32Array;
}

/**
 * The items of a top-level array field, all records' one after another: the record at `pos` has
 * `items[start[pos], end[pos])`. Spares an array per record, which would live until the column is
 * built and so be copied by the GC.
 */
export interface Lists extends Spans {
  readonly items: unknown[];
  count: number;
}

/**
 * Short strings made before, by a hash of their bytes. Enum values and tags repeat: reusing the
 * one string spares an allocation (and the GC's copying of it), and a dictionary lookup of the
 * same string object is a pointer compare. JSON.parse gets the same by internalizing.
 */
const cache: (string | undefined)[] = new Array(CACHE_SLOTS).fill(undefined);

/** Where in the cache the string of `t[start, end)` goes. Exported for tests. */
export function cacheSlot(t: Uint8Array, start: number, end: number): number {
  let h = end - start;
  for (let k = start; k < end; k++) h = Math.imul(h ^ t[k]!, 0x01000193);
  return (h ^ (h >>> 15)) & (CACHE_SLOTS - 1);
}

/** Cache hits so far: a field's hit rate tells whether its values repeat. */
let hits = 0;

/** The plain ASCII string `t[start, end)`. */
export function asciiString(t: Buffer, start: number, end: number): string {
  const len = end - start;
  if (len > SHORT) return (t as Text).latin1Slice(start, end);
  const slot = cacheSlot(t, start, end);
  const seen = cache[slot];
  if (seen !== undefined && seen.length === len) {
    let k = 0;
    while (k < len && seen.charCodeAt(k) === t[start + k]) k++;
    if (k === len) {
      hits++;
      return seen;
    }
  }
  const made = (t as Text).latin1Slice(start, end);
  cache[slot] = made;
  return made;
}

export class JsonRecordReader {
  private readonly fields: readonly FieldSpec[];
  private readonly names: readonly Uint8Array[];
  /** For each field: whether its strings may be left as spans. */
  private readonly spanning: readonly boolean[];
  /** For each field: whether it is an array, whose items go to the field's `Lists`. */
  private readonly listing: readonly boolean[];
  /** For each field: whether it is a date-time, which often repeats the record's event time. */
  private readonly times: readonly boolean[];
  /**
   * For each field holding integer columns: whether a parsed value of it has a double that may be
   * rounded in one (see number-text.ts), so it must be read keeping numbers as text.
   */
  private readonly checks: readonly (((v: unknown) => boolean) | undefined)[];
  /** The check of the field being read: a number there comes as `NumberText` if it may be rounded. */
  private check: ((v: unknown) => boolean) | undefined;
  /** The event time of the record being read. */
  private eventTime = "";
  private t = Buffer.alloc(0) as Text;
  /** The value read last (the readers below return where it ends). */
  private v: unknown;
  /** Set by `scanString`: the string scanned last has an escape. */
  private escaped = false;
  /** Where `array` gathers an array's items before making it at its exact size. */
  private readonly scratch: Lists = { start: new Int32Array(1), end: new Int32Array(1), items: [], count: 0 };
  private readonly extraKeys: string[] = [];
  private readonly extraValues: unknown[] = [];
  private extras = 0;
  /** Per field, for this batch: PROBING, STRINGS or SPANS, and the probes' cache hits. */
  private readonly mode: Uint8Array;
  private readonly probes: Int32Array;
  private readonly probeHits: Int32Array;

  constructor(
    fields: readonly FieldSpec[],
    private readonly index: ReadonlyMap<string, number>,
  ) {
    this.fields = fields;
    this.names = fields.map((f) => Buffer.from(f.name, "utf8"));
    // Kinds whose values are strings; their builders make the string only when they need it.
    this.spanning = fields.map(
      (f) => f.type.kind === "string" || f.type.kind === "timestamp" || f.type.kind === "date",
    );
    this.times = fields.map((f) => f.type.kind === "timestamp");
    this.listing = fields.map((f) => f.type.kind === "list");
    this.checks = fields.map((f) => roundedIntegerCheck(f.type));
    this.mode = new Uint8Array(fields.length);
    this.probes = new Int32Array(fields.length);
    this.probeHits = new Int32Array(fields.length);
  }

  /**
   * Whether `record`, a whole record's JSON.parse value, has a double that may be rounded in an
   * integer column: then it must be read again with `parseKeepingNumbers`.
   */
  roundsIntegers(record: Record<string, unknown>): boolean {
    for (let f = 0; f < this.checks.length; f++) {
      const check = this.checks[f];
      if (check === undefined) continue;
      const name = this.fields[f]!.name;
      if (Object.hasOwn(record, name) && check(record[name])) return true;
    }
    return false;
  }

  /** Starts a batch: which fields' values repeat is found out again. */
  begin(): void {
    this.mode.fill(PROBING);
    this.probes.fill(0);
    this.probeHits.fill(0);
  }

  /** Whether field `f`'s strings may come as spans (then `spans[f]` must be given to `read`). */
  spans(f: number): boolean {
    return this.spanning[f]!;
  }

  /** Whether field `f`'s arrays may come as `LIST` (then `spans[f]` must be `Lists`). */
  lists(f: number): boolean {
    return this.listing[f]!;
  }

  /**
   * Spreads the object in `text` over `out[f][pos]`, as `spreadFields` spreads JSON.parse(text),
   * and reports undeclared fields to `extra`. False when the text needs JSON.parse instead: then
   * some `out[f][pos]` may be set already, and `extra` has not been called. A date-time field
   * equal to `eventTime` gets that very string, so its column builder need not read it again.
   */
  read(
    text: Uint8Array,
    pos: number,
    out: readonly unknown[][],
    spans: readonly (Spans | undefined)[],
    extra: (pos: number, key: string, value: unknown) => void,
    eventTime: string,
  ): boolean {
    const t = asBuffer(text) as Text;
    this.t = t;
    this.eventTime = eventTime;
    this.extras = 0;
    try {
      this.object(pos, out, spans);
    } catch (err) {
      if (err === GIVE_UP) return false;
      throw err;
    }
    for (let k = 0; k < this.extras; k++) {
      extra(pos, this.extraKeys[k]!, this.extraValues[k]);
      this.extraValues[k] = undefined;
    }
    return true;
  }

  private object(pos: number, out: readonly unknown[][], spans: readonly (Spans | undefined)[]): void {
    const t = this.t;
    const names = this.names;
    let p = skipJsonSpace(t, 0);
    if (t[p] !== OPEN_BRACE) throw GIVE_UP;
    p = skipJsonSpace(t, p + 1);
    let next = 0;
    if (t[p] === CLOSE_BRACE) {
      p++;
    } else {
      for (;;) {
        if (t[p] !== QUOTE) throw GIVE_UP;
        const ks = p + 1;
        // Names mostly come in declaration order: try the next field's name first.
        let f = next < names.length ? matchName(t, ks, names[next]!, next) : -1;
        let key: string | undefined;
        if (f >= 0) {
          p = ks + names[f]!.length + 1;
        } else {
          const ke = scanName(t, ks);
          key = asciiString(t, ks, ke);
          f = this.index.get(key) ?? -1;
          p = ke + 1;
        }
        p = skipJsonSpace(t, p);
        if (t[p] !== COLON) throw GIVE_UP;
        p = skipJsonSpace(t, p + 1);
        const c = t[p]!;
        if (f >= 0) {
          this.check = this.checks[f];
          const span = spans[f];
          if (c === QUOTE && span !== undefined && this.spanning[f]) {
            p = this.stringOrSpan(p, span, pos, f);
          } else if (c === OPEN_BRACKET && span !== undefined && this.listing[f]) {
            p = this.listInto(p, span as Lists, pos);
          } else {
            p = this.value(p, c);
          }
          out[f]![pos] = this.v;
          next = f + 1;
        } else {
          this.check = undefined;
          p = this.value(p, c);
          this.extraKeys[this.extras] = key!;
          this.extraValues[this.extras++] = this.v;
        }
        p = skipJsonSpace(t, p);
        const d = t[p];
        if (d === COMMA) {
          p = skipJsonSpace(t, p + 1);
          continue;
        }
        if (d !== CLOSE_BRACE) throw GIVE_UP;
        p++;
        break;
      }
    }
    if (skipJsonSpace(t, p) !== t.length) throw GIVE_UP;
  }

  /** One JSON value starting at `p` with byte `c`, into `this.v`; returns where it ends. */
  private value(p: number, c: number): number {
    if (c === QUOTE) return this.string(p);
    if (c === MINUS || (c >= ZERO && c <= NINE)) return this.number(p);
    if (c === 0x74) return this.literal(p, TRUE, true);
    if (c === 0x66) return this.literal(p, FALSE, false);
    if (c === 0x6e) return this.literal(p, NULL, null);
    if (c === OPEN_BRACKET) return this.array(p);
    if (c === OPEN_BRACE) return this.nested(p);
    throw GIVE_UP;
  }

  private literal(p: number, word: Uint8Array, value: unknown): number {
    const t = this.t;
    for (let k = 0; k < word.length; k++) if (t[p + k] !== word[k]) throw GIVE_UP;
    this.v = value;
    return p + word.length;
  }

  /**
   * Scans the string whose opening quote is at `p` to its closing quote. Returns the closing
   * quote's position, negated when the string needs decoding (an escape or a non-ASCII byte).
   */
  private scanString(p: number): number {
    const t = this.t;
    p++;
    let plain = true;
    this.escaped = false;
    for (;;) {
      // One table lookup per byte; past the end of the text it reads `undefined`, not PLAIN.
      let k = STRING_BYTE[t[p]!];
      while (k === PLAIN) k = STRING_BYTE[t[++p]!];
      if (k === CLOSE) return plain ? p : -p;
      if (k === WIDE) {
        plain = false;
        p++;
      } else if (k === ESCAPE) {
        plain = false;
        this.escaped = true;
        p += 2;
      } else {
        throw GIVE_UP; // a control character, or the end of the text
      }
    }
  }

  private string(p: number): number {
    const scanned = this.scanString(p);
    if (scanned >= 0) {
      this.v = asciiString(this.t, p + 1, scanned);
      return scanned + 1;
    }
    this.v = this.decode(p, -scanned);
    return -scanned + 1;
  }

  /** A string needing decoding, from its opening quote at `start` to its closing one at `end`. */
  private decode(start: number, end: number): string {
    const t = this.t;
    // Without a backslash only the UTF-8 needs decoding; utf8Slice replaces malformed sequences
    // exactly as decoding the whole text would (the quotes around them are ASCII).
    if (!this.escaped) return t.utf8Slice(start + 1, end);
    try {
      // JSON.parse validates the escapes.
      return JSON.parse(t.utf8Slice(start, end + 1)) as string;
    } catch {
      throw GIVE_UP;
    }
  }

  /**
   * A string field's value: plain ASCII stays in the text as a span (its bytes are its UTF-8);
   * anything else is decoded to a string.
   */
  private stringOrSpan(p: number, span: Spans, pos: number, f: number): number {
    const scanned = this.scanString(p);
    if (scanned >= 0) {
      if (this.times[f] && this.isEventTime(p + 1, scanned)) {
        this.v = this.eventTime;
        return scanned + 1;
      }
      const mode = this.mode[f]!;
      // Repeating short values (enums, codes) as shared strings: no allocation, and the
      // dictionary encoder's lookups become pointer compares.
      if (mode !== SPANS && scanned - p - 1 <= SHORT) {
        const before = hits;
        this.v = asciiString(this.t, p + 1, scanned);
        if (mode === PROBING) {
          const probes = ++this.probes[f]!;
          const repeats = this.probeHits[f]! + hits - before;
          this.probeHits[f] = repeats;
          if (probes === PROBES) this.mode[f] = repeats * 2 >= probes ? STRINGS : SPANS;
        }
        return scanned + 1;
      }
      span.start[pos] = p + 1;
      span.end[pos] = scanned;
      this.v = SPAN;
      return scanned + 1;
    }
    this.v = this.decode(p, -scanned);
    return -scanned + 1;
  }

  /** Whether `t[start, end)` spells the record's event time; compared while the bytes are at hand. */
  private isEventTime(start: number, end: number): boolean {
    const s = this.eventTime;
    if (s.length !== end - start) return false;
    const t = this.t;
    for (let k = 0; k < s.length; k++) if (t[start + k] !== s.charCodeAt(k)) return false;
    return true;
  }

  private number(start: number): number {
    const t = this.t;
    let p = start;
    let negative = false;
    if (t[p] === MINUS) {
      negative = true;
      p++;
    }
    let c = t[p]!;
    // Range tests written to be false for `undefined`, past the end of the text.
    if (!(c >= ZERO && c <= NINE)) throw GIVE_UP;
    let v = 0;
    const digits = p;
    if (c === ZERO) {
      c = t[++p]!;
    } else {
      while (c >= ZERO && c <= NINE) {
        v = v * 10 + (c - ZERO);
        c = t[++p]!;
      }
    }
    let exact = p - digits <= EXACT_DIGITS;
    if (c === 0x2e) {
      exact = false;
      c = t[++p]!;
      if (!(c >= ZERO && c <= NINE)) throw GIVE_UP;
      while (c >= ZERO && c <= NINE) c = t[++p]!;
    }
    if (c === 0x65 || c === 0x45) {
      exact = false;
      c = t[++p]!;
      if (c === 0x2b || c === MINUS) c = t[++p]!;
      if (!(c >= ZERO && c <= NINE)) throw GIVE_UP;
      while (c >= ZERO && c <= NINE) c = t[++p]!;
    }
    if (exact) {
      this.v = negative ? -v : v;
    } else {
      // Otherwise a JSON number literal converts as JSON.parse converts it, unless an integer
      // column needs its digits.
      const text = t.latin1Slice(start, p);
      const x = Number(text);
      this.v = this.check !== undefined && mayBeRounded(x) ? new NumberText(text) : x;
    }
    return p;
  }

  /** Arrays of strings (tags, labels) are read here; anything else goes to JSON.parse. */
  private array(start: number): number {
    // Read like an array field's, into a list of its own, then made an array of its exact size.
    const scratch = this.scratch;
    scratch.count = 0;
    const p = this.listInto(start, scratch, 0);
    if (this.v === LIST) {
      const array = new Array<unknown>(scratch.count);
      for (let k = 0; k < scratch.count; k++) {
        array[k] = scratch.items[k];
        scratch.items[k] = undefined;
      }
      this.v = array;
    }
    return p;
  }

  /** An array field: strings into `list` (anything else as the array JSON.parse gives). */
  private listInto(start: number, list: Lists, pos: number): number {
    const t = this.t;
    const first = list.count;
    let p = skipJsonSpace(t, start + 1);
    if (t[p] !== CLOSE_BRACKET) {
      for (;;) {
        if (t[p] !== QUOTE) {
          list.count = first;
          return this.nested(start);
        }
        p = this.string(p);
        list.items[list.count++] = this.v;
        p = skipJsonSpace(t, p);
        const c = t[p];
        if (c === COMMA) {
          p = skipJsonSpace(t, p + 1);
          continue;
        }
        if (c !== CLOSE_BRACKET) throw GIVE_UP;
        break;
      }
    }
    list.start[pos] = first;
    list.end[pos] = list.count;
    this.v = LIST;
    return p + 1;
  }

  /**
   * An array or object at `start`: its extent found by the envelope scanner, its value by
   * JSON.parse (which also checks it), read again keeping numbers as text where an integer
   * column would get a double that may be rounded.
   */
  private nested(start: number): number {
    const t = this.t;
    const p = skipValue(t, start);
    if (p < 0) throw GIVE_UP;
    try {
      this.v = JSON.parse(t.utf8Slice(start, p));
    } catch {
      throw GIVE_UP;
    }
    if (this.check?.(this.v)) this.v = keptNumbers(t, start, this.v);
    return p;
  }
}

/**
 * `parseKeepingNumbers` of the valid JSON at `t[start]`, or `parsed` (JSON.parse's value of it)
 * when it nests deeper than the stack allows.
 */
export function keptNumbers(t: Buffer, start: number, parsed: unknown): unknown {
  try {
    return parseKeepingNumbers(t, start);
  } catch (err) {
    if (err instanceof RangeError) return parsed;
    throw err;
  }
}

const TRUE = Buffer.from("true");
const FALSE = Buffer.from("false");
const NULL = Buffer.from("null");

/** `f` when the name at `start` (after its opening quote) is `name`, else -1. */
function matchName(t: Uint8Array, start: number, name: Uint8Array, f: number): number {
  const len = name.length;
  for (let k = 0; k < len; k++) if (t[start + k] !== name[k]) return -1;
  return t[start + len] === QUOTE ? f : -1;
}

/** The closing quote of the name starting at `start`; escaped or non-ASCII names are left to JSON.parse. */
function scanName(t: Uint8Array, start: number): number {
  let p = start;
  let c = t[p]!;
  while (c !== QUOTE) {
    // The range test is also false for `undefined`, past the end of the text.
    if (!(c >= 0x20 && c < 0x80) || c === BACKSLASH) throw GIVE_UP;
    c = t[++p]!;
  }
  return p;
}
