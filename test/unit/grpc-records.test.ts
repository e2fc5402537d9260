import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  batchBody,
  structToJson,
  timestampToIso,
  toForwardItem,
} from "../../functions/grpc-proxy/records.ts";

const limits = { maxBatchBytes: 5 * 1024 * 1024 };
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

function item(record: Parameters<typeof toForwardItem>[0]) {
  const r = toForwardItem(record, limits);
  assert.ok(r.ok, r.ok ? "" : `${r.error.code}: ${r.error.message}`);
  return r.item;
}

function error(record: Parameters<typeof toForwardItem>[0]) {
  const r = toForwardItem(record, limits);
  assert.ok(!r.ok, "the record is rejected");
  return r.error;
}

describe("toForwardItem", () => {
  test("JSON bytes travel as sent, with key and event time beside them", () => {
    const raw = Buffer.from('{ "a": 1, "b": "é" }');
    const it = item({
      stream: "feedback",
      payload: "json",
      json: raw,
      idempotencyKey: "k-1",
      eventTime: { seconds: "1795428000", nanos: 123_000_000 },
    });
    assert.equal(it.text, '{"data":{ "a": 1, "b": "é" },"key":"k-1","time":"2026-11-23T10:00:00.123Z"}');
    assert.equal(it.bytes, Buffer.byteLength(it.text));
    assert.deepEqual(JSON.parse(batchBody([it, it]).toString()), {
      records: [
        { data: { a: 1, b: "é" }, key: "k-1", time: "2026-11-23T10:00:00.123Z" },
        { data: { a: 1, b: "é" }, key: "k-1", time: "2026-11-23T10:00:00.123Z" },
      ],
    });
    assert.equal(it.hasEventTime, true);
  });

  test("an empty idempotency key and an absent event time are left out", () => {
    const it = item({ stream: "feedback", payload: "json", json: json({ a: 1 }), idempotencyKey: "" });
    assert.equal(it.text, '{"data":{"a":1}}');
    assert.equal(it.hasEventTime, false);
  });

  test("a Struct payload becomes the JSON object it stands for", () => {
    const it = item({
      stream: "feedback",
      payload: "struct",
      struct: {
        fields: {
          s: { kind: "stringValue", stringValue: "x" },
          n: { kind: "numberValue", numberValue: 2.5 },
          b: { kind: "boolValue", boolValue: false },
          z: { kind: "nullValue", nullValue: "NULL_VALUE" },
          l: {
            kind: "listValue",
            listValue: {
              values: [
                { kind: "numberValue", numberValue: 1 },
                { kind: "structValue", structValue: {} },
              ],
            },
          },
        },
      },
    });
    assert.deepEqual(JSON.parse(it.text), { data: { s: "x", n: 2.5, b: false, z: null, l: [1, {}] } });
    assert.equal(it.payloadField, "struct");
  });

  test("bad payloads are rejected per record with the code the ingest API would give", () => {
    assert.deepEqual(error({ stream: "feedback", payload: "json", json: Buffer.from('{"é": 1,}') }), {
      code: "INVALID_JSON",
      message: "malformed JSON at byte offset 9",
      path: "/json",
    });
    assert.equal(
      error({ stream: "feedback", payload: "json", json: Buffer.from([0x7b, 0xff, 0x7d]) }).code,
      "INVALID_JSON",
    );
    assert.equal(error({ stream: "feedback", payload: "json", json: Buffer.alloc(0) }).code, "INVALID_JSON");
    assert.deepEqual(error({ stream: "feedback" }), {
      code: "INVALID_REQUEST",
      message: "a record needs a payload: json or struct",
      path: "/json",
    });
  });

  test("nesting the ingest API would refuse for the whole request is rejected for this record only", () => {
    const deep = Buffer.from(`${"[".repeat(20_000)}${"]".repeat(20_000)}`);
    assert.equal(error({ stream: "feedback", payload: "json", json: deep }).code, "RECORD_TOO_COMPLEX");
    const shallowButLong = Buffer.from(JSON.stringify({ s: "[".repeat(20_000) }));
    item({ stream: "feedback", payload: "json", json: shallowButLong });
  });

  test("stream names, event times and sizes are checked before anything is sent", () => {
    assert.equal(error({ stream: "Bad!", payload: "json", json: json({}) }).code, "INVALID_STREAM_NAME");
    assert.equal(error({ payload: "json", json: json({}) }).path, "/stream");
    assert.deepEqual(
      error({ stream: "feedback", payload: "json", json: json({}), eventTime: { seconds: "1", nanos: -1 } }),
      {
        code: "INVALID_EVENT_TIME",
        message: "event time is outside 0001-01-01 to 9999-12-31 or malformed",
        path: "/event_time",
      },
    );
    const big = toForwardItem(
      { stream: "feedback", payload: "json", json: json({ s: "x".repeat(2000) }) },
      { maxBatchBytes: 1000 },
    );
    assert.equal(big.ok ? "" : big.error.code, "RECORD_TOO_LARGE");
  });
});

describe("structToJson", () => {
  test("NaN has no JSON form: INVALID_JSON at the value's pointer", () => {
    const r = structToJson({
      fields: {
        "a/b": {
          kind: "listValue",
          listValue: { values: [{ kind: "numberValue", numberValue: Number.NaN }] },
        },
      },
    });
    assert.deepEqual(r, {
      error: { code: "INVALID_JSON", message: "NaN and Infinity have no JSON form", path: "/a~1b/0" },
    });
  });

  test("absurd nesting is RECORD_TOO_COMPLEX, not a stack overflow", () => {
    let value: { kind: "structValue"; structValue: { fields: Record<string, unknown> } } = {
      kind: "structValue",
      structValue: { fields: {} },
    };
    for (let i = 0; i < 300; i++) value = { kind: "structValue", structValue: { fields: { x: value } } };
    const r = structToJson({ fields: { x: value } } as never);
    assert.equal("error" in r ? r.error.code : "", "RECORD_TOO_COMPLEX");
  });
});

describe("timestampToIso", () => {
  test("keeps nanoseconds when there are any, milliseconds otherwise", () => {
    assert.equal(timestampToIso({ seconds: "0" }), "1970-01-01T00:00:00.000Z");
    assert.equal(timestampToIso({ seconds: 1795428000, nanos: 1 }), "2026-11-23T10:00:00.000000001Z");
    assert.equal(timestampToIso({ seconds: "-62135596800" }), "0001-01-01T00:00:00.000Z");
    assert.equal(timestampToIso({ seconds: "253402300800" }), undefined);
    assert.equal(timestampToIso({ seconds: "1", nanos: 1_000_000_000 }), undefined);
  });
});
