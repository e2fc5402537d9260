/** String and JSON columns: PLAIN, from spans in the rows' texts, or dictionary-encoded. */

import { asBuffer } from "../bytes.ts";
import type { ParquetRow } from "./encode-types.ts";
import { asciiString, SPAN, type Spans } from "./json-reader.ts";
import { arena } from "./memory.ts";
import { mismatch, type Sink } from "./sink.ts";
import { Utf8Writer } from "./utf8-writer.ts";
import type { ColumnData, Utf8Column } from "./writer/types.ts";

/** Where a string column's values left as spans (`SPAN`) are: in the texts of the batch's rows. */
export interface SpanSource {
  readonly spans: Spans;
  readonly rows: readonly ParquetRow[];
}

export function buildString(values: readonly unknown[], sink: Sink, from?: SpanSource): ColumnData {
  const n = values.length;
  const w = new Utf8Writer(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v === "string") {
      w.push(v);
    } else if (v === SPAN) {
      w.pushBytes(from!.rows[i]!.data as Uint8Array, from!.spans.start[i]!, from!.spans.end[i]!);
    } else {
      if (v != null) mismatch(sink, i, "string", v);
      w.pushNull();
    }
  }
  return w.finish();
}

/** The distinct strings of the column being dictionary-encoded, numbered in order of first use. */
const distinctStrings = new Map<string, number>();
/** Past this many distinct values (or bytes of them) a column is better written PLAIN. */
const MAX_DISTINCT = 1 << 16;
const MAX_DISTINCT_BYTES = 1 << 20;

/**
 * Strings as a dictionary-encoded column: each distinct string encoded once and a number per
 * slot. Short JSON strings are interned by V8, so the lookup is mostly a pointer hash. Undefined
 * when there turn out to be too many distinct values.
 */
export function buildStringDictionary(values: readonly unknown[], sink: Sink): ColumnData | undefined {
  const n = values.length;
  const indices = arena.int32(n);
  const validity = arena.bitmap(n);
  const w = new Utf8Writer(MAX_DISTINCT); // last: it holds the arena's open text region
  distinctStrings.clear();
  let nulls = 0;
  try {
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v === "string") {
        let e = distinctStrings.get(v);
        if (e === undefined) {
          e = distinctStrings.size;
          if (e === MAX_DISTINCT || w.size > MAX_DISTINCT_BYTES) {
            w.finish();
            return undefined;
          }
          distinctStrings.set(v, e);
          w.push(v);
        }
        indices[i] = e;
        validity[i >> 3]! |= 1 << (i & 7);
      } else {
        if (v != null) mismatch(sink, i, "string", v);
        nulls++;
      }
    }
  } finally {
    distinctStrings.clear();
  }
  const table = w.finish() as Utf8Column;
  return {
    kind: "utf8",
    length: n,
    nullCount: nulls,
    validity: nulls === 0 ? undefined : validity,
    offsets: table.offsets.subarray(0, table.length + 1),
    bytes: table.bytes,
    indices,
  };
}

export function buildJson(values: readonly unknown[], sink: Sink): ColumnData {
  const n = values.length;
  const w = new Utf8Writer(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v == null) {
      w.pushNull();
      continue;
    }
    const text = toJsonText(v);
    if (text === undefined) {
      mismatch(sink, i, "a JSON value", v);
      w.pushNull();
    } else {
      w.push(text);
    }
  }
  return w.finish();
}

/** JSON text of `v`, or undefined for what JSON cannot hold (BigInt, cycles). */
export function toJsonText(v: unknown): string | undefined {
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
}

/** The string a span stands for (spans are plain ASCII, so their bytes are their characters). */
export function spanString(from: SpanSource, i: number): string {
  return asciiString(asBuffer(from.rows[i]!.data as Uint8Array), from.spans.start[i]!, from.spans.end[i]!);
}
