/**
 * PLAIN encoding of a run of a leaf's values: little-endian fixed-width numbers, booleans as bits,
 * byte arrays as a 4-byte length and the bytes (which is how strings are stored already). Value k of the run is at `index[k]` in the
 * column, or at `base + k` when there is no index.
 */
import type { ByteWriter } from "./byte-writer.ts";
import type { PrimitiveColumn } from "./types.ts";

/** Encoded size of values `[from, to)`. */
export function plainSize(
  data: PrimitiveColumn,
  index: Int32Array | undefined,
  base: number,
  from: number,
  to: number,
): number {
  const n = to - from;
  switch (data.kind) {
    case "int32":
    case "date":
      return n * 4;
    case "int64":
    case "timestamp":
    case "double":
      return n * 8;
    case "boolean":
      return (n + 7) >> 3;
    case "utf8": {
      if (n === 0) return 0;
      if (data.indices !== undefined) {
        let size = 0;
        for (let k = from; k < to; k++) {
          const e = data.indices[index ? index[k]! : base + k]!;
          size += data.offsets[e + 1]! - data.offsets[e]!;
        }
        return size;
      }
      // Indices increase and null slots are empty, so the records between the first value and
      // the last are exactly theirs.
      const first = index ? index[from]! : base + from;
      const last = index ? index[to - 1]! : base + to - 1;
      return data.offsets[last + 1]! - data.offsets[first]!;
    }
  }
}

export function writePlain(
  out: ByteWriter,
  data: PrimitiveColumn,
  index: Int32Array | undefined,
  base: number,
  from: number,
  to: number,
): void {
  out.ensure(plainSize(data, index, base, from, to));
  switch (data.kind) {
    case "int32":
    case "date":
      copyWords(
        out,
        new Uint32Array(data.values.buffer, data.values.byteOffset, data.values.length),
        1,
        index,
        base,
        from,
        to,
      );
      return;
    case "int64":
    case "timestamp":
    case "double":
      copyWords(
        out,
        new Uint32Array(data.values.buffer, data.values.byteOffset, data.values.length * 2),
        2,
        index,
        base,
        from,
        to,
      );
      return;
    case "boolean":
      writeBits(out, data.values, index, base, from, to);
      return;
    case "utf8":
      if (data.indices !== undefined) {
        writeEntries(out, data.offsets, data.bytes, data.indices, index, base, from, to);
      } else if (to > from) {
        const first = index ? index[from]! : base + from;
        const last = index ? index[to - 1]! : base + to - 1;
        out.bytes(data.bytes.subarray(data.offsets[first]!, data.offsets[last + 1]!));
      }
      return;
  }
}

/** Fixed-width values as `words` 32-bit words each (the platform is little-endian). */
function copyWords(
  out: ByteWriter,
  src: Uint32Array,
  words: number,
  index: Int32Array | undefined,
  base: number,
  from: number,
  to: number,
): void {
  if (index === undefined) {
    const start = (base + from) * words * 4;
    const len = (to - from) * words * 4;
    out.buf.set(new Uint8Array(src.buffer, src.byteOffset + start, len), out.pos);
    out.pos += len;
    return;
  }
  const view = out.view;
  let pos = out.pos;
  if (words === 1) {
    for (let k = from; k < to; k++) {
      view.setUint32(pos, src[index[k]!]!, true);
      pos += 4;
    }
  } else {
    for (let k = from; k < to; k++) {
      const i = index[k]! * 2;
      view.setUint32(pos, src[i]!, true);
      view.setUint32(pos + 4, src[i + 1]!, true);
      pos += 8;
    }
  }
  out.pos = pos;
}

function writeBits(
  out: ByteWriter,
  bits: Uint8Array,
  index: Int32Array | undefined,
  base: number,
  from: number,
  to: number,
): void {
  const buf = out.buf;
  let pos = out.pos;
  let acc = 0;
  let n = 0;
  for (let k = from; k < to; k++) {
    const i = index ? index[k]! : base + k;
    acc |= ((bits[i >> 3]! >> (i & 7)) & 1) << n;
    if (++n === 8) {
      buf[pos++] = acc;
      acc = 0;
      n = 0;
    }
  }
  if (n > 0) buf[pos++] = acc;
  out.pos = pos;
}

/** Strings of a dictionary-encoded column, each copied from its distinct value. */
function writeEntries(
  out: ByteWriter,
  offsets: Int32Array,
  bytes: Uint8Array,
  indices: Int32Array,
  index: Int32Array | undefined,
  base: number,
  from: number,
  to: number,
): void {
  const buf = out.buf;
  let pos = out.pos;
  for (let k = from; k < to; k++) {
    const e = indices[index ? index[k]! : base + k]!;
    const a = offsets[e]!;
    const end = offsets[e + 1]!;
    if (end - a <= 64) {
      for (let b = a; b < end; b++) buf[pos++] = bytes[b]!;
    } else {
      buf.set(bytes.subarray(a, end), pos);
      pos += end - a;
    }
  }
  out.pos = pos;
}
