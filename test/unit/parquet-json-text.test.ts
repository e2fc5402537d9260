/**
 * Payloads given as JSON text (the bytes the batcher receives) are read straight into columns by
 * functions/core/parquet/json-reader.ts. The file must be byte for byte the one encoded from
 * JSON.parse of the same text, rejections included, whatever the text holds; and DuckDB must read
 * it back.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { JsonSchema } from "../../functions/core/manifest/types.ts";
import {
  type ColumnPlan,
  type EncodeOptions,
  type EncodeResult,
  encodeParquet,
  type ParquetRow,
  planColumns,
} from "../../functions/core/parquet/index.ts";
import { asciiString, cacheSlot } from "../../functions/core/parquet/json-reader.ts";
import { prng } from "../bench/generate.ts";
import { duckdb } from "../support/env.ts";

/** One property of every column kind, top-level and nested. */
const SCHEMA: JsonSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    kind: { type: "string", enum: ["a", "b", "c"] },
    at: { type: "string", format: "date-time" },
    day: { type: "string", format: "date" },
    count: { type: "integer" },
    score: { type: "number" },
    ok: { type: "boolean" },
    tags: { type: "array", items: { type: "string" } },
    nums: { type: "array", items: { type: "integer" } },
    meta: { type: "object" },
    place: {
      type: "object",
      properties: {
        city: { type: "string" },
        zip: { type: "integer" },
        since: { type: "string", format: "date-time" },
      },
    },
    lines: {
      type: "array",
      items: { type: "object", properties: { sku: { type: "string" }, qty: { type: "integer" } } },
    },
    constructor: { type: "string" },
  },
  additionalProperties: true,
};

const OPTIONS: EncodeOptions = {
  compression: "zstd",
  rowGroupSize: 64,
  metadata: { "sluice.test": "json-text" },
};

type Rnd = () => number;

function pick<T>(rnd: Rnd, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

/** Strings that are ASCII, escaped, non-ASCII, or need escaping, as JSON text. */
function stringText(rnd: Rnd): string {
  return pick(rnd, [
    () => JSON.stringify(pick(rnd, ["", "a", "b", "c", "plain text", "x".repeat(40), "tag-1"])),
    () => JSON.stringify(pick(rnd, ["café", "日本語", "👍🚀", "Ελληνικά", "ñ"])),
    () =>
      pick(rnd, [
        '"line\\nbreak"',
        '"quote \\" inside"',
        '"back\\\\slash"',
        '"\\u0041\\u00e9\\ud83d\\ude00"',
      ]),
    () => pick(rnd, ['"\\ud800 lone"', '"tab\\tand\\/slash"', '"\\u2028sep"']),
    () => `"${"long ".repeat(Math.floor(rnd() * 30))}"`,
  ])();
}

function timeText(rnd: Rnd): string {
  if (rnd() < 0.02) return pick(rnd, ['"not a time"', '"2024-13-01T00:00:00Z"']);
  return pick(rnd, [
    () =>
      `"2024-06-0${1 + Math.floor(rnd() * 9)}T12:34:56.${String(Math.floor(rnd() * 1e6)).padStart(6, "0")}Z"`,
    () => '"2024-06-01T12:00:00+02:00"',
    () => '"2024-06-01T12:00:00+01:00"', // the rows' event time, verbatim
    () => '"2024-06-01T12:00:00+01:01"', // another instant, one character off it
  ])();
}

/**
 * Integers in many spellings; rarely one that is not an integer or out of range. Only numbers
 * whose double is exact: an integer column reads the text's digits where the double may be
 * rounded (past 2^53), and there the parsed payload cannot agree (int64-exact.test.ts covers those).
 */
function integerText(rnd: Rnd): string {
  if (rnd() < 0.03)
    return pick(rnd, ["2.5", "1e400", "-1e400", "12345678901234567890123", "9223372036854775808"]);
  return pick(rnd, [
    () => String(Math.floor(rnd() * 2000) - 1000),
    () =>
      pick(rnd, [
        "0",
        "-0",
        "1e3",
        "1E+2",
        "0.1e1",
        "3.0",
        "1200e-2",
        "-1e-400",
        "9007199254740992",
        "-9.2e18",
      ]),
    () => pick(rnd, ["4611686018427387904", "-9223372036854775808", "1e18"]),
  ])();
}

/** A number in any JSON spelling, for DOUBLE columns: the text and the parsed payload agree on all. */
function numberText(rnd: Rnd): string {
  return pick(rnd, [
    () => anyNumberText(rnd),
    () => pick(rnd, ["123456789012345678", "9007199254740993", "-1e-400", "0.30000000000000004"]),
  ])();
}

/** A number for any position, integer columns included (see integerText). */
function anyNumberText(rnd: Rnd): string {
  return pick(rnd, [
    () => String(Math.floor(rnd() * 2000) - 1000),
    () => pick(rnd, ["0", "-0", "1e3", "1E+2", "2.5", "-0.000001", "9007199254740992"]),
    () => pick(rnd, ["1e400", "-1e400", "12345678901234567890123", "0.1e1", "3.0"]),
    () => String(rnd() * 1e6),
  ])();
}

/** Any JSON value, to `depth` levels of nesting. */
function anyText(rnd: Rnd, depth: number): string {
  const r = rnd();
  if (depth <= 0 || r < 0.5) {
    return pick(rnd, [
      () => stringText(rnd),
      () => anyNumberText(rnd),
      () => pick(rnd, ["true", "false", "null"]),
    ])();
  }
  if (r < 0.75) {
    const n = Math.floor(rnd() * 4);
    return `[${Array.from({ length: n }, () => anyText(rnd, depth - 1)).join(pick(rnd, [",", " , ", ",\n"]))}]`;
  }
  const n = Math.floor(rnd() * 4);
  return `{${Array.from({ length: n }, () => `${JSON.stringify(pick(rnd, ["k", "v", "deep", "1"]))}:${anyText(rnd, depth - 1)}`).join(",")}}`;
}

/** Mostly the declared type; sometimes anything else, so conversions fail too. */
function fieldText(rnd: Rnd, name: string): string {
  if (rnd() < 0.015) return anyText(rnd, 2);
  switch (name) {
    case "name":
    case "constructor":
      return stringText(rnd);
    case "kind":
      return JSON.stringify(pick(rnd, ["a", "b", "c"]));
    case "at":
      return timeText(rnd);
    case "day":
      return rnd() < 0.03 ? '"2023-02-29"' : pick(rnd, ['"2024-02-29"', '"1999-12-31"']);
    case "count":
      return integerText(rnd);
    case "score":
      return numberText(rnd);
    case "ok":
      return pick(rnd, ["true", "false"]);
    case "tags":
      return `[${Array.from({ length: Math.floor(rnd() * 4) }, () => stringText(rnd)).join(",")}]`;
    case "nums":
      return `[${Array.from({ length: Math.floor(rnd() * 4) }, () => integerText(rnd)).join(", ")}]`;
    case "place":
      return `{"city":${stringText(rnd)},"zip":${integerText(rnd)},"since":${timeText(rnd)}${rnd() < 0.3 ? ',"extra":1' : ""}}`;
    case "lines":
      return `[{"sku":${stringText(rnd)},"qty":${integerText(rnd)}}${rnd() < 0.5 ? ',{"qty":2,"note":"x"}' : ""}]`;
    default:
      return anyText(rnd, 3);
  }
}

const NAMES = ["name", "kind", "at", "day", "count", "score", "ok", "tags", "nums", "meta", "place", "lines"];
const EXTRA_NAMES = ["channel", "__proto__", "toString", "42", "7", "nested", "kind", "name", "tags", "at"];

/** One record's text: fields in varied order, some missing, some repeated, undeclared ones, odd whitespace. */
function recordText(rnd: Rnd): string {
  const members: string[] = [];
  for (const name of NAMES) {
    if (rnd() < 0.15) continue;
    members.push(`${JSON.stringify(name)}:${fieldText(rnd, name)}`);
  }
  if (rnd() < 0.1) members.push(`"constructor":${fieldText(rnd, "constructor")}`);
  const extras = Math.floor(rnd() * 3);
  for (let k = 0; k < extras; k++)
    members.push(`${JSON.stringify(pick(rnd, EXTRA_NAMES))}:${anyText(rnd, 2)}`);
  if (rnd() < 0.2) members.sort(() => rnd() - 0.5);
  if (rnd() < 0.05) members.push(`"n\\u0061me":${stringText(rnd)}`); // an escaped key
  if (rnd() < 0.05) members.push(`"ключ":${stringText(rnd)}`); // a non-ASCII key
  const sep = pick(rnd, [",", ", ", " ,\n\t"]);
  const ws = pick(rnd, ["", " ", "\n", "\r\n\t "]);
  return `${ws}{${ws}${members.join(sep)}${ws}}${ws}`;
}

/** Texts that are not JSON, or not objects. */
function brokenText(rnd: Rnd): string {
  const good = recordText(rnd);
  return pick(rnd, [
    () => good.slice(0, Math.max(1, Math.floor(good.length / 2))),
    () => `${good},`,
    () => good.replace("{", "{,"),
    () => '{"name":"a",}',
    () => '{"name":"unterminated}',
    () => '{"name":"tab\tinside"}',
    () => '{"count":01}',
    () => '{"count":-}',
    () => '{"count":1.}',
    () => '{"ok":tru}',
    () => '{"name":"\\x"}',
    () => "\ufeff{}",
    () => "",
    () => "[1,2]",
    () => '"just a string"',
    () => "null",
    () => '{"a":[1,2}',
    () => '{"name" "a"}',
    () => '{"count" 12}',
    () => '{"name";"a"}',
    () => '{"name"::"a"}',
    () => '{"name":"a" "kind":"b"}',
    () => '{"name":"a"}x',
    () => "{}{}",
    () => '{"tags":["a"}',
    () => '{"tags":["a",]}',
    () => '{"tags":["a" "b"]}',
    () => '{"name":"x"]',
    () => pick(rnd, ['{"count":+1}', '{"count":.5}', '{"count":1e}', '{"count":0x10}', '{"count":NaN}']),
    () =>
      pick(rnd, ['{"count":--1}', '{"count":1.5e+}', '{"score":-Infinity}', '{"ok":true1}', '{"ok":nul}']),
    () => '{"na\nme":1}', // a raw line break inside a name
    () => '{"name":"a\u0001"}'.replace("\\u0001", "\u0001"), // a raw control character in a string
    () => "{name:1}",
    () => "{'name':1}",
  ])();
}

function rowsOf(texts: readonly Uint8Array[], asText: (i: number) => boolean): ParquetRow[] {
  return texts.map((bytes, i) => {
    let data: ParquetRow["data"];
    if (asText(i)) {
      data = bytes;
    } else {
      // The object path: what the batcher did before, JSON.parse of the decoded text.
      data = JSON.parse(Buffer.from(bytes).toString("utf8")) as Record<string, unknown>;
    }
    return {
      id: `id-${i}`,
      eventTime: "2024-06-01T12:00:00+01:00",
      receiveTime: "2024-06-01T12:00:01.5Z",
      schemaVersion: 3,
      data,
    };
  });
}

/** Encodes `texts` parsed and as text: the two must agree. */
function sameAsParsed(plan: ColumnPlan, texts: readonly Uint8Array[], what: string): void {
  same(
    encodeParquet(
      plan,
      rowsOf(texts, () => false),
      OPTIONS,
    ),
    encodeParquet(
      plan,
      rowsOf(texts, () => true),
      OPTIONS,
    ),
    what,
  );
}

function same(a: EncodeResult, b: EncodeResult, what: string): void {
  assert.deepEqual(b.rejected, a.rejected, `${what}: rejections`);
  assert.equal(b.rowCount, a.rowCount, `${what}: row count`);
  assert.ok(Buffer.from(a.bytes).equals(Buffer.from(b.bytes)), `${what}: the files differ`);
}

describe("encodeParquet with payloads as JSON text", () => {
  const plan: ColumnPlan = planColumns(SCHEMA);

  test("gives the same file and rejections as the parsed payloads, over 60 random batches", () => {
    const rnd = prng(20261204);
    let rows = 0;
    let rejected = 0;
    for (let batch = 0; batch < 60; batch++) {
      const n = 1 + Math.floor(rnd() * 150);
      const texts = Array.from({ length: n }, () => Buffer.from(recordText(rnd), "utf8"));
      const parsed = encodeParquet(
        plan,
        rowsOf(texts, () => false),
        OPTIONS,
      );
      const text = encodeParquet(
        plan,
        rowsOf(texts, () => true),
        OPTIONS,
      );
      same(parsed, text, `batch ${batch}`);
      // Some rows as text, some parsed, in one batch.
      const mixed = encodeParquet(
        plan,
        rowsOf(texts, (i) => i % 3 !== 0),
        OPTIONS,
      );
      same(parsed, mixed, `batch ${batch}, mixed`);
      rows += n;
      rejected += parsed.rejected.length;
    }
    // The generator must exercise both outcomes, or the comparison proves little.
    assert.ok(rejected > 20 && rejected < rows / 2, `${rejected} of ${rows} rows rejected`);
  });

  test("many short strings that differ in one character each keep their own value", () => {
    const texts = Array.from({ length: 20_000 }, (_, i) =>
      Buffer.from(`{"kind":"k${i % 7000}","tags":["t${i}","u${i % 97}"],"name":"n${i}"}`),
    );
    sameAsParsed(plan, texts, "short strings");
  });

  test("strings that share a cache slot are told apart, to the last character", () => {
    // Find two same-length strings that differ only in their last character and share a slot.
    const slots = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; pair === undefined && i < 1_000_000; i++) {
      for (const last of "abcdefgh") {
        const s = `tag-${i}${last}`;
        const slot = cacheSlot(Buffer.from(s), 0, s.length);
        const other = slots.get(slot);
        if (other !== undefined && other.length === s.length && other.slice(0, -1) === s.slice(0, -1)) {
          pair = [other, s];
          break;
        }
        slots.set(slot, s);
      }
    }
    assert.ok(pair, "no colliding pair found");
    for (const [first, second] of [pair, [pair[1], pair[0]]] as const) {
      const a = Buffer.from(first);
      const b = Buffer.from(second);
      assert.equal(asciiString(a, 0, a.length), first);
      assert.equal(asciiString(b, 0, b.length), second);
      assert.equal(asciiString(a, 0, a.length), first);
    }
  });

  test("long strings with an escape, a wide or control character or the end at every position, in views", () => {
    const specials = ['\\"', "\\n", "\\u00e9", "é", "😀", "\u0001", ""];
    const texts: Uint8Array[] = [];
    for (const special of specials) {
      for (let at = 0; at < 40; at++) {
        const value = `${"abcdefghij".repeat(4).slice(0, at)}${special}${"klmnopqrst".repeat(3)}`;
        const json = Buffer.from(`{"name":"${value}","constructor":"${value.slice(0, at)}"}`, "utf8");
        // The same text at each alignment within a larger buffer, with quotes around it that a
        // scan running past the text's end would find.
        for (let shift = 0; shift < 4; shift++) {
          const padded = Buffer.concat([Buffer.alloc(shift, 0x22), json, Buffer.alloc(7, 0x22)]);
          texts.push(new Uint8Array(padded.buffer, padded.byteOffset + shift, json.length));
        }
        // Cut inside the string: not JSON, and nothing past the end may be read as its end.
        const cut = Buffer.concat([json.subarray(0, 9 + at), Buffer.from('abcdefghijkl"}')]);
        texts.push(new Uint8Array(cut.buffer, cut.byteOffset, 9 + at));
      }
    }
    const parsed = texts.map((t, i) => {
      try {
        return { index: i, value: JSON.parse(Buffer.from(t).toString("utf8")) as unknown };
      } catch {
        return { index: i, value: undefined };
      }
    });
    const result = encodeParquet(
      plan,
      rowsOf(texts, () => true),
      OPTIONS,
    );
    const invalid = parsed.filter((p) => p.value === undefined).map((p) => p.index);
    assert.deepEqual(
      result.rejected.filter((r) => r.code === "INVALID_JSON").map((r) => r.index),
      invalid,
    );
    assert.ok(invalid.length > 40 && invalid.length < texts.length / 2, `${invalid.length} invalid`);
    const valid = texts.filter((_, i) => parsed[i]!.value !== undefined);
    sameAsParsed(plan, valid, "long strings");
  });

  test("invalid UTF-8 inside strings is replaced as decoding the whole text replaces it", () => {
    const texts = [
      Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xff, 0xc3]), Buffer.from('","kind":"b"}')]),
      Buffer.concat([
        Buffer.from('{"tags":["x'),
        Buffer.from([0xe2, 0x82]),
        Buffer.from('"],"meta":{"k":"'),
        Buffer.from([0xed, 0xa0, 0x80]),
        Buffer.from('"}}'),
      ]),
      Buffer.concat([Buffer.from('{"constructor":"'), Buffer.from([0xf0, 0x9f, 0x98]), Buffer.from('"}')]),
    ];
    sameAsParsed(plan, texts, "invalid UTF-8");
  });

  test("text that is not JSON is rejected as INVALID_JSON, and not an object as TYPE_MISMATCH, beside good rows", () => {
    const rnd = prng(7);
    for (let k = 0; k < 200; k++) {
      const broken = brokenText(rnd);
      let valid = true;
      let value: unknown;
      try {
        value = JSON.parse(broken);
      } catch {
        valid = false;
      }
      const texts = [
        Buffer.from('{"name":"before"}'),
        Buffer.from(broken, "utf8"),
        Buffer.from('{"name":"after"}'),
      ];
      const result = encodeParquet(
        plan,
        rowsOf(texts, () => true),
        OPTIONS,
      );
      if (!valid) {
        assert.deepEqual(
          result.rejected,
          [{ index: 1, code: "INVALID_JSON", path: "", message: "the record is not valid JSON" }],
          JSON.stringify(broken),
        );
        assert.equal(result.rowCount, 2);
      } else {
        // Valid after all (a truncation can land on a whole value): as JSON.parse's value would be.
        const parsedRows = rowsOf(texts, () => true);
        parsedRows[1]!.data = value as Record<string, unknown>;
        if (value === null || typeof value !== "object" || Array.isArray(value)) {
          assert.equal(result.rejected[0]?.code, "TYPE_MISMATCH");
        }
        same(encodeParquet(plan, parsedRows, OPTIONS), result, JSON.stringify(broken));
      }
    }
  });

  test("a plain Uint8Array (not a Buffer), and a view into a larger buffer, are read in place", () => {
    const whole = Buffer.from('xx{"name":"in place","count":7}yy');
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 2, whole.length - 4);
    const plain = new Uint8Array(Buffer.from('{"name":"plain","kind":"a"}'));
    const text = encodeParquet(
      plan,
      rowsOf([view, plain], () => true),
      OPTIONS,
    );
    const parsed = encodeParquet(
      plan,
      rowsOf([view, plain], () => false),
      OPTIONS,
    );
    same(parsed, text, "views");
    assert.equal(text.rowCount, 2);
  });

  describe("read back by DuckDB", () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), "sluice-json-text-"));
    });
    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    test("values exactly as in the text", async () => {
      const texts = [
        '{"name":"tab\\tquote\\"","kind":"b","at":"2024-06-01T12:34:56.123456Z","count":-42,"score":2.5,"ok":true,"tags":["x","日本"],"channel":"chat"}',
        '{"name":"café 👍","kind":"a","day":"2024-02-29","place":{"city":"Oslo","zip":150},"nums":[1,2,3]}',
        '  {"count": 1e3 ,"meta":{"k":[1,{"v":null}]},"lines":[{"sku":"s1","qty":2}]}  ',
      ].map((t) => Buffer.from(t, "utf8"));
      const result = encodeParquet(
        plan,
        rowsOf(texts, () => true),
        OPTIONS,
      );
      assert.deepEqual(result.rejected, []);
      const path = join(dir, "text.parquet");
      writeFileSync(path, result.bytes);
      const rows = await duckdb(
        `SELECT name, kind, epoch_us("at") AS at_us, CAST(day AS VARCHAR) AS day, count, score, ok, tags,
                nums, CAST(meta AS VARCHAR) AS meta, place.city AS city, place.zip AS zip, lines[1].sku AS sku,
                _extra FROM read_parquet('${path}') ORDER BY _id`,
      );
      assert.deepEqual(rows[0], {
        name: 'tab\tquote"',
        kind: "b",
        at_us: "1717245296123456",
        day: null,
        count: "-42",
        score: 2.5,
        ok: true,
        tags: ["x", "日本"],
        nums: null,
        meta: null,
        city: null,
        zip: null,
        sku: null,
        _extra: '{"channel":"chat"}',
      });
      assert.equal(rows[1]!.name, "café 👍");
      assert.equal(rows[1]!.day, "2024-02-29");
      assert.deepEqual(rows[1]!.nums, ["1", "2", "3"]);
      assert.equal(rows[1]!.city, "Oslo");
      assert.equal(rows[1]!.zip, "150");
      assert.equal(rows[2]!.count, "1000");
      assert.equal(rows[2]!.meta, '{"k":[1,{"v":null}]}');
      assert.equal(rows[2]!.sku, "s1");
    });
  });
});
