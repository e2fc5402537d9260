/**
 * The parts of parquet.thrift (apache/parquet-format) this writer emits, as plain data, and their
 * compact-protocol encoding. Field ids are the ones in parquet.thrift.
 */
import { CompactType, type CompactWriter } from "./thrift.ts";

export const PhysicalType = {
  BOOLEAN: 0,
  INT32: 1,
  INT64: 2,
  DOUBLE: 5,
  BYTE_ARRAY: 6,
} as const;

export const Repetition = { REQUIRED: 0, OPTIONAL: 1, REPEATED: 2 } as const;

export const ConvertedType = {
  UTF8: 0,
  LIST: 3,
  DATE: 6,
  TIMESTAMP_MICROS: 10,
} as const;

export const Encoding = {
  PLAIN: 0,
  RLE: 3,
  RLE_DICTIONARY: 8,
} as const;

export const Codec = {
  UNCOMPRESSED: 0,
  SNAPPY: 1,
  GZIP: 2,
  ZSTD: 6,
} as const;

export const PageType = { DATA_PAGE: 0, DICTIONARY_PAGE: 2 } as const;

export type LogicalType =
  | { readonly kind: "string" }
  | { readonly kind: "list" }
  | { readonly kind: "date" }
  | { readonly kind: "timestampMicros"; readonly utc: boolean };

export interface SchemaElement {
  readonly name: string;
  /** Absent on groups. */
  readonly type?: number;
  /** Absent on the root. */
  readonly repetition?: number;
  /** Present on groups (the root included). */
  readonly numChildren?: number;
  readonly convertedType?: number;
  /** Matches columns across files by id rather than name (Iceberg, Spark). */
  readonly fieldId?: number;
  readonly logicalType?: LogicalType;
}

export interface Statistics {
  readonly nullCount: number;
  /** PLAIN encoding of the smallest value (no length prefix for byte arrays). */
  readonly min?: Uint8Array;
  readonly max?: Uint8Array;
}

export interface PageEncodingStats {
  readonly pageType: number;
  readonly encoding: number;
  readonly count: number;
}

export interface ColumnMetaData {
  readonly type: number;
  readonly encodings: readonly number[];
  readonly path: readonly string[];
  readonly codec: number;
  readonly numValues: number;
  readonly totalUncompressedSize: number;
  readonly totalCompressedSize: number;
  readonly dataPageOffset: number;
  readonly dictionaryPageOffset?: number;
  readonly statistics?: Statistics;
  readonly encodingStats: readonly PageEncodingStats[];
}

export interface ColumnChunk {
  /** Where the chunk's first page starts. */
  readonly fileOffset: number;
  readonly meta: ColumnMetaData;
}

export interface RowGroup {
  readonly columns: readonly ColumnChunk[];
  /** Uncompressed bytes of all its column chunks. */
  readonly totalByteSize: number;
  readonly numRows: number;
  readonly fileOffset: number;
  readonly totalCompressedSize: number;
  readonly ordinal: number;
}

export interface FileMetaData {
  readonly version: number;
  readonly schema: readonly SchemaElement[];
  readonly numRows: number;
  readonly rowGroups: readonly RowGroup[];
  readonly keyValueMetadata: readonly (readonly [string, string])[];
  readonly createdBy: string;
  /** Leaf columns, each given the type-defined sort order (what min/max statistics follow). */
  readonly leafCount: number;
}

export type PageHeader =
  | {
      readonly type: typeof PageType.DATA_PAGE;
      readonly uncompressedSize: number;
      readonly compressedSize: number;
      /** Level slots in the page, nulls and empty lists included. */
      readonly numValues: number;
      readonly encoding: number;
    }
  | {
      readonly type: typeof PageType.DICTIONARY_PAGE;
      readonly uncompressedSize: number;
      readonly compressedSize: number;
      readonly numValues: number;
    };

export function writePageHeader(w: CompactWriter, h: PageHeader): void {
  w.i32(1, h.type);
  w.i32(2, h.uncompressedSize);
  w.i32(3, h.compressedSize);
  if (h.type === PageType.DATA_PAGE) {
    w.struct(5);
    w.i32(1, h.numValues);
    w.i32(2, h.encoding);
    w.i32(3, Encoding.RLE);
    w.i32(4, Encoding.RLE);
    w.end();
  } else {
    w.struct(7);
    w.i32(1, h.numValues);
    w.i32(2, Encoding.PLAIN);
    w.end();
  }
  w.end();
}

function writeLogicalType(w: CompactWriter, t: LogicalType): void {
  w.struct(10);
  switch (t.kind) {
    case "string":
      w.struct(1);
      w.end();
      break;
    case "list":
      w.struct(3);
      w.end();
      break;
    case "date":
      w.struct(6);
      w.end();
      break;
    case "timestampMicros":
      w.struct(8);
      w.bool(1, t.utc);
      w.struct(2); // unit: TimeUnit union
      w.struct(2); // MICROS
      w.end();
      w.end();
      w.end();
      break;
  }
  w.end();
}

function writeSchemaElement(w: CompactWriter, e: SchemaElement): void {
  w.element();
  if (e.type !== undefined) w.i32(1, e.type);
  if (e.repetition !== undefined) w.i32(3, e.repetition);
  w.string(4, e.name);
  if (e.numChildren !== undefined) w.i32(5, e.numChildren);
  if (e.convertedType !== undefined) w.i32(6, e.convertedType);
  if (e.fieldId !== undefined) w.i32(9, e.fieldId);
  if (e.logicalType !== undefined) writeLogicalType(w, e.logicalType);
  w.end();
}

function writeStatistics(w: CompactWriter, id: number, s: Statistics): void {
  w.struct(id);
  w.i64(3, s.nullCount);
  if (s.max !== undefined) w.binary(5, s.max);
  if (s.min !== undefined) w.binary(6, s.min);
  w.end();
}

function writeColumnMetaData(w: CompactWriter, m: ColumnMetaData): void {
  w.struct(3);
  w.i32(1, m.type);
  w.list(2, CompactType.I32, m.encodings.length);
  for (const e of m.encodings) w.i32Element(e);
  w.list(3, CompactType.BINARY, m.path.length);
  for (const p of m.path) w.stringElement(p);
  w.i32(4, m.codec);
  w.i64(5, m.numValues);
  w.i64(6, m.totalUncompressedSize);
  w.i64(7, m.totalCompressedSize);
  w.i64(9, m.dataPageOffset);
  if (m.dictionaryPageOffset !== undefined) w.i64(11, m.dictionaryPageOffset);
  if (m.statistics !== undefined) writeStatistics(w, 12, m.statistics);
  w.list(13, CompactType.STRUCT, m.encodingStats.length);
  for (const s of m.encodingStats) {
    w.element();
    w.i32(1, s.pageType);
    w.i32(2, s.encoding);
    w.i32(3, s.count);
    w.end();
  }
  w.end();
}

function writeRowGroup(w: CompactWriter, g: RowGroup): void {
  w.element();
  w.list(1, CompactType.STRUCT, g.columns.length);
  for (const c of g.columns) {
    w.element();
    w.i64(2, c.fileOffset);
    writeColumnMetaData(w, c.meta);
    w.end();
  }
  w.i64(2, g.totalByteSize);
  w.i64(3, g.numRows);
  w.i64(5, g.fileOffset);
  w.i64(6, g.totalCompressedSize);
  w.i16(7, g.ordinal);
  w.end();
}

export function writeFileMetaData(w: CompactWriter, m: FileMetaData): void {
  w.i32(1, m.version);
  w.list(2, CompactType.STRUCT, m.schema.length);
  for (const e of m.schema) writeSchemaElement(w, e);
  w.i64(3, m.numRows);
  w.list(4, CompactType.STRUCT, m.rowGroups.length);
  for (const g of m.rowGroups) writeRowGroup(w, g);
  if (m.keyValueMetadata.length > 0) {
    w.list(5, CompactType.STRUCT, m.keyValueMetadata.length);
    for (const [k, v] of m.keyValueMetadata) {
      w.element();
      w.string(1, k);
      w.string(2, v);
      w.end();
    }
  }
  w.string(6, m.createdBy);
  w.list(7, CompactType.STRUCT, m.leafCount);
  for (let i = 0; i < m.leafCount; i++) {
    w.element(); // ColumnOrder union
    w.struct(1); // TYPE_ORDER: TypeDefinedOrder
    w.end();
    w.end();
  }
  w.end();
}
