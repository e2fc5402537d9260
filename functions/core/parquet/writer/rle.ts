/**
 * Parquet's RLE/bit-packing hybrid (the encoding of definition and repetition levels and of
 * dictionary indices): runs of one repeated value as (count, value), everything else bit-packed in
 * groups of eight, LSB first.
 */
import type { ByteWriter } from "./byte-writer.ts";

/** Bits needed for values up to `max`. */
export function bitWidth(max: number): number {
  return max <= 0 ? 0 : 32 - Math.clz32(max);
}

/** A repeated value pays for a run header once it repeats this often. */
const MIN_RUN = 8;

/**
 * Appends `values[start, end)` at `width` bits each (no length prefix). Widths up to 24 bits,
 * which covers levels and the indices of any dictionary this writer keeps.
 */
export function writeHybrid(
  out: ByteWriter,
  values: Uint8Array | Int32Array,
  start: number,
  end: number,
  width: number,
): void {
  if (width > 24) throw new RangeError(`bit width ${width} is over 24`);
  const valueBytes = (width + 7) >> 3;
  let i = start;
  while (i < end) {
    const v = values[i]!;
    let j = i + 1;
    while (j < end && values[j] === v) j++;
    if (j - i >= MIN_RUN || j === end) {
      writeRun(out, j - i, v, valueBytes);
      i = j;
      continue;
    }
    // Bit-pack whole groups until one starts a run worth a header of its own.
    let p = i + MIN_RUN;
    while (p < end) {
      const w = values[p]!;
      const limit = Math.min(end, p + MIN_RUN);
      let k = p + 1;
      while (k < limit && values[k] === w) k++;
      if (k - p >= MIN_RUN) break;
      p += MIN_RUN;
    }
    const stop = Math.min(p, end);
    writePacked(out, values, i, stop, width);
    i = stop;
  }
}

/** One RLE run: `value` (in `valueBytes` bytes, little-endian) repeated `count` times. */
export function writeRun(out: ByteWriter, count: number, value: number, valueBytes: number): void {
  out.varint(count * 2);
  out.ensure(valueBytes);
  const buf = out.buf;
  let pos = out.pos;
  for (let b = 0; b < valueBytes; b++) buf[pos++] = (value >>> (8 * b)) & 0xff;
  out.pos = pos;
}

/** One bit-packed run of `values[from, to)`, padded with zeros to a multiple of eight values. */
function writePacked(
  out: ByteWriter,
  values: Uint8Array | Int32Array,
  from: number,
  to: number,
  width: number,
): void {
  const groups = Math.ceil((to - from) / MIN_RUN);
  out.varint(groups * 2 + 1);
  const bytes = groups * width;
  out.ensure(bytes);
  const buf = out.buf;
  let pos = out.pos;
  if (width === 1) {
    // Definition levels of flat columns and booleans: a byte per eight values.
    for (let g = 0, k = from; g < groups; g++, k += 8) {
      let b = 0;
      for (let bit = 0; bit < 8; bit++) {
        const idx = k + bit;
        if (idx < to) b |= (values[idx]! & 1) << bit;
      }
      buf[pos++] = b;
    }
  } else {
    let acc = 0;
    let bits = 0;
    const padded = from + groups * MIN_RUN;
    for (let k = from; k < padded; k++) {
      const v = k < to ? values[k]! : 0;
      acc |= v << bits;
      bits += width;
      while (bits >= 8) {
        buf[pos++] = acc & 0xff;
        acc >>>= 8;
        bits -= 8;
      }
    }
  }
  out.pos = pos;
}
