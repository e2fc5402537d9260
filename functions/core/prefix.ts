/**
 * Sink prefix templates: `{stream}`, `{pipeline}`, `{yyyy}` `{MM}` `{dd}` `{HH}` `{mm}` from the
 * event time in UTC, `{field:a.b}` from the record, `{partitionKey:name}` from transformer
 * metadata. Every substituted value is made safe for an S3 key and for Hive-style readers
 * (Athena, Spark, Trino), which percent-decode partition values: no `/`, no `.` or `..` segment,
 * never empty, at most `MAX_SEGMENT_BYTES`; ASCII other than letters, digits and `._-` is
 * percent-encoded as Hive does, and so is every non-ASCII character that is not a plain letter,
 * mark or digit (controls, bidi and other format characters, separators, symbols such as U+2215
 * DIVISION SLASH, compatibility forms such as U+FF0F FULLWIDTH SOLIDUS), so a key never shows
 * what it is not. A value that cannot make a valid key (too long, or not valid Unicode) fails
 * its record with PREFIX_VALUE_INVALID; its neighbours are unaffected.
 */
import { compilePath, getPath } from "./field-path.ts";

export interface PrefixContext {
  readonly stream: string;
  readonly pipeline: string;
  /** Event time, epoch milliseconds. */
  readonly eventTimeMs: number;
  /** The record's payload; only read when the template `readsData`. */
  readonly data?: unknown;
  readonly partitionKeys?: Readonly<Record<string, string>>;
}

export type PrefixResult =
  | { ok: true; prefix: string }
  | { ok: false; code: "PREFIX_FIELD_MISSING" | "PREFIX_VALUE_INVALID"; message: string };

type Part = string | { readonly label: string; readonly value: (ctx: PrefixContext) => string | undefined };

export const PREFIX_PLACEHOLDER =
  /\{(stream|pipeline|yyyy|MM|dd|HH|mm|field:[A-Za-z0-9_.-]+|partitionKey:[A-Za-z0-9_-]+)\}/g;

/**
 * A value's longest encoded form. Real S3 has no per-segment limit, but 255 bytes is what a key
 * segment may be to sync to a local file system (`aws s3 sync`, s3rver, Hive's local mode).
 */
export const MAX_SEGMENT_BYTES = 255;

/** S3's limit on a whole object key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

const PLAIN_ASCII = /^[A-Za-z0-9._-]$/;
const PLAIN_VALUE = /^[A-Za-z0-9._-]*$/;
/** Non-ASCII kept as it is: letters, marks and digits that are their own compatibility form. */
const PLAIN_UNICODE = /^[\p{L}\p{M}\p{N}]$/u;

function percentEncoded(c: string): string {
  let out = "";
  for (const byte of Buffer.from(c, "utf8")) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  return out;
}

function keptAsIs(c: string, code: number, first: boolean): boolean {
  if (code < 0x80) return PLAIN_ASCII.test(c);
  if (!PLAIN_UNICODE.test(c) || c.normalize("NFKC") !== c) return false;
  // A mark first in a value would combine with the `=` or `/` before it.
  return !(first && /^\p{M}$/u.test(c));
}

/**
 * Percent-encodes what may not appear in one key segment; keeps ordinary names readable.
 * Undefined for a value that is not valid Unicode (a lone surrogate), which no key can carry.
 */
export function safeSegment(value: string): string | undefined {
  if (PLAIN_VALUE.test(value)) return value === "." || value === ".." ? value.replace(/\./g, "%2E") : value;
  let encoded = "";
  let first = true;
  for (const c of value) {
    const code = c.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) return undefined;
    encoded += keptAsIs(c, code, first) ? c : percentEncoded(c);
    first = false;
  }
  if (encoded === "." || encoded === "..") return encoded.replace(/\./g, "%2E");
  return encoded;
}

/** UTF-8 length of a string, without encoding it when it is ASCII. */
export function utf8Bytes(s: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  return /^[\x00-\x7f]*$/.test(s) ? s.length : Buffer.byteLength(s, "utf8");
}

function compilePart(name: string): Part {
  const value = (v: (c: PrefixContext) => string | undefined): Part => ({ label: `{${name}}`, value: v });
  switch (name) {
    case "stream":
      return value((c) => c.stream);
    case "pipeline":
      return value((c) => c.pipeline);
    case "yyyy":
      return value((c) => pad(new Date(c.eventTimeMs).getUTCFullYear(), 4));
    case "MM":
      return value((c) => pad(new Date(c.eventTimeMs).getUTCMonth() + 1));
    case "dd":
      return value((c) => pad(new Date(c.eventTimeMs).getUTCDate()));
    case "HH":
      return value((c) => pad(new Date(c.eventTimeMs).getUTCHours()));
    case "mm":
      return value((c) => pad(new Date(c.eventTimeMs).getUTCMinutes()));
  }
  if (name.startsWith("field:")) {
    const path = compilePath(name.slice(6));
    return {
      label: `field ${path.text}`,
      value: (c) => {
        const v = getPath(c.data, path);
        if (v === undefined || v === null) return undefined;
        return typeof v === "object" ? JSON.stringify(v) : String(v);
      },
    };
  }
  const key = name.slice("partitionKey:".length);
  return { label: `partition key ${key}`, value: (c) => c.partitionKeys?.[key] };
}

export interface PrefixTemplate {
  (ctx: PrefixContext): PrefixResult;
  /**
   * Whether the template has `{field:...}` placeholders, the only ones that read the payload:
   * without them the caller need not parse it.
   */
  readonly readsData: boolean;
}

export function compilePrefix(template: string): PrefixTemplate {
  const parts: Part[] = [];
  let readsData = false;
  let last = 0;
  for (const m of template.matchAll(PREFIX_PLACEHOLDER)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    parts.push(compilePart(m[1]!));
    if (m[1]!.startsWith("field:")) readsData = true;
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  const prefixOf = (ctx: PrefixContext): PrefixResult => {
    let out = "";
    for (const part of parts) {
      if (typeof part === "string") {
        out += part;
        continue;
      }
      const value = part.value(ctx);
      if (value === undefined) {
        return {
          ok: false,
          code: "PREFIX_FIELD_MISSING",
          message: `${part.label} is missing for the prefix`,
        };
      }
      if (value.length === 0) {
        return { ok: false, code: "PREFIX_VALUE_INVALID", message: `${part.label} is empty` };
      }
      const segment = safeSegment(value);
      if (segment === undefined) {
        return {
          ok: false,
          code: "PREFIX_VALUE_INVALID",
          message: `${part.label} is not valid Unicode (it has a lone surrogate)`,
        };
      }
      const bytes = utf8Bytes(segment);
      if (bytes > MAX_SEGMENT_BYTES) {
        return {
          ok: false,
          code: "PREFIX_VALUE_INVALID",
          message: `${part.label} is ${bytes} bytes as a key segment; at most ${MAX_SEGMENT_BYTES} are allowed`,
        };
      }
      out += segment;
    }
    return { ok: true, prefix: out };
  };
  return Object.assign(prefixOf, { readsData });
}
