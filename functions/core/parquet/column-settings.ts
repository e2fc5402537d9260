/** Per-column writer settings (dictionary, statistics), guessed from the batch's values. */

import { type SpanSource, spanString } from "./build-strings.ts";
import type { ColumnType } from "./columns.ts";
import { SPAN } from "./json-reader.ts";
import { exactInteger, NumberText } from "./number-text.ts";
import type { ColumnData, Utf8Column } from "./writer/types.ts";

/** Values looked at to guess whether dictionary encoding pays for a column. */
const DICTIONARY_SAMPLE = 1024;

/** Average UTF-8 bytes above which a string column is treated as free text. */
const FREE_TEXT_BYTES = 64;

/** Writer settings for one top-level column (and every leaf under it), chosen from the batch itself. */
interface ColumnSettings {
  dictionary: boolean;
  statistics: boolean;
}

/**
 * Whether dictionary encoding pays: at most half of the first non-null values are distinct.
 * High-cardinality columns (ids, free text, event times) only spend writer time on a dictionary
 * that parquet abandons once it grows.
 */
export function lowCardinality(values: readonly unknown[], from?: SpanSource, integers = false): boolean {
  const seen = new Set<unknown>();
  let count = 0;
  for (let i = 0; i < values.length && count < DICTIONARY_SAMPLE; i++) {
    const v = values[i];
    if (v == null) continue;
    count++;
    seen.add(v === SPAN ? spanString(from!, i) : v instanceof NumberText ? distinctKey(v, integers) : v);
  }
  return seen.size * 2 <= count;
}

/**
 * A number kept as text, counted among distinct values as the number it stands for: its double,
 * unless it is an integer the double rounds and the column an integer column, which holds it exactly.
 */
function distinctKey(v: NumberText, integers: boolean): unknown {
  const x = Number(v.text);
  if (!integers || Number.isSafeInteger(x) || !Number.isInteger(x)) return x;
  const exact = exactInteger(v.text, 64);
  return typeof exact === "bigint" && exact !== BigInt(x) ? exact : x;
}

/** Average UTF-8 bytes of a string column's values (of its distinct values, when it has a dictionary). */
function averageBytes(data: Utf8Column): number {
  const count = data.indices === undefined ? data.length - data.nullCount : data.offsets.length - 1;
  // Less each value's 4-byte length prefix.
  const bytes = data.offsets[data.offsets.length - 1]! - 4 * count;
  return count === 0 ? 0 : bytes / count;
}

/**
 * Dictionary encoding and statistics cost writer time and only pay for some columns, so they are
 * chosen per top-level column. Nested columns try a dictionary (the writer falls back to PLAIN
 * when it grows too big) and keep statistics.
 */
export function settingsFor(
  type: ColumnType,
  values: readonly unknown[],
  data: ColumnData,
  from?: SpanSource,
): ColumnSettings {
  const low = (): boolean => lowCardinality(values, from, type.kind === "int64" || type.kind === "int32");
  switch (type.kind) {
    case "boolean":
      // Bit-packed booleans are smaller than dictionary indices.
      return { dictionary: false, statistics: true };
    case "timestamp":
      // Event times are close to unique; min/max drive time-range pruning.
      return { dictionary: false, statistics: true };
    case "string":
    case "json": {
      const avg = data.kind === "utf8" ? averageBytes(data) : 0;
      return {
        dictionary: low(),
        // Min/max of free text never prunes anything and costs writer time and footer bytes.
        statistics: avg <= FREE_TEXT_BYTES,
      };
    }
    case "int64":
    case "int32":
    case "double":
    case "date":
      return { dictionary: low(), statistics: true };
    case "list":
    case "struct":
      return { dictionary: true, statistics: true };
  }
}
