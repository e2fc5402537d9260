/**
 * A whole Parquet file from typed columns: "PAR1", row groups of column chunks in schema order,
 * the Thrift footer, its length, "PAR1".
 */

import { SLUICE_VERSION } from "../../version.ts";
import { ByteWriter } from "./byte-writer.ts";
import { CODEC_IDS, compressor } from "./codec.ts";
import {
  type ChunkOptions,
  DICTIONARY_BYTES,
  PAGE_BYTES,
  type PageSink,
  writeColumnChunk,
} from "./column-writer.ts";
import { type ColumnChunk, type RowGroup, writeFileMetaData } from "./format.ts";
import { fileSchema } from "./schema.ts";
import { CompactWriter } from "./thrift.ts";
import type { ColumnInput, WriteOptions } from "./types.ts";

/** FileMetaData.created_by: application, version and build, the form readers parse. */
export const CREATED_BY = `sluice version ${SLUICE_VERSION} (build sluice-parquet-writer)`;

const MAGIC = new TextEncoder().encode("PAR1");

/** A file bigger than this has its buffer dropped after use rather than kept for the next. */
const MAX_RETAINED_BYTES = 64 * 1024 * 1024;

/** The file being written, in a buffer reused from file to file (one file at a time). */
const file = new ByteWriter(1 << 20);

const sink: PageSink = {
  get size() {
    return file.pos;
  },
  write(bytes) {
    file.bytes(bytes);
  },
};

/** The finished file, copied out of the reused buffer. */
function finish(): Uint8Array {
  const written = file.written();
  // Uninitialized (every byte is copied over, so zeroing megabytes first would be wasted) and not
  // from the shared pool, so the file owns its whole ArrayBuffer.
  const bytes = Buffer.allocUnsafeSlow(written.length);
  bytes.set(written);
  file.reset();
  if (file.buf.length > MAX_RETAINED_BYTES) file.shrink(1 << 20);
  return bytes;
}

/** Tuning the tests turn down to get many pages from little data. */
export interface WriterLimits {
  readonly pageBytes?: number;
  readonly dictionaryBytes?: number;
}

/**
 * Writes `rowCount` rows of `columns` (each `rowCount` long) as one Parquet file. The columns'
 * arrays are only read.
 */
export function writeParquetFile(
  columns: readonly ColumnInput[],
  rowCount: number,
  options: WriteOptions,
  limits: WriterLimits = {},
): Uint8Array {
  if (!Number.isInteger(options.rowGroupSize) || options.rowGroupSize < 1) {
    throw new RangeError(`rowGroupSize must be a positive integer, got ${options.rowGroupSize}`);
  }
  for (const c of columns) {
    if (c.data.length !== rowCount) {
      throw new RangeError(`column ${c.name} has ${c.data.length} rows, expected ${rowCount}`);
    }
  }
  const schema = fileSchema(columns, options.fieldIds);
  const chunkOptions: ChunkOptions = {
    compress: compressor(options.compression),
    codec: CODEC_IDS[options.compression],
    pageBytes: limits.pageBytes ?? PAGE_BYTES,
    dictionaryBytes: limits.dictionaryBytes ?? DICTIONARY_BYTES,
  };
  file.reset();
  sink.write(MAGIC);
  const rowGroups: RowGroup[] = [];
  for (let from = 0; from < rowCount; from += options.rowGroupSize) {
    const to = Math.min(rowCount, from + options.rowGroupSize);
    const fileOffset = sink.size;
    const chunks: ColumnChunk[] = schema.leaves.map((leaf) =>
      writeColumnChunk(sink, leaf, from, to, chunkOptions),
    );
    rowGroups.push({
      columns: chunks,
      totalByteSize: chunks.reduce((n, c) => n + c.meta.totalUncompressedSize, 0),
      numRows: to - from,
      fileOffset,
      totalCompressedSize: sink.size - fileOffset,
      ordinal: rowGroups.length,
    });
  }
  const footer = new ByteWriter(4096);
  writeFileMetaData(new CompactWriter(footer), {
    version: 1,
    schema: schema.elements,
    numRows: rowCount,
    rowGroups,
    keyValueMetadata: Object.entries(options.metadata),
    createdBy: CREATED_BY,
    leafCount: schema.leaves.length,
  });
  const length = footer.pos;
  footer.u32(length);
  footer.bytes(MAGIC);
  sink.write(footer.written());
  return finish();
}
