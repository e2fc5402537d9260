/**
 * The lake reader over in-memory Parquet (a unit test of functions/core, no AWS): row groups the
 * statistics cannot settle are read in two steps (time, id and key columns, then the rest over
 * the matching rows only), and the answer is the same as filtering every row.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AsyncBuffer } from "hyparquet";
import { encodeParquet, planColumns } from "../../functions/core/parquet/index.ts";
import type { ScanBudget } from "../../functions/core/query/lake-file.ts";
import { type LakeQuery, readLake } from "../../functions/core/query/lake-reader.ts";
import type { DataFile } from "../../functions/core/query/types.ts";

const T0 = Date.UTC(2026, 0, 1);
const plan = planColumns({
  type: "object",
  properties: { customerId: { type: "string" }, n: { type: "integer" }, note: { type: "string" } },
} as never);
// 50 rows, 25 per row group; customers repeat every 7 rows; times one minute apart.
const rows = Array.from({ length: 50 }, (_, i) => ({
  id: `01J${String(i).padStart(23, "0")}`,
  eventTime: new Date(T0 + i * 60_000).toISOString(),
  receiveTime: new Date(T0).toISOString(),
  schemaVersion: 1,
  data: Buffer.from(JSON.stringify({ customerId: `c${i % 7}`, n: i, note: "x".repeat(i) })),
}));
const bytes = encodeParquet(plan, rows, { compression: "snappy", rowGroupSize: 25, metadata: {} }).bytes;

function memory(budget: ScanBudget): AsyncBuffer {
  return {
    byteLength: bytes.length,
    async slice(start, end) {
      const last = Math.min(end ?? bytes.length, bytes.length);
      budget(last - start);
      return bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + last) as ArrayBuffer;
    },
  };
}

const file: DataFile = { key: "f.parquet", size: bytes.length };
const deps = {
  source: { snapshot: async () => ({}), files: async () => [file] },
  s3: undefined as never,
  bucket: "",
  limits: { maxScanBytes: 1e9, maxDurationMs: 60_000 },
  open: (_f: DataFile, budget: ScanBudget) => memory(budget),
};

const read = (q: LakeQuery) => readLake(q, deps);
const ns = (page: { rows: Record<string, unknown>[] }) => page.rows.map((r) => Number(r.n));

describe("lake reader", () => {
  test("a range cutting through row groups returns exactly its rows, every column, in order", async () => {
    const page = await read({ range: { fromMs: T0 + 20 * 60_000, toMs: T0 + 31 * 60_000 }, limit: 100 });
    assert.deepEqual(
      ns(page),
      Array.from({ length: 11 }, (_, i) => 20 + i),
    );
    const row = page.rows.find((r) => Number(r.n) === 27)!;
    assert.deepEqual([row.customerId, row.note, row._id], ["c6", "x".repeat(27), rows[27]!.id]);
    assert.equal(page.counters.rowGroupsRead, 2);
  });

  test("a key lookup returns each matching row whole, across row groups", async () => {
    const page = await read({ keys: [{ column: "customerId", values: ["c3"] }], limit: 100 });
    assert.deepEqual(ns(page), [3, 10, 17, 24, 31, 38, 45]);
    for (const r of page.rows) assert.equal(r.note, "x".repeat(Number(r.n)));
  });

  test("a page stops at its limit and the next page, after its cursor, goes on with no row twice", async () => {
    const range = { fromMs: T0 + 5 * 60_000, toMs: T0 + 45 * 60_000 };
    const first = await read({ range, limit: 15, fields: ["n", "note"] });
    assert.deepEqual(
      ns(first),
      Array.from({ length: 15 }, (_, i) => 5 + i),
    );
    assert.deepEqual(Object.keys(first.rows[0]!), ["n", "note"]);
    const second = await read({
      range,
      limit: 100,
      fields: ["n"],
      after: first.next!,
      snapshot: first.snapshot,
    });
    assert.deepEqual(
      ns(second),
      Array.from({ length: 25 }, (_, i) => 20 + i),
    );
  });

  test("a key lookup with a range keeps both conditions", async () => {
    const page = await read({
      keys: [{ column: "_id", values: [rows[12]!.id, rows[40]!.id] }],
      range: { fromMs: T0, toMs: T0 + 30 * 60_000 },
      limit: 10,
    });
    assert.deepEqual(ns(page), [12]);
  });
});
