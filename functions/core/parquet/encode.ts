/**
 * Rows -> typed Parquet. One pass over the rows gathers each column's values; each column is then
 * built on its own, straight into typed arrays laid out like Arrow arrays, and written by Sluice's
 * own Parquet writer (writer/), which reads those arrays in place. Building column by column keeps
 * each inner loop on one value type, and short enough for many of its memory reads to be in flight
 * at once: converting row by row measured slower.
 */

import { asBuffer } from "../bytes.ts";
import { Arena } from "./arena.ts";
import { type ColumnPlan, type ColumnType, CompiledPlan, EXTRA_COLUMN, type FieldSpec } from "./columns.ts";
import { parseDate, parseTimestampInto } from "./convert.ts";
import {
  asciiString,
  JsonRecordReader,
  keptNumbers,
  LIST,
  type Lists,
  SPAN,
  type Spans,
} from "./json-reader.ts";
import { BEYOND_RANGE, exactInteger, FRACTION, mayBeRounded, NumberText } from "./number-text.ts";
import { ValueArrays } from "./value-arrays.ts";
import { writeParquetFile } from "./writer/file-writer.ts";
import type { ColumnData, ColumnInput, Int64Column, Utf8Column } from "./writer/types.ts";

export type ParquetCompression = "zstd" | "snappy" | "gzip" | "none";

export interface ParquetRow {
  id: string;
  /** ISO-8601 (RFC 3339, with offset). */
  eventTime: string;
  /** ISO-8601 (RFC 3339, with offset). */
  receiveTime: string;
  schemaVersion: number;
  /**
   * The record payload: parsed, or its UTF-8 JSON text as received. The text is read straight
   * into columns, which costs far less than parsing it into objects first; the file is the same.
   */
  data: Record<string, unknown> | Uint8Array;
}

/**
 * Why one row was left out. `path` is a JSON pointer into the payload (`/tags/3`), or the envelope
 * column's name (`/_event_time`) when an envelope field was bad; `message` names the expected and
 * actual JSON types but never the value, so it is safe to log. At most one entry per row: the first
 * failure in column order.
 */
export interface ConversionError {
  index: number;
  /**
   * INVALID_JSON: the payload was given as text, and it is not JSON. NUMBER_NOT_FINITE: a number
   * too large for a double (`1e400`, which JSON.parse reads as Infinity) for a DOUBLE column.
   */
  code: "TYPE_MISMATCH" | "INVALID_TIMESTAMP" | "OUT_OF_RANGE" | "NUMBER_NOT_FINITE" | "INVALID_JSON";
  path: string;
  message: string;
}

export interface EncodeOptions {
  compression: ParquetCompression;
  /** Maximum rows per row group. */
  rowGroupSize: number;
  /** Written to the file's key/value metadata (e.g. `sluice.schema.version`). */
  metadata: Record<string, string>;
}

export interface EncodeResult {
  /** The Parquet file; empty when no row could be written (write no file then). */
  bytes: Uint8Array;
  rowCount: number;
  rejected: ConversionError[];
}

type Code = ConversionError["code"];

/** Where builders report bad values and undeclared fields, by position in their input. */
interface Sink {
  error(pos: number, code: Code, path: string, message: string): void;
  /** An undeclared field inside a STRUCT: kept in `_extra` at the same path. */
  extra(pos: number, path: readonly (string | number)[], value: unknown): void;
}

type Obj = Record<string, unknown>;

const TWO_32 = 4294967296;
const TWO_63 = 2 ** 63;
const TWO_31 = 2147483648;
/** Values looked at to guess whether dictionary encoding pays for a column. */
const DICTIONARY_SAMPLE = 1024;
/** Strings up to this many UTF-16 units are tried as ASCII in JS before `Buffer#write`. */
const SHORT_STRING = 32;
/** Average UTF-8 bytes above which a string column is treated as free text. */
const FREE_TEXT_BYTES = 64;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // 64-bit values are written as two little-endian 32-bit halves.
  throw new Error("sluice parquet encoder requires a little-endian platform");
}

const COMPRESSIONS: readonly ParquetCompression[] = ["zstd", "snappy", "gzip", "none"];

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (v instanceof NumberText) return "number";
  return typeof v;
}

function mismatch(sink: Sink, pos: number, expected: string, v: unknown): void {
  sink.error(pos, "TYPE_MISMATCH", "", `expected ${expected}, got ${jsonType(v)}`);
}

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof NumberText);
}

function pointerSegment(name: string): string {
  return name.replaceAll("~", "~0").replaceAll("/", "~1");
}

function childSink(parent: Sink, name: string): Sink {
  const segment = `/${pointerSegment(name)}`;
  return {
    error: (pos, code, path, message) => parent.error(pos, code, segment + path, message),
    extra: (pos, path, value) => parent.extra(pos, [name, ...path], value),
  };
}

const arena = new Arena();
const valueArrays = new ValueArrays();

/**
 * UTF-8 column writer: encodes each value with one `Buffer#write` straight into the arena (3x faster
 * than TextEncoder.encodeInto into subarrays), after a 4-byte length: the Parquet PLAIN form, so
 * the writer copies whole pages of strings at once.
 */
class Utf8Writer {
  readonly offsets: Int32Array;
  readonly validity: Uint8Array;
  nulls = 0;
  private buf: Buffer;
  private start: number;
  private limit: number;
  private pos = 0;
  private i = 0;

  constructor(n: number) {
    this.offsets = arena.int32(n + 1);
    this.validity = arena.bitmap(n);
    this.start = arena.openText();
    this.buf = arena.textBuffer();
    this.limit = this.buf.length - this.start;
  }

  push(s: string): void {
    const len = s.length;
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes; 4 more for the length.
    if (this.pos + 4 + len * 3 > this.limit) this.grow(4 + len * 3);
    const at = this.start + this.pos + 4;
    const buf = this.buf;
    let k = 0;
    if (len <= SHORT_STRING) {
      // Ids, enums and tags: copying ASCII in JS is ~3x faster than a native call per value.
      for (; k < len; k++) {
        const c = s.charCodeAt(k);
        if (c >= 0x80) break;
        buf[at + k] = c;
      }
    }
    this.written(at, k === len ? len : buf.write(s, at));
  }

  /** A string given as its UTF-8 bytes, `src[start, end)`. */
  pushBytes(src: Uint8Array, start: number, end: number): void {
    const len = end - start;
    if (this.pos + 4 + len > this.limit) this.grow(4 + len);
    const at = this.start + this.pos + 4;
    const buf = this.buf;
    if (len <= SHORT_STRING) {
      for (let k = 0; k < len; k++) buf[at + k] = src[start + k]!;
    } else {
      // A plain view: Buffer#subarray goes through Buffer's species constructor, several times slower.
      buf.set(new Uint8Array(src.buffer, src.byteOffset + start, len), at);
    }
    this.written(at, len);
  }

  /** Ends a value of `n` bytes written at `at`: its length before it, its slot marked valid. */
  private written(at: number, n: number): void {
    const buf = this.buf;
    buf[at - 4] = n;
    buf[at - 3] = n >>> 8;
    buf[at - 2] = n >>> 16;
    buf[at - 1] = n >>> 24;
    this.pos += 4 + n;
    const i = this.i++;
    this.validity[i >> 3]! |= 1 << (i & 7);
    this.offsets[this.i] = this.pos;
  }

  pushNull(): void {
    this.nulls++;
    this.offsets[++this.i] = this.pos;
  }

  /** Bytes written so far. */
  get size(): number {
    return this.pos;
  }

  private grow(need: number): void {
    if (this.pos + need > 0x7fffffff) throw new RangeError("string column exceeds 2 GiB in one batch");
    this.start = arena.growText(this.start, this.pos, need);
    this.buf = arena.textBuffer();
    this.limit = this.buf.length - this.start;
  }

  finish(): ColumnData {
    return {
      kind: "utf8",
      length: this.i,
      nullCount: this.nulls,
      validity: this.nulls === 0 ? undefined : this.validity,
      offsets: this.offsets,
      bytes: arena.closeText(this.start, this.pos),
    };
  }
}

/** Where a string column's values left as spans (`SPAN`) are: in the texts of the batch's rows. */
interface SpanSource {
  readonly spans: Spans;
  readonly rows: readonly ParquetRow[];
}

function buildString(values: readonly unknown[], sink: Sink, from?: SpanSource): ColumnData {
  const n = values.length;
  const w = new Utf8Writer(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v === "string") {
      w.push(v);
    } else if (v === SPAN) {
      w.pushBytes(from!.rows[i]!.data as Uint8Array, from!.spans.start[i]!, from!.spans.end[i]!);
    } else {
      if (v != null) mismatch(sink, i, "string", v);
      w.pushNull();
    }
  }
  return w.finish();
}

/** The distinct strings of the column being dictionary-encoded, numbered in order of first use. */
const distinctStrings = new Map<string, number>();
/** Past this many distinct values (or bytes of them) a column is better written PLAIN. */
const MAX_DISTINCT = 1 << 16;
const MAX_DISTINCT_BYTES = 1 << 20;

/**
 * Strings as a dictionary-encoded column: each distinct string encoded once and a number per
 * slot. Short JSON strings are interned by V8, so the lookup is mostly a pointer hash. Undefined
 * when there turn out to be too many distinct values.
 */
function buildStringDictionary(values: readonly unknown[], sink: Sink): ColumnData | undefined {
  const n = values.length;
  const indices = arena.int32(n);
  const validity = arena.bitmap(n);
  const w = new Utf8Writer(MAX_DISTINCT); // last: it holds the arena's open text region
  distinctStrings.clear();
  let nulls = 0;
  try {
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v === "string") {
        let e = distinctStrings.get(v);
        if (e === undefined) {
          e = distinctStrings.size;
          if (e === MAX_DISTINCT || w.size > MAX_DISTINCT_BYTES) {
            w.finish();
            return undefined;
          }
          distinctStrings.set(v, e);
          w.push(v);
        }
        indices[i] = e;
        validity[i >> 3]! |= 1 << (i & 7);
      } else {
        if (v != null) mismatch(sink, i, "string", v);
        nulls++;
      }
    }
  } finally {
    distinctStrings.clear();
  }
  const table = w.finish() as Utf8Column;
  return {
    kind: "utf8",
    length: n,
    nullCount: nulls,
    validity: nulls === 0 ? undefined : validity,
    offsets: table.offsets.subarray(0, table.length + 1),
    bytes: table.bytes,
    indices,
  };
}

function buildJson(values: readonly unknown[], sink: Sink): ColumnData {
  const n = values.length;
  const w = new Utf8Writer(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v == null) {
      w.pushNull();
      continue;
    }
    const text = toJsonText(v);
    if (text === undefined) {
      mismatch(sink, i, "a JSON value", v);
      w.pushNull();
    } else {
      w.push(text);
    }
  }
  return w.finish();
}

/** A timestamp column already built, and the strings it was built from. */
interface KnownTimes {
  readonly strings: readonly unknown[];
  readonly column: Int64Column;
}

/**
 * `known`: a column of the same rows whose strings this one often repeats (the envelope's event
 * time is usually the payload's own time field, verbatim); equal strings reuse its values.
 */
function buildTimestamp(
  values: readonly unknown[],
  sink: Sink,
  known?: KnownTimes,
  from?: SpanSource,
): Int64Column {
  const n = values.length;
  const out = arena.bigint64(n);
  // Writing the two 32-bit halves avoids allocating a BigInt per value.
  const halves = new Int32Array(out.buffer, out.byteOffset, n * 2);
  const validity = arena.bitmap(n);
  const knownStrings = known?.strings;
  const knownValidity = known?.column.validity;
  const knownHalves =
    known && new Int32Array(known.column.values.buffer, known.column.values.byteOffset, n * 2);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    let v = values[i];
    // A span is never the event time: the text reader hands that over as the event time's string.
    if (
      knownStrings !== undefined &&
      v === knownStrings[i] &&
      (knownValidity === undefined || ((knownValidity[i >> 3]! >> (i & 7)) & 1) === 1)
    ) {
      halves[2 * i] = knownHalves![2 * i]!;
      halves[2 * i + 1] = knownHalves![2 * i + 1]!;
      validity[i >> 3]! |= 1 << (i & 7);
      continue;
    }
    // A string left in the record's text is made only now, so it dies young.
    if (v === SPAN) v = spanString(from!, i);
    if (typeof v === "string" && parseTimestampInto(v, halves, 2 * i)) {
      validity[i >> 3]! |= 1 << (i & 7);
      continue;
    }
    nulls++;
    if (typeof v === "string") {
      sink.error(i, "INVALID_TIMESTAMP", "", "expected an RFC 3339 date-time with a time-zone offset");
    } else if (v != null) {
      mismatch(sink, i, "date-time string", v);
    }
  }
  return {
    kind: "timestamp",
    length: n,
    nullCount: nulls,
    validity: nulls === 0 ? undefined : validity,
    values: out,
  };
}

function buildDate(values: readonly unknown[], sink: Sink, from?: SpanSource): ColumnData {
  const n = values.length;
  const out = arena.int32(n);
  const validity = arena.bitmap(n);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i] === SPAN ? spanString(from!, i) : values[i];
    if (typeof v === "string") {
      const days = parseDate(v);
      if (!Number.isNaN(days)) {
        out[i] = days;
        validity[i >> 3]! |= 1 << (i & 7);
        continue;
      }
      sink.error(i, "INVALID_TIMESTAMP", "", "expected an RFC 3339 full-date (YYYY-MM-DD)");
    } else if (v != null) {
      mismatch(sink, i, "date string", v);
    }
    nulls++;
  }
  return {
    kind: "date",
    length: n,
    nullCount: nulls,
    validity: nulls === 0 ? undefined : validity,
    values: out,
  };
}

const FRACTION_MESSAGE = "expected integer, got a number with a fraction";
const INT64_RANGE_MESSAGE =
  "integer outside the signed 64-bit range (-9223372036854775808 to 9223372036854775807); not clamped";
const INT32_RANGE_MESSAGE = "integer outside the signed 32-bit range (-2147483648 to 2147483647)";

/**
 * INT64 values: numbers, BigInts, and `NumberText` (a number from the payload's text whose double
 * may be rounded), whose digits are converted exactly; see number-text.ts for the rules. A number
 * given parsed, beyond 2^53, is taken as the double it is: only the text (or a BigInt) knows the
 * digits it was rounded from.
 */
function buildInt64(values: readonly unknown[], sink: Sink): ColumnData {
  const n = values.length;
  const out = arena.bigint64(n);
  const halves = new Int32Array(out.buffer, out.byteOffset, n * 2);
  const validity = arena.bitmap(n);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v === "number") {
      if (Number.isInteger(v)) {
        if (v >= -TWO_63 && v < TWO_63) {
          // Exact for every integral double: division by 2^32 and floor are exact here.
          const hi = Math.floor(v / TWO_32);
          halves[2 * i] = v - hi * TWO_32;
          halves[2 * i + 1] = hi;
          validity[i >> 3]! |= 1 << (i & 7);
          continue;
        }
        sink.error(i, "OUT_OF_RANGE", "", INT64_RANGE_MESSAGE);
      } else if (v - v !== 0) {
        // Infinity: what JSON.parse makes of an integer such as 1e400, beyond any range.
        sink.error(i, "OUT_OF_RANGE", "", INT64_RANGE_MESSAGE);
      } else {
        sink.error(i, "TYPE_MISMATCH", "", FRACTION_MESSAGE);
      }
    } else if (typeof v === "bigint") {
      if (BigInt.asIntN(64, v) === v) {
        out[i] = v;
        validity[i >> 3]! |= 1 << (i & 7);
        continue;
      }
      sink.error(i, "OUT_OF_RANGE", "", INT64_RANGE_MESSAGE);
    } else if (v instanceof NumberText) {
      const exact = integerOf(v, 64);
      if (typeof exact === "bigint") {
        out[i] = exact;
        validity[i >> 3]! |= 1 << (i & 7);
        continue;
      }
      integerError(sink, i, exact, INT64_RANGE_MESSAGE);
    } else if (v != null) {
      mismatch(sink, i, "integer", v);
    }
    nulls++;
  }
  return {
    kind: "int64",
    length: n,
    nullCount: nulls,
    validity: nulls === 0 ? undefined : validity,
    values: out,
  };
}

/**
 * The integer a `NumberText` stands for: its double where that cannot be rounded (within ±2^53,
 * as ajv checked it), else its digits, exactly.
 */
function integerOf(v: NumberText, bits: 32 | 64): bigint | typeof FRACTION | typeof BEYOND_RANGE {
  const x = Number(v.text);
  if (mayBeRounded(x)) return exactInteger(v.text, bits);
  if (!Number.isInteger(x)) return FRACTION;
  return bits === 32 && (x < -TWO_31 || x >= TWO_31) ? BEYOND_RANGE : BigInt(x);
}

function integerError(
  sink: Sink,
  i: number,
  why: typeof FRACTION | typeof BEYOND_RANGE,
  range: string,
): void {
  if (why === FRACTION) sink.error(i, "TYPE_MISMATCH", "", FRACTION_MESSAGE);
  else sink.error(i, "OUT_OF_RANGE", "", range);
}

/** INT32 values, as INT64's (see buildInt64) within the 32-bit range. */
function buildInt32(values: readonly unknown[], sink: Sink): ColumnData {
  const n = values.length;
  const out = arena.int32(n);
  const validity = arena.bitmap(n);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v === "number" && Number.isInteger(v)) {
      if (v >= -TWO_31 && v < TWO_31) {
        out[i] = v;
        validity[i >> 3]! |= 1 << (i & 7);
        continue;
      }
      sink.error(i, "OUT_OF_RANGE", "", INT32_RANGE_MESSAGE);
    } else if (typeof v === "number") {
      if (v - v !== 0) sink.error(i, "OUT_OF_RANGE", "", INT32_RANGE_MESSAGE);
      else sink.error(i, "TYPE_MISMATCH", "", FRACTION_MESSAGE);
    } else if (typeof v === "bigint" || v instanceof NumberText) {
      const exact =
        typeof v === "bigint" ? (BigInt.asIntN(32, v) === v ? v : BEYOND_RANGE) : integerOf(v, 32);
      if (typeof exact === "bigint") {
        out[i] = Number(exact);
        validity[i >> 3]! |= 1 << (i & 7);
        continue;
      }
      integerError(sink, i, exact, INT32_RANGE_MESSAGE);
    } else if (v != null) {
      mismatch(sink, i, "integer", v);
    }
    nulls++;
  }
  return {
    kind: "int32",
    length: n,
    nullCount: nulls,
    validity: nulls === 0 ? undefined : validity,
    values: out,
  };
}

function buildDouble(values: readonly unknown[], sink: Sink): ColumnData {
  const n = values.length;
  const out = arena.float64(n);
  const validity = arena.bitmap(n);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    let v = values[i];
    if (typeof v !== "number" && v instanceof NumberText) v = Number(v.text);
    if (typeof v === "number") {
      // Finite: JSON has no Infinity, so one here is a number too large for a double (1e400).
      if (v - v === 0) {
        out[i] = v;
        validity[i >> 3]! |= 1 << (i & 7);
        continue;
      }
      sink.error(
        i,
        "NUMBER_NOT_FINITE",
        "",
        "number too large for a double (JSON.parse reads it as Infinity); not stored as Infinity",
      );
    } else if (v != null) {
      mismatch(sink, i, "number", v);
    }
    nulls++;
  }
  return {
    kind: "double",
    length: n,
    nullCount: nulls,
    validity: nulls === 0 ? undefined : validity,
    values: out,
  };
}

function buildBoolean(values: readonly unknown[], sink: Sink): ColumnData {
  const n = values.length;
  const out = arena.bitmap(n);
  const validity = arena.bitmap(n);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v === "boolean") {
      if (v) out[i >> 3]! |= 1 << (i & 7);
      validity[i >> 3]! |= 1 << (i & 7);
      continue;
    }
    if (v != null) mismatch(sink, i, "boolean", v);
    nulls++;
  }
  return {
    kind: "boolean",
    length: n,
    nullCount: nulls,
    validity: nulls === 0 ? undefined : validity,
    values: out,
  };
}

/** Index of the list whose items include flattened position `pos` (offsets are non-decreasing). */
function ownerOf(offsets: Int32Array, pos: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function buildList(item: ColumnType, values: readonly unknown[], sink: Sink, lists?: Lists): ColumnData {
  const n = values.length;
  const offsets = arena.int32(n + 1);
  const validity = arena.bitmap(n);
  // Items are gathered in the pass that finds the lists (a second pass would fetch every list
  // from memory again), into an array that grows as they come.
  const items = valueArrays.takeAny();
  let nulls = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === LIST) {
      const from = lists!.start[i]!;
      const len = lists!.end[i]! - from;
      const gathered = lists!.items;
      for (let j = 0; j < len; j++) items[total + j] = gathered[from + j];
      total += len;
      validity[i >> 3]! |= 1 << (i & 7);
    } else if (Array.isArray(v)) {
      const len = v.length;
      for (let j = 0; j < len; j++) items[total + j] = v[j];
      total += len;
      validity[i >> 3]! |= 1 << (i & 7);
    } else {
      if (v != null) mismatch(sink, i, "array", v);
      nulls++;
    }
    offsets[i + 1] = total;
  }
  items.length = total;
  const itemSink: Sink = {
    error: (pos, code, path, message) => {
      const row = ownerOf(offsets, pos);
      sink.error(row, code, `/${pos - offsets[row]!}${path}`, message);
    },
    extra: (pos, path, value) => {
      const row = ownerOf(offsets, pos);
      sink.extra(row, [pos - offsets[row]!, ...path], value);
    },
  };
  return {
    kind: "list",
    length: n,
    nullCount: nulls,
    validity: nulls === 0 ? undefined : validity,
    offsets,
    item: buildColumn(item, items, itemSink),
  };
}

/** Position of each field name in `fields`, per struct type (and the top level). */
const fieldIndexes = new WeakMap<readonly FieldSpec[], ReadonlyMap<string, number>>();

function fieldIndex(fields: readonly FieldSpec[]): ReadonlyMap<string, number> {
  let index = fieldIndexes.get(fields);
  if (index === undefined) {
    index = new Map(fields.map((f, k) => [f.name, k]));
    fieldIndexes.set(fields, index);
  }
  return index;
}

/**
 * Spreads the keys of object `o` (at `pos`) over the value arrays of its declared fields and
 * reports the others as extras. One pass over each object's own keys, instead of a pass per field
 * plus one for extras: every pass over a batch's records costs memory traffic. Keys mostly come
 * in declaration order, so the next field is tried before the name lookup.
 */
function spreadFields(
  o: Obj,
  pos: number,
  fields: readonly FieldSpec[],
  index: ReadonlyMap<string, number>,
  out: readonly unknown[][],
  sink: Sink,
): void {
  let next = 0;
  for (const key in o) {
    const v = o[key];
    const f = next < fields.length && fields[next]!.name === key ? next : (index.get(key) ?? -1);
    if (f >= 0) {
      out[f]![pos] = v;
      next = f + 1;
    } else if (v !== undefined) {
      // An undefined value cannot come from JSON and would serialize to nothing.
      sink.extra(pos, [key], v);
    }
  }
}

/** JSON text of `v`, or undefined for what JSON cannot hold (BigInt, cycles). */
function toJsonText(v: unknown): string | undefined {
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
}

function buildStruct(fields: readonly FieldSpec[], values: readonly unknown[], sink: Sink): ColumnData {
  const n = values.length;
  const validity = arena.bitmap(n);
  const index = fieldIndex(fields);
  const fieldValues = fields.map(() => valueArrays.take(n));
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (isObj(v)) {
      validity[i >> 3]! |= 1 << (i & 7);
      spreadFields(v, i, fields, index, fieldValues, sink);
    } else {
      if (v != null) mismatch(sink, i, "object", v);
      nulls++;
    }
  }
  return {
    kind: "struct",
    length: n,
    nullCount: nulls,
    validity: nulls === 0 ? undefined : validity,
    fields: fields.map((f, k) => ({
      name: f.name,
      data: buildColumn(f.type, fieldValues[k]!, childSink(sink, f.name)),
    })),
  };
}

function buildColumn(type: ColumnType, values: readonly unknown[], sink: Sink): ColumnData {
  switch (type.kind) {
    case "string":
      return (lowCardinality(values) && buildStringDictionary(values, sink)) || buildString(values, sink);
    case "json":
      return buildJson(values, sink);
    case "timestamp":
      return buildTimestamp(values, sink);
    case "date":
      return buildDate(values, sink);
    case "int64":
      return buildInt64(values, sink);
    case "int32":
      return buildInt32(values, sink);
    case "double":
      return buildDouble(values, sink);
    case "boolean":
      return buildBoolean(values, sink);
    case "list":
      return buildList(type.item, values, sink);
    case "struct":
      return buildStruct(type.fields, values, sink);
  }
}

/**
 * Sets own property `name`, even one named "__proto__" (which assignment would take for the
 * prototype).
 */
function setOwn(o: Obj, name: string, value: unknown): void {
  if (name === "__proto__") {
    Object.defineProperty(o, name, { value, writable: true, enumerable: true, configurable: true });
  } else {
    o[name] = value;
  }
}

/**
 * Sets `value` at `path` inside the `_extra` overlay, creating objects/arrays on the way. Plain
 * objects, read through own properties only: null-prototype ones are dictionaries in V8, several
 * times bigger and slower to stringify.
 */
function setIn(root: Obj, path: readonly (string | number)[], value: unknown): void {
  let cur: Obj | unknown[] = root;
  for (let k = 0; k < path.length; k++) {
    const key = path[k]!;
    const last = k === path.length - 1;
    const next: unknown = last ? value : typeof path[k + 1] === "number" ? [] : {};
    if (Array.isArray(cur)) {
      const idx = key as number;
      if (last || cur[idx] === undefined) cur[idx] = next;
      cur = cur[idx] as Obj | unknown[];
    } else {
      const name = String(key);
      let child = Object.hasOwn(cur, name) ? cur[name] : undefined;
      if (last || child === undefined) {
        setOwn(cur, name, next);
        child = next;
      }
      cur = child as Obj | unknown[];
    }
  }
}

/** Writer settings for one top-level column (and every leaf under it), chosen from the batch itself. */
interface ColumnSettings {
  dictionary: boolean;
  statistics: boolean;
}

interface Built {
  columns: ColumnInput[];
  rejected: Map<number, ConversionError>;
}

/**
 * Whether dictionary encoding pays: at most half of the first non-null values are distinct.
 * High-cardinality columns (ids, free text, event times) only spend writer time on a dictionary
 * that parquet abandons once it grows.
 */
function lowCardinality(values: readonly unknown[], from?: SpanSource, integers = false): boolean {
  const seen = new Set<unknown>();
  let count = 0;
  for (let i = 0; i < values.length && count < DICTIONARY_SAMPLE; i++) {
    const v = values[i];
    if (v == null) continue;
    count++;
    seen.add(v === SPAN ? spanString(from!, i) : v instanceof NumberText ? distinctKey(v, integers) : v);
  }
  return seen.size * 2 <= count;
}

/**
 * A number kept as text, counted among distinct values as the number it stands for: its double,
 * unless it is an integer the double rounds and the column an integer column, which holds it exactly.
 */
function distinctKey(v: NumberText, integers: boolean): unknown {
  const x = Number(v.text);
  if (!integers || Number.isSafeInteger(x) || !Number.isInteger(x)) return x;
  const exact = exactInteger(v.text, 64);
  return typeof exact === "bigint" && exact !== BigInt(x) ? exact : x;
}

/** The string a span stands for (spans are plain ASCII, so their bytes are their characters). */
function spanString(from: SpanSource, i: number): string {
  return asciiString(asBuffer(from.rows[i]!.data as Uint8Array), from.spans.start[i]!, from.spans.end[i]!);
}

/**
 * A top-level string column read from texts: kept as spans when it will be written PLAIN (ids,
 * free text), made into strings when it will get a dictionary, whose lookups need them.
 */
function buildSpanned(values: unknown[], sink: Sink, from: SpanSource): ColumnData {
  const low = lowCardinality(values, from);
  if (low) {
    for (let i = 0; i < values.length; i++) if (values[i] === SPAN) values[i] = spanString(from, i);
  }
  return (low && buildStringDictionary(values, sink)) || buildString(values, sink, from);
}

/** Average UTF-8 bytes of a string column's values (of its distinct values, when it has a dictionary). */
function averageBytes(data: Utf8Column): number {
  const count = data.indices === undefined ? data.length - data.nullCount : data.offsets.length - 1;
  // Less each value's 4-byte length prefix.
  const bytes = data.offsets[data.offsets.length - 1]! - 4 * count;
  return count === 0 ? 0 : bytes / count;
}

/**
 * Dictionary encoding and statistics cost writer time and only pay for some columns, so they are
 * chosen per top-level column. Nested columns try a dictionary (the writer falls back to PLAIN
 * when it grows too big) and keep statistics.
 */
function settingsFor(
  type: ColumnType,
  values: readonly unknown[],
  data: ColumnData,
  from?: SpanSource,
): ColumnSettings {
  const low = (): boolean => lowCardinality(values, from, type.kind === "int64" || type.kind === "int32");
  switch (type.kind) {
    case "boolean":
      // Bit-packed booleans are smaller than dictionary indices.
      return { dictionary: false, statistics: true };
    case "timestamp":
      // Event times are close to unique; min/max drive time-range pruning.
      return { dictionary: false, statistics: true };
    case "string":
    case "json": {
      const avg = data.kind === "utf8" ? averageBytes(data) : 0;
      return {
        dictionary: low(),
        // Min/max of free text never prunes anything and costs writer time and footer bytes.
        statistics: avg <= FREE_TEXT_BYTES,
      };
    }
    case "int64":
    case "int32":
    case "double":
    case "date":
      return { dictionary: low(), statistics: true };
    case "list":
    case "struct":
      return { dictionary: true, statistics: true };
  }
}

/** One reader per plan: it holds the plan's field names as bytes. */
const readers = new WeakMap<CompiledPlan, JsonRecordReader>();

function readerFor(plan: CompiledPlan, index: ReadonlyMap<string, number>): JsonRecordReader {
  let reader = readers.get(plan);
  if (reader === undefined) {
    reader = new JsonRecordReader(plan.fields, index);
    readers.set(plan, reader);
  }
  return reader;
}

/**
 * Where the text reader puts what it leaves in the records' texts: spans for fields whose values
 * are strings, gathered items for array fields (arena and value-array memory, kept per batch).
 */
function readerSlots(reader: JsonRecordReader, fields: number, n: number): (Spans | undefined)[] {
  return Array.from({ length: fields }, (_, k) => {
    if (reader.spans(k)) return { start: arena.int32(n), end: arena.int32(n) };
    if (reader.lists(k)) {
      return { start: arena.int32(n), end: arena.int32(n), items: valueArrays.takeAny(), count: 0 };
    }
    return undefined;
  });
}

/**
 * A top-level field's column where it needs more than `buildColumn`: a date-time that may repeat
 * the event time, or values the text reader left as spans (`from`) or gathered lists (`slot`).
 */
function buildField(
  type: ColumnType,
  values: unknown[],
  sink: Sink,
  known: KnownTimes,
  slot: Spans | undefined,
  from: SpanSource | undefined,
): ColumnData | undefined {
  switch (type.kind) {
    case "timestamp":
      return buildTimestamp(values, sink, known, from);
    case "date":
      return from && buildDate(values, sink, from);
    case "list":
      return slot && buildList(type.item, values, sink, slot as Lists);
    case "string":
      return from && buildSpanned(values, sink, from);
    default:
      return undefined;
  }
}

function buildBatch(plan: CompiledPlan, rows: readonly ParquetRow[]): Built {
  try {
    return convertRows(plan, rows);
  } finally {
    // The columns are built; the values gathered for them are no longer needed.
    valueArrays.giveBack();
  }
}

function convertRows(plan: CompiledPlan, rows: readonly ParquetRow[]): Built {
  const n = rows.length;
  arena.reset();
  const rejected = new Map<number, ConversionError>();
  let overlays: (Obj | undefined)[] | undefined;
  const sink: Sink = {
    error: (index, code, path, message) => {
      if (!rejected.has(index)) rejected.set(index, { index, code, path, message });
    },
    extra: (pos, path, value) => {
      overlays ??= valueArrays.take(n) as (Obj | undefined)[];
      let root = overlays[pos];
      if (root === undefined) {
        root = {};
        overlays[pos] = root;
      }
      setIn(root, path, value);
    },
  };

  // One pass over the rows takes every value out of them; the columns are then built one by one.
  const ids = valueArrays.take(n);
  const eventTimes = valueArrays.take(n);
  const receiveTimes = valueArrays.take(n);
  const versions = valueArrays.take(n);
  const fields = plan.fields;
  const index = fieldIndex(fields);
  const fieldValues = fields.map(() => valueArrays.take(n));
  let reader: JsonRecordReader | undefined;
  let spans: (Spans | undefined)[] | undefined;
  const extra = (pos: number, key: string, value: unknown): void => sink.extra(pos, [key], value);
  /** Records that are not objects (or, given as text, not JSON), reported after the envelope. */
  let badRecords: ConversionError[] | undefined;
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    ids[i] = row.id;
    eventTimes[i] = row.eventTime;
    receiveTimes[i] = row.receiveTime;
    versions[i] = row.schemaVersion;
    let d: unknown = row.data;
    if (d instanceof Uint8Array) {
      if (reader === undefined) {
        reader = readerFor(plan, index);
        reader.begin();
      }
      spans ??= readerSlots(reader, fields.length, n);
      if (reader.read(d, i, fieldValues, spans, extra, row.eventTime)) continue;
      for (const values of fieldValues) values[i] = undefined;
      try {
        const text = asBuffer(d);
        d = JSON.parse(text.toString("utf8"));
        // Integer columns need the digits JSON.parse rounded (see number-text.ts).
        if (isObj(d) && reader.roundsIntegers(d)) d = keptNumbers(text, 0, d);
      } catch {
        badRecords ??= [];
        badRecords.push({
          index: i,
          code: "INVALID_JSON",
          path: "",
          message: "the record is not valid JSON",
        });
        continue;
      }
    }
    if (isObj(d)) {
      spreadFields(d, i, fields, index, fieldValues, sink);
    } else {
      badRecords ??= [];
      badRecords.push({
        index: i,
        code: "TYPE_MISMATCH",
        path: "",
        message: `expected the record to be an object, got ${jsonType(d)}`,
      });
    }
  }

  const columns: ColumnInput[] = [];
  const add = (
    name: string,
    type: ColumnType,
    values: readonly unknown[],
    data?: ColumnData,
    from?: SpanSource,
  ): void => {
    data ??= buildColumn(type, values, childSink(sink, name));
    columns.push({ name, data, ...settingsFor(type, values, data, from) });
  };
  add("_id", { kind: "string" }, ids);
  const known: KnownTimes = {
    strings: eventTimes,
    column: buildTimestamp(eventTimes, childSink(sink, "_event_time")),
  };
  add("_event_time", { kind: "timestamp" }, eventTimes, known.column);
  add("_receive_time", { kind: "timestamp" }, receiveTimes);
  add("_schema_version", { kind: "int32" }, versions);
  // Reported after the envelope columns, whose errors come first.
  for (const e of badRecords ?? []) sink.error(e.index, e.code, e.path, e.message);
  for (let k = 0; k < fields.length; k++) {
    const f = fields[k]!;
    const values = fieldValues[k]!;
    const slot = spans?.[k];
    const from = slot && { spans: slot, rows };
    add(f.name, f.type, values, buildField(f.type, values, childSink(sink, f.name), known, slot, from), from);
  }

  const extras = valueArrays.take(n);
  if (overlays !== undefined) {
    for (let i = 0; i < n; i++) {
      const o = overlays[i];
      if (o === undefined) continue;
      extras[i] = toJsonText(o);
      if (extras[i] === undefined) {
        sink.error(i, "TYPE_MISMATCH", "", "undeclared fields hold a value JSON cannot represent");
      }
    }
  }
  add(EXTRA_COLUMN, { kind: "string" }, extras);

  return { columns, rejected };
}

function writeFile(built: Built, n: number, options: EncodeOptions): Uint8Array {
  try {
    return writeParquetFile(built.columns, n, options);
  } finally {
    // The writer reads the columns in the arena; only now is it free for the next batch.
    arena.trim();
  }
}

/**
 * Encodes `rows` as one Parquet file. Rows that cannot be converted (e.g. "abc" for an integer
 * column, an unparseable date-time) are left out and reported in `rejected` with their index;
 * the other rows are still written.
 */
export function encodeParquet(
  plan: ColumnPlan,
  rows: readonly ParquetRow[],
  options: EncodeOptions,
): EncodeResult {
  if (!(plan instanceof CompiledPlan)) throw new TypeError("plan must come from planColumns()");
  if (!Number.isInteger(options.rowGroupSize) || options.rowGroupSize < 1) {
    throw new RangeError(`rowGroupSize must be a positive integer, got ${options.rowGroupSize}`);
  }
  if (!COMPRESSIONS.includes(options.compression)) {
    throw new RangeError(`unknown compression ${JSON.stringify(options.compression)}`);
  }
  let built = buildBatch(plan, rows);
  let kept = rows;
  const rejected = [...built.rejected.values()].sort((a, b) => a.index - b.index);
  if (rejected.length > 0) {
    // Rare, so the simple way: convert again without the bad rows (conversion is deterministic).
    kept = rows.filter((_, i) => !built.rejected.has(i));
    if (kept.length > 0) {
      built = buildBatch(plan, kept);
      if (built.rejected.size > 0) throw new Error("internal: row conversion is not deterministic");
    }
  }
  if (kept.length === 0) {
    arena.trim();
    return { bytes: new Uint8Array(0), rowCount: 0, rejected };
  }
  return { bytes: writeFile(built, kept.length, options), rowCount: kept.length, rejected };
}
