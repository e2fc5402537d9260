/** UTF-8 column writer: strings encoded straight into the arena in Parquet PLAIN form. */

import { arena } from "./memory.ts";
import type { ColumnData } from "./writer/types.ts";

/** Strings up to this many UTF-16 units are tried as ASCII in JS before `Buffer#write`. */
const SHORT_STRING = 32;

/**
 * UTF-8 column writer: encodes each value with one `Buffer#write` straight into the arena (3x faster
 * than TextEncoder.encodeInto into subarrays), after a 4-byte length: the Parquet PLAIN form, so
 * the writer copies whole pages of strings at once.
 */
export class Utf8Writer {
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
