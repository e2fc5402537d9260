/**
 * Column chunk statistics: null count and min/max in each type's defined sort order (signed for
 * integers, dates and timestamps; IEEE order without NaN for doubles, with -0 as the minimum and +0
 * as the maximum of zeros; unsigned bytewise for strings), PLAIN-encoded as parquet.thrift asks.
 */
import type { Statistics } from "./format.ts";
import type { PrimitiveColumn } from "./types.ts";

/** Min/max strings longer than this are left out rather than bloat the footer (null count stays). */
const MAX_STAT_BYTES = 256;

/**
 * Statistics of values `[0, count)` where value k is at `index[k]` (or `base + k`). Callers with a
 * dictionary pass each distinct value once. One function per type: a single function looping
 * over every type was optimized for one and deoptimized by the next, chunk after chunk.
 */
export function columnStatistics(
  data: PrimitiveColumn,
  index: Int32Array | undefined,
  base: number,
  count: number,
  nullCount: number,
): Statistics {
  if (count === 0) return { nullCount };
  switch (data.kind) {
    case "int32":
    case "date":
      return int32Statistics(data.values, index, base, count, nullCount);
    case "int64":
    case "timestamp": {
      const v = data.values;
      return int64Statistics(
        new Int32Array(v.buffer, v.byteOffset, v.length * 2),
        index,
        base,
        count,
        nullCount,
      );
    }
    case "double":
      return doubleStatistics(data.values, index, base, count, nullCount);
    case "boolean":
      return booleanStatistics(data.values, index, base, count, nullCount);
    case "utf8":
      return utf8Statistics(data.offsets, data.bytes, index, base, count, nullCount);
  }
}

function int32Statistics(
  v: Int32Array,
  index: Int32Array | undefined,
  base: number,
  count: number,
  nullCount: number,
): Statistics {
  let min = v[index === undefined ? base : index[0]!]!;
  let max = min;
  for (let k = 1; k < count; k++) {
    const x = v[index === undefined ? base + k : index[k]!]!;
    // Max first: batches tend to arrive in ascending order (ids, times), which then costs one
    // comparison per value.
    if (x > max) max = x;
    else if (x < min) min = x;
  }
  return { nullCount, min: int32Bytes(min), max: int32Bytes(max) };
}

/** `w` holds each value as (low, high) 32-bit words. */
function int64Statistics(
  w: Int32Array,
  index: Int32Array | undefined,
  base: number,
  count: number,
  nullCount: number,
): Statistics {
  let minI = index === undefined ? base : index[0]!;
  let maxI = minI;
  // The extremes' words are kept in locals: re-reading them per value showed in profiles.
  let minHi = w[2 * minI + 1]!;
  let minLo = w[2 * minI]! >>> 0;
  let maxHi = minHi;
  let maxLo = minLo;
  for (let k = 1; k < count; k++) {
    const i = index === undefined ? base + k : index[k]!;
    const hi = w[2 * i + 1]!;
    const lo = w[2 * i]! >>> 0;
    if (hi > maxHi || (hi === maxHi && lo > maxLo)) {
      maxI = i;
      maxHi = hi;
      maxLo = lo;
    } else if (hi < minHi || (hi === minHi && lo < minLo)) {
      minI = i;
      minHi = hi;
      minLo = lo;
    }
  }
  return { nullCount, min: int64Bytes(w, minI), max: int64Bytes(w, maxI) };
}

function doubleStatistics(
  v: Float64Array,
  index: Int32Array | undefined,
  base: number,
  count: number,
  nullCount: number,
): Statistics {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let seen = false;
  for (let k = 0; k < count; k++) {
    const x = v[index === undefined ? base + k : index[k]!]!;
    if (Number.isNaN(x)) continue; // NaN has no place in the order
    seen = true;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  if (!seen) return { nullCount };
  if (min === 0) min = -0;
  if (max === 0) max = 0;
  return { nullCount, min: doubleBytes(min), max: doubleBytes(max) };
}

function booleanStatistics(
  bits: Uint8Array,
  index: Int32Array | undefined,
  base: number,
  count: number,
  nullCount: number,
): Statistics {
  let anyTrue = false;
  let anyFalse = false;
  for (let k = 0; k < count && !(anyTrue && anyFalse); k++) {
    const i = index === undefined ? base + k : index[k]!;
    if ((bits[i >> 3]! >> (i & 7)) & 1) anyTrue = true;
    else anyFalse = true;
  }
  return { nullCount, min: Uint8Array.of(anyFalse ? 0 : 1), max: Uint8Array.of(anyTrue ? 1 : 0) };
}

function utf8Statistics(
  offsets: Int32Array,
  bytes: Uint8Array,
  index: Int32Array | undefined,
  base: number,
  count: number,
  nullCount: number,
): Statistics {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let minI = index === undefined ? base : index[0]!;
  let maxI = minI;
  for (let k = 1; k < count; k++) {
    const i = index === undefined ? base + k : index[k]!;
    if (compareBytes(view, offsets, i, maxI) > 0) maxI = i;
    else if (compareBytes(view, offsets, i, minI) < 0) minI = i;
  }
  // Past each value's 4-byte length prefix.
  const min = bytes.slice(offsets[minI]! + 4, offsets[minI + 1]!);
  const max = bytes.slice(offsets[maxI]! + 4, offsets[maxI + 1]!);
  if (min.length > MAX_STAT_BYTES || max.length > MAX_STAT_BYTES) return { nullCount };
  return { nullCount, min, max };
}

/**
 * Unsigned bytewise comparison of strings i and j (past their length prefixes), then shorter
 * first. Four bytes at a time: a big-endian word compares like its bytes in order.
 */
function compareBytes(view: DataView, offsets: Int32Array, i: number, j: number): number {
  let a = offsets[i]! + 4;
  const aEnd = offsets[i + 1]!;
  let b = offsets[j]! + 4;
  const bEnd = offsets[j + 1]!;
  for (; a + 4 <= aEnd && b + 4 <= bEnd; a += 4, b += 4) {
    const x = view.getUint32(a);
    const y = view.getUint32(b);
    if (x !== y) return x < y ? -1 : 1;
  }
  for (; a < aEnd && b < bEnd; a++, b++) {
    const d = view.getUint8(a) - view.getUint8(b);
    if (d !== 0) return d;
  }
  return aEnd - a - (bEnd - b);
}

function int32Bytes(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, v, true);
  return out;
}

function int64Bytes(w: Int32Array, i: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setInt32(0, w[2 * i]!, true);
  view.setInt32(4, w[2 * i + 1]!, true);
  return out;
}

function doubleBytes(v: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, v, true);
  return out;
}
