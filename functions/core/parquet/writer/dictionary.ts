/**
 * Dictionary encoding of one column chunk: the distinct values, PLAIN-encoded as the dictionary
 * page, and each value's index into them. Values are keyed by their bytes (strings) or 32-bit
 * words (numbers) in an open-addressing table, so no JS string or boxed number is made per value.
 *
 * The result's arrays are scratch reused by the next call.
 */
import { ByteWriter } from "./byte-writer.ts";
import type { PrimitiveColumn } from "./types.ts";

export interface Dictionary {
  /** The dictionary page's values, PLAIN-encoded. */
  readonly page: Uint8Array;
  readonly size: number;
  /** Dictionary index of each value of the chunk. */
  readonly indices: Int32Array;
  /** Column index of the first occurrence of each distinct value (for statistics). */
  readonly firsts: Int32Array;
}

const page = new ByteWriter(1 << 16);
let indices = new Int32Array(0);
let firsts = new Int32Array(1024);
let hashes = new Int32Array(1024);
let starts = new Int32Array(1024);
let table = new Int32Array(2048);

function growEntries(): void {
  const n = firsts.length * 2;
  const grow = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
    const b = new Int32Array(n);
    b.set(a);
    return b;
  };
  firsts = grow(firsts);
  hashes = grow(hashes);
  starts = grow(starts);
}

/** Doubles the table, re-placing entries by their stored hashes. */
function growTable(size: number): void {
  table = new Int32Array(table.length * 2);
  const mask = table.length - 1;
  for (let e = 0; e < size; e++) {
    let slot = hashes[e]! & mask;
    while (table[slot] !== 0) slot = (slot + 1) & mask;
    table[slot] = e + 1;
  }
}

let local = new Int32Array(0);

/**
 * The dictionary of one chunk of an already dictionary-encoded string column (distinct values in
 * `offsets`/`bytes`, value k's number in `slots`): the distinct values the chunk uses, in order of
 * first use, and each value's index among them. No hashing: the column's own numbers are
 * remapped. `firsts` holds the column's numbers of the chunk's entries.
 */
export function chunkDictionary(
  offsets: Int32Array,
  bytes: Uint8Array,
  slots: Int32Array,
  index: Int32Array | undefined,
  base: number,
  count: number,
): Dictionary {
  const entries = offsets.length - 1;
  if (local.length < entries) local = new Int32Array(Math.max(entries, local.length * 2));
  local.fill(-1, 0, entries);
  if (indices.length < count) indices = new Int32Array(Math.max(count, indices.length * 2));
  page.reset();
  let size = 0;
  for (let k = 0; k < count; k++) {
    const g = slots[index ? index[k]! : base + k]!;
    let e = local[g]!;
    if (e < 0) {
      e = size++;
      local[g] = e;
      if (e === firsts.length) growEntries();
      firsts[e] = g;
      page.bytes(bytes.subarray(offsets[g]!, offsets[g + 1]!));
    }
    indices[k] = e;
  }
  return {
    page: page.written(),
    size,
    indices: indices.subarray(0, count),
    firsts: firsts.subarray(0, size),
  };
}

/**
 * Dictionary-encodes values `[0, count)` (value k at `index[k]`, or `base + k`), or returns
 * undefined when the dictionary page would pass `limit` bytes: the column is then written PLAIN.
 */
export function buildDictionary(
  data: PrimitiveColumn,
  index: Int32Array | undefined,
  base: number,
  count: number,
  limit: number,
): Dictionary | undefined {
  if (data.kind === "boolean") return undefined;
  if (indices.length < count) indices = new Int32Array(Math.max(count, indices.length * 2));
  table.fill(0);
  page.reset();
  const size =
    data.kind === "utf8"
      ? byteKeys(data.offsets, data.bytes, index, base, count, limit)
      : wordKeys(
          wordsOf(data),
          data.kind === "int32" || data.kind === "date" ? 1 : 2,
          index,
          base,
          count,
          limit,
        );
  if (size < 0) return undefined;
  return {
    page: page.written(),
    size,
    indices: indices.subarray(0, count),
    firsts: firsts.subarray(0, size),
  };
}

function wordsOf(data: Exclude<PrimitiveColumn, { kind: "utf8" | "boolean" }>): Int32Array {
  const v = data.values;
  const words = data.kind === "int32" || data.kind === "date" ? 1 : 2;
  return new Int32Array(v.buffer, v.byteOffset, v.length * words);
}

/** Fixed-width values of `words` 32-bit words; the page holds their words in order. */
function wordKeys(
  src: Int32Array,
  words: number,
  index: Int32Array | undefined,
  base: number,
  count: number,
  limit: number,
): number {
  let size = 0;
  let mask = table.length - 1;
  for (let k = 0; k < count; k++) {
    const i = index ? index[k]! : base + k;
    const lo = src[i * words]!;
    const hi = words === 2 ? src[i * words + 1]! : 0;
    const h = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) ^ (hi >>> 15);
    let slot = (h ^ (h >>> 16)) & mask;
    let e: number;
    for (;;) {
      e = table[slot]! - 1;
      if (e < 0) break;
      const at = starts[e]!;
      const view = page.view;
      if (view.getInt32(at, true) === lo && (words === 1 || view.getInt32(at + 4, true) === hi)) break;
      slot = (slot + 1) & mask;
    }
    if (e < 0) {
      if (page.pos + words * 4 > limit) return -1;
      e = size++;
      if (e === firsts.length) growEntries();
      firsts[e] = i;
      hashes[e] = h ^ (h >>> 16);
      starts[e] = page.pos;
      page.ensure(8);
      page.view.setInt32(page.pos, lo, true);
      if (words === 2) page.view.setInt32(page.pos + 4, hi, true);
      page.pos += words * 4;
      table[slot] = e + 1;
      if (size * 2 > table.length) {
        growTable(size);
        mask = table.length - 1;
      }
    }
    indices[k] = e;
  }
  return size;
}

/** Strings (length-prefixed records); the page holds each record as it is. */
function byteKeys(
  offsets: Int32Array,
  bytes: Uint8Array,
  index: Int32Array | undefined,
  base: number,
  count: number,
  limit: number,
): number {
  let size = 0;
  let mask = table.length - 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let k = 0; k < count; k++) {
    const i = index ? index[k]! : base + k;
    const record = offsets[i]!;
    const a = record + 4;
    const end = offsets[i + 1]!;
    const len = end - a;
    // Four bytes a multiply, then the tail: short keys (categories, tags, enums) take a few.
    let h = 0x811c9dc5 ^ len;
    let p = a;
    for (; p + 4 <= end; p += 4) h = Math.imul(h ^ view.getInt32(p, true), 0x01000193) ^ (h >>> 13);
    for (; p < end; p++) h = Math.imul(h ^ bytes[p]!, 0x01000193);
    h ^= h >>> 15;
    let slot = h & mask;
    let e: number;
    for (;;) {
      e = table[slot]! - 1;
      if (e < 0) break;
      if (hashes[e] === h && sameBytes(bytes, a, len, page.buf, starts[e]!)) break;
      slot = (slot + 1) & mask;
    }
    if (e < 0) {
      if (page.pos + 4 + len > limit) return -1;
      e = size++;
      if (e === firsts.length) growEntries();
      firsts[e] = i;
      hashes[e] = h;
      starts[e] = page.pos;
      // The stored record is already the PLAIN form the dictionary page needs.
      page.bytes(bytes.subarray(record, end));
      table[slot] = e + 1;
      if (size * 2 > table.length) {
        growTable(size);
        mask = table.length - 1;
      }
    }
    indices[k] = e;
  }
  return size;
}

/** Whether `bytes[a, a + len)` equals the entry whose length prefix is at `page[at]`. */
function sameBytes(bytes: Uint8Array, a: number, len: number, pageBuf: Uint8Array, at: number): boolean {
  const entryLen =
    pageBuf[at]! | (pageBuf[at + 1]! << 8) | (pageBuf[at + 2]! << 16) | (pageBuf[at + 3]! << 24);
  if (entryLen !== len) return false;
  const start = at + 4;
  for (let b = 0; b < len; b++) if (bytes[a + b] !== pageBuf[start + b]) return false;
  return true;
}
