/** Timestamp and date columns, parsed from RFC 3339 strings. */

import { type SpanSource, spanString } from "./build-strings.ts";
import { parseDate, parseTimestampInto } from "./convert.ts";
import { SPAN } from "./json-reader.ts";
import { arena } from "./memory.ts";
import { mismatch, type Sink } from "./sink.ts";
import type { ColumnData, Int64Column } from "./writer/types.ts";

/** A timestamp column already built, and the strings it was built from. */
export interface KnownTimes {
  readonly strings: readonly unknown[];
  readonly column: Int64Column;
}

/**
 * `known`: a column of the same rows whose strings this one often repeats (the envelope's event
 * time is usually the payload's own time field, verbatim); equal strings reuse its values.
 */
export function buildTimestamp(
  values: readonly unknown[],
  sink: Sink,
  known?: KnownTimes,
  from?: SpanSource,
): Int64Column {
  const n = values.length;
  const out = arena.bigint64(n);
  // Writing the two 32-bit halves avoids allocating a BigInt per value.
  const halves = new Int32Array(out.buffer, out.byteOffset, n * 2);
  const validity = arena.bitmap(n);
  const knownStrings = known?.strings;
  const knownValidity = known?.column.validity;
  const knownHalves =
    known && new Int32Array(known.column.values.buffer, known.column.values.byteOffset, n * 2);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    let v = values[i];
    // A span is never the event time: the text reader hands that over as the event time's string.
    if (
      knownStrings !== undefined &&
      v === knownStrings[i] &&
      (knownValidity === undefined || ((knownValidity[i >> 3]! >> (i & 7)) & 1) === 1)
    ) {
      halves[2 * i] = knownHalves![2 * i]!;
      halves[2 * i + 1] = knownHalves![2 * i + 1]!;
      validity[i >> 3]! |= 1 << (i & 7);
      continue;
    }
    // A string left in the record's text is made only now, so it dies young.
    if (v === SPAN) v = spanString(from!, i);
    if (typeof v === "string" && parseTimestampInto(v, halves, 2 * i)) {
      validity[i >> 3]! |= 1 << (i & 7);
      continue;
    }
    nulls++;
    if (typeof v === "string") {
      sink.error(i, "INVALID_TIMESTAMP", "", "expected an RFC 3339 date-time with a time-zone offset");
    } else if (v != null) {
      mismatch(sink, i, "date-time string", v);
    }
  }
  return {
    kind: "timestamp",
    length: n,
    nullCount: nulls,
    validity: nulls === 0 ? undefined : validity,
    values: out,
  };
}

export function buildDate(values: readonly unknown[], sink: Sink, from?: SpanSource): ColumnData {
  const n = values.length;
  const out = arena.int32(n);
  const validity = arena.bitmap(n);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i] === SPAN ? spanString(from!, i) : values[i];
    if (typeof v === "string") {
      const days = parseDate(v);
      if (!Number.isNaN(days)) {
        out[i] = days;
        validity[i >> 3]! |= 1 << (i & 7);
        continue;
      }
      sink.error(i, "INVALID_TIMESTAMP", "", "expected an RFC 3339 full-date (YYYY-MM-DD)");
    } else if (v != null) {
      mismatch(sink, i, "date string", v);
    }
    nulls++;
  }
  return {
    kind: "date",
    length: n,
    nullCount: nulls,
    validity: nulls === 0 ? undefined : validity,
    values: out,
  };
}
