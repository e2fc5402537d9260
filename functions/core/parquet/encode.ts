/**
 * Rows -> typed Parquet. One pass over the rows gathers each column's values; each column is then
 * built on its own, straight into typed arrays laid out like Arrow arrays, and written by Sluice's
 * own Parquet writer (writer/), which reads those arrays in place. Building column by column keeps
 * each inner loop on one value type, and short enough for many of its memory reads to be in flight
 * at once: converting row by row measured slower.
 */

import { type ColumnPlan, CompiledPlan } from "./columns.ts";
import type { Built } from "./convert-rows.ts";
import { buildBatch } from "./convert-rows.ts";
import type { EncodeOptions, EncodeResult, ParquetCompression, ParquetRow } from "./encode-types.ts";
import { arena } from "./memory.ts";
import { writeParquetFile } from "./writer/file-writer.ts";

export type {
  ConversionError,
  EncodeOptions,
  EncodeResult,
  ParquetCompression,
  ParquetRow,
} from "./encode-types.ts";

const COMPRESSIONS: readonly ParquetCompression[] = ["zstd", "snappy", "gzip", "none"];

function writeFile(built: Built, n: number, options: EncodeOptions, plan: CompiledPlan): Uint8Array {
  try {
    return writeParquetFile(built.columns, n, { ...options, fieldIds: plan.fieldIds });
  } finally {
    // The writer reads the columns in the arena; only now is it free for the next batch.
    arena.trim();
  }
}

/**
 * Encodes `rows` as one Parquet file. Rows that cannot be converted (e.g. "abc" for an integer
 * column, an unparseable date-time) are left out and reported in `rejected` with their index;
 * the other rows are still written.
 */
export function encodeParquet(
  plan: ColumnPlan,
  rows: readonly ParquetRow[],
  options: EncodeOptions,
): EncodeResult {
  if (!(plan instanceof CompiledPlan)) throw new TypeError("plan must come from planColumns()");
  if (!Number.isInteger(options.rowGroupSize) || options.rowGroupSize < 1) {
    throw new RangeError(`rowGroupSize must be a positive integer, got ${options.rowGroupSize}`);
  }
  if (!COMPRESSIONS.includes(options.compression)) {
    throw new RangeError(`unknown compression ${JSON.stringify(options.compression)}`);
  }
  let built = buildBatch(plan, rows);
  let kept = rows;
  const rejected = [...built.rejected.values()].sort((a, b) => a.index - b.index);
  if (rejected.length > 0) {
    // Rare, so the simple way: convert again without the bad rows (conversion is deterministic).
    kept = rows.filter((_, i) => !built.rejected.has(i));
    if (kept.length > 0) {
      built = buildBatch(plan, kept);
      if (built.rejected.size > 0) throw new Error("internal: row conversion is not deterministic");
    }
  }
  if (kept.length === 0) {
    arena.trim();
    return { bytes: new Uint8Array(0), rowCount: 0, rejected };
  }
  return { bytes: writeFile(built, kept.length, options, plan), rowCount: kept.length, rejected };
}
