/**
 * JSON numbers whose text says more than a double holds. JSON.parse reads every number as a
 * double, so 9007199254740993 arrives as 9007199254740992 and 9223372036854775807 as 2^63: an
 * INT64 column filled from parsed values would round, clamp or refuse valid integers. So where a
 * payload is read from its text, a number in a field that holds integer columns whose double is
 * at or beyond ±2^53 (`mayBeRounded`: there doubles no longer hold every integer) is kept as its
 * text (`NumberText`), and the column converts its digits with `exactInteger`, exactly, over the
 * whole signed 64-bit range. Every other number stays the double JSON.parse gives.
 *
 * What an integer column takes, and how that matches ajv's `type: "integer"`, which checks the
 * double (so `1.0` is an integer there):
 * - within ±2^53 the double, as ajv sees it: a whole double is stored as it is, however it is
 *   spelled (`12`, `12.0`, `1.2e1`, `1200e-2`, and `1e-400`, whose double is 0); one with a
 *   fraction is TYPE_MISMATCH, as ajv refuses it too;
 * - at or beyond ±2^53 the digits, since the double may be rounded: a whole number within the
 *   signed 64-bit range is stored exactly; one outside it is OUT_OF_RANGE (never clamped); one
 *   with a fraction is TYPE_MISMATCH, even where ajv passed it because its double is whole
 *   (`9007199254740993.5`): storing it would store a number the producer did not send.
 * Checking the double first costs the common case nothing: the text is read only past 2^53.
 */
import { BACKSLASH, QUOTE } from "../json-chars.ts";
import type { ColumnType } from "./columns.ts";

const TWO_53 = 2 ** 53;

/**
 * A JSON number kept as its text, where its double would lose digits. Serializes as the double
 * JSON.parse would have given, so JSON text columns and `_extra` are the same as before.
 */
export class NumberText {
  constructor(readonly text: string) {}

  /** The double JSON.parse gives for the same text. */
  toJSON(): number {
    return Number(this.text);
  }
}

/** Whether the double `x` may be a rounded integer: at or beyond ±2^53, or not finite. */
export function mayBeRounded(x: number): boolean {
  return !(x > -TWO_53 && x < TWO_53);
}

/** Why `exactInteger` gave no value. */
export const FRACTION = 1;
export const BEYOND_RANGE = 2;

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const INT32_MAX = 2147483647n;
const INT32_MIN = -2147483648n;

/**
 * The integer JSON number literal `text` spells, exactly, when it fits a signed integer of `bits`
 * bits; otherwise FRACTION (its value is not whole) or BEYOND_RANGE. Never builds a number
 * larger than the range, whatever the exponent (`1e999999999` costs no more than `1e9`).
 */
export function exactInteger(
  text: string,
  bits: 32 | 64 = 64,
): bigint | typeof FRACTION | typeof BEYOND_RANGE {
  const n = text.length;
  let p = 0;
  const negative = text.charCodeAt(0) === 0x2d;
  if (negative) p++;
  // The digits (integer part, then fraction), and the power of ten they are scaled by.
  const intStart = p;
  while (p < n && isDigit(text.charCodeAt(p))) p++;
  let digits = text.slice(intStart, p);
  let scale = 0;
  if (text.charCodeAt(p) === 0x2e) {
    const fracStart = ++p;
    while (p < n && isDigit(text.charCodeAt(p))) p++;
    digits += text.slice(fracStart, p);
    scale -= p - fracStart;
  }
  if (p < n && (text.charCodeAt(p) | 0x20) === 0x65) {
    p++;
    const sign = text.charCodeAt(p) === 0x2d ? -1 : 1;
    if (text.charCodeAt(p) === 0x2d || text.charCodeAt(p) === 0x2b) p++;
    let exponent = 0;
    // Clamped: past a million the value is out of range (or, negative, a fraction) either way.
    for (; p < n; p++) exponent = Math.min(exponent * 10 + (text.charCodeAt(p) - 48), 1e6);
    scale += sign * exponent;
  }
  // Leading zeros say nothing; trailing ones move into the scale.
  let first = 0;
  while (first < digits.length && digits.charCodeAt(first) === 0x30) first++;
  if (first === digits.length) return 0n; // zero, however written (`-0`, `0.0e5`)
  let last = digits.length;
  while (digits.charCodeAt(last - 1) === 0x30) last--;
  scale += digits.length - last;
  digits = digits.slice(first, last);
  // The last digit is not zero now, so a negative scale leaves a fraction.
  if (scale < 0) return FRACTION;
  // 2^63 has 19 digits; anything longer is out of range without building it.
  if (digits.length + scale > 19) return BEYOND_RANGE;
  const magnitude = BigInt(scale === 0 ? digits : digits + "0".repeat(scale));
  const value = negative ? -magnitude : magnitude;
  const [min, max] = bits === 64 ? [INT64_MIN, INT64_MAX] : [INT32_MIN, INT32_MAX];
  return value < min || value > max ? BEYOND_RANGE : value;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * For a field of type `t`, a test of its parsed value: whether an integer column in it got a
 * double that `mayBeRounded`, so the value must be read again from its text. Undefined when `t`
 * holds no integer column. Reads only the parts of the value that hold integers.
 */
export function roundedIntegerCheck(t: ColumnType): ((v: unknown) => boolean) | undefined {
  switch (t.kind) {
    case "int64":
    case "int32":
      return (v) => typeof v === "number" && mayBeRounded(v);
    case "list": {
      const item = roundedIntegerCheck(t.item);
      return item && ((v) => Array.isArray(v) && v.some(item));
    }
    case "struct": {
      const checks: [string, (v: unknown) => boolean][] = [];
      for (const f of t.fields) {
        const check = roundedIntegerCheck(f.type);
        if (check) checks.push([f.name, check]);
      }
      if (checks.length === 0) return undefined;
      return (v) => {
        if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
        const o = v as Record<string, unknown>;
        // A name also on Object.prototype reads the prototype when absent: never a number or array.
        for (const [name, check] of checks) if (check(o[name])) return true;
        return false;
      };
    }
    default:
      return undefined;
  }
}

/**
 * The value of the JSON text at `t[start]`, which JSON.parse has accepted: the one JSON.parse
 * gives, except that numbers whose double `mayBeRounded` are `NumberText`. Recursive: a text
 * nested deeper than the stack allows throws a RangeError, and the caller keeps JSON.parse's value.
 */
export function parseKeepingNumbers(t: Buffer, start: number): unknown {
  return new KeepingReader(t).value(start);
}

class KeepingReader {
  pos = 0;
  constructor(private readonly t: Buffer) {}

  private space(p: number): number {
    const t = this.t;
    for (;;) {
      const c = t[p];
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return p;
      p++;
    }
  }

  /** The value at or after `p`; leaves `pos` after it. */
  value(p: number): unknown {
    const t = this.t;
    p = this.space(p);
    const c = t[p]!;
    if (c === QUOTE) return this.string(p);
    if (c === 0x7b) return this.object(p);
    if (c === 0x5b) return this.array(p);
    if (c === 0x74) {
      this.pos = p + 4;
      return true;
    }
    if (c === 0x66) {
      this.pos = p + 5;
      return false;
    }
    if (c === 0x6e) {
      this.pos = p + 4;
      return null;
    }
    return this.number(p);
  }

  private number(start: number): unknown {
    const t = this.t;
    let p = start;
    for (; ; p++) {
      const c = t[p]!;
      // Digits, signs, the decimal point and the exponent's `e`/`E` (false past the end of the text).
      if (!((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || (c | 0x20) === 0x65)) break;
    }
    this.pos = p;
    const text = t.toString("latin1", start, p);
    const x = Number(text);
    return mayBeRounded(x) ? new NumberText(text) : x;
  }

  private string(start: number): string {
    const t = this.t;
    let p = start + 1;
    let plain = true;
    let escaped = false;
    for (; ; p++) {
      const c = t[p]!;
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        p++;
      } else if (c >= 0x80) {
        plain = false;
      }
    }
    this.pos = p + 1;
    if (escaped) return JSON.parse(t.toString("utf8", start, p + 1)) as string;
    return t.toString(plain ? "latin1" : "utf8", start + 1, p);
  }

  private object(start: number): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    let p = this.space(start + 1);
    if (this.t[p] === 0x7d) {
      this.pos = p + 1;
      return o;
    }
    for (;;) {
      const key = this.string(p);
      p = this.space(this.pos) + 1; // past the colon
      const value = this.value(p);
      if (key === "__proto__") {
        // As JSON.parse does: an own property, not the prototype.
        Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
      } else {
        o[key] = value;
      }
      p = this.space(this.pos);
      if (this.t[p] === 0x7d) {
        this.pos = p + 1;
        return o;
      }
      p = this.space(p + 1); // past the comma
    }
  }

  private array(start: number): unknown[] {
    const a: unknown[] = [];
    let p = this.space(start + 1);
    if (this.t[p] === 0x5d) {
      this.pos = p + 1;
      return a;
    }
    for (;;) {
      a.push(this.value(p));
      p = this.space(this.pos);
      if (this.t[p] === 0x5d) {
        this.pos = p + 1;
        return a;
      }
      p = p + 1; // past the comma
    }
  }
}
