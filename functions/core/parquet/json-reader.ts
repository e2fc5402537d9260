/**
 * Reads a record's JSON text (UTF-8 bytes) straight into the batch's value arrays, without
 * JSON.parse. Parsing every payload into objects, and keeping them all alive until the columns
 * are built, was half of a batch's encoding time: the objects and their strings were allocated,
 * copied by the young-generation GC, and read again by the gather. Here a top-level string field
 * becomes a byte span of the text, copied once into its column; other values become the JS values
 * JSON.parse would have given.
 *
 * It reads the common shapes only and gives up (`false`) on anything else: an escape in a key,
 * a non-ASCII key, malformed JSON, a text that is not an object. The caller then uses JSON.parse
 * on the whole text, so what is read here must always equal what JSON.parse would give; parts
 * it does not read itself (escaped strings, nested arrays and objects) it hands to JSON.parse.
 */
import type { FieldSpec } from "./columns.ts";

/** Stands in a value array for a string kept as a byte span of the record's text. */
export const SPAN: unique symbol = Symbol("span");

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
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

/** Strings up to this long are looked up among those seen before instead of made again. */
const SHORT = 16;
const CACHE_SLOTS = 4096;

/** Thrown inside the reader to give up on a record; caught by `read`. */
const GIVE_UP = new Error("json-reader: needs JSON.parse");

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Buffer's string-slicing bindings, which `toString(encoding, start, end)` ends in: its argument
 * handling costs more than slicing a short string. On Buffer.prototype since Node 0.x.
 */
type Text = Buffer & {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
};

/** The text as a Buffer, for its native string slicing; a view, never a copy. */
export function asBuffer(text: Uint8Array): Buffer {
  return Buffer.isBuffer(text) ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
}

/** Where the top-level string fields of the batch's records are, by field and position. */
export interface Spans {
  readonly start: Int32Array;
  readonly end: Int32Array;
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

/** The plain ASCII string `t[start, end)`. */
export function asciiString(t: Uint8Array, start: number, end: number): string {
  const text = t as Text;
  const len = end - start;
  if (len > SHORT) return text.latin1Slice(start, end);
  const slot = cacheSlot(t, start, end);
  const seen = cache[slot];
  if (seen !== undefined && seen.length === len) {
    let k = 0;
    while (k < len && seen.charCodeAt(k) === t[start + k]) k++;
    if (k === len) return seen;
  }
  const made = text.latin1Slice(start, end);
  cache[slot] = made;
  return made;
}

export class JsonRecordReader {
  private readonly names: readonly Uint8Array[];
  /** For each field: whether its strings may be left as spans. */
  private readonly spanning: readonly boolean[];
  private t = Buffer.alloc(0) as Text;
  /** Set by `scanString`: the string scanned last has an escape. */
  private escaped = false;
  private p = 0;
  /** Items of the array being read; arrays are then made at their exact size. */
  private readonly items: unknown[] = [];
  private readonly extraKeys: string[] = [];
  private readonly extraValues: unknown[] = [];

  constructor(
    fields: readonly FieldSpec[],
    private readonly index: ReadonlyMap<string, number>,
  ) {
    this.names = fields.map((f) => Buffer.from(f.name, "utf8"));
    // Kinds whose values are strings; their builders make the string only when they need it.
    this.spanning = fields.map(
      (f) => f.type.kind === "string" || f.type.kind === "timestamp" || f.type.kind === "date",
    );
  }

  /** Whether field `f`'s strings may come as spans (then `spans[f]` must be given to `read`). */
  spans(f: number): boolean {
    return this.spanning[f]!;
  }

  /**
   * Spreads the object in `text` over `out[f][pos]`, as `spreadFields` spreads JSON.parse(text),
   * and reports undeclared fields to `extra`. False when the text needs JSON.parse instead: then
   * some `out[f][pos]` may be set already, and `extra` has not been called.
   */
  read(
    text: Uint8Array,
    pos: number,
    out: readonly unknown[][],
    spans: readonly (Spans | undefined)[],
    extra: (pos: number, key: string, value: unknown) => void,
  ): boolean {
    this.t = asBuffer(text) as Text;
    this.p = 0;
    this.extraKeys.length = 0;
    this.extraValues.length = 0;
    try {
      this.object(pos, out, spans);
    } catch (err) {
      if (err === GIVE_UP) return false;
      throw err;
    }
    for (let k = 0; k < this.extraKeys.length; k++) extra(pos, this.extraKeys[k]!, this.extraValues[k]);
    return true;
  }

  private ws(): number {
    const t = this.t;
    let p = this.p;
    let c = t[p]!;
    while (isWs(c)) c = t[++p]!;
    this.p = p;
    return c;
  }

  private object(pos: number, out: readonly unknown[][], spans: readonly (Spans | undefined)[]): void {
    const t = this.t;
    if (this.ws() !== OPEN_BRACE) throw GIVE_UP;
    this.p++;
    let c = this.ws();
    let next = 0;
    if (c === CLOSE_BRACE) {
      this.p++;
    } else {
      for (;;) {
        if (c !== QUOTE) throw GIVE_UP;
        const ks = ++this.p;
        let p = ks;
        c = t[p]!;
        while (c !== QUOTE) {
          // Escaped or non-ASCII names are rare; JSON.parse decodes them. The range test is
          // also false for `undefined`, past the end of the text.
          if (!(c >= 0x20 && c < 0x80) || c === BACKSLASH) throw GIVE_UP;
          c = t[++p]!;
        }
        const ke = p;
        this.p = p + 1;
        if (this.ws() !== COLON) throw GIVE_UP;
        this.p++;
        let f = next < this.names.length && this.nameIs(ks, ke, this.names[next]!) ? next : -1;
        let key: string | undefined;
        if (f < 0) {
          key = asciiString(t, ks, ke);
          f = this.index.get(key) ?? -1;
        }
        const first = this.ws();
        if (f >= 0) {
          const span = first === QUOTE && this.spanning[f] ? spans[f] : undefined;
          out[f]![pos] = span ? this.stringOrSpan(span, pos) : this.value(first);
          next = f + 1;
        } else {
          this.extraKeys.push(key!);
          this.extraValues.push(this.value(first));
        }
        c = this.ws();
        if (c === COMMA) {
          this.p++;
          c = this.ws();
          continue;
        }
        if (c !== CLOSE_BRACE) throw GIVE_UP;
        this.p++;
        break;
      }
    }
    this.ws();
    if (this.p !== t.length) throw GIVE_UP;
  }

  private nameIs(start: number, end: number, name: Uint8Array): boolean {
    if (end - start !== name.length) return false;
    const t = this.t;
    for (let k = 0; k < name.length; k++) if (t[start + k] !== name[k]) return false;
    return true;
  }

  /** One JSON value starting at `this.p`, whose first byte is `c`. */
  private value(c: number): unknown {
    if (c === QUOTE) return this.string();
    if (c === MINUS || (c >= ZERO && c <= NINE)) return this.number();
    if (c === 0x74) return this.literal("true", true);
    if (c === 0x66) return this.literal("false", false);
    if (c === 0x6e) return this.literal("null", null);
    if (c === OPEN_BRACKET) return this.array();
    if (c === OPEN_BRACE) return this.nested();
    throw GIVE_UP;
  }

  private literal(word: string, value: unknown): unknown {
    const t = this.t;
    const p = this.p;
    for (let k = 0; k < word.length; k++) if (t[p + k] !== word.charCodeAt(k)) throw GIVE_UP;
    this.p = p + word.length;
    return value;
  }

  /**
   * Scans the string at `this.p` to its closing quote. Returns its end, negated when the string
   * needs decoding (an escape or a non-ASCII byte) rather than being plain ASCII.
   */
  private scanString(): number {
    const t = this.t;
    let p = this.p + 1;
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

  private string(): string {
    const start = this.p;
    const scanned = this.scanString();
    const end = scanned < 0 ? -scanned : scanned;
    this.p = end + 1;
    if (scanned >= 0) return asciiString(this.t, start + 1, end);
    return this.decode(start, end);
  }

  /** A string needing decoding; JSON.parse validates its escapes. */
  private decode(start: number, end: number): string {
    const t = this.t;
    // Without a backslash only the UTF-8 needs decoding; utf8Slice replaces malformed sequences
    // exactly as decoding the whole text would (the quotes around them are ASCII).
    if (!this.escaped) return t.utf8Slice(start + 1, end);
    try {
      return JSON.parse(t.utf8Slice(start, end + 1)) as string;
    } catch {
      throw GIVE_UP;
    }
  }

  /**
   * A top-level string field: plain ASCII stays in the text as a span (its bytes are its UTF-8);
   * anything else is decoded to a string.
   */
  private stringOrSpan(span: Spans, pos: number): unknown {
    const start = this.p;
    const scanned = this.scanString();
    if (scanned >= 0) {
      this.p = scanned + 1;
      span.start[pos] = start + 1;
      span.end[pos] = scanned;
      return SPAN;
    }
    this.p = -scanned + 1;
    return this.decode(start, -scanned);
  }

  private number(): number {
    const t = this.t;
    const start = this.p;
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
    this.p = p;
    if (exact) return negative ? -v : v;
    // A JSON number literal converts as JSON.parse converts it.
    return Number(t.latin1Slice(start, p));
  }

  /** Arrays of plain strings (tags, labels) are read here; anything else goes to JSON.parse. */
  private array(): unknown[] {
    const start = this.p;
    this.p++;
    const items = this.items;
    items.length = 0;
    let c = this.ws();
    if (c === CLOSE_BRACKET) {
      this.p++;
      return [];
    }
    for (;;) {
      if (c !== QUOTE) {
        this.p = start;
        return this.nested() as unknown[];
      }
      items.push(this.string());
      c = this.ws();
      if (c === COMMA) {
        this.p++;
        c = this.ws();
        continue;
      }
      if (c !== CLOSE_BRACKET) throw GIVE_UP;
      this.p++;
      return items.slice();
    }
  }

  /** An array or object at `this.p`: its extent found by bracket counting, its value by JSON.parse. */
  private nested(): unknown {
    const t = this.t;
    const start = this.p;
    let p = start;
    let depth = 0;
    for (;;) {
      const c = t[p];
      if (c === undefined) throw GIVE_UP;
      if (c === QUOTE) {
        this.p = p;
        const end = this.scanString();
        p = (end < 0 ? -end : end) + 1;
        continue;
      }
      if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) {
          p++;
          break;
        }
      }
      p++;
    }
    this.p = p;
    try {
      return JSON.parse(t.utf8Slice(start, p));
    } catch {
      throw GIVE_UP;
    }
  }
}
