/**
 * A JSON number too large for a double (`1e400`) is read by JSON.parse as Infinity, which JSON
 * cannot carry and no column could store as the number sent. Ingest rejects such a record with
 * NUMBER_NOT_FINITE, pointing at the number, and accepts its neighbours; if one reaches the
 * encoder anyway (a transformer's output, a producer writing to Kinesis directly), a DOUBLE
 * column refuses it with the same code instead of storing Infinity.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parquetReadObjects } from "hyparquet";
import { parseIngestBody } from "../../functions/core/ingest/request.ts";
import {
  type EncodeOptions,
  encodeParquet,
  type ParquetRow,
  planColumns,
} from "../../functions/core/parquet/index.ts";
import { duckdb } from "../support/env.ts";

const body = (s: string) => Buffer.from(s, "utf8");
const codes = (records: ReturnType<typeof parseIngestBody>) =>
  records.map((r) => (r.error ? [r.error.code, r.error.path] : "ok"));

describe("ingest: a number JSON.parse reads as Infinity", () => {
  test("rejects its record as NUMBER_NOT_FINITE at the number's path; neighbours in the batch are accepted", () => {
    const records = parseIngestBody({
      contentType: "application/json",
      body: body(
        '{"records":[{"data":{"a":1}},{"data":{"a":1e400}},{"data":{"b":[1,{"c/d":-1e400}]}},{"data":{"a":2.5e300}}]}',
      ),
    });
    assert.deepEqual(codes(records), [
      "ok",
      ["NUMBER_NOT_FINITE", "/records/1/data/a"],
      ["NUMBER_NOT_FINITE", "/records/2/data/b/1/c~1d"],
      "ok",
    ]);
    assert.match(records[1]!.error!.message, /too large for a double/);
    assert.deepEqual(records[3]!.data, { a: 2.5e300 });
  });

  test("in NDJSON, a single record, and a CloudEvents batch", () => {
    assert.deepEqual(
      codes(
        parseIngestBody({
          contentType: "application/x-ndjson",
          body: body('{"a":1}\n{"x":{"y":1E999}}\n{"a":3}\n'),
        }),
      ),
      ["ok", ["NUMBER_NOT_FINITE", "/1/data/x/y"], "ok"],
    );
    assert.deepEqual(
      codes(parseIngestBody({ contentType: "application/json", body: body('{"n":-1e400}') })),
      [["NUMBER_NOT_FINITE", "/data/n"]],
    );
    const event = (data: string) => `{"specversion":"1.0","id":"e","source":"s","type":"t","data":${data}}`;
    assert.deepEqual(
      codes(
        parseIngestBody({
          contentType: "application/cloudevents-batch+json",
          body: body(`[${event('{"a":1}')},${event('{"a":[1e400]}')}]`),
        }),
      ),
      ["ok", ["NUMBER_NOT_FINITE", "/1/data/a/0"]],
    );
  });

  test("numbers that are large or tiny but finite pass, as do strings that spell 1e400", () => {
    const records = parseIngestBody({
      contentType: "application/json",
      body: body('{"a":1.7976931348623157e308,"b":-1e-400,"c":"1e400","d":123456789012345678901234567890}'),
    });
    assert.deepEqual(codes(records), ["ok"]);
  });
});

describe("encoder: a non-finite number for a DOUBLE column", () => {
  const plan = planColumns({
    type: "object",
    properties: {
      d: { type: "number" },
      s: { type: "object", properties: { x: { type: "number" }, k: { type: "integer" } } },
    },
  });
  const OPTIONS: EncodeOptions = { compression: "snappy", rowGroupSize: 100, metadata: {} };
  const row = (i: number, data: ParquetRow["data"]): ParquetRow => ({
    id: `r${i}`,
    eventTime: "2024-06-01T12:00:00Z",
    receiveTime: "2024-06-01T12:00:00Z",
    schemaVersion: 1,
    data,
  });
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "sluice-non-finite-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("is refused as NUMBER_NOT_FINITE, from text or parsed, at the top level and nested; neighbours land", async () => {
    const rows = [
      row(0, Buffer.from('{"d":1.5}')),
      row(1, Buffer.from('{"d":1e400}')),
      row(2, Buffer.from('{"d":-1e400}')),
      row(3, Buffer.from('{"s":{"x":1e400,"k":1}}')),
      row(4, Buffer.from('{"s":{"x":1.7976931348623157e308,"k":12345678901234567}}')),
      row(5, { d: Number.NEGATIVE_INFINITY }),
      row(6, { d: -0.25 }),
    ];
    const result = encodeParquet(plan, rows, OPTIONS);
    assert.deepEqual(
      result.rejected.map(({ index, code, path }) => [index, code, path]),
      [
        [1, "NUMBER_NOT_FINITE", "/d"],
        [2, "NUMBER_NOT_FINITE", "/d"],
        [3, "NUMBER_NOT_FINITE", "/s/x"],
        [5, "NUMBER_NOT_FINITE", "/d"],
      ],
    );
    for (const r of result.rejected) assert.match(r.message, /too large for a double/);
    const path = join(dir, "d.parquet");
    writeFileSync(path, result.bytes);
    const back = await duckdb<{ d: number | null; x: number | null; k: string | null }>(
      `SELECT d, s.x AS x, s.k::VARCHAR AS k FROM read_parquet('${path}') ORDER BY _id`,
    );
    assert.deepEqual(back, [
      { d: 1.5, x: null, k: null },
      { d: null, x: 1.7976931348623157e308, k: "12345678901234567" },
      { d: -0.25, x: null, k: null },
    ]);
    const b = result.bytes;
    const read = await parquetReadObjects({
      file: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer,
    });
    assert.deepEqual(
      read.map((r) => [r._id, r.d, (r.s as { x?: number } | null)?.x ?? null]),
      [
        ["r0", 1.5, null],
        ["r4", null, 1.7976931348623157e308],
        ["r6", -0.25, null],
      ],
    );
  });
});
