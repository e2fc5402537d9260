/** The read path's plain parts: times and parameters, cursors, row-group pruning by statistics, output forms. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { tableFromIPC } from "apache-arrow";
import { parquetMetadata } from "hyparquet";
import { SluiceError } from "../../functions/core/errors.ts";
import { encodeParquet, planColumns } from "../../functions/core/parquet/index.ts";
import { decodeCursor, encodeCursor } from "../../functions/core/query/cursor.ts";
import { parseInstant, parseRecordsRequest } from "../../functions/core/query/request.ts";
import { arrowStream, jsonValue, wantsArrow } from "../../functions/core/query/results.ts";
import { keyMayMatch, timeBounds, timeMayMatch } from "../../functions/core/query/row-groups.ts";

const NOW = Date.UTC(2026, 4, 1, 12);

function refusal(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SluiceError);
    return err;
  }
  assert.fail("no error");
}

describe("query parameters", () => {
  test("times are RFC 3339, a date, or a duration ago; anything else names the parameter", () => {
    assert.equal(parseInstant("from", "2026-05-01T10:00:00Z", NOW), Date.UTC(2026, 4, 1, 10));
    assert.equal(parseInstant("from", "2026-05-01", NOW), Date.UTC(2026, 4, 1));
    assert.equal(parseInstant("from", "90m", NOW), NOW - 90 * 60_000);
    assert.equal(parseInstant("from", "-1d", NOW), NOW - 86_400_000);
    const e = refusal(() => parseInstant("to", "tomorrow", NOW));
    assert.equal(e.code, "INVALID_QUERY");
    assert.equal(e.path, "/to");
  });

  test("a range needs from, to after from, a limit in bounds and plain field names", () => {
    assert.equal(refusal(() => parseRecordsRequest("s", {}, NOW, 0)).path, "/from");
    assert.equal(refusal(() => parseRecordsRequest("s", { from: "1h", to: "2h" }, NOW, 0)).path, "/to");
    assert.equal(
      refusal(() => parseRecordsRequest("s", { from: "1h", limit: "10001" }, NOW, 0)).path,
      "/limit",
    );
    assert.equal(
      refusal(() => parseRecordsRequest("s", { from: "1h", fields: "a,b c" }, NOW, 0)).path,
      "/fields",
    );
    const ok = parseRecordsRequest("s", { from: "1h", fields: "a,b,a" }, NOW, 60_000);
    assert.deepEqual(ok.range, { fromMs: NOW - 3_600_000, toMs: NOW + 60_000 });
    assert.deepEqual(ok.fields, ["a", "b"]);
    assert.equal(ok.limit, 1000);
    assert.equal(parseRecordsRequest("s", { key: "k" }, NOW, 0).range, undefined);
  });

  test("a cursor carries its query and refuses to continue another", () => {
    const text = encodeCursor({
      stream: "s",
      fromMs: 1,
      toMs: 2,
      snapshot: { "shardId-000000000000": "123" },
      after: { ts: 1, id: "A" },
    });
    const req = parseRecordsRequest("s", { cursor: text, limit: "5" }, NOW, 0);
    assert.deepEqual(req.range, { fromMs: 1, toMs: 2 });
    assert.deepEqual(req.cursor?.after, { ts: 1, id: "A" });
    assert.equal(refusal(() => decodeCursor(text, "other")).code, "INVALID_CURSOR");
    assert.equal(
      refusal(() => parseRecordsRequest("s", { cursor: text, from: "1h" }, NOW, 0)).code,
      "INVALID_CURSOR",
    );
    const forged = Buffer.from(
      JSON.stringify({ v: 1, stream: "s", snapshot: { a: "x" }, after: { ts: 1, id: "A" } }),
    ).toString("base64url");
    assert.equal(refusal(() => decodeCursor(forged, "s")).code, "INVALID_CURSOR");
  });
});

describe("row-group statistics", () => {
  const plan = planColumns({
    type: "object",
    properties: { customerId: { type: "string" }, n: { type: "integer" } },
  } as never);
  const rows = Array.from({ length: 30 }, (_, i) => ({
    id: `01J${String(i).padStart(23, "0")}`,
    eventTime: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
    receiveTime: new Date(NOW).toISOString(),
    schemaVersion: 1,
    data: Buffer.from(JSON.stringify({ customerId: `c-${String(i).padStart(2, "0")}`, n: i })),
  }));
  const bytes = encodeParquet(plan, rows, { compression: "snappy", rowGroupSize: 10, metadata: {} }).bytes;
  const metadata = parquetMetadata(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
  );

  test("event-time bounds rule out row groups outside the range or before the cursor", () => {
    const b = timeBounds(metadata, 1);
    assert.deepEqual(b, { min: Date.UTC(2026, 0, 1, 0, 10), max: Date.UTC(2026, 0, 1, 0, 19) });
    assert.equal(timeMayMatch(b, { fromMs: Date.UTC(2026, 0, 1, 0, 20), toMs: Infinity }, undefined), false);
    assert.equal(timeMayMatch(b, { fromMs: 0, toMs: Date.UTC(2026, 0, 1, 0, 10) }, undefined), false);
    assert.equal(timeMayMatch(b, undefined, { ts: Date.UTC(2026, 0, 1, 0, 19), id: "Z" }), true);
    assert.equal(timeMayMatch(b, undefined, { ts: Date.UTC(2026, 0, 1, 0, 20), id: "" }), false);
  });

  test("a key's row group is the only one whose min/max can hold it, by string, id or number", () => {
    const which = (column: string, value: string) =>
      [0, 1, 2].filter((rg) => keyMayMatch(metadata, rg, [{ column, values: [value] }]));
    assert.deepEqual(which("customerId", "c-15"), [1]);
    assert.deepEqual(which("_id", rows[25]!.id), [2]);
    assert.deepEqual(which("n", "3"), [0]);
    assert.deepEqual(which("n", "three"), [], "not a number can never match an INT64 column");
    assert.deepEqual(which("missing", "x"), []);
  });
});

describe("results", () => {
  test("INT64 stays exact in JSON, timestamps are RFC 3339, Arrow keeps the rows", () => {
    assert.equal(jsonValue(2n ** 60n), "1152921504606846976");
    assert.equal(jsonValue(5n), 5);
    assert.equal(jsonValue(new Date(0)), "1970-01-01T00:00:00.000Z");
    const table = tableFromIPC(
      arrowStream([
        { _id: "a", n: 1n },
        { _id: "b", n: 2n },
      ]),
    );
    assert.deepEqual(table.getChild("_id")!.toArray(), ["a", "b"]);
    assert.equal(tableFromIPC(arrowStream([])).numRows, 0);
    assert.ok(wantsArrow("application/json, application/vnd.apache.arrow.stream;q=0.9"));
    assert.ok(!wantsArrow("application/x-ndjson"));
  });
});
