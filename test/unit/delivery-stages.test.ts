/**
 * The batcher's stages on raw payloads: decode keeps each payload as text, the transformer gets
 * and gives bytes, partition parses only for `{field:...}` templates, and error lines carry the
 * original payload. A payload that is not JSON fails as the fault of whoever wrote it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import type { KinesisStreamRecord } from "aws-lambda";
import { decodeRecords } from "../../functions/core/delivery/decode.ts";
import { errorObjects } from "../../functions/core/delivery/error-files.ts";
import { partitionItems } from "../../functions/core/delivery/partition.ts";
import { transformItems } from "../../functions/core/delivery/transform.ts";
import type { DeliveryFailure, DeliveryItem } from "../../functions/core/delivery/types.ts";
import type { TransformationRecordOut, TransformerInvoker } from "../../functions/core/firehose-contract.ts";
import { compilePrefix } from "../../functions/core/prefix.ts";
import { createTransformer } from "../../functions/transform/transformer.ts";

const ARRIVAL_S = Date.UTC(2026, 10, 23, 7, 30) / 1000;

function kinesisRecord(text: string, n: number): KinesisStreamRecord {
  const sequenceNumber = String(1000 + n);
  return {
    eventID: `shardId-000000000000:${sequenceNumber}`,
    kinesis: {
      sequenceNumber,
      partitionKey: `pk-${n}`,
      approximateArrivalTimestamp: ARRIVAL_S,
      data: Buffer.from(text).toString("base64"),
    },
  } as KinesisStreamRecord;
}

/** An envelope as another writer might lay it out: data first, spaced, a member after it. */
function envelope(id: string, payloadText: string): string {
  return (
    `{ "data" : ${payloadText} , "v":1,"id":"${id}","stream":"feedback",` +
    `"schema":{"name":"sluice.feedback","version":1},"key":null,` +
    `"ts":"2026-11-23T10:15:00Z","rt":"2026-11-23T10:15:01Z","meta":{"a":"b"}}`
  );
}

function decode(payloads: readonly string[]): DeliveryItem[] {
  const { items, failures } = decodeRecords(payloads.map((p, i) => kinesisRecord(envelope(`r${i}`, p), i)));
  assert.deepEqual(failures, []);
  return items;
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");
const stages = (failures: readonly DeliveryFailure[]) =>
  failures.map((f) => [f.stage, f.code, f.message, "envelope" in f.item ? f.item.envelope.id : null]);

const roll = { maxRecords: 100, maxBytes: 1 << 20 };
const retry = { attempts: 1, baseMs: 1, capMs: 1 };

function transform(items: readonly DeliveryItem[], invoke: TransformerInvoker) {
  return transformItems(items, {
    invoke,
    transformer: "t",
    pipeline: "lake",
    region: "us-east-1",
    shardId: "shardId-000000000000",
    invocationId: "inv",
    retry,
    timeoutMs: 1000,
  });
}

/** An external transformer answering each record with the given base64 data, by record id. */
const answering =
  (answers: Record<string, string>): TransformerInvoker =>
  async (_name, event) => ({
    records: event.records.map(
      (r): TransformationRecordOut => ({ recordId: r.recordId, result: "Ok", data: answers[r.recordId]! }),
    ),
  });
const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("decode", () => {
  test("keeps each payload as its text in the record, whatever the envelope's layout", () => {
    const raw = '{"b":[1, 2],\n "s":"x\\"}"}';
    const { items, failures } = decodeRecords([kinesisRecord(envelope("r0", raw), 0)]);
    assert.deepEqual(failures, []);
    const [item] = items;
    assert.equal(text(item!.payload), raw);
    assert.equal(item!.original, item!.payload);
    assert.equal(item!.payloadOrigin, "decode");
    assert.equal(item!.payload.buffer, item!.raw.buffer);
    assert.deepEqual(
      [item!.envelope.id, item!.envelope.stream, item!.envelope.schema, item!.envelope.meta],
      ["r0", "feedback", { name: "sluice.feedback", version: 1 }, { a: "b" }],
    );
    assert.equal(item!.arrivalMs, ARRIVAL_S * 1000);
  });

  test("a record that is not an envelope fails at decode as before", () => {
    const { items, failures } = decodeRecords([
      kinesisRecord("not json", 0),
      kinesisRecord('{"v":1}', 1),
      kinesisRecord(`${envelope("r2", "{}")}]`, 2),
    ]);
    assert.deepEqual(items, []);
    assert.deepEqual(stages(failures), [
      ["decode", "NOT_AN_ENVELOPE", "record is not JSON", null],
      ["decode", "NOT_AN_ENVELOPE", "record is not a Sluice v1 envelope", null],
      ["decode", "NOT_AN_ENVELOPE", "record is not JSON", null],
    ]);
  });
});

describe("transform on bytes", () => {
  test("the transformer gets the payload's own text and its answer is kept as text", async () => {
    const raw = '{ "customerId" : "c-1",  "n": 1.50 }';
    const items = decode([raw]);
    let sent = "";
    const builtIn = createTransformer([{ rename: { customerId: "customer" } }]);
    const t = await transform(items, async (_name, event) => {
      sent = Buffer.from(event.records[0]!.data, "base64").toString("utf8");
      return builtIn(event);
    });
    assert.equal(sent, raw);
    assert.deepEqual(t.failures, []);
    const [item] = t.items;
    assert.equal(text(item!.payload), '{"n":1.5,"customer":"c-1"}');
    assert.equal(item!.payloadOrigin, "transform");
    assert.equal(text(item!.original), raw);
  });

  test("answers that cannot be an object fail at transform; one starting with { is left for its parser", async () => {
    const answers = {
      r0: b64("nope"),
      r1: b64(" [1]"),
      r2: b64('"s"'),
      r3: "",
      r4: b64('\n\t{"a":1}'),
      r5: b64('{"a":'),
      r6: b64("\ufeff{}"),
    };
    const items = decode(Object.keys(answers).map(() => "{}"));
    const t = await transform(items, answering(answers));
    const notJson = "the transformer returned data that is not JSON";
    const notObject = "the transformer returned data that is not a JSON object";
    assert.deepEqual(stages(t.failures), [
      ["transform", "TRANSFORM_BAD_OUTPUT", notJson, "r0"],
      ["transform", "TRANSFORM_BAD_OUTPUT", notObject, "r1"],
      ["transform", "TRANSFORM_BAD_OUTPUT", notObject, "r2"],
      ["transform", "TRANSFORM_BAD_OUTPUT", notJson, "r3"],
      ["transform", "TRANSFORM_BAD_OUTPUT", notJson, "r6"],
    ]);
    assert.deepEqual(
      t.items.map((i) => [i.envelope.id, text(i.payload)]),
      [
        ["r4", '\n\t{"a":1}'],
        ["r5", '{"a":'],
      ],
    );

    // The broken answer is found by the first parser, and it is the transformer's fault.
    const fields = partitionItems(t.items, compilePrefix("a={field:a}/"), "lake", roll);
    assert.deepEqual(stages(fields.failures), [["transform", "TRANSFORM_BAD_OUTPUT", notJson, "r5"]]);
    assert.deepEqual(
      fields.files.map((f) => [f.prefix, f.items.map((i) => i.envelope.id)]),
      [["a=1/", ["r4"]]],
    );
  });
});

describe("partition", () => {
  test("a template without {field:} never parses the payload: text that is not JSON reaches the encoder", () => {
    const items = decode(['{"a":1,}', '{"a":2}']);
    const timeOnly = compilePrefix("{stream}/dt={yyyy}-{MM}-{dd}/hr={HH}/");
    assert.equal(timeOnly.readsData, false);
    const p = partitionItems(items, timeOnly, "lake", roll);
    assert.deepEqual(p.failures, []);
    assert.deepEqual(
      p.files.map((f) => [f.prefix, f.items.map((i) => text(i.payload))]),
      [["feedback/dt=2026-11-23/hr=10/", ['{"a":1,}', '{"a":2}']]],
    );
  });

  test("a {field:} template parses each payload; one that is not JSON fails as the record's own fault", () => {
    const items = decode(['{"a":1,}', '{"a":{"b":"x/y"}}', '{"b":1}']);
    const byField = compilePrefix("a={field:a}/");
    assert.equal(byField.readsData, true);
    const p = partitionItems(items, byField, "lake", roll);
    // Filed as decode filed it when it parsed whole records: not JSON, so without an envelope.
    assert.deepEqual(stages(p.failures), [
      ["decode", "NOT_AN_ENVELOPE", "record is not JSON", null],
      ["partition", "PREFIX_FIELD_MISSING", "field a is missing for the prefix", "r2"],
    ]);
    assert.deepEqual(
      p.files.map((f) => f.prefix),
      ["a=%7B%22b%22%3A%22x%2Fy%22%7D/"],
    );
  });

  test("files roll on the records' bytes", () => {
    const items = decode(["{}", "{}", "{}"]);
    const one = items[0]!.raw.byteLength;
    const p = partitionItems(items, compilePrefix("x/"), "lake", { maxRecords: 100, maxBytes: 2 * one });
    assert.deepEqual(
      p.files.map((f) => f.items.length),
      [2, 1],
    );
  });
});

describe("error files", () => {
  function lines(failures: readonly DeliveryFailure[]): Record<string, unknown>[] {
    return errorObjects(failures, "lake", "shardId-000000000000", "1000").flatMap((o) =>
      gunzipSync(o.body)
        .toString("utf8")
        .trim()
        .split("\n")
        .map((l) => ({ key: o.key, ...(JSON.parse(l) as Record<string, unknown>) })),
    );
  }

  test("a line carries the original payload as JSON, also after the transformer changed it", async () => {
    const items = decode(['{ "n" : 1, "s": "\\u00e9" }']);
    const t = await transform(items, answering({ r0: b64('{"changed":true}') }));
    const [line] = lines([{ item: t.items[0]!, stage: "convert", code: "TYPE_MISMATCH", message: "/n: x" }]);
    assert.deepEqual(line, {
      key: "errors/lake/convert/2026/11/23/10/shardId-000000000000-1000-0.jsonl.gz",
      recordId: "r0",
      pipeline: "lake",
      stream: "feedback",
      stage: "convert",
      code: "TYPE_MISMATCH",
      message: "/n: x",
      sequenceNumber: "1000",
      eventTime: "2026-11-23T10:15:00Z",
      receiveTime: "2026-11-23T10:15:01Z",
      schema: { name: "sluice.feedback", version: 1 },
      payload: { n: 1, s: "é" },
    });
  });

  test("a record whose payload is not JSON is filed as decode filed it, whichever stage found out", () => {
    const [bad] = decode(["[1,]"]);
    const [line] = lines([
      {
        item: bad!,
        stage: "transform",
        code: "TRANSFORM_BAD_OUTPUT",
        message: "the transformer returned data that is not JSON",
      },
    ]);
    assert.deepEqual(line, {
      key: "errors/lake/decode/2026/11/23/07/shardId-000000000000-1000-0.jsonl.gz",
      recordId: null,
      pipeline: "lake",
      stream: null,
      stage: "decode",
      code: "NOT_AN_ENVELOPE",
      message: "record is not JSON",
      sequenceNumber: "1000",
      eventTime: null,
      receiveTime: null,
      schema: null,
      payload: envelope("r0", "[1,]"),
    });
  });

  test("a record that is not an envelope keeps its text as the payload", () => {
    const { failures } = decodeRecords([kinesisRecord("plain text", 0)]);
    const [line] = lines(failures);
    assert.equal(line!.payload, "plain text");
    assert.equal(line!.key, "errors/lake/decode/2026/11/23/07/shardId-000000000000-1000-0.jsonl.gz");
  });
});
