/**
 * Strict, allocation-free parsers for the date and time strings Sluice stores as Parquet
 * TIMESTAMP(MICROS, UTC) and DATE. `Date.parse` is slower, keeps only milliseconds, and accepts
 * strings without an offset (read as local time), so it is not used.
 */

/**
 * Set by `parseTimestamp` on success: whole seconds since the epoch and the microseconds within.
 * A shared out-parameter, because returning a fresh object per value would be most of the cost.
 */
export const parsedTimestamp = { seconds: 0, micros: 0 };

function digit(s: string, i: number): number {
  const d = s.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : -1;
}

function two(s: string, i: number): number {
  const a = digit(s, i);
  const b = digit(s, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

function four(s: string, i: number): number {
  const a = two(s, i);
  const b = two(s, i + 2);
  return a < 0 || b < 0 ? -1 : a * 100 + b;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** `YYYY-MM-DD` at `s[0..10)` as days since the epoch, or NaN. */
function parseYmd(s: string): number {
  const y = four(s, 0);
  const m = two(s, 5);
  const d = two(s, 8);
  if (y < 0 || m < 1 || m > 12 || d < 1 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45)
    return Number.NaN;
  if (d > daysInMonth(y, m)) return Number.NaN;
  return daysFromCivil(y, m, d);
}

/** A full-date (`2024-06-01`) as days since the epoch, or NaN when malformed or impossible. */
export function parseDate(s: string): number {
  return s.length === 10 ? parseYmd(s) : Number.NaN;
}

/** The date of the last valid timestamp, as year * 10000 + month * 100 + day, and its day number. */
let lastDateKey = -1;
let lastDays = Number.NaN;

const TWO_32 = 4294967296;
/** Microseconds fit a double exactly while |seconds| stays below this (years ~1685 to ~2255). */
const SAFE_SECONDS = 9_000_000_000;

/**
 * Stores `seconds * 1e6 + micros` as two 32-bit halves, low first, at `out[at]`: how an INT64
 * column holds it, without a BigInt or a boxed double per value.
 */
function storeMicros(seconds: number, micros: number, out: Int32Array, at: number): void {
  if (seconds > -SAFE_SECONDS && seconds < SAFE_SECONDS) {
    const m = seconds * 1e6 + micros;
    const hi = Math.floor(m / TWO_32);
    out[at] = m - hi * TWO_32;
    out[at + 1] = hi;
    return;
  }
  // seconds = a * 2^16 + b, so seconds * 1e6 = a * 15625 * 2^22 + b * 1e6, and every product and
  // sum below stays an exact double.
  const a = Math.floor(seconds / 65536);
  const b = seconds - a * 65536;
  const p = a * 15625;
  const pHi = Math.floor(p / 1024);
  const low = (p - pHi * 1024) * 4194304 + b * 1e6 + micros;
  const carry = Math.floor(low / TWO_32);
  out[at] = low - carry * TWO_32;
  out[at + 1] = pHi + carry;
}

/**
 * `parseTimestamp` into an INT64 column: the microseconds since the epoch as two 32-bit halves at
 * `out[at]` (see storeMicros); false when `s` is not a timestamp. The form nearly every producer
 * writes, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, is read without the general parser's branches;
 * anything else, or anything invalid, goes through it.
 */
export function parseTimestampInto(s: string, out: Int32Array, at: number): boolean {
  const len = s.length;
  if (len >= 20 && s.charCodeAt(len - 1) === 90 /* Z */ && (len === 20 || len >= 22)) {
    const y0 = s.charCodeAt(0) - 48;
    const y1 = s.charCodeAt(1) - 48;
    const y2 = s.charCodeAt(2) - 48;
    const y3 = s.charCodeAt(3) - 48;
    const m0 = s.charCodeAt(5) - 48;
    const m1 = s.charCodeAt(6) - 48;
    const d0 = s.charCodeAt(8) - 48;
    const d1 = s.charCodeAt(9) - 48;
    const h0 = s.charCodeAt(11) - 48;
    const h1 = s.charCodeAt(12) - 48;
    const i0 = s.charCodeAt(14) - 48;
    const i1 = s.charCodeAt(15) - 48;
    const s0 = s.charCodeAt(17) - 48;
    const s1 = s.charCodeAt(18) - 48;
    // d is a digit (0..9) exactly when neither d nor d + 6 has a bit above the lowest four.
    const digits =
      y0 |
      (y0 + 6) |
      y1 |
      (y1 + 6) |
      y2 |
      (y2 + 6) |
      y3 |
      (y3 + 6) |
      m0 |
      (m0 + 6) |
      m1 |
      (m1 + 6) |
      d0 |
      (d0 + 6) |
      d1 |
      (d1 + 6) |
      h0 |
      (h0 + 6) |
      h1 |
      (h1 + 6) |
      i0 |
      (i0 + 6) |
      i1 |
      (i1 + 6) |
      s0 |
      (s0 + 6) |
      s1 |
      (s1 + 6);
    const hh = h0 * 10 + h1;
    const mi = i0 * 10 + i1;
    const ss = s0 * 10 + s1;
    if (
      (digits & ~15) === 0 &&
      s.charCodeAt(4) === 45 &&
      s.charCodeAt(7) === 45 &&
      s.charCodeAt(10) === 84 /* T */ &&
      s.charCodeAt(13) === 58 &&
      s.charCodeAt(16) === 58 &&
      hh <= 23 &&
      mi <= 59 &&
      (ss <= 59 || (ss === 60 && hh === 23 && mi === 59)) &&
      (len === 20 || s.charCodeAt(19) === 46) /* . */
    ) {
      const key = (((y0 * 10 + y1) * 10 + y2) * 10 + y3) * 10000 + (m0 * 10 + m1) * 100 + d0 * 10 + d1;
      let days = lastDays;
      if (key !== lastDateKey) {
        days = parseYmd(s);
        if (Number.isNaN(days)) return false;
        lastDateKey = key;
        lastDays = days;
      }
      let micros = 0;
      let scale = 100000;
      let p = 20;
      for (; p < len - 1; p++) {
        const d = s.charCodeAt(p) - 48;
        if (d < 0 || d > 9) break;
        micros += d * scale;
        scale = (scale / 10) | 0;
      }
      if (p >= len - 1) {
        storeMicros(days * 86400 + hh * 3600 + mi * 60 + ss, micros, out, at);
        return true;
      }
    }
  }
  if (!parseTimestamp(s)) return false;
  storeMicros(parsedTimestamp.seconds, parsedTimestamp.micros, out, at);
  return true;
}

/**
 * RFC 3339 date-time (`2024-06-01T12:34:56.123456Z`, `...+02:00`), plus the ISO 8601 offset
 * spellings `+0200` and `+02` and a `,` decimal mark. An offset is required. Fractions beyond
 * microseconds are truncated. A leap second, `23:59:60` in UTC (`00:59:60+01:00` is the same), is
 * the following second, 00:00:00 of the next day, as in PostgreSQL and as validation and ingest
 * read it (see date-time-format.ts); `:60` at any other time is refused, as ajv-formats refuses it.
 * Returns false when the string is not such a timestamp; on success sets `parsedTimestamp`.
 */
export function parseTimestamp(s: string): boolean {
  const len = s.length;
  if (len < 20) return false;
  // Timestamps in a batch mostly share their date, so the last valid one is remembered. Reading
  // its digits is cheap; validating it and counting days is not, and neither is startsWith.
  const y = four(s, 0);
  const m = two(s, 5);
  const d = two(s, 8);
  if ((y | m | d) < 0 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return false;
  const key = y * 10000 + m * 100 + d;
  let days: number;
  if (key === lastDateKey) {
    days = lastDays;
  } else {
    days = parseYmd(s);
    if (Number.isNaN(days)) return false;
    lastDateKey = key;
    lastDays = days;
  }
  const sep = s.charCodeAt(10);
  if (sep !== 84 /* T */ && sep !== 116 /* t */ && sep !== 32 /* space */) return false;
  const hh = two(s, 11);
  const mi = two(s, 14);
  const ss = two(s, 17);
  if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 60) return false;
  if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false;
  let p = 19;
  let micros = 0;
  let c = s.charCodeAt(p);
  if (c === 46 /* . */ || c === 44 /* , */) {
    p++;
    let scale = 100000;
    const start = p;
    for (; p < len; p++) {
      const d = digit(s, p);
      if (d < 0) break;
      micros += d * scale;
      scale = (scale / 10) | 0;
    }
    if (p === start) return false;
    c = s.charCodeAt(p);
  }
  let offset = 0;
  if (c === 90 /* Z */ || c === 122 /* z */) {
    if (p + 1 !== len) return false;
  } else if (c === 43 /* + */ || c === 45 /* - */) {
    const rest = len - p - 1;
    const oh = two(s, p + 1);
    let om = 0;
    if (rest === 5 && s.charCodeAt(p + 3) === 58) om = two(s, p + 4);
    else if (rest === 4) om = two(s, p + 3);
    else if (rest !== 2) return false;
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return false;
    offset = (oh * 3600 + om * 60) * (c === 43 ? 1 : -1);
  } else {
    return false;
  }
  const seconds = days * 86400 + hh * 3600 + mi * 60 + ss - offset;
  // A leap second's minute is 23:59 UTC: the second it rolls into starts a UTC day.
  if (ss === 60 && ((seconds % 86400) + 86400) % 86400 !== 0) return false;
  parsedTimestamp.seconds = seconds;
  parsedTimestamp.micros = micros;
  return true;
}
