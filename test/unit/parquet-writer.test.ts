/**
 * Sluice's Parquet writer (functions/core/parquet/writer): its encoders against known bytes, and
 * whole files read back by DuckDB, an independent reader.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { ByteWriter } from "../../functions/core/parquet/writer/byte-writer.ts";
import { writeColumnChunk } from "../../functions/core/parquet/writer/column-writer.ts";
import {
  CREATED_BY,
  type WriterLimits,
  writeParquetFile,
} from "../../functions/core/parquet/writer/file-writer.ts";
import { PageType } from "../../functions/core/parquet/writer/format.ts";
import { bitWidth, writeHybrid } from "../../functions/core/parquet/writer/rle.ts";
import { fileSchema } from "../../functions/core/parquet/writer/schema.ts";
import { CompactType, CompactWriter } from "../../functions/core/parquet/writer/thrift.ts";
import type {
  ColumnData,
  ColumnInput,
  Compression,
  Utf8Column,
  WriteOptions,
} from "../../functions/core/parquet/writer/types.ts";
import { prng } from "../bench/generate.ts";

// ---------------------------------------------------------------------------------------------
// Columns from plain JS values, the way the encoder lays them out.

type Shape =
  | "utf8"
  | "int32"
  | "date"
  | "int64"
  | "timestamp"
  | "double"
  | "boolean"
  | { readonly list: Shape }
  | { readonly struct: Readonly<Record<string, Shape>> };

const utf8 = new TextEncoder();

function validityOf(values: readonly unknown[]): { validity: Uint8Array | undefined; nullCount: number } {
  const validity = new Uint8Array((values.length + 7) >> 3);
  let nullCount = 0;
  values.forEach((v, i) => {
    if (v == null) nullCount++;
    else validity[i >> 3]! |= 1 << (i & 7);
  });
  return { validity: nullCount === 0 ? undefined : validity, nullCount };
}

/** Days since the epoch of `YYYY-MM-DD`. */
function days(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) / 86_400_000;
}

function column(shape: Shape, values: readonly unknown[]): ColumnData {
  const n = values.length;
  const { validity, nullCount } = validityOf(values);
  const base = { length: n, nullCount, validity };
  if (typeof shape === "object" && "list" in shape) {
    const offsets = new Int32Array(n + 1);
    const items: unknown[] = [];
    values.forEach((v, i) => {
      if (Array.isArray(v)) items.push(...v);
      offsets[i + 1] = items.length;
    });
    return { kind: "list", ...base, offsets, item: column(shape.list, items) };
  }
  if (typeof shape === "object") {
    return {
      kind: "struct",
      ...base,
      fields: Object.entries(shape.struct).map(([name, s]) => ({
        name,
        data: column(
          s,
          values.map((v) => (v == null ? null : (v as Record<string, unknown>)[name])),
        ),
      })),
    };
  }
  switch (shape) {
    case "utf8": {
      const offsets = new Int32Array(n + 1);
      const parts: number[] = [];
      values.forEach((v, i) => {
        if (typeof v === "string") {
          const b = utf8.encode(v);
          parts.push(b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24, ...b);
        }
        offsets[i + 1] = parts.length;
      });
      return { kind: "utf8", ...base, offsets, bytes: Uint8Array.from(parts) };
    }
    case "int32":
      return { kind: "int32", ...base, values: Int32Array.from(values, (v) => (v as number) ?? 0) };
    case "date":
      return {
        kind: "date",
        ...base,
        values: Int32Array.from(values, (v) => (v == null ? 0 : days(v as string))),
      };
    case "int64":
    case "timestamp":
      return {
        kind: shape,
        ...base,
        values: BigInt64Array.from(values, (v) => (v == null ? 0n : BigInt(v as number | bigint))),
      };
    case "double":
      return { kind: "double", ...base, values: Float64Array.from(values, (v) => (v as number) ?? 0) };
    case "boolean": {
      const bits = new Uint8Array((n + 7) >> 3);
      values.forEach((v, i) => {
        if (v === true) bits[i >> 3]! |= 1 << (i & 7);
      });
      return { kind: "boolean", ...base, values: bits };
    }
  }
}

interface Spec {
  shape: Shape;
  values: readonly unknown[];
  dictionary?: boolean;
  statistics?: boolean;
}

function columns(specs: Record<string, Spec>): ColumnInput[] {
  return Object.entries(specs).map(([name, s]) => ({
    name,
    data: column(s.shape, s.values),
    dictionary: s.dictionary ?? false,
    statistics: s.statistics ?? true,
  }));
}

const OPTIONS: WriteOptions = { compression: "zstd", rowGroupSize: 1000, metadata: {} };

// ---------------------------------------------------------------------------------------------
// DuckDB

let dir: string;
let conn: DuckDBConnection;
let fileCount = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sluice-parquet-writer-test-"));
  conn = await (await DuckDBInstance.create(":memory:")).connect();
});

after(() => {
  conn.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

function write(
  specs: Record<string, Spec>,
  options: Partial<WriteOptions> = {},
  limits: WriterLimits = {},
): string {
  const cols = columns(specs);
  const bytes = writeParquetFile(cols, cols[0]!.data.length, { ...OPTIONS, ...options }, limits);
  const path = join(dir, `w${fileCount++}.parquet`);
  writeFileSync(path, bytes);
  return path;
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  return (await conn.runAndReadAll(sql)).getRowObjects() as Record<string, unknown>[];
}

/** Each row of `column` as DuckDB's JSON text of it, parsed, in file order. */
async function jsonColumn(path: string, name: string): Promise<unknown[]> {
  const rows = await query(`SELECT to_json("${name}")::VARCHAR AS j FROM read_parquet('${path}')`);
  return rows.map((r) => (r.j === null ? null : JSON.parse(String(r.j))));
}

interface ChunkMeta {
  path_in_schema: string;
  row_group_id: bigint;
  encodings: string;
  compression: string;
  stats_min_value: string | null;
  stats_max_value: string | null;
  stats_null_count: bigint | null;
}

async function chunks(path: string): Promise<ChunkMeta[]> {
  return (await query(
    `SELECT path_in_schema, row_group_id, encodings, compression, stats_min_value, stats_max_value,
            stats_null_count
     FROM parquet_metadata('${path}') ORDER BY row_group_id, column_id`,
  )) as unknown as ChunkMeta[];
}

// ---------------------------------------------------------------------------------------------

describe("Thrift compact protocol", () => {
  test("short field headers, zigzag varints, strings and the stop byte", () => {
    const w = new CompactWriter();
    w.i32(1, 1);
    w.i32(2, -1);
    w.string(4, "a");
    w.bool(5, true);
    w.bool(6, false);
    w.end();
    assert.deepEqual([...w.out.written()], [0x15, 0x02, 0x15, 0x01, 0x28, 0x01, 0x61, 0x11, 0x12, 0x00]);
  });

  test("a field id jump past 15 spells the id out; i64 beyond 32 bits stays exact", () => {
    const w = new CompactWriter();
    w.i32(1, 150);
    w.i64(20, 2 ** 40);
    w.end();
    // 150 -> zigzag 300 -> ac 02; id 20 -> zigzag 40 (0x28); 2^40 -> zigzag 2^41 -> varint.
    assert.deepEqual(
      [...w.out.written()],
      [0x15, 0xac, 0x02, 0x06, 0x28, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x00],
    );
  });

  test("nested structs restore the outer field id; lists of 15 or more use the long header", () => {
    const w = new CompactWriter();
    w.struct(3);
    w.i32(1, 0);
    w.end();
    w.i32(4, 0); // delta 1 from the outer field 3, not from the inner field 1
    w.list(5, CompactType.I32, 15);
    for (let i = 0; i < 15; i++) w.i32Element(i);
    w.list(6, CompactType.STRUCT, 1);
    w.element();
    w.i16(7, 2);
    w.end();
    w.end();
    assert.deepEqual(
      [...w.out.written()],
      [
        0x3c, 0x15, 0x00, 0x00, 0x15, 0x00, 0x19, 0xf5, 0x0f, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
        26, 28, 0x19, 0x1c, 0x74, 0x04, 0x00, 0x00,
      ],
    );
  });
});

describe("RLE/bit-packing hybrid", () => {
  const encode = (values: number[], width: number): number[] => {
    const out = new ByteWriter(16);
    writeHybrid(out, Int32Array.from(values), 0, values.length, width);
    return [...out.written()];
  };

  test("bit widths", () => {
    assert.deepEqual([0, 1, 2, 3, 7, 8, 255, 256].map(bitWidth), [0, 1, 2, 2, 3, 4, 8, 9]);
  });

  test("a repeated value is one run: count << 1, then the value in whole bytes", () => {
    assert.deepEqual(encode(Array(8).fill(0), 1), [0x10, 0x00]);
    assert.deepEqual(encode(Array(300).fill(1), 1), [0xd8, 0x04, 0x01]);
    assert.deepEqual(encode(Array(20).fill(300), 9), [0x28, 0x2c, 0x01]);
  });

  test("mixed values are bit-packed LSB first in groups of eight (the spec's example)", () => {
    assert.deepEqual(encode([0, 1, 2, 3, 4, 5, 6, 7], 3), [0x03, 0x88, 0xc6, 0xfa]);
  });

  test("a bit-packed tail is padded to eight values; a short final run stays a run", () => {
    assert.deepEqual(encode([1, 0, 1], 1), [0x03, 0x05]);
    assert.deepEqual(encode([1, 1, 1], 1), [0x06, 0x01]);
  });

  test("bit-packing stops where a run long enough for its own header begins", () => {
    const values = [1, 0, 1, 0, 1, 0, 1, 0, ...Array(10).fill(1)];
    assert.deepEqual(encode(values, 1), [0x03, 0x55, 0x14, 0x01]);
  });
});

describe("writeParquetFile read back by DuckDB", () => {
  test("every type, with nulls, as DuckDB types and values", async () => {
    const path = write({
      s: { shape: "utf8", values: ["a", null, "naïve café 👍", ""] },
      i32: { shape: "int32", values: [-2147483648, 2147483647, null, 0] },
      d: { shape: "date", values: ["1970-01-01", "1969-12-31", "2024-02-29", null] },
      i64: { shape: "int64", values: [-(2n ** 63n), 2n ** 63n - 1n, null, 42n] },
      ts: { shape: "timestamp", values: [0n, -1n, 1717245296123456n, null] },
      f: { shape: "double", values: [2.5, -0, null, 1e300] },
      b: { shape: "boolean", values: [true, false, null, true] },
    });
    const types = await query(`DESCRIBE SELECT * FROM read_parquet('${path}')`);
    assert.deepEqual(Object.fromEntries(types.map((r) => [r.column_name, r.column_type])), {
      s: "VARCHAR",
      i32: "INTEGER",
      d: "DATE",
      i64: "BIGINT",
      ts: "TIMESTAMP WITH TIME ZONE",
      f: "DOUBLE",
      b: "BOOLEAN",
    });
    const rows = await query(
      `SELECT s, i32, d::VARCHAR AS d, i64, epoch_us(ts) AS ts, f, b FROM read_parquet('${path}')`,
    );
    assert.deepEqual(rows, [
      { s: "a", i32: -2147483648, d: "1970-01-01", i64: -(2n ** 63n), ts: 0n, f: 2.5, b: true },
      { s: null, i32: 2147483647, d: "1969-12-31", i64: 2n ** 63n - 1n, ts: -1n, f: -0, b: false },
      { s: "naïve café 👍", i32: null, d: "2024-02-29", i64: null, ts: 1717245296123456n, f: null, b: null },
      { s: "", i32: 0, d: null, i64: 42n, ts: null, f: 1e300, b: true },
    ]);
  });

  test("the schema: optional leaves, three-level lists, groups for structs, logical types", async () => {
    const path = write({
      tags: { shape: { list: "utf8" }, values: [["a"]] },
      who: { shape: { struct: { name: "utf8", at: "timestamp" } }, values: [{ name: "x", at: 1n }] },
    });
    const schema = await query(
      `SELECT name, type, repetition_type AS rep, num_children::INTEGER AS children, converted_type AS ct,
              logical_type AS lt
       FROM parquet_schema('${path}')`,
    );
    assert.deepEqual(schema, [
      { name: "schema", type: null, rep: null, children: 2, ct: null, lt: null },
      { name: "tags", type: null, rep: "OPTIONAL", children: 1, ct: "LIST", lt: "ListType()" },
      { name: "list", type: null, rep: "REPEATED", children: 1, ct: null, lt: null },
      {
        name: "element",
        type: "BYTE_ARRAY",
        rep: "OPTIONAL",
        children: null,
        ct: "UTF8",
        lt: "StringType()",
      },
      { name: "who", type: null, rep: "OPTIONAL", children: 2, ct: null, lt: null },
      { name: "name", type: "BYTE_ARRAY", rep: "OPTIONAL", children: null, ct: "UTF8", lt: "StringType()" },
      {
        name: "at",
        type: "INT64",
        rep: "OPTIONAL",
        children: null,
        ct: "TIMESTAMP_MICROS",
        lt: "TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>))",
      },
    ]);
  });

  test("null list, empty list, list with null elements; null struct, struct with null fields", async () => {
    const lists = [null, [], [null], ["a", null, "b"], [""]];
    const structs = [null, { a: null, b: null }, { a: 1, b: "x" }, { a: null, b: "y" }, null];
    const path = write(
      {
        l: { shape: { list: "utf8" }, values: lists, dictionary: true },
        s: { shape: { struct: { a: "int32", b: "utf8" } }, values: structs },
      },
      { rowGroupSize: 2 },
    );
    assert.deepEqual(await jsonColumn(path, "l"), lists);
    assert.deepEqual(await jsonColumn(path, "s"), structs);
  });

  test("deep nesting (list<struct<list<string>, int64>>) with nulls everywhere, randomised", async () => {
    const rand = prng(20261123);
    const maybe = <T>(f: () => T, nullRate = 0.15): T | null => (rand() < nullRate ? null : f());
    const word = () => ["alpha", "beta", "gamma", "δέλτα", "", "x".repeat(30)][Math.floor(rand() * 6)]!;
    const rows = Array.from({ length: 3000 }, () =>
      maybe(() =>
        Array.from({ length: Math.floor(rand() * 4) }, () =>
          maybe(() => ({
            words: maybe(() => Array.from({ length: Math.floor(rand() * 3) }, () => maybe(word))),
            n: maybe(() => Math.floor(rand() * 2000) - 1000),
          })),
        ),
      ),
    );
    const shape: Shape = { list: { struct: { words: { list: "utf8" }, n: "int64" } } };
    for (const dictionary of [false, true]) {
      // Small pages and row groups, so levels cross page and row-group boundaries.
      const path = write(
        { deep: { shape, values: rows, dictionary } },
        { rowGroupSize: 700 },
        { pageBytes: 512 },
      );
      assert.deepEqual(await jsonColumn(path, "deep"), rows, `dictionary: ${dictionary}`);
    }
  });

  test("top-level lists of scalars, with and without nulls, across pages and row groups, randomised", async () => {
    const rand = prng(7);
    const list = (nulls: boolean): (number | null)[] | null =>
      nulls && rand() < 0.1
        ? null
        : Array.from({ length: Math.floor(rand() * 4) }, () =>
            nulls && rand() < 0.2 ? null : Math.floor(rand() * 50),
          );
    const plain = Array.from({ length: 3000 }, () => list(false));
    const holey = Array.from({ length: 3000 }, () => list(true));
    const words = plain.map((l) => l?.map((x) => `w${x}`) ?? null);
    for (const dictionary of [false, true]) {
      const path = write(
        {
          plain: { shape: { list: "int64" }, values: plain, dictionary },
          holey: { shape: { list: "int32" }, values: holey, dictionary },
          words: { shape: { list: "utf8" }, values: words, dictionary },
        },
        { rowGroupSize: 700 },
        { pageBytes: 512 },
      );
      assert.deepEqual(await jsonColumn(path, "plain"), plain, `dictionary: ${dictionary}`);
      assert.deepEqual(await jsonColumn(path, "holey"), holey, `dictionary: ${dictionary}`);
      assert.deepEqual(await jsonColumn(path, "words"), words, `dictionary: ${dictionary}`);
    }
  });

  test("row groups of rowGroupSize rows; big columns split into several pages", async () => {
    const n = 10_000;
    const values = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? null : `value ${i}`));
    const path = write(
      { v: { shape: "utf8", values }, i: { shape: "int64", values: Array.from({ length: n }, (_, i) => i) } },
      { rowGroupSize: 4000 },
      { pageBytes: 8192 },
    );
    const groups = await query(
      `SELECT row_group_id::INTEGER AS g, any_value(row_group_num_rows)::INTEGER AS rows
       FROM parquet_metadata('${path}') GROUP BY ALL ORDER BY g`,
    );
    assert.deepEqual(groups, [
      { g: 0, rows: 4000 },
      { g: 1, rows: 4000 },
      { g: 2, rows: 2000 },
    ]);
    // DuckDB does not list pages, so count what the column writer reports for the first chunk.
    const leaf = fileSchema(columns({ v: { shape: "utf8", values } })).leaves[0]!;
    const sink = {
      size: 0,
      write(b: Uint8Array) {
        this.size += b.length;
      },
    };
    const chunk = writeColumnChunk(sink, leaf, 0, 4000, {
      compress: undefined,
      codec: 0,
      pageBytes: 8192,
      dictionaryBytes: 1 << 20,
    });
    const dataPages = chunk.meta.encodingStats.find((e) => e.pageType === PageType.DATA_PAGE);
    // About 14 bytes for each of 3,428 values, in pages of 8 KiB.
    assert.equal(dataPages?.count, 6);
    const got = await query(`SELECT v, i FROM read_parquet('${path}')`);
    assert.deepEqual(
      got.map((r) => r.v),
      values,
    );
    assert.deepEqual(
      got.map((r) => r.i),
      Array.from({ length: n }, (_, i) => BigInt(i)),
    );
  });

  test("dictionary encoding when asked, PLAIN otherwise, PLAIN again when the dictionary outgrows its limit", async () => {
    const n = 2000;
    const few = Array.from({ length: n }, (_, i) => ["red", "green", "blue", null][i % 4]!);
    const many = Array.from({ length: n }, (_, i) => `unique value number ${i}`);
    const nums = Array.from({ length: n }, (_, i) => (i % 5) * 1.5);
    const path = write(
      {
        few: { shape: "utf8", values: few, dictionary: true },
        plain: { shape: "utf8", values: few },
        many: { shape: "utf8", values: many, dictionary: true },
        nums: { shape: "double", values: nums, dictionary: true },
      },
      { rowGroupSize: n },
      { dictionaryBytes: 4096 },
    );
    const meta = await chunks(path);
    assert.deepEqual(
      meta.map((c) => [c.path_in_schema, c.encodings]),
      [
        ["few", "PLAIN, RLE, RLE_DICTIONARY"],
        ["plain", "PLAIN, RLE"],
        ["many", "PLAIN, RLE"],
        ["nums", "PLAIN, RLE, RLE_DICTIONARY"],
      ],
    );
    const got = await query(`SELECT few, plain, many, nums FROM read_parquet('${path}')`);
    assert.deepEqual(
      got.map((r) => [r.few, r.plain, r.many, r.nums]),
      few.map((f, i) => [f, f, many[i], nums[i]]),
    );
  });

  test("a column dictionary-encoded already: values, per-chunk dictionaries and statistics of what each chunk uses", async () => {
    const distinct = column("utf8", ["zeta", "alpha", "mid", "unused"]) as Utf8Column;
    const slots = [0, 2, null, 0, 1, 2, null, 2];
    const { validity, nullCount } = validityOf(slots);
    const data: Utf8Column = {
      ...distinct,
      length: slots.length,
      nullCount,
      validity,
      indices: Int32Array.from(slots, (v) => v ?? 0),
    };
    const expected = slots.map((v) => (v === null ? null : ["zeta", "alpha", "mid"][v]));
    for (const [dictionary, limits, encodings] of [
      [true, {}, "PLAIN, RLE, RLE_DICTIONARY"],
      [false, {}, "PLAIN, RLE"],
      [true, { dictionaryBytes: 8 }, "PLAIN, RLE"],
    ] as const) {
      const bytes = writeParquetFile(
        [{ name: "v", data, dictionary, statistics: true }],
        slots.length,
        { ...OPTIONS, rowGroupSize: 4 },
        limits,
      );
      const path = join(dir, `w${fileCount++}.parquet`);
      writeFileSync(path, bytes);
      const got = await query(`SELECT v FROM read_parquet('${path}')`);
      assert.deepEqual(
        got.map((r) => r.v),
        expected,
      );
      const meta = await chunks(path);
      assert.deepEqual(
        meta.map((c) => [c.encodings, c.stats_min_value, c.stats_max_value, c.stats_null_count]),
        [
          [encodings, "mid", "zeta", 1n],
          [encodings, "alpha", "mid", 1n],
        ],
        `dictionary ${dictionary}, ${JSON.stringify(limits)}`,
      );
    }
  });

  test("each codec is written and read back", async () => {
    const values = Array.from({ length: 5000 }, (_, i) => `row ${i % 300} ${"text ".repeat(i % 5)}`);
    const names: Record<Compression, string> = {
      zstd: "ZSTD",
      snappy: "SNAPPY",
      gzip: "GZIP",
      none: "UNCOMPRESSED",
    };
    for (const compression of ["zstd", "snappy", "gzip", "none"] as const) {
      const path = write({ v: { shape: "utf8", values } }, { compression }, { pageBytes: 16_384 });
      const meta = await chunks(path);
      assert.deepEqual([...new Set(meta.map((c) => c.compression))], [names[compression]], compression);
      const got = await query(`SELECT v FROM read_parquet('${path}')`);
      assert.deepEqual(
        got.map((r) => r.v),
        values,
        compression,
      );
    }
  });

  test("statistics: null count and min/max in each type's order; none when turned off", async () => {
    const path = write({
      s: { shape: "utf8", values: ["b", "é", null, "z", "a"] },
      d: { shape: "utf8", values: ["b", "é", null, "z", "a"], dictionary: true },
      long: {
        shape: "utf8",
        values: ["prefix-aaaa-z", "prefix-aaaa-é", null, "prefix-aaaa", "prefix-aaaa-y"],
      },
      i: { shape: "int64", values: [5, -3, null, 2 ** 40, 0] },
      n: { shape: "int32", values: [5, -3, null, 7, 0] },
      t: { shape: "timestamp", values: [10n, -10n, null, 0n, 5n] },
      f: { shape: "double", values: [0, Number.NaN, null, -1.5, 3] },
      b: { shape: "boolean", values: [false, false, null, false, false] },
      off: { shape: "utf8", values: ["b", "é", null, "z", "a"], statistics: false },
      l: { shape: { list: "int32" }, values: [[3, null], null, [], [-1], [9]] },
    });
    const meta = await chunks(path);
    assert.deepEqual(
      meta.map((c) => [c.path_in_schema, c.stats_min_value, c.stats_max_value, c.stats_null_count]),
      [
        // Strings compare as unsigned bytes: "é" (0xC3 0xA9) sorts after "z".
        ["s", "a", "é", 1n],
        ["d", "a", "é", 1n],
        ["long", "prefix-aaaa", "prefix-aaaa-é", 1n],
        ["i", "-3", String(2 ** 40), 1n],
        ["n", "-3", "7", 1n],
        ["t", "1969-12-31 23:59:59.99999+00", "1970-01-01 00:00:00.00001+00", 1n],
        ["f", "-1.5", "3.0", 1n],
        ["b", "false", "false", 1n],
        ["off", null, null, null],
        // Null elements, the null list and the empty list are all nulls of the leaf.
        ["l, list, element", "-1", "9", 3n],
      ],
    );
  });

  test("key/value metadata and created_by", async () => {
    const metadata = { "sluice.schema.name": "feedback", "sluice.schema.version": "3", empty: "" };
    const path = write({ v: { shape: "int32", values: [1] } }, { metadata });
    const kv = await query(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${path}')`);
    assert.deepEqual(Object.fromEntries(kv.map((r) => [r.k, r.v])), metadata);
    const [file] = await query(
      `SELECT created_by, num_rows::INTEGER AS n FROM parquet_file_metadata('${path}')`,
    );
    assert.deepEqual(file, { created_by: CREATED_BY, n: 1 });
    assert.match(CREATED_BY, /^sluice version \d+\.\d+\.\d+ \(build [^)]+\)$/);
  });

  test("columns of the wrong length and bad row-group sizes are refused", () => {
    const cols = columns({ v: { shape: "int32", values: [1, 2] } });
    assert.throws(() => writeParquetFile(cols, 3, OPTIONS), RangeError);
    assert.throws(() => writeParquetFile(cols, 2, { ...OPTIONS, rowGroupSize: 0 }), RangeError);
  });
});
