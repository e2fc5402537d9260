import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeEnvelope, encodeEnvelope } from "../../functions/core/envelope.ts";
import { DEFAULT_LIMITS, parseIngestBody } from "../../functions/core/ingest/request.ts";
import { refused } from "../support/refused.ts";

const body = (s: string | object) => Buffer.from(typeof s === "string" ? s : JSON.stringify(s));

/** The record without the fields it leaves undefined, to compare with a literal. */
function defined(r: object | undefined): object | undefined {
  return r && Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));
}

describe("parseIngestBody", () => {
  test("a single JSON object is one record carrying the Idempotency-Key header", () => {
    const records = parseIngestBody({
      contentType: "application/json",
      body: body({ a: 1 }),
      idempotencyKey: "k1",
    });
    assert.deepEqual(records.map(defined), [{ data: { a: 1 }, key: "k1", raw: '{"a":1}' }]);
  });

  test("the raw payload text of a single record or NDJSON line is spliced into its envelope unchanged", () => {
    const [line] = parseIngestBody({
      contentType: "application/x-ndjson",
      body: body('{"n": 12345678901234567890, "s": "\\u00e9"}\n'),
    });
    assert.equal(line!.raw, '{"n": 12345678901234567890, "s": "\\u00e9"}');
    const envelope = {
      v: 1 as const,
      id: "x",
      stream: "s",
      schema: { name: "a", version: 1 },
      key: null,
      ts: "t",
      rt: "t",
      data: line!.data,
    };
    const text = Buffer.from(encodeEnvelope(envelope, line!.raw)).toString("utf8");
    assert.ok(text.endsWith(',"data":{"n": 12345678901234567890, "s": "\\u00e9"}}'), text);
    assert.deepEqual(
      decodeEnvelope(Buffer.from(text)),
      JSON.parse(Buffer.from(encodeEnvelope(envelope)).toString("utf8")),
    );
  });

  test("a body API Gateway already decoded to text parses the same as its bytes", () => {
    const text = JSON.stringify({ records: [{ data: { é: "ü" } }] });
    assert.deepEqual(
      parseIngestBody({ contentType: "application/json", body: text }),
      parseIngestBody({ contentType: "application/json", body: Buffer.from(text) }),
    );
  });

  test("a records batch keeps order and gives each bad item its own error", () => {
    const records = parseIngestBody({
      contentType: "application/json; charset=utf-8",
      body: body({
        records: [{ data: { a: 1 }, key: "x" }, { nope: 1 }, { data: [1] }, { data: { b: 2 }, key: "" }],
      }),
    });
    assert.equal(records.length, 4);
    assert.deepEqual(defined(records[0]), { data: { a: 1 }, key: "x", raw: '{"a":1}' });
    assert.equal(records[1]!.error?.code, "INVALID_REQUEST");
    assert.equal(records[1]!.error?.path, "/records/1");
    assert.equal(records[2]!.error?.code, "SCHEMA_VIOLATION");
    assert.equal(records[3]!.error?.code, "INVALID_IDEMPOTENCY_KEY");
  });

  test("NDJSON lines parse separately, so a broken line costs only itself", () => {
    const records = parseIngestBody({
      contentType: "application/x-ndjson",
      body: body('{"a":1}\n{"a":\n\n{"a":3}\n'),
    });
    assert.equal(records.length, 3);
    assert.deepEqual(records[0]!.data, { a: 1 });
    assert.equal(records[1]!.error?.code, "INVALID_JSON");
    assert.match(records[1]!.error!.message, /byte offset \d+/);
    assert.deepEqual(records[2]!.data, { a: 3 });
  });

  test("a bad NDJSON line names the byte offset of the fault in the whole body", () => {
    const text = '{"a":"é😀"}\n  {"b":1,,}\n';
    const [, bad] = parseIngestBody({ contentType: "application/x-ndjson", body: text });
    const fault = Buffer.from(text).indexOf(",,") + 1;
    assert.equal(bad!.error?.message, `malformed JSON at byte offset ${fault}`);
  });

  test("malformed JSON is a 400 naming the byte offset", () => {
    const err = refused(() =>
      parseIngestBody({ contentType: "application/json", body: body('{"a": "é", }') }),
    );
    assert.equal(err.status, 400);
    assert.equal(err.code, "INVALID_JSON");
    assert.match(err.message, /byte offset 1[0-9]/);
  });

  test("whole-request limits map to their own codes and statuses", () => {
    assert.equal(refused(() => parseIngestBody({ contentType: "text/plain", body: body("x") })).status, 415);
    assert.equal(
      refused(() => parseIngestBody({ contentType: "application/json", body: Buffer.alloc(0) })).code,
      "EMPTY_BODY",
    );
    const many = { records: Array.from({ length: 501 }, () => ({ data: {} })) };
    const tooMany = refused(() => parseIngestBody({ contentType: "application/json", body: body(many) }));
    assert.deepEqual([tooMany.status, tooMany.code], [413, "TOO_MANY_RECORDS"]);
    const big = refused(() =>
      parseIngestBody({
        contentType: "application/json",
        body: Buffer.alloc(DEFAULT_LIMITS.maxBodyBytes + 1, 32),
      }),
    );
    assert.deepEqual([big.status, big.code], [413, "BODY_TOO_LARGE"]);
  });

  test("a record nested deeper than 64 levels is RECORD_TOO_COMPLEX, its neighbour accepted", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = { d: deep };
    const records = parseIngestBody({
      contentType: "application/json",
      body: body({ records: [{ data: deep }, { data: { ok: true } }] }),
    });
    assert.equal(records[0]!.error?.code, "RECORD_TOO_COMPLEX");
    assert.deepEqual(records[1]!.data, { ok: true });
  });

  test("a batch item over the record limit is RECORD_TOO_LARGE and its neighbour is kept", () => {
    const big = { text: "x".repeat(DEFAULT_LIMITS.maxRecordBytes) };
    const records = parseIngestBody({
      contentType: "application/json",
      body: body({ records: [{ data: big }, { data: { ok: 1 } }] }),
    });
    assert.equal(records[0]!.error?.code, "RECORD_TOO_LARGE");
    assert.equal(records[0]!.error?.path, "/records/0/data");
    assert.deepEqual(records[1]!.data, { ok: 1 });
  });

  test("nesting a million levels deep is refused per record, not by a crash", () => {
    const deep = `${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}`;
    const records = parseIngestBody({
      contentType: "application/json",
      body: Buffer.from(`{"records":[{"data":{"d":${deep}}},{"data":{"ok":1}}]}`),
    });
    assert.equal(records[0]!.error?.code, "RECORD_TOO_COMPLEX");
    assert.deepEqual(records[1]!.data, { ok: 1 });
  });

  test("CloudEvents structured mode maps id, time and attributes", () => {
    const ce = {
      specversion: "1.0",
      id: "e-1",
      source: "/app",
      type: "com.example.feedback",
      time: "2026-01-01T00:00:00Z",
      data: { a: 1 },
    };
    const [r] = parseIngestBody({ contentType: "application/cloudevents+json", body: body(ce) });
    assert.deepEqual(defined(r), {
      data: { a: 1 },
      raw: '{"a":1}',
      key: "e-1",
      time: "2026-01-01T00:00:00Z",
      meta: { "ce.type": "com.example.feedback", "ce.source": "/app" },
    });
  });

  test("__proto__ in a payload stays plain data", () => {
    const [r] = parseIngestBody({
      contentType: "application/json",
      body: body('{"__proto__": {"polluted": true}, "a": 1}'),
    });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(r!.data), Object.prototype);
  });
});

describe("the Idempotency-Key header with a body of many records", () => {
  const many = [
    ["application/json", { records: [{ data: { a: 1 } }, { data: { a: 2 } }] }],
    ["application/x-ndjson", '{"a":1}\n{"a":2}\n'],
    [
      "application/cloudevents-batch+json",
      [{ specversion: "1.0", id: "e1", source: "s", type: "t", data: { a: 1 } }],
    ],
  ] as const;
  for (const [contentType, payload] of many) {
    test(`is refused for ${contentType}, naming the header and what to do instead`, () => {
      const err = refused(() => parseIngestBody({ contentType, body: body(payload), idempotencyKey: "k1" }));
      assert.equal(err.code, "INVALID_REQUEST");
      assert.equal(err.status, 400);
      assert.match(err.message, /Idempotency-Key header keys a single-record request/);
    });
    test(`is not needed for ${contentType}`, () => {
      assert.ok(parseIngestBody({ contentType, body: body(payload) }).length >= 1);
    });
  }
});
