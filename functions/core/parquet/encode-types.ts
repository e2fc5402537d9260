/** Public types of the Parquet encoder: the rows it takes, its options, its result and rejection reasons. */

export type ParquetCompression = "zstd" | "snappy" | "gzip" | "none";

export interface ParquetRow {
  id: string;
  /** ISO-8601 (RFC 3339, with offset). */
  eventTime: string;
  /** ISO-8601 (RFC 3339, with offset). */
  receiveTime: string;
  schemaVersion: number;
  /**
   * The record payload: parsed, or its UTF-8 JSON text as received. The text is read straight
   * into columns, which costs far less than parsing it into objects first; the file is the same.
   */
  data: Record<string, unknown> | Uint8Array;
}

/**
 * Why one row was left out. `path` is a JSON pointer into the payload (`/tags/3`), or the envelope
 * column's name (`/_event_time`) when an envelope field was bad; `message` names the expected and
 * actual JSON types but never the value, so it is safe to log. At most one entry per row: the first
 * failure in column order.
 */
export interface ConversionError {
  index: number;
  /**
   * INVALID_JSON: the payload was given as text, and it is not JSON. NUMBER_NOT_FINITE: a number
   * too large for a double (`1e400`, which JSON.parse reads as Infinity) for a DOUBLE column.
   */
  code: "TYPE_MISMATCH" | "INVALID_TIMESTAMP" | "OUT_OF_RANGE" | "NUMBER_NOT_FINITE" | "INVALID_JSON";
  path: string;
  message: string;
}

export interface EncodeOptions {
  compression: ParquetCompression;
  /** Maximum rows per row group. */
  rowGroupSize: number;
  /** Written to the file's key/value metadata (e.g. `sluice.schema.version`). */
  metadata: Record<string, string>;
}

export interface EncodeResult {
  /** The Parquet file; empty when no row could be written (write no file then). */
  bytes: Uint8Array;
  rowCount: number;
  rejected: ConversionError[];
}
