/**
 * What a manifest says about a data file, read from the file's own Parquet footer (hyparquet):
 * record count, per-column sizes, value and null counts, and lower/upper bounds of top-level
 * primitive columns in the spec's single-value binary encoding (Appendix D), keyed by field id.
 * Long strings get no bounds (bounds are optional; a truncated upper bound would need care).
 */
import { parquetMetadata, parquetSchema } from "hyparquet";

/** Statistics of one data file, as plain JSON (stored with the pending file until it is committed). */
export interface FileStats {
  readonly recordCount: number;
  readonly columnSizes: Readonly<Record<string, number>>;
  readonly valueCounts: Readonly<Record<string, number>>;
  readonly nullCounts: Readonly<Record<string, number>>;
  /** Base64 of the single-value encoding, by field id. */
  readonly lowerBounds: Readonly<Record<string, string>>;
  readonly upperBounds: Readonly<Record<string, string>>;
  /** Byte offsets of the row groups, ascending. */
  readonly splitOffsets: readonly number[];
}

const MAX_BOUND_BYTES = 64;

function le(bytes: number, write: (v: DataView) => void): Buffer {
  const b = Buffer.alloc(bytes);
  write(new DataView(b.buffer, b.byteOffset, bytes));
  return b;
}

/** Appendix D single-value encoding of a Parquet statistic, or undefined when it has none here. */
export function singleValue(
  icebergType: string,
  value: unknown,
  bound: "lower" | "upper",
): Buffer | undefined {
  if (value === undefined || value === null) return undefined;
  switch (icebergType) {
    case "int":
      return le(4, (v) => v.setInt32(0, Number(value), true));
    case "date": {
      const days = value instanceof Date ? Math.floor(value.getTime() / 86_400_000) : Number(value);
      return le(4, (v) => v.setInt32(0, days, true));
    }
    case "long":
      return le(8, (v) => v.setBigInt64(0, BigInt(value as bigint | number), true));
    case "double": {
      const n = Number(value);
      if (Number.isNaN(n)) return undefined;
      return le(8, (v) => v.setFloat64(0, n, true));
    }
    case "boolean":
      return Buffer.from([value ? 1 : 0]);
    case "timestamptz":
    case "timestamp": {
      // hyparquet hands microsecond statistics back as Dates (milliseconds): widen to the
      // millisecond's first or last microsecond so the bound still holds.
      const micros =
        value instanceof Date
          ? BigInt(value.getTime()) * 1000n + (bound === "upper" ? 999n : 0n)
          : BigInt(value as bigint);
      return le(8, (v) => v.setBigInt64(0, micros, true));
    }
    case "string": {
      const b = Buffer.from(String(value), "utf8");
      return b.length <= MAX_BOUND_BYTES ? b : undefined;
    }
    default:
      return undefined;
  }
}

interface SchemaNode {
  element: {
    field_id?: number;
    name: string;
    type?: string;
    converted_type?: string;
    logical_type?: { type: string };
  };
  children: SchemaNode[];
  path: string[];
}

/** The Iceberg type a Parquet leaf reads as (the ones Sluice writes), for its bounds. */
function icebergTypeOf(e: SchemaNode["element"]): string | undefined {
  const logical = e.logical_type?.type;
  switch (e.type) {
    case "INT64":
      return logical === "TIMESTAMP" ? "timestamptz" : "long";
    case "INT32":
      return logical === "DATE" || e.converted_type === "DATE" ? "date" : "int";
    case "DOUBLE":
      return "double";
    case "BOOLEAN":
      return "boolean";
    case "BYTE_ARRAY":
      return logical === "STRING" || e.converted_type === "UTF8" ? "string" : undefined;
    default:
      return undefined;
  }
}

interface Leaf {
  readonly id?: number;
  readonly topLevel: boolean;
  readonly type?: string;
}

/** Field id and type of every leaf column by its dotted Parquet path, and whether it is top-level. */
function leafIds(root: SchemaNode): Map<string, Leaf> {
  const out = new Map<string, Leaf>();
  const visit = (n: SchemaNode, depth: number) => {
    if (n.children.length === 0) {
      const type = icebergTypeOf(n.element);
      out.set(n.path.join("."), {
        ...(n.element.field_id === undefined ? {} : { id: n.element.field_id }),
        ...(type === undefined ? {} : { type }),
        topLevel: depth === 1,
      });
    }
    for (const c of n.children) visit(c, depth + 1);
  };
  for (const c of root.children) visit(c, 1);
  return out;
}

/** Statistics of a Parquet file written with field ids. */
export function fileStats(bytes: Uint8Array): FileStats {
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const md = parquetMetadata(buf);
  const leaves = leafIds(parquetSchema(md) as unknown as SchemaNode);
  const sizes: Record<string, number> = {};
  const values: Record<string, number> = {};
  const nulls: Record<string, number> = {};
  const lows = new Map<number, unknown>();
  const highs = new Map<number, unknown>();
  const noBounds = new Set<number>();
  const types = new Map<number, string>();
  const splitOffsets: number[] = [];
  for (const rg of md.row_groups) {
    const first = rg.columns[0]?.meta_data;
    if (first) splitOffsets.push(Number(first.dictionary_page_offset ?? first.data_page_offset));
    for (const col of rg.columns) {
      const meta = col.meta_data;
      if (!meta) continue;
      const leaf = leaves.get(meta.path_in_schema.join("."));
      if (leaf?.id === undefined) continue;
      const id = leaf.id;
      sizes[id] = (sizes[id] ?? 0) + Number(meta.total_compressed_size);
      values[id] = (values[id] ?? 0) + Number(meta.num_values);
      const s = meta.statistics;
      if (s?.null_count !== undefined) nulls[id] = (nulls[id] ?? 0) + Number(s.null_count);
      if (!leaf.topLevel || leaf.type === undefined) continue;
      types.set(id, leaf.type);
      const min = s?.min_value ?? s?.min;
      const max = s?.max_value ?? s?.max;
      const rowsWithValues = Number(meta.num_values) - Number(s?.null_count ?? 0);
      if (rowsWithValues === 0) continue;
      if (min === undefined || max === undefined) {
        noBounds.add(id);
        continue;
      }
      if (!lows.has(id) || (min as number) < (lows.get(id) as number)) lows.set(id, min);
      if (!highs.has(id) || (max as number) > (highs.get(id) as number)) highs.set(id, max);
    }
  }
  const encode = (m: Map<number, unknown>, bound: "lower" | "upper") => {
    const out: Record<string, string> = {};
    for (const [id, v] of m) {
      if (noBounds.has(id)) continue;
      const b = singleValue(types.get(id)!, v, bound);
      if (b) out[id] = b.toString("base64");
    }
    return out;
  };
  return {
    recordCount: Number(md.num_rows),
    columnSizes: sizes,
    valueCounts: values,
    nullCounts: nulls,
    lowerBounds: encode(lows, "lower"),
    upperBounds: encode(highs, "upper"),
    splitOffsets: splitOffsets.sort((a, b) => a - b),
  };
}
