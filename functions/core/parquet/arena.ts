/**
 * Scratch memory for the column buffers of one batch, reused by the next batch.
 *
 * Every column buffer is a view into one large ArrayBuffer. Allocating fresh typed arrays per
 * column per batch cost more than filling them: each large allocation counts as external memory
 * and pushes V8 into full garbage collections of the (large) heap of parsed records, and growing
 * string buffers by doubling copies them several times. In steady state (a Lambda encoding
 * similar batches) the arena is already big enough and allocation is a pointer bump.
 *
 * The buffers are only needed until the Parquet writer has encoded them into pages, so the next
 * `reset()` can hand the same bytes out again. Not re-entrant: one batch at a time.
 */

/** A larger arena is dropped after use instead of being kept for the next batch. */
const MAX_RETAINED_BYTES = 128 * 1024 * 1024;
const MIN_BYTES = 1024 * 1024;

export class Arena {
  private ab = new ArrayBuffer(0);
  /** Byte view of `ab`, for `Buffer#write` (UTF-8 encoding straight into the arena). */
  private bytes = Buffer.from(this.ab);
  private used = 0;

  /** Starts a new batch; everything handed out before is given back. */
  reset(): void {
    this.used = 0;
  }

  /** Drops an oversized arena so one huge batch does not pin its memory for the process lifetime. */
  trim(): void {
    if (this.ab.byteLength > MAX_RETAINED_BYTES) this.replace(0);
  }

  private replace(size: number): void {
    this.ab = new ArrayBuffer(size);
    this.bytes = Buffer.from(this.ab);
    this.used = 0;
  }

  /** 8-byte aligned start of `size` free bytes (64-bit typed arrays need 8-byte alignment). */
  private alloc(size: number): number {
    let start = (this.used + 7) & ~7;
    if (start + size > this.ab.byteLength) {
      // Earlier views keep the old ArrayBuffer alive, so nothing needs copying.
      this.replace(Math.max(size, this.ab.byteLength * 2, MIN_BYTES));
      start = 0;
    }
    this.used = start + size;
    return start;
  }

  /** Zero-filled validity (or boolean) bitmap for `n` slots. */
  bitmap(n: number): Uint8Array {
    const len = (n + 7) >> 3;
    const at = this.alloc(len); // may replace this.ab, so before reading it
    return new Uint8Array(this.ab, at, len).fill(0);
  }

  int32(n: number): Int32Array {
    const at = this.alloc(n * 4);
    return new Int32Array(this.ab, at, n).fill(0);
  }

  float64(n: number): Float64Array {
    const at = this.alloc(n * 8);
    return new Float64Array(this.ab, at, n).fill(0);
  }

  bigint64(n: number): BigInt64Array {
    const at = this.alloc(n * 8);
    return new BigInt64Array(this.ab, at, n).fill(0n);
  }

  /**
   * Opens a variable-length byte region at the end of the arena. Until `closeText`, nothing else
   * may be allocated. Returns the region's start within `textBuffer()`.
   */
  openText(): number {
    return this.alloc(0);
  }

  /** The arena's current bytes; changes when `growText` moves the open region. */
  textBuffer(): Buffer {
    return this.bytes;
  }

  /** Room for `need` bytes after `start + written`; moves the open region if it must. */
  growText(start: number, written: number, need: number): number {
    if (start + written + need <= this.ab.byteLength) return start;
    const old = this.bytes;
    this.replace(Math.max(written + need, this.ab.byteLength * 2, MIN_BYTES));
    old.copy(this.bytes, 0, start, start + written);
    return 0;
  }

  closeText(start: number, length: number): Uint8Array {
    this.used = start + length;
    return new Uint8Array(this.ab, start, length);
  }
}
