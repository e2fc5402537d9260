/**
 * Sink prefix templates: `{stream}`, `{pipeline}`, `{yyyy}` `{MM}` `{dd}` `{HH}` `{mm}` from the
 * event time in UTC, `{field:a.b}` from the record, `{partitionKey:name}` from transformer
 * metadata. Every substituted value is made safe for an S3 key: no `/`, no `.` or `..` segment,
 * no control characters, never empty.
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

type Part = string | ((ctx: PrefixContext) => string | { missing: string });

export const PREFIX_PLACEHOLDER =
  /\{(stream|pipeline|yyyy|MM|dd|HH|mm|field:[A-Za-z0-9_.-]+|partitionKey:[A-Za-z0-9_-]+)\}/g;

const UNSAFE = new Set("/\\%?#*{}^`[]\"<>|~+&=:;,@$' ");

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** Percent-encodes what may not appear in one key segment; keeps ordinary names readable. */
export function safeSegment(value: string): string {
  let encoded = "";
  for (const c of value) {
    const code = c.codePointAt(0)!;
    encoded +=
      code < 0x20 || code === 0x7f || UNSAFE.has(c)
        ? `%${code.toString(16).toUpperCase().padStart(2, "0")}`
        : c;
  }
  if (encoded === "." || encoded === "..") return encoded.replace(/\./g, "%2E");
  return encoded;
}

function compilePart(name: string): Part {
  switch (name) {
    case "stream":
      return (c) => c.stream;
    case "pipeline":
      return (c) => c.pipeline;
    case "yyyy":
      return (c) => pad(new Date(c.eventTimeMs).getUTCFullYear(), 4);
    case "MM":
      return (c) => pad(new Date(c.eventTimeMs).getUTCMonth() + 1);
    case "dd":
      return (c) => pad(new Date(c.eventTimeMs).getUTCDate());
    case "HH":
      return (c) => pad(new Date(c.eventTimeMs).getUTCHours());
    case "mm":
      return (c) => pad(new Date(c.eventTimeMs).getUTCMinutes());
  }
  if (name.startsWith("field:")) {
    const path = compilePath(name.slice(6));
    return (c) => {
      const v = getPath(c.data, path);
      if (v === undefined || v === null) return { missing: `field ${path.text}` };
      return typeof v === "object" ? JSON.stringify(v) : String(v);
    };
  }
  const key = name.slice("partitionKey:".length);
  return (c) => c.partitionKeys?.[key] ?? { missing: `partition key ${key}` };
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
      const value = part(ctx);
      if (typeof value !== "string") {
        return {
          ok: false,
          code: "PREFIX_FIELD_MISSING",
          message: `${value.missing} is missing for the prefix`,
        };
      }
      if (value.length === 0) {
        return { ok: false, code: "PREFIX_VALUE_INVALID", message: "a prefix value is empty" };
      }
      out += safeSegment(value);
    }
    return { ok: true, prefix: out };
  };
  return Object.assign(prefixOf, { readsData });
}
