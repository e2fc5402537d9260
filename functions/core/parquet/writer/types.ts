/**
 * What the writer takes: columns already converted to typed arrays, laid out like Arrow arrays
 * (a validity bitmap, offsets for strings and lists, values for the rest) so the builders fill
 * them with index stores and the writer reads them without conversion.
 */

interface ColumnBase {
  /** Slots, nulls included. */
  readonly length: number;
  readonly nullCount: number;
  /** Bit i (LSB first) set when slot i holds a value; undefined when `nullCount` is 0. */
  readonly validity: Uint8Array | undefined;
}

/**
 * UTF-8 strings, each stored as its PLAIN encoding (4-byte little-endian length, then the bytes)
 * at `bytes[offsets[i], offsets[i + 1])`; a null slot is empty. Values thus lie back to back in
 * exactly their page form, and a page of them is one copy.
 */
export interface Utf8Column extends ColumnBase {
  readonly kind: "utf8";
  readonly offsets: Int32Array;
  readonly bytes: Uint8Array;
  /**
   * Present when the column is dictionary-encoded already: slot i then holds distinct value
   * `indices[i]`, and `offsets`/`bytes` hold the distinct values (entry k at
   * `bytes[offsets[k], offsets[k + 1])`) instead of one record per slot.
   */
  readonly indices?: Int32Array;
}

/** `date` holds days since 1970-01-01. */
export interface Int32Column extends ColumnBase {
  readonly kind: "int32" | "date";
  readonly values: Int32Array;
}

/** `timestamp` holds microseconds since the epoch, UTC. */
export interface Int64Column extends ColumnBase {
  readonly kind: "int64" | "timestamp";
  readonly values: BigInt64Array;
}

export interface DoubleColumn extends ColumnBase {
  readonly kind: "double";
  readonly values: Float64Array;
}

/** Values as a bitmap, LSB first. */
export interface BooleanColumn extends ColumnBase {
  readonly kind: "boolean";
  readonly values: Uint8Array;
}

/** Slot i holds items `offsets[i]` to `offsets[i + 1]` of `item`. */
export interface ListColumn extends ColumnBase {
  readonly kind: "list";
  readonly offsets: Int32Array;
  readonly item: ColumnData;
}

export interface StructColumn extends ColumnBase {
  readonly kind: "struct";
  readonly fields: readonly NamedColumn[];
}

export type PrimitiveColumn = Utf8Column | Int32Column | Int64Column | DoubleColumn | BooleanColumn;
export type ColumnData = PrimitiveColumn | ListColumn | StructColumn;

export interface NamedColumn {
  readonly name: string;
  readonly data: ColumnData;
}

/** A top-level column and how its leaves are written. */
export interface ColumnInput extends NamedColumn {
  /** Try dictionary encoding (it falls back to PLAIN when the dictionary grows too big). */
  readonly dictionary: boolean;
  /** Write min/max and null count to the column chunk metadata. */
  readonly statistics: boolean;
}

export type Compression = "zstd" | "snappy" | "gzip" | "none";

export interface WriteOptions {
  readonly compression: Compression;
  /** Maximum rows per row group. */
  readonly rowGroupSize: number;
  /** The file's key/value metadata. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Field ids by `parquetPathKey` of each schema element's path; elements not in it get none. */
  readonly fieldIds?: ReadonlyMap<string, number>;
}
