/**
 * The records of one chunk, each with the position that names it in its object: the byte offset
 * of a JSON line (a chunk of a byte range knows no line numbers), the line of a CSV row, the
 * position in a JSON array or of a Parquet row. With the object's identity, that position is the
 * record's idempotency key (see `importKey`).
 */
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { type ColumnTypes, type InputFormat, readInput } from "../input/read-input.ts";

export interface SourceRecord {
  /** Byte offset (NDJSON), line (CSV) or 1-based position (JSON array, Parquet). */
  readonly ordinal: number;
  /** The record's JSON text (an unreadable JSON line's text as it is), when there is one. */
  readonly text?: string;
  /** Why it could not be read. */
  readonly problem?: { readonly code: "INVALID_JSON" | "UNREADABLE_RECORD"; readonly message: string };
}

/** What the ordinal of a record of `format` counts, as its errors/ line names it. */
export function ordinalName(format: InputFormat): "offset" | "line" | "position" {
  return format === "ndjson" ? "offset" : format === "csv" ? "line" : "position";
}

/**
 * The idempotency key of a record: its object (bucket, key and ETag, hashed to stay within the
 * 256-character key limit) and its ordinal. The same object version imported again, by a
 * retried chunk or by a new job, gives every record the key it had, so nothing lands twice
 * within the stream's idempotency window; a changed object (a new ETag) is a new source.
 */
export function importKey(bucket: string, key: string, etag: string, ordinal: number): string {
  return `import:${objectTag(bucket, key, etag)}:${ordinal}`;
}

export function objectTag(bucket: string, key: string, etag: string): string {
  return createHash("sha256").update(`${bucket}/${key}\n${etag}`).digest("base64url").slice(0, 22);
}

const NEWLINE = 0x0a;

/**
 * The lines that start in `[start, end)` of an object, read from `body`, which begins at byte
 * `start - 1` (or 0 when `start` is 0): that one byte tells whether a line starts at `start`.
 * Lines may run past `end`; reading stops at the first line starting at or after it.
 */
export async function* ndjsonLines(
  body: AsyncIterable<Uint8Array>,
  start: number,
  end: number,
): AsyncGenerator<SourceRecord> {
  let offset = start > 0 ? start - 1 : 0; // object offset of buffer[0]
  let buffer: Buffer = Buffer.alloc(0);
  let skipping = start > 0; // inside the line that began before this range
  for await (const part of body) {
    buffer = buffer.length === 0 ? Buffer.from(part) : Buffer.concat([buffer, part]);
    let from = 0;
    for (let nl = buffer.indexOf(NEWLINE, from); nl >= 0; nl = buffer.indexOf(NEWLINE, from)) {
      const lineStart = offset + from;
      if (skipping) skipping = false;
      else {
        if (lineStart >= end) return;
        const line = lineOf(buffer, from, nl, lineStart);
        if (line) yield line;
      }
      from = nl + 1;
    }
    buffer = buffer.subarray(from);
    offset += from;
    if (!skipping && offset >= end) return;
  }
  if (!skipping && buffer.length > 0 && offset < end) {
    const line = lineOf(buffer, 0, buffer.length, offset);
    if (line) yield line;
  }
}

function lineOf(buffer: Buffer, from: number, to: number, ordinal: number): SourceRecord | undefined {
  let text = buffer.toString("utf8", from, to);
  if (text.endsWith("\r")) text = text.slice(0, -1);
  if (text.trim() === "") return undefined;
  try {
    JSON.parse(text);
    return { ordinal, text };
  } catch (err) {
    return { ordinal, text, problem: { code: "INVALID_JSON", message: (err as Error).message } };
  }
}

/** A whole object of a format other than NDJSON, through the parsers `sluice send` uses. */
export async function wholeObjectRecords(
  bytes: Buffer,
  format: Exclude<InputFormat, "ndjson">,
  types: ColumnTypes,
): Promise<SourceRecord[]> {
  let parsed: Awaited<ReturnType<typeof readInput>>;
  try {
    parsed = await readInput(bytes, format, types);
  } catch (err) {
    return [{ ordinal: 0, problem: { code: "UNREADABLE_RECORD", message: (err as Error).message } }];
  }
  const records: SourceRecord[] = parsed.records.map((r) => ({
    ordinal: r.ordinal,
    text: JSON.stringify(r.data),
  }));
  for (const p of parsed.problems) {
    records.push({ ordinal: p.ordinal, problem: { code: "UNREADABLE_RECORD", message: p.message } });
  }
  return records.sort((a, b) => a.ordinal - b.ordinal);
}

export async function readAll(body: Readable | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(Buffer.from(part as Uint8Array));
  return Buffer.concat(parts);
}
