/**
 * Typed Parquet from JSON Schema (DESIGN.md): compile a schema once with `planColumns`, then
 * `encodeParquet` each batch of records into one file.
 */
export { type ColumnPlan, planColumns } from "./columns.ts";
export {
  type ConversionError,
  type EncodeOptions,
  type EncodeResult,
  encodeParquet,
  type ParquetCompression,
  type ParquetRow,
} from "./encode.ts";
