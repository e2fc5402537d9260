/**
 * Time parsing for the `timestamp` and `coerce` steps and for filter comparisons. Every parser
 * returns epoch milliseconds or undefined; none of them consults the local time zone, so a
 * value without an offset means UTC wherever the function runs.
 */

/** Parses one value to epoch milliseconds, or undefined when it does not fit. */
export type TimeParser = (value: unknown) => number | undefined;

const MAX_MS = 8.64e15;

/** Epoch ms for UTC parts, or undefined when a part is out of range (Feb 30, 25:00, ...). */
function utcMs(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
  offsetMinutes: number,
): number | undefined {
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  // setUTCFullYear rather than Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCDate() !== day) return undefined;
  date.setUTCHours(hour, minute, second, ms);
  const t = date.getTime() - offsetMinutes * 60_000;
  return Number.isFinite(t) && Math.abs(t) <= MAX_MS ? t : undefined;
}

/** Fraction digits to milliseconds; digits past the third are truncated. */
function fractionMs(digits: string | undefined): number {
  return digits === undefined ? 0 : Number(digits.slice(0, 3).padEnd(3, "0"));
}

/** `Z`, `+hh`, `+hhmm` or `+hh:mm` to minutes east of UTC; undefined when malformed. */
function offsetMinutes(text: string | undefined): number | undefined {
  if (text === undefined || text === "Z" || text === "z") return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(text);
  if (!m) return undefined;
  const hours = Number(m[2]);
  const minutes = m[3] === undefined ? 0 : Number(m[3]);
  if (hours > 23 || minutes > 59) return undefined;
  return (m[1] === "-" ? -1 : 1) * (hours * 60 + minutes);
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/** ISO-8601 / RFC 3339 date or date-time; no offset means UTC. */
export function parseIso(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const m = ISO.exec(value);
  if (!m) return undefined;
  const offset = offsetMinutes(m[8]);
  if (offset === undefined) return undefined;
  return utcMs(
    Number(m[1]),
    Number(m[2]),
    Number(m[3]),
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
    fractionMs(m[7]),
    offset,
  );
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A finite number, or a string holding a plain decimal number (no hex, no blanks). */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && DECIMAL.test(value)) {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function epochMs(ms: number): number | undefined {
  return Math.abs(ms) <= MAX_MS ? Math.round(ms) : undefined;
}

export const parseEpochSeconds: TimeParser = (value) => {
  const n = toNumber(value);
  return n === undefined ? undefined : epochMs(n * 1000);
};

export const parseEpochMillis: TimeParser = (value) => {
  const n = toNumber(value);
  return n === undefined ? undefined : epochMs(n);
};

/**
 * A JSON number as epoch seconds or milliseconds by magnitude: below 1e11 (year 5138 in
 * seconds, 1973 in milliseconds) it is seconds.
 */
export const parseEpochAuto: TimeParser = (value) => {
  if (typeof value !== "number" || !Number.isFinite(value)) return undefined;
  return epochMs(Math.abs(value) < 1e11 ? value * 1000 : value);
};

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/** RFC 2822 obsolete zone names, in minutes east of UTC. */
const ZONES: Readonly<Record<string, number>> = {
  ut: 0,
  utc: 0,
  gmt: 0,
  z: 0,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
};

const RFC2822 =
  /^\s*(?:(?:mon|tue|wed|thu|fri|sat|sun)\s*,\s*)?(\d{1,2})\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+(\d{2,4})\s+(\d{2}):(\d{2})(?::(\d{2}))?\s+([+-]\d{4}|[a-z]{1,3})\s*$/i;

/** RFC 2822 (e-mail / HTTP) dates such as `Tue, 01 Nov 2022 10:00:00 +0100`. */
export function parseRfc2822(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const m = RFC2822.exec(value);
  if (!m) return undefined;
  const zone = m[7]!.toLowerCase();
  const offset = zone[0] === "+" || zone[0] === "-" ? offsetMinutes(zone) : ZONES[zone];
  if (offset === undefined) return undefined;
  let year = Number(m[3]);
  // RFC 2822 section 4.3: two-digit years below 50 are 20xx, three-digit years add 1900.
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const month = MONTHS.indexOf(m[2]!.toLowerCase()) + 1;
  return utcMs(year, month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0), 0, offset);
}

type Part = "Y" | "m" | "d" | "H" | "M" | "S" | "f" | "z";

const DIRECTIVES: Readonly<Record<Part, string>> = {
  Y: "(\\d{4})",
  m: "(\\d{1,2})",
  d: "(\\d{1,2})",
  H: "(\\d{1,2})",
  M: "(\\d{1,2})",
  S: "(\\d{1,2})",
  f: "(\\d{1,9})",
  z: "(Z|z|[+-]\\d{2}(?::?\\d{2})?)",
};

/**
 * Compiles a strftime-style pattern (`%Y %m %d %H %M %S %f %z %%`) into a parser. Parts the
 * pattern leaves out default to January 1st, midnight, UTC. Numbers are read as their digits,
 * so `%Y%m%d` accepts 20240131 as well as "20240131".
 */
export function compileStrftime(pattern: string): TimeParser {
  const order: Part[] = [];
  let source = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c !== "%") {
      source += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      continue;
    }
    const d = pattern[++i];
    if (d === "%") {
      source += "%";
    } else if (d !== undefined && Object.hasOwn(DIRECTIVES, d)) {
      const part = d as Part;
      if (order.includes(part)) throw new Error(`format ${JSON.stringify(pattern)} repeats %${part}`);
      order.push(part);
      source += DIRECTIVES[part];
    } else {
      const shown = d === undefined ? "a trailing %" : `%${d}`;
      throw new Error(
        `format ${JSON.stringify(pattern)} uses ${shown}; supported: %Y %m %d %H %M %S %f %z %%`,
      );
    }
  }
  const re = new RegExp(`${source}$`);
  const at = (part: Part) => order.indexOf(part) + 1;
  const [y, mo, d, h, mi, s, f, z] = (["Y", "m", "d", "H", "M", "S", "f", "z"] as const).map(at) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const num = (m: RegExpExecArray, group: number, fallback: number) =>
    group > 0 ? Number(m[group]) : fallback;
  return (value) => {
    const text = typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined;
    if (text === undefined) return undefined;
    const m = re.exec(text);
    if (!m) return undefined;
    const offset = z > 0 ? offsetMinutes(m[z]) : 0;
    if (offset === undefined) return undefined;
    return utcMs(
      num(m, y, 1970),
      num(m, mo, 1),
      num(m, d, 1),
      num(m, h, 0),
      num(m, mi, 0),
      num(m, s, 0),
      f > 0 ? fractionMs(m[f]) : 0,
      offset,
    );
  };
}

/** Formats accepted when a `timestamp` step names none: ISO-8601, epoch numbers, RFC 2822. */
export const DEFAULT_TIME_FORMATS: readonly TimeParser[] = [parseIso, parseEpochAuto, parseRfc2822];

/** A named format (`iso8601`, `epoch_s`, `epoch_ms`, `rfc2822`) or a strftime pattern. */
export function compileTimeFormat(format: string): TimeParser {
  switch (format) {
    case "iso8601":
      return parseIso;
    case "epoch_s":
      return parseEpochSeconds;
    case "epoch_ms":
      return parseEpochMillis;
    case "rfc2822":
      return parseRfc2822;
  }
  if (typeof format === "string" && format.includes("%")) return compileStrftime(format);
  throw new Error(
    `unknown time format ${JSON.stringify(format)}; expected "iso8601", "epoch_s", "epoch_ms", "rfc2822" or a strftime pattern`,
  );
}
