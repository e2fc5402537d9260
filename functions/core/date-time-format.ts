/**
 * The JSON Schema `date-time` format (RFC 3339 section 5.6), accepting what ajv-formats' full
 * `date-time` accepts, without its regexes and string splits: event times are validated on every
 * ingested record, and this runs several times faster. A test checks both agree.
 *
 * Leap seconds: RFC 3339 allows `23:59:60` (UTC; `18:59:60-05:00` is the same second), and so do
 * ajv-formats, these functions and the Parquet encoder (parquet/convert.ts). Epoch time has no
 * 61st second, so each maps it to the following second, 00:00:00 of the next day (fraction kept),
 * as PostgreSQL does; Java's ISO_INSTANT maps it to 23:59:59 instead, which would put
 * 23:59:60.5 before 23:59:59.9. The one difference from ajv-formats: a time it does not find in
 * range it checks again after subtracting the offset, as if for a leap second, so it also takes
 * `24:59:30+01:00` or `23:60:60+00:01`, which are not times of day (and which the encoder refuses);
 * an hour above 23 or a minute above 59 is refused here, so that all three agree.
 */

import { daysFromCivil, parsedTimestamp, parseTimestamp } from "./parquet/convert.ts";

const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The value of `count` ASCII digits at `pos`, or -1. */
function digits(s: string, pos: number, count: number): number {
  let v = 0;
  for (let i = pos; i < pos + count; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** ajv-formats splits date from time at any `t`, `T` or whitespace. */
function isSeparator(s: string, pos: number): boolean {
  const c = s.charCodeAt(pos);
  return c === 0x54 || c === 0x74 || /\s/.test(s.charAt(pos));
}

export function isDateTime(s: string): boolean {
  // full-date: YYYY-MM-DD
  if (s.length < 20 || s.charCodeAt(4) !== 0x2d || s.charCodeAt(7) !== 0x2d || !isSeparator(s, 10))
    return false;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS[month]!)) return false;

  // partial-time: HH:MM:SS[.frac]
  if (s.charCodeAt(13) !== 0x3a || s.charCodeAt(16) !== 0x3a) return false;
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  if (hour < 0 || minute < 0 || second < 0) return false;
  let i = 19;
  if (s.charCodeAt(i) === 0x2e) {
    const start = ++i;
    while (i < s.length && digits(s, i, 1) >= 0) i++;
    if (i === start) return false;
  }

  // time-offset: Z, or +HH, +HHMM, +HH:MM (ajv-formats takes the shorter forms too)
  const c = s.charCodeAt(i);
  let sign = 0;
  let tzHour = 0;
  let tzMinute = 0;
  if (c === 0x5a || c === 0x7a) {
    if (i + 1 !== s.length) return false;
  } else if (c === 0x2b || c === 0x2d) {
    sign = c === 0x2d ? -1 : 1;
    tzHour = digits(s, i + 1, 2);
    if (tzHour < 0) return false;
    const rest = s.length - (i + 3);
    if (rest === 2) tzMinute = digits(s, i + 3, 2);
    else if (rest === 3 && s.charCodeAt(i + 3) === 0x3a) tzMinute = digits(s, i + 4, 2);
    else if (rest !== 0) return false;
    if (tzMinute < 0 || tzHour > 23 || tzMinute > 59) return false;
  } else {
    return false;
  }

  if (hour > 23 || minute > 59) return false;
  if (second < 60) return true;
  // A leap second is allowed at 23:59:60 UTC only.
  const utcMinute = minute - tzMinute * sign;
  const utcHour = hour - tzHour * sign - (utcMinute < 0 ? 1 : 0);
  return (utcHour === 23 || utcHour === -1) && (utcMinute === 59 || utcMinute === -1) && second < 61;
}

/**
 * Epoch milliseconds of a date-time in the canonical UTC form `YYYY-MM-DDTHH:MM:SS[.fraction]Z`
 * with every field in range, else NaN: the caller then asks Date.parse, which knows every other
 * form. Equal to Date.parse where it answers (digits past milliseconds are dropped, as there);
 * so it declines a leap second, which Date.parse refuses and `epochMillis` reads.
 */
export function utcMillis(s: string): number {
  const n = s.length;
  if (n < 20 || n > 30 || s.charCodeAt(n - 1) !== 0x5a || s.charCodeAt(10) !== 0x54) return Number.NaN;
  if (
    s.charCodeAt(4) !== 0x2d ||
    s.charCodeAt(7) !== 0x2d ||
    s.charCodeAt(13) !== 0x3a ||
    s.charCodeAt(16) !== 0x3a
  ) {
    return Number.NaN;
  }
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  // Date.UTC reads years below 100 as 19xx.
  if (
    year < 100 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59
  ) {
    return Number.NaN;
  }
  if (second < 0 || second > 59) return Number.NaN;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS[month]!)) return Number.NaN;
  let ms = 0;
  if (n > 20) {
    // ".d" to ".ddddddddd" before the Z
    if (s.charCodeAt(19) !== 0x2e || n < 22) return Number.NaN;
    let scale = 100;
    for (let i = 20; i < n - 1; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return Number.NaN;
      ms += d * scale;
      scale /= 10;
    }
    ms = Math.floor(ms);
  }
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + ms;
}

/**
 * Epoch milliseconds of an ISO-8601 date-time, or NaN: canonical UTC without Date.parse, a leap
 * second (`23:59:60` UTC, which Date.parse refuses) as the following second, anything else as
 * Date.parse reads it.
 */
export function epochMillis(s: string): number {
  const utc = utcMillis(s);
  if (!Number.isNaN(utc)) return utc;
  const ms = Date.parse(s);
  if (!Number.isNaN(ms) || s.charCodeAt(17) !== 0x36 || s.charCodeAt(18) !== 0x30) return ms;
  // The encoder's parser: it reads a leap second the same way (only at 23:59 UTC).
  if (!parseTimestamp(s)) return Number.NaN;
  return parsedTimestamp.seconds * 1000 + Math.floor(parsedTimestamp.micros / 1000);
}
