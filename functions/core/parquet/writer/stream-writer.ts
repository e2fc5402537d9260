/**
 * A Parquet file written one row group at a time (compaction's output): each row group's column
 * chunks go to the file as soon as they are built, so only one row group's columns are ever in
 * memory besides the file's bytes, kept as a list of chunks rather than one growing buffer.
 * Same pages, encodings and footer as writeParquetFile.
 */

import { ByteWriter } from "./byte-writer.ts";
import { CODEC_IDS, compressor } from "./codec.ts";
import {
  type ChunkOptions,
  DICTIONARY_BYTES,
  PAGE_BYTES,
  type PageSink,
  writeColumnChunk,
} from "./column-writer.ts";
import { CREATED_BY } from "./file-writer.ts";
import { type RowGroup, writeFileMetaData } from "./format.ts";
import { fileSchema } from "./schema.ts";
import { CompactWriter } from "./thrift.ts";
import type { ColumnInput, Compression } from "./types.ts";

const MAGIC = new TextEncoder().encode("PAR1");

export interface StreamWriteOptions {
  readonly compression: Compression;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldIds?: ReadonlyMap<string, number>;
}

export class ParquetStreamWriter {
  private readonly chunks: Uint8Array[] = [];
  private written = 0;
  private readonly rowGroups: RowGroup[] = [];
  private rows = 0;
  private schemaText: string | undefined;
  private elements: ReturnType<typeof fileSchema>["elements"] | undefined;
  private leafCount = 0;
  private readonly chunkOptions: ChunkOptions;
  private readonly sink: PageSink;

  constructor(private readonly options: StreamWriteOptions) {
    this.chunkOptions = {
      compress: compressor(options.compression),
      codec: CODEC_IDS[options.compression],
      pageBytes: PAGE_BYTES,
      dictionaryBytes: DICTIONARY_BYTES,
    };
    const self = this;
    this.sink = {
      get size() {
        return self.written;
      },
      write(bytes) {
        // Pages arrive in scratch memory the column writer reuses: keep a copy.
        self.chunks.push(Uint8Array.prototype.slice.call(bytes));
        self.written += bytes.length;
      },
    };
    this.sink.write(MAGIC);
  }

  /** Bytes written so far (the footer not included). */
  get size(): number {
    return this.written;
  }

  get rowCount(): number {
    return this.rows;
  }

  /** Appends one row group of `rowCount` rows; every row group must have the same columns. */
  writeRowGroup(columns: readonly ColumnInput[], rowCount: number): void {
    if (rowCount === 0) return;
    for (const c of columns) {
      if (c.data.length !== rowCount)
        throw new RangeError(`column ${c.name} has ${c.data.length} rows, expected ${rowCount}`);
    }
    const schema = fileSchema(columns, this.options.fieldIds);
    const text = JSON.stringify(schema.elements);
    if (this.schemaText === undefined) {
      this.schemaText = text;
      this.elements = schema.elements;
      this.leafCount = schema.leaves.length;
    } else if (text !== this.schemaText) {
      throw new Error("row groups of one Parquet file must share its schema");
    }
    const fileOffset = this.written;
    const columnChunks = schema.leaves.map((leaf) =>
      writeColumnChunk(this.sink, leaf, 0, rowCount, this.chunkOptions),
    );
    this.rowGroups.push({
      columns: columnChunks,
      totalByteSize: columnChunks.reduce((n, c) => n + c.meta.totalUncompressedSize, 0),
      numRows: rowCount,
      fileOffset,
      totalCompressedSize: this.written - fileOffset,
      ordinal: this.rowGroups.length,
    });
    this.rows += rowCount;
  }

  /** The whole file: the row groups, then the footer. */
  finish(): Uint8Array {
    if (!this.elements) throw new Error("a Parquet file needs at least one row group");
    const footer = new ByteWriter(4096);
    writeFileMetaData(new CompactWriter(footer), {
      version: 1,
      schema: this.elements,
      numRows: this.rows,
      rowGroups: this.rowGroups,
      keyValueMetadata: Object.entries(this.options.metadata),
      createdBy: CREATED_BY,
      leafCount: this.leafCount,
    });
    const length = footer.pos;
    footer.u32(length);
    footer.bytes(MAGIC);
    this.chunks.push(footer.written().slice());
    const out = Buffer.allocUnsafeSlow(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.chunks.length = 0;
    return out;
  }
}
