import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fieldSpan, itemSpans } from "../../functions/core/ingest/json-spans.ts";
import { parseIngestBody } from "../../functions/core/ingest/request.ts";
import { prng } from "../bench/generate.ts";

const texts = (text: string, container: string | undefined, field: string) =>
  itemSpans(text, container, field)?.map((s) => (s === undefined ? undefined : text.slice(s.start, s.end)));

describe("itemSpans", () => {
  test("finds each item's member as written, whitespace and escapes included", () => {
    const text =
      ' { "records" : [ {"key":"a","data" : {"s":"x\\"}{","n":[1,{"y":2}]} } ,\n' +
      '{"data":12.5e3},{"nodata":1}, [1], "str", {"data":"\\\\"}, {"data":true}] } ';
    assert.deepEqual(texts(text, "records", "data"), [
      '{"s":"x\\"}{","n":[1,{"y":2}]}',
      "12.5e3",
      undefined,
      undefined,
      undefined,
      '"\\\\"',
      "true",
    ]);
  });

  test("the last of duplicate members wins, as in JSON.parse", () => {
    const text = '{"records":[{"data":1}],"records":[{"data":{"a":1},"data":{"b":2}}]}';
    assert.deepEqual(texts(text, "records", "data"), ['{"b":2}']);
    assert.deepEqual(JSON.parse(text).records[0].data, { b: 2 });
  });

  test("escaped member names are matched by their value", () => {
    assert.deepEqual(texts('{"rec\\u006frds":[{"d\\u0061ta":[]}]}', "records", "data"), ["[]"]);
  });

  test("other shapes give undefined", () => {
    assert.equal(itemSpans('{"other":[]}', "records", "data"), undefined);
    assert.equal(itemSpans('{"records":{}}', "records", "data"), undefined);
    assert.equal(itemSpans("[]", "records", "data"), undefined);
    assert.deepEqual(itemSpans("[]", undefined, "data"), []);
    assert.deepEqual(texts('[{"data":null},{}]', undefined, "data"), ["null", undefined]);
    assert.equal(fieldSpan("[1]", "data"), undefined);
    const ce = '{"id":"1","data":{"a":[]}}';
    const s = fieldSpan(ce, "data")!;
    assert.equal(ce.slice(s.start, s.end), '{"a":[]}');
  });

  test("random documents: every span parses to the value JSON.parse gave", () => {
    const rand = prng(11);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const value = (depth: number): unknown => {
      const r = rand();
      if (depth > 3 || r < 0.3) return pick([null, true, false, -0.5, 1e21, "", 'q"\\\n\u2028é😀', "}]"]);
      if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
      return Object.fromEntries(
        Array.from({ length: Math.floor(rand() * 4) }, (_, i) => [
          pick(["data", "k", `x${i}`, "\\"]),
          value(depth + 1),
        ]),
      );
    };
    for (let n = 0; n < 300; n++) {
      const records = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => value(0));
      const text = JSON.stringify({ records }, null, rand() < 0.5 ? 0 : 2);
      const spans = itemSpans(text, "records", "data")!;
      const parsed = JSON.parse(text).records as unknown[];
      assert.equal(spans.length, parsed.length);
      parsed.forEach((item, i) => {
        const has = item !== null && typeof item === "object" && !Array.isArray(item) && "data" in item;
        const span = spans[i];
        assert.equal(span !== undefined, has, text);
        if (span)
          assert.deepEqual(JSON.parse(text.slice(span.start, span.end)), (item as { data: unknown }).data);
      });
    }
  });
});

describe("parseIngestBody splices batch payloads", () => {
  test("records and CloudEvents batches carry each payload's text as sent", () => {
    const body = '{"records":[{"data":{"n": 12345678901234567890},"key":"a"},{"data":{"b":"\\u00e9"}}]}';
    const records = parseIngestBody({ contentType: "application/json", body });
    assert.deepEqual(
      records.map((r) => r.raw),
      ['{"n": 12345678901234567890}', '{"b":"\\u00e9"}'],
    );
    const ce = `[${["1", "2"].map((id) => `{"specversion":"1.0","id":"${id}","source":"s","type":"t","data":{"id": ${id}}}`).join(",")}]`;
    const events = parseIngestBody({ contentType: "application/cloudevents-batch+json", body: ce });
    assert.deepEqual(
      events.map((r) => r.raw),
      ['{"id": 1}', '{"id": 2}'],
    );
  });
});
