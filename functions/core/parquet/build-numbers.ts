/** Integer, double and boolean columns, with exact integer conversion and range checks. */

import { arena } from "./memory.ts";
import { BEYOND_RANGE, exactInteger, FRACTION, mayBeRounded, NumberText } from "./number-text.ts";
import { mismatch, type Sink } from "./sink.ts";
import type { ColumnData } from "./writer/types.ts";

const TWO_32 = 4294967296;
const TWO_63 = 2 ** 63;
const TWO_31 = 2147483648;

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
export function buildInt64(values: readonly unknown[], sink: Sink): ColumnData {
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
export function buildInt32(values: readonly unknown[], sink: Sink): ColumnData {
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

export function buildDouble(values: readonly unknown[], sink: Sink): ColumnData {
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

export function buildBoolean(values: readonly unknown[], sink: Sink): ColumnData {
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
