/** `sluice send`'s reading, keying and batching, without a server. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { API_BATCH_LIMITS, batchesOf, inputId, keyedRecords } from "../../bin/send/batches.ts";
import { retryAfterMs } from "../../bin/send/transport.ts";
import {
  columnTypes,
  formatFromName,
  readInput,
  sniffFormat,
} from "../../functions/core/input/read-input.ts";

const SCHEMA = {
  type: "object",
  properties: {
    id: { type: "string" },
    n: { type: "integer" },
    ok: { type: "boolean" },
    tags: { type: "array" },
    note: { type: ["string", "null"] },
  },
};

describe("sluice send: reading input", () => {
  test("NDJSON records are numbered by line; a bad line is a problem of its own, blank lines are skipped", async () => {
    const input = await readInput(Buffer.from('{"a":1}\n\n{"a":\n{"a":3}\r\n'), "ndjson");
    assert.deepEqual(input.records, [
      { ordinal: 1, data: { a: 1 } },
      { ordinal: 4, data: { a: 3 } },
    ]);
    assert.deepEqual(
      input.problems.map((p) => [p.ordinal, p.code]),
      [[3, "INVALID_JSON"]],
    );
  });

  test("a JSON array is numbered by position; anything else is refused as a whole", async () => {
    const input = await readInput(Buffer.from('[{"a":1},{"a":2}]'), "json");
    assert.deepEqual(
      input.records.map((r) => r.ordinal),
      [1, 2],
    );
    await assert.rejects(readInput(Buffer.from('{"a":1}'), "json"), /one JSON array/);
  });

  test("CSV cells are typed by the schema; a row with the wrong number of cells is a problem with its line", async () => {
    const csv = 'id,n,ok,tags,note\na,1,true,"[""x""]",\nb,2,0\nc,x,false,[],hi\n';
    const input = await readInput(Buffer.from(csv), "csv", columnTypes(SCHEMA));
    assert.deepEqual(input.records, [
      { ordinal: 2, data: { id: "a", n: 1, ok: true, tags: ["x"], note: null } },
      { ordinal: 4, data: { id: "c", n: "x", ok: false, tags: [], note: "hi" } },
    ]);
    assert.equal(input.problems.length, 1);
    assert.equal(input.problems[0]!.ordinal, 3);
    assert.equal(input.problems[0]!.code, "INVALID_CSV");
  });

  test("the format comes from the name, else from the bytes", () => {
    assert.equal(formatFromName("a/b.JSONL"), "ndjson");
    assert.equal(formatFromName("x.parquet"), "parquet");
    assert.equal(formatFromName("x.txt"), undefined);
    assert.equal(sniffFormat(Buffer.from("PAR1....")), "parquet");
    assert.equal(sniffFormat(Buffer.from("  [1]")), "json");
    assert.equal(sniffFormat(Buffer.from('{"a":1}')), "ndjson");
  });
});

describe("sluice send: keys and batches", () => {
  test("keys come from the input's bytes and the line, so the same file gives the same keys", () => {
    const records = [
      { ordinal: 1, data: { id: "a" } },
      { ordinal: 2, data: { id: "b" } },
    ];
    const id = inputId(Buffer.from("same"));
    assert.equal(id, inputId(Buffer.from("same")));
    assert.notEqual(id, inputId(Buffer.from("other")));
    const keyed = keyedRecords(records, id);
    assert.deepEqual(
      keyed.records.map((r) => r.key),
      [`send:${id}:1`, `send:${id}:2`],
    );
    const byField = keyedRecords([...records, { ordinal: 3, data: { x: 1 } }], id, "id");
    assert.deepEqual(
      byField.records.map((r) => r.key),
      ["a", "b"],
    );
    assert.deepEqual(
      byField.problems.map((p) => [p.ordinal, p.code]),
      [[3, "KEY_FIELD_MISSING"]],
    );
  });

  test("batches hold at most 500 records and stay under the body limit", () => {
    const small = keyedRecords(
      Array.from({ length: 1201 }, (_, i) => ({ ordinal: i + 1, data: { i } })),
      "f",
    ).records;
    assert.deepEqual(
      [...batchesOf(small)].map((b) => b.length),
      [500, 500, 201],
    );
    const big = keyedRecords(
      Array.from({ length: 12 }, (_, i) => ({ ordinal: i + 1, data: { s: "x".repeat(900_000) } })),
      "f",
    ).records;
    const batches = [...batchesOf(big)];
    assert.ok(batches.length >= 3);
    for (const b of batches) {
      const body = `{"records":[${b.map((r) => JSON.stringify({ data: r.data, key: r.key })).join(",")}]}`;
      assert.ok(Buffer.byteLength(body) <= API_BATCH_LIMITS.maxBytes + 1024, `${Buffer.byteLength(body)}`);
    }
    assert.equal(batches.flat().length, 12);
  });

  test("Retry-After is read as seconds or as an HTTP date", () => {
    assert.equal(retryAfterMs("2"), 2000);
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 7_000), 3000);
    assert.equal(retryAfterMs(undefined), undefined);
    assert.equal(retryAfterMs("soon"), undefined);
  });
});
