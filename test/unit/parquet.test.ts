/**
 * Typed Parquet encoding (functions/core/parquet), checked by reading the files back with DuckDB,
 * an independent reader.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { JsonSchema } from "../../functions/core/manifest/types.ts";
import {
  parseDate,
  parsedTimestamp,
  parseTimestamp,
  parseTimestampInto,
} from "../../functions/core/parquet/convert.ts";
import {
  type EncodeOptions,
  type EncodeResult,
  encodeParquet,
  type ParquetRow,
  planColumns,
} from "../../functions/core/parquet/index.ts";
import { FEEDBACK_V1_COLUMN_TYPES, parquetColumnTypes } from "../support/env.ts";

const FEEDBACK = JSON.parse(
  readFileSync(new URL("../../schemas/feedback.v1.json", import.meta.url), "utf8"),
) as JsonSchema;

/** Exercises every mapping rule that feedback.v1 does not. */
const RICH: JsonSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  $defs: {
    money: {
      type: "object",
      properties: { amount: { type: "number" }, currency: { type: "string" } },
    },
    node: {
      type: "object",
      properties: { label: { type: "string" }, child: { $ref: "#/$defs/node" } },
    },
  },
  definitions: { sku: { type: "string", minLength: 3 } },
  properties: {
    count: { type: "integer" },
    score: { type: "number" },
    price: { $ref: "#/$defs/money" },
    address: {
      type: "object",
      properties: { street: { type: "string" }, zip: { type: "integer" } },
    },
    items: {
      type: "array",
      items: {
        type: "object",
        properties: { sku: { $ref: "#/definitions/sku" }, qty: { type: "integer" } },
      },
    },
    attributes: { type: "object" },
    anything: {},
    nickname: { type: ["string", "null"] },
    either: { type: ["string", "integer"] },
    choice: { oneOf: [{ type: "string" }, { type: "integer" }] },
    maybeCount: { anyOf: [{ type: "integer" }, { type: "null" }] },
    tree: { $ref: "#/$defs/node" },
    birthday: { type: "string", format: "date" },
    seenAt: { type: ["string", "null"], format: "date-time" },
    flags: { type: "array", items: { type: "boolean" } },
    tuple: { type: "array", items: [{ type: "string" }, { type: "integer" }] },
    constructor: { type: "string" },
  },
};

const OPTIONS: EncodeOptions = {
  compression: "zstd",
  rowGroupSize: 10_000,
  metadata: {
    "sluice.schema.name": "feedback",
    "sluice.schema.version": "1",
    "sluice.pipeline": "unit",
    "sluice.version": "0.0.0-test",
  },
};

let dir: string;
let db: DuckDBInstance;
let conn: DuckDBConnection;
let fileCount = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sluice-parquet-test-"));
  db = await DuckDBInstance.create(":memory:");
  conn = await db.connect();
});

after(() => {
  conn.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

function row(i: number, data: Record<string, unknown>, over: Partial<ParquetRow> = {}): ParquetRow {
  return {
    id: `01HZZZZZZZZZZZZZZZZZZZZZ${String(i).padStart(2, "0")}`,
    eventTime: "2024-06-01T12:00:00.000001Z",
    receiveTime: "2024-06-01T12:00:01Z",
    schemaVersion: 1,
    data,
    ...over,
  };
}

/** Writes the encoded bytes to a fresh file and returns its path. */
function save(result: EncodeResult): string {
  assert.ok(result.bytes.length > 0, "expected a file");
  const path = join(dir, `f${fileCount++}.parquet`);
  writeFileSync(path, result.bytes);
  return path;
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const reader = await conn.runAndReadAll(sql);
  return reader.getRowObjects() as Record<string, unknown>[];
}

async function codecs(path: string): Promise<string[]> {
  const rows = await query(`SELECT DISTINCT compression FROM parquet_metadata('${path}')`);
  return rows.map((r) => String(r.compression));
}

/** Items of a DuckDB LIST value. */
function items(v: unknown): unknown[] {
  assert.ok(typeof v === "object" && v !== null && "items" in v && Array.isArray(v.items), "expected a list");
  return v.items;
}

function micros(iso: string, extraMicros: number): bigint {
  return BigInt(Date.parse(iso)) * 1000n + BigInt(extraMicros);
}

describe("planColumns", () => {
  test("feedback.v1: envelope first, then properties in declaration order, then _extra", () => {
    assert.deepEqual(planColumns(FEEDBACK).columns, [
      { name: "_id", type: "UTF8" },
      { name: "_event_time", type: "TIMESTAMP(MICROS,UTC)" },
      { name: "_receive_time", type: "TIMESTAMP(MICROS,UTC)" },
      { name: "_schema_version", type: "INT32" },
      { name: "customerId", type: "UTF8" },
      { name: "content", type: "UTF8" },
      { name: "category", type: "UTF8" },
      { name: "isNegative", type: "BOOLEAN" },
      { name: "tags", type: "LIST<UTF8>" },
      { name: "rating", type: "INT64" },
      { name: "ts", type: "TIMESTAMP(MICROS,UTC)" },
      { name: "_extra", type: "JSON" },
    ]);
  });

  test("maps integer, number, structs, lists, refs, unions and open-ended values", () => {
    const types = Object.fromEntries(planColumns(RICH).columns.map((c) => [c.name, c.type]));
    assert.deepEqual(types, {
      _id: "UTF8",
      _event_time: "TIMESTAMP(MICROS,UTC)",
      _receive_time: "TIMESTAMP(MICROS,UTC)",
      _schema_version: "INT32",
      count: "INT64",
      score: "DOUBLE",
      price: "STRUCT<amount: DOUBLE, currency: UTF8>",
      address: "STRUCT<street: UTF8, zip: INT64>",
      items: "LIST<STRUCT<sku: UTF8, qty: INT64>>",
      attributes: "JSON",
      anything: "JSON",
      nickname: "UTF8",
      either: "JSON",
      choice: "JSON",
      maybeCount: "INT64",
      // The recursive ref is followed once; its second occurrence is kept as JSON text.
      tree: "STRUCT<label: UTF8, child: JSON>",
      birthday: "DATE",
      seenAt: "TIMESTAMP(MICROS,UTC)",
      flags: "LIST<BOOLEAN>",
      tuple: "JSON",
      constructor: "UTF8",
      _extra: "JSON",
    });
  });

  test("a property named like an envelope column is refused rather than renamed", () => {
    assert.throws(
      () => planColumns({ type: "object", properties: { _event_time: { type: "string" } } }),
      /_event_time/,
    );
    assert.throws(() => planColumns({ type: "object", properties: { _extra: {} } }), /_extra/);
  });

  test("a schema without properties puts every field in _extra", () => {
    assert.deepEqual(
      planColumns({ type: "object" }).columns.map((c) => c.name),
      ["_id", "_event_time", "_receive_time", "_schema_version", "_extra"],
    );
  });
});

describe("encodeParquet with feedback.v1", () => {
  const plan = planColumns(FEEDBACK);
  const rows: ParquetRow[] = [
    row(0, {
      customerId: "cus_1",
      content: "Crashes on start 👍 — naïve café 日本語",
      category: "bug",
      isNegative: true,
      tags: ["ios", "crash"],
      ts: "2024-06-01T12:34:56.123456Z",
    }),
    row(
      1,
      {
        customerId: "cus_2",
        content: "",
        category: "praise",
        isNegative: false,
        tags: [],
        ts: "2024-06-01T14:34:56.5+02:00",
        channel: "email",
        stars: 5,
      },
      { eventTime: "2024-06-01T12:34:56.5Z", receiveTime: "2024-06-01T12:34:57.999999Z", schemaVersion: 3 },
    ),
    // Optional fields missing, or explicitly null, are null in the file.
    row(2, { customerId: "cus_3", content: "x", category: "other", isNegative: false, ts: null }),
  ];
  let path: string;
  let result: EncodeResult;

  before(() => {
    result = encodeParquet(plan, rows, OPTIONS);
    path = save(result);
  });

  test("writes every row and rejects none", async () => {
    assert.equal(result.rowCount, 3);
    assert.deepEqual(result.rejected, []);
    const [count] = await query(`SELECT count(*)::INTEGER AS n FROM read_parquet('${path}')`);
    assert.equal(count?.n, 3);
  });

  test("column types as DuckDB reads them", async () => {
    assert.deepEqual(await parquetColumnTypes(path), FEEDBACK_V1_COLUMN_TYPES);
  });

  test("values survive exactly: unicode, microseconds, offsets, lists, nulls", async () => {
    const got = await query(
      `SELECT _id, epoch_us(_event_time) AS et, epoch_us(_receive_time) AS rt, _schema_version AS v,
              customerId, content, category, isNegative, tags, epoch_us(ts) AS ts, _extra
       FROM read_parquet('${path}') ORDER BY _id`,
    );
    assert.equal(got.length, 3);
    assert.deepEqual(
      got.map((r) => r._id),
      rows.map((r) => r.id),
    );
    assert.equal(got[0]?.et, micros("2024-06-01T12:00:00Z", 1));
    assert.equal(got[0]?.rt, micros("2024-06-01T12:00:01Z", 0));
    assert.equal(got[0]?.v, 1);
    assert.equal(got[0]?.content, "Crashes on start 👍 — naïve café 日本語");
    assert.equal(got[0]?.isNegative, true);
    assert.deepEqual(items(got[0]?.tags), ["ios", "crash"]);
    assert.equal(got[0]?.ts, micros("2024-06-01T12:34:56Z", 123456));
    assert.equal(got[0]?._extra, null);

    assert.equal(got[1]?.et, micros("2024-06-01T12:34:56Z", 500000));
    assert.equal(got[1]?.rt, micros("2024-06-01T12:34:57Z", 999999));
    assert.equal(got[1]?.v, 3);
    assert.equal(got[1]?.content, "");
    assert.deepEqual(items(got[1]?.tags), []);
    // +02:00 is normalised to UTC.
    assert.equal(got[1]?.ts, micros("2024-06-01T12:34:56Z", 500000));
    assert.deepEqual(JSON.parse(String(got[1]?._extra)), { channel: "email", stars: 5 });

    assert.equal(got[2]?.tags, null);
    assert.equal(got[2]?.ts, null);
    assert.equal(got[2]?._extra, null);
  });

  test("key/value metadata carries everything the caller passed", async () => {
    const kv = await query(
      `SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${path}') WHERE decode(key) LIKE 'sluice.%'`,
    );
    assert.deepEqual(Object.fromEntries(kv.map((r) => [r.k, r.v])), OPTIONS.metadata);
  });

  test("ZSTD by default", async () => {
    assert.deepEqual(await codecs(path), ["ZSTD"]);
  });

  test("min/max statistics for short strings, dictionary-encoded or not, and none for free text", async () => {
    const many = Array.from({ length: 40 }, (_, i) =>
      row(i, {
        customerId: `cus_${i}`,
        // Repetitive: dictionary-encoded while built.
        category: i % 2 === 0 ? "bug" : "praise",
        content: `${"free text ".repeat(10)}${i}`,
        isNegative: false,
        ts: "2024-06-01T12:00:00Z",
      }),
    );
    const file = save(encodeParquet(plan, many, OPTIONS));
    const stats = await query(
      `SELECT path_in_schema AS p, stats_min_value AS lo, stats_max_value AS hi, encodings AS e
       FROM parquet_metadata('${file}') WHERE path_in_schema IN ('customerId', 'category', 'content')`,
    );
    assert.deepEqual(Object.fromEntries(stats.map((s) => [s.p, [s.lo, s.hi]])), {
      customerId: ["cus_0", "cus_9"],
      category: ["bug", "praise"],
      content: [null, null],
    });
    assert.ok(String(stats.find((s) => s.p === "category")?.e).includes("RLE_DICTIONARY"));
  });
});

describe("encodeParquet options", () => {
  const plan = planColumns(FEEDBACK);
  const rows = Array.from({ length: 10 }, (_, i) =>
    row(i, {
      customerId: `cus_${i}`,
      content: `feedback number ${i} `.repeat(20),
      category: "bug",
      isNegative: i % 2 === 0,
      tags: ["a"],
      ts: "2024-06-01T00:00:00Z",
    }),
  );

  test("each codec is honoured, call after call", async () => {
    // Twice each and interleaved: a reused WriterProperties silently falls back to UNCOMPRESSED.
    const expected = { zstd: "ZSTD", snappy: "SNAPPY", gzip: "GZIP", none: "UNCOMPRESSED" } as const;
    for (const round of [1, 2]) {
      for (const compression of ["zstd", "snappy", "gzip", "none"] as const) {
        const path = save(encodeParquet(plan, rows, { ...OPTIONS, compression }));
        assert.deepEqual(await codecs(path), [expected[compression]], `${compression}, round ${round}`);
      }
    }
  });

  test("rowGroupSize caps the rows per row group", async () => {
    const path = save(encodeParquet(plan, rows, { ...OPTIONS, rowGroupSize: 3 }));
    const groups = await query(
      `SELECT row_group_id, any_value(row_group_num_rows)::INTEGER AS n FROM parquet_metadata('${path}')
       GROUP BY row_group_id ORDER BY row_group_id`,
    );
    assert.deepEqual(
      groups.map((g) => g.n),
      [3, 3, 3, 1],
    );
  });

  test("invalid options are refused", () => {
    assert.throws(() => encodeParquet(plan, rows, { ...OPTIONS, rowGroupSize: 0 }), RangeError);
    assert.throws(
      () => encodeParquet(plan, rows, { ...OPTIONS, compression: "lzo" as unknown as "zstd" }),
      RangeError,
    );
    assert.throws(() => encodeParquet({ columns: [] }, rows, OPTIONS), TypeError);
  });

  test("no rows gives no file", () => {
    assert.deepEqual(encodeParquet(plan, [], OPTIONS), {
      bytes: new Uint8Array(0),
      rowCount: 0,
      rejected: [],
    });
  });

  test("a larger batch round-trips with matching row count and a checksum of values", async () => {
    const many = Array.from({ length: 5000 }, (_, i) =>
      row(i, {
        customerId: `cus_${i % 97}`,
        content: i % 10 === 0 ? `é ${i}` : `text ${i}`,
        category: ["bug", "praise"][i % 2],
        isNegative: i % 3 === 0,
        tags: i % 4 === 0 ? null : Array.from({ length: i % 5 }, (_, k) => `t${k}`),
        ts: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(),
      }),
    );
    const path = save(encodeParquet(plan, many, { ...OPTIONS, rowGroupSize: 1000 }));
    const [agg] = await query(
      `SELECT count(*)::INTEGER AS n, count(DISTINCT customerId)::INTEGER AS customers,
              sum(len(tags))::INTEGER AS tagCount, sum(isNegative::INTEGER)::INTEGER AS negatives,
              count(*) FILTER (WHERE content LIKE 'é %')::INTEGER AS accented,
              (max(epoch_us(ts)) - min(epoch_us(ts)))::BIGINT AS span
       FROM read_parquet('${path}')`,
    );
    let tagCount = 0;
    for (let i = 0; i < 5000; i++) if (i % 4 !== 0) tagCount += i % 5;
    assert.deepEqual(agg, {
      n: 5000,
      customers: 97,
      tagCount,
      negatives: 1667,
      accented: 500,
      span: 4999n * 1_000_000n,
    });
  });
});

describe("encodeParquet: a payload time equal to the event time", () => {
  test("is stored as the same instant, and a different or bad one is still parsed on its own", async () => {
    const plan = planColumns(FEEDBACK);
    const base = { customerId: "c", content: "x", category: "bug", isNegative: false };
    const same = "2024-06-01T12:34:56.123456Z";
    const rows = [
      row(0, { ...base, ts: same }, { eventTime: same }),
      row(1, { ...base, ts: "2024-06-01T14:34:56+02:00" }, { eventTime: same }),
      row(2, { ...base, ts: null }, { eventTime: same }),
      row(3, { ...base, ts: "2024-06-01T12:34:56" }, { eventTime: same }),
    ];
    const result = encodeParquet(plan, rows, OPTIONS);
    assert.deepEqual(
      result.rejected.map(({ index, path }) => ({ index, path })),
      [{ index: 3, path: "/ts" }],
    );
    const got = await query(
      `SELECT epoch_us(_event_time) AS et, epoch_us(ts) AS ts FROM read_parquet('${save(result)}') ORDER BY _id`,
    );
    assert.deepEqual(got, [
      { et: micros("2024-06-01T12:34:56Z", 123456), ts: micros("2024-06-01T12:34:56Z", 123456) },
      { et: micros("2024-06-01T12:34:56Z", 123456), ts: micros("2024-06-01T12:34:56Z", 0) },
      { et: micros("2024-06-01T12:34:56Z", 123456), ts: null },
    ]);
  });
});

describe("encodeParquet: strings that look repetitive at first", () => {
  test("a column that turns out to have more distinct values than a dictionary holds is written exactly", async () => {
    const plan = planColumns(FEEDBACK);
    const n = 70_000; // past the 65,536 distinct values a build-time dictionary takes
    const rows = Array.from({ length: n }, (_, i) =>
      row(i, {
        customerId: i < 2000 ? `c${i % 10}` : `unique-${i}`,
        content: "x",
        category: "bug",
        isNegative: false,
        ts: null,
      }),
    );
    const path = save(encodeParquet(plan, rows, { ...OPTIONS, rowGroupSize: 50_000 }));
    const [agg] = await query(
      `SELECT count(*)::INTEGER AS n, count(DISTINCT customerId)::INTEGER AS distinct_ids,
              min(customerId) AS lo, max(customerId) AS hi
       FROM read_parquet('${path}')`,
    );
    assert.deepEqual(agg, { n, distinct_ids: 10 + n - 2000, lo: "c0", hi: "unique-9999" });
  });
});

describe("encodeParquet with a rich schema", () => {
  const plan = planColumns(RICH);
  const full = {
    count: -(2 ** 63), // exact as a double, and the smallest INT64
    score: 2.5,
    price: { amount: 19.99, currency: "EUR" },
    address: { street: "Rue de l'Église 1", zip: 75001, floor: 3 },
    items: [
      { sku: "abc", qty: 2 },
      { sku: "def", qty: 9007199254740992, gift: true },
    ],
    attributes: { color: "red", sizes: [1, 2] },
    anything: "just a string",
    nickname: null,
    either: 42,
    choice: "x",
    maybeCount: 7,
    tree: { label: "root", child: { label: "leaf", child: null } },
    birthday: "1990-02-28",
    seenAt: "1969-12-31T23:59:59.999999Z",
    flags: [true, false, null],
    tuple: ["a", 1],
    constructor: "own property",
  };
  let path: string;
  let result: EncodeResult;

  before(() => {
    result = encodeParquet(plan, [row(0, full), row(1, { count: 3, score: 4 }), row(2, {})], OPTIONS);
    path = save(result);
  });

  test("column types as DuckDB reads them", async () => {
    const types = await parquetColumnTypes(path);
    assert.equal(types.count, "BIGINT");
    assert.equal(types.score, "DOUBLE");
    assert.equal(types.price, "STRUCT(amount DOUBLE, currency VARCHAR)");
    assert.equal(types.address, "STRUCT(street VARCHAR, zip BIGINT)");
    assert.equal(types.items, "STRUCT(sku VARCHAR, qty BIGINT)[]");
    assert.equal(types.attributes, "VARCHAR");
    assert.equal(types.tree, 'STRUCT("label" VARCHAR, child VARCHAR)'); // DuckDB quotes the keyword
    assert.equal(types.birthday, "DATE");
    assert.equal(types.seenAt, "TIMESTAMP WITH TIME ZONE");
    assert.equal(types.flags, "BOOLEAN[]");
    assert.equal(types.constructor, "VARCHAR");
  });

  test("values, JSON text columns and nested extras", async () => {
    assert.deepEqual(result.rejected, []);
    const got = await query(
      `SELECT count, score, to_json(price)::VARCHAR AS price, to_json(address)::VARCHAR AS address,
              to_json(items)::VARCHAR AS items, attributes, anything, nickname, either, choice,
              maybeCount, to_json(tree)::VARCHAR AS tree, birthday::VARCHAR AS birthday,
              epoch_us(seenAt) AS seenAt, to_json(flags)::VARCHAR AS flags, tuple, "constructor", _extra
       FROM read_parquet('${path}') ORDER BY _id`,
    );
    const [a, b, c] = got;
    assert.equal(a?.count, -9223372036854775808n);
    assert.equal(a?.score, 2.5);
    assert.deepEqual(JSON.parse(String(a?.price)), { amount: 19.99, currency: "EUR" });
    assert.deepEqual(JSON.parse(String(a?.address)), { street: "Rue de l'Église 1", zip: 75001 });
    assert.deepEqual(JSON.parse(String(a?.items)), [
      { sku: "abc", qty: 2 },
      { sku: "def", qty: 9007199254740992 },
    ]);
    assert.deepEqual(JSON.parse(String(a?.attributes)), { color: "red", sizes: [1, 2] });
    assert.equal(a?.anything, '"just a string"');
    assert.equal(a?.nickname, null);
    assert.equal(a?.either, "42");
    assert.equal(a?.choice, '"x"');
    assert.equal(a?.maybeCount, 7n);
    assert.deepEqual(JSON.parse(String(a?.tree)), { label: "root", child: '{"label":"leaf","child":null}' });
    assert.equal(a?.birthday, "1990-02-28");
    assert.equal(a?.seenAt, -1n);
    assert.deepEqual(JSON.parse(String(a?.flags)), [true, false, null]);
    assert.equal(a?.tuple, '["a",1]');
    assert.equal(a?.constructor, "own property");
    // Undeclared fields inside structs are kept at their path, never dropped.
    assert.deepEqual(JSON.parse(String(a?._extra)), { address: { floor: 3 }, items: [null, { gift: true }] });

    // An integer is a valid number; everything missing is null.
    assert.equal(b?.count, 3n);
    assert.equal(b?.score, 4);
    assert.equal(b?.price, null);
    assert.equal(b?.items, null);
    assert.equal(b?.constructor, null, "a missing field must not read Object.prototype");
    assert.equal(c?.count, null);
    assert.equal(c?._extra, null);
  });
});

describe("encodeParquet: undeclared fields named like Object.prototype's", () => {
  test("are kept in _extra as their own keys, at the top level and nested", async () => {
    const plan = planColumns(RICH);
    const data = JSON.parse(
      '{"count": 1, "__proto__": {"x": 1}, "toString": "t", "address": {"zip": 1, "constructor": 2, "__proto__": [3]}}',
    ) as Record<string, unknown>;
    const result = encodeParquet(plan, [row(0, data)], OPTIONS);
    assert.deepEqual(result.rejected, []);
    const [got] = await query(`SELECT _extra FROM read_parquet('${save(result)}')`);
    assert.equal(
      got?._extra,
      '{"__proto__":{"x":1},"toString":"t","address":{"constructor":2,"__proto__":[3]}}',
    );
  });
});

describe("rejected rows", () => {
  const plan = planColumns(RICH);
  const good = (i: number) => row(i, { count: i, seenAt: "2024-06-01T00:00:00Z" });

  test("are reported with index, code and path while their neighbours are written", async () => {
    const rows = [
      good(0),
      row(1, { count: "12" }),
      good(2),
      row(3, { count: 1.5 }),
      row(4, { count: 1e20 }),
      row(5, { seenAt: "2024-06-01T00:00:00" }),
      row(6, { seenAt: "2024-02-30T00:00:00Z" }),
      row(7, { items: [{ qty: 1 }, { qty: "two" }] }),
      row(8, { address: "not an object" }),
      row(9, { flags: [true, "yes"] }),
      row(10, { score: "1" }, { eventTime: "yesterday" }),
      row(11, { birthday: "1990-13-01" }),
      row(12, { price: { amount: "cheap" }, count: "x" }),
      good(13),
    ];
    const result = encodeParquet(plan, rows, OPTIONS);
    assert.deepEqual(
      result.rejected.map(({ index, code, path }) => ({ index, code, path })),
      [
        { index: 1, code: "TYPE_MISMATCH", path: "/count" },
        { index: 3, code: "TYPE_MISMATCH", path: "/count" },
        { index: 4, code: "OUT_OF_RANGE", path: "/count" },
        { index: 5, code: "INVALID_TIMESTAMP", path: "/seenAt" },
        { index: 6, code: "INVALID_TIMESTAMP", path: "/seenAt" },
        { index: 7, code: "TYPE_MISMATCH", path: "/items/1/qty" },
        { index: 8, code: "TYPE_MISMATCH", path: "/address" },
        { index: 9, code: "TYPE_MISMATCH", path: "/flags/1" },
        // Envelope problems come first and name the envelope column.
        { index: 10, code: "INVALID_TIMESTAMP", path: "/_event_time" },
        { index: 11, code: "INVALID_TIMESTAMP", path: "/birthday" },
        // One entry per row: the first failing column in file order.
        { index: 12, code: "TYPE_MISMATCH", path: "/count" },
      ],
    );
    for (const e of result.rejected) {
      assert.ok(e.message.length > 0);
      assert.ok(!e.message.includes("two") && !e.message.includes("cheap"), "messages never echo values");
    }
    assert.equal(result.rowCount, 3);
    const path = save(result);
    const ids = await query(`SELECT _id, count FROM read_parquet('${path}') ORDER BY _id`);
    assert.deepEqual(
      ids.map((r) => [r._id, r.count]),
      [
        [rows[0]?.id, 0n],
        [rows[2]?.id, 2n],
        [rows[13]?.id, 13n],
      ],
    );
  });

  test("a non-object payload is rejected at the root", () => {
    const result = encodeParquet(
      plan,
      [
        good(0),
        row(1, ["array"] as unknown as Record<string, unknown>),
        good(2),
        row(3, "text" as unknown as Record<string, unknown>, { receiveTime: "later" }),
      ],
      OPTIONS,
    );
    assert.deepEqual(
      result.rejected.map(({ index, code, path }) => ({ index, code, path })),
      [
        { index: 1, code: "TYPE_MISMATCH", path: "" },
        // A bad envelope is still reported first.
        { index: 3, code: "INVALID_TIMESTAMP", path: "/_receive_time" },
      ],
    );
    assert.equal(result.rowCount, 2);
  });

  test("undeclared values JSON cannot hold reject only their row", () => {
    const result = encodeParquet(
      plan,
      [good(0), row(1, { count: 1, big: 1n }), row(2, { count: 2, gone: undefined })],
      OPTIONS,
    );
    assert.deepEqual(
      result.rejected.map(({ index, code, path }) => ({ index, code, path })),
      [{ index: 1, code: "TYPE_MISMATCH", path: "" }],
    );
    assert.equal(result.rowCount, 2);
  });

  test("when every row is rejected there is no file", () => {
    const result = encodeParquet(plan, [row(0, { count: "a" }), row(1, { count: true })], OPTIONS);
    assert.equal(result.bytes.length, 0);
    assert.equal(result.rowCount, 0);
    assert.deepEqual(
      result.rejected.map((e) => e.index),
      [0, 1],
    );
  });
});

describe("timestamp and date parsing", () => {
  const ts = (s: string): [number, number] | undefined =>
    parseTimestamp(s) ? [parsedTimestamp.seconds, parsedTimestamp.micros] : undefined;
  const epoch = (iso: string) => Date.parse(iso) / 1000;

  test("RFC 3339 forms", () => {
    assert.deepEqual(ts("2024-06-01T12:34:56Z"), [epoch("2024-06-01T12:34:56Z"), 0]);
    assert.deepEqual(ts("2024-06-01t12:34:56.1z"), [epoch("2024-06-01T12:34:56Z"), 100000]);
    assert.deepEqual(ts("2024-06-01 12:34:56.123456789+00:00"), [epoch("2024-06-01T12:34:56Z"), 123456]);
    assert.deepEqual(ts("2024-06-01T12:34:56.000001-05:30"), [epoch("2024-06-01T18:04:56Z"), 1]);
    assert.deepEqual(ts("2024-06-01T12:34:56+0200"), [epoch("2024-06-01T10:34:56Z"), 0]);
    assert.deepEqual(ts("2024-06-01T12:34:56,5+02"), [epoch("2024-06-01T10:34:56Z"), 500000]);
    assert.deepEqual(ts("2024-02-29T00:00:00Z"), [epoch("2024-02-29T00:00:00Z"), 0]);
    assert.deepEqual(ts("1969-12-31T23:59:59.999999Z"), [-1, 999999]);
    assert.deepEqual(ts("0001-01-01T00:00:00Z"), [-62135596800, 0]);
    // A leap second rolls into the next second.
    assert.deepEqual(ts("2016-12-31T23:59:60Z"), [epoch("2017-01-01T00:00:00Z"), 0]);
  });

  test("rejects anything without an offset or out of range", () => {
    for (const bad of [
      "2024-06-01T12:34:56",
      "2024-06-01",
      "2024-06-01T12:34Z",
      "2023-02-29T00:00:00Z",
      "2024-06-31T00:00:00Z",
      "2024-06-01T24:00:00Z",
      "2024-06-01T12:34:56.Z",
      "2024-06-01T12:34:56+25:00",
      "2024-06-01T12:34:56Z ",
      "June 1 2024 12:34:56 GMT",
      "",
    ]) {
      assert.equal(ts(bad), undefined, bad);
    }
  });

  test("a date is checked even right after a valid one (the last date is remembered)", () => {
    assert.deepEqual(ts("2024-01-01T00:00:00Z"), [epoch("2024-01-01T00:00:00Z"), 0]);
    assert.equal(ts("2023-16-33T00:00:00Z"), undefined);
    assert.equal(ts("2024-01-00T00:00:00Z"), undefined);
    assert.deepEqual(ts("2024-01-01T00:00:01Z"), [epoch("2024-01-01T00:00:01Z"), 0]);
  });

  test("parseTimestampInto stores what parseTimestamp reads, on its short path for UTC and off it", () => {
    const forms = [
      "2024-06-01T12:34:56Z",
      "2024-06-01T12:34:56.123Z",
      "2024-06-01T12:34:56.123456789Z",
      "2024-06-01T12:34:56.1z",
      "2024-06-01 12:34:56.5+00:00",
      "2024-06-01T12:34:56,5+02",
      "2016-12-31T23:59:60Z",
      "1969-12-31T23:59:59.999999Z",
      "2024-02-29T00:00:00Z",
      // Too far from 1970 for a double to hold the microseconds: still exact.
      "0001-01-01T00:00:00Z",
      "0000-03-01T00:00:00.000001Z",
      "9999-12-31T23:59:59.999999Z",
      "1600-06-01T12:00:00.5-11:30",
      // Invalid: the short path must not accept what the general parser refuses.
      "2023-02-29T00:00:00Z",
      "2024-13-01T00:00:00Z",
      "2024-06-01T24:00:00Z",
      "2024-06-01T12:60:00Z",
      "2024-06-01T12:34:56.Z",
      "2024-06-01T12:34:56.12a4Z",
      "2024-06-01T12:34:5:Z",
      "2024-06-01X12:34:56Z",
      "2024/06/01T12:34:56Z",
    ];
    const out = new Int32Array(4);
    const stored = new BigInt64Array(out.buffer);
    for (const s of forms) {
      const expected = ts(s);
      stored[1] = 0n;
      const ok = parseTimestampInto(s, out, 2);
      if (expected === undefined) {
        assert.equal(ok, false, s);
      } else {
        assert.equal(ok, true, s);
        assert.equal(stored[1], BigInt(expected[0]) * 1_000_000n + BigInt(expected[1]), s);
      }
    }
  });

  test("full-date", () => {
    assert.equal(parseDate("1970-01-01"), 0);
    assert.equal(parseDate("2024-03-01"), Date.UTC(2024, 2, 1) / 86_400_000);
    assert.equal(parseDate("1900-01-01"), Date.UTC(1900, 0, 1) / 86_400_000);
    assert.ok(Number.isNaN(parseDate("1900-02-29")));
    assert.ok(Number.isNaN(parseDate("2024-1-01")));
  });
});
