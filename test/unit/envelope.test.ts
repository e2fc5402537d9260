import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodeEnvelope,
  decodeEnvelopeHead,
  type Envelope,
  EnvelopeError,
  encodeEnvelope,
  envelopeEncoder,
} from "../../functions/core/envelope.ts";
import { prng } from "../bench/generate.ts";

const rand = prng(17);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const PIECES = ["a", "k-1", "é", "😀", '"', "\\", "\u0000", "\u001f", "\u2028", "\ud800", "日本", " ", "/"];
const text = (max: number) => Array.from({ length: Math.floor(rand() * max) }, () => pick(PIECES)).join("");

test("1,000 envelopes from one encoder all decode to what went in, after all were written", () => {
  const shared = {
    stream: "feed.back-1",
    schema: { name: `sluice.${text(5)}`, version: 7 },
    rt: "2026-11-23T10:00:00.123Z",
  };
  const encode = envelopeEncoder(shared);
  const made: { expected: Envelope; bytes: Uint8Array }[] = [];
  for (let i = 0; i < 1000; i++) {
    const data = { s: text(rand() < 0.05 ? 20_000 : 40), n: rand(), list: [text(3), null, true] };
    const meta = rand() < 0.3 ? { "ce.type": text(8), "ce.source": text(4) } : undefined;
    const expected: Envelope = {
      v: 1,
      id: `01J${String(i).padStart(23, "0")}`,
      ...shared,
      key: rand() < 0.3 ? null : text(12) || "k",
      ts: rand() < 0.9 ? "2026-11-23T09:59:59.5Z" : text(6),
      data,
      ...(meta ? { meta } : {}),
    };
    // Half as raw text, spaced differently from JSON.stringify, as a producer might send it.
    const raw = rand() < 0.5 ? JSON.stringify(data, null, 1) : undefined;
    made.push({ expected, bytes: encode(expected.id, expected.key, expected.ts, data, raw, meta) });
  }
  for (const { expected, bytes } of made) {
    const got = decodeEnvelope(bytes);
    assert.deepEqual({ ...got }, { ...expected });
  }
});

test("a lone envelope equals JSON.stringify of the same fields", () => {
  const e: Envelope = {
    v: 1,
    id: "01JX",
    stream: "s",
    schema: { name: "n", version: 1 },
    key: "k\n",
    ts: "2026-01-01T00:00:00Z",
    rt: "2026-01-01T00:00:01Z",
    data: { a: 1 },
  };
  assert.equal(Buffer.from(encodeEnvelope(e)).toString("utf8"), JSON.stringify(e));
});

// decodeEnvelopeHead against JSON.parse, on envelopes written every way JSON allows.

const ws = () => (rand() < 0.7 ? "" : pick([" ", "\n", "\t", "\r\n  ", "  "]));
const TRICKY = [
  '"data":',
  '{"data":1}',
  "}",
  "]",
  "{[",
  "\\",
  '\\"',
  '"',
  "\u0000",
  "é",
  "😀",
  "\u2028",
  "data",
];
const trickyText = () =>
  Array.from({ length: Math.floor(rand() * 5) }, () => (rand() < 0.5 ? pick(TRICKY) : pick(PIECES))).join("");

/** A JSON string for `s`, with some characters escaped that need not be. */
function quote(s: string): string {
  let out = '"';
  for (const c of s) {
    const json = JSON.stringify(c).slice(1, -1);
    if (json !== c || rand() > 0.1) out += json;
    else out += c === "/" ? "\\/" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  }
  return `${out}"`;
}

function randomValue(depth: number): unknown {
  const r = rand();
  // Long strings too: the scan follows short and long ones differently.
  if (depth > 3 || r < 0.3)
    return pick([null, true, false, 0, -1.5e-7, 12345678901, trickyText(), trickyText().repeat(9), ""]);
  if (r < 0.55) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 4); i > 0; i--)
    o[pick(["data", "a", trickyText(), "v"])] = randomValue(depth + 1);
  return o;
}

/** `value` as JSON text with random whitespace between tokens and random escapes. */
function write(value: unknown): string {
  if (typeof value === "string") return quote(value);
  if (Array.isArray(value)) return `[${ws()}${value.map((v) => `${write(v)}${ws()}`).join(`,${ws()}`)}]`;
  if (value !== null && typeof value === "object") {
    const members = Object.entries(value).map(([k, v]) => `${quote(k)}${ws()}:${ws()}${write(v)}${ws()}`);
    return `{${ws()}${members.join(`,${ws()}`)}}`;
  }
  return JSON.stringify(value);
}

/** An envelope's text: its members in random order, some extra and repeated ones, any spacing. */
function envelopeText(): string {
  const members: [string, unknown][] = [
    ["v", 1],
    ["id", `01J${text(8)}`],
    ["stream", trickyText() || "s"],
    ["schema", { name: trickyText(), version: Math.floor(rand() * 9) }],
    ["key", rand() < 0.5 ? null : trickyText()],
    ["ts", "2026-11-23T10:00:00Z"],
    ["rt", trickyText()],
    ["data", randomValue(0)],
  ];
  if (rand() < 0.3) members.push(["meta", { "ce.type": trickyText() }]);
  if (rand() < 0.3) members.push([pick(["x", '"data":', "datum", "dat"]), randomValue(1)]);
  // A repeated member: JSON.parse keeps the last one.
  if (rand() < 0.2) members.push([pick(["data", "id", "schema"]), randomValue(1)]);
  for (let i = members.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [members[i], members[j]] = [members[j]!, members[i]!];
  }
  const written = members.map(([k, v]) => {
    // Sometimes the name itself is escaped ("d\u0061ta" is "data").
    const name =
      rand() < 0.1
        ? `"${[...k].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}"`
        : quote(k);
    return `${name}${ws()}:${ws()}${write(v)}${ws()}`;
  });
  return `${ws()}{${ws()}${written.join(`,${ws()}`)}}${ws()}`;
}

function outcome<T>(f: () => T): { ok: true; value: T } | { ok: false; message: string } {
  try {
    return { ok: true, value: f() };
  } catch (err) {
    if (!(err instanceof EnvelopeError)) throw err;
    return { ok: false, message: err.message };
  }
}

test("decodeEnvelopeHead agrees with JSON.parse on 3,000 envelopes written every way JSON allows", () => {
  let valid = 0;
  for (let i = 0; i < 3000; i++) {
    const text = envelopeText();
    const whole = JSON.parse(text) as Record<string, unknown>;
    // A record of its own (not in Buffer's shared pool), so a view into it can be told from a copy.
    const bytes = new Uint8Array(Buffer.from(text));
    const got = outcome(() => decodeEnvelopeHead(bytes));
    const old = outcome(() => decodeEnvelope(bytes));
    assert.equal(got.ok, old.ok, text);
    if (!got.ok || !old.ok) {
      assert.equal(got.ok ? "" : got.message, old.ok ? "" : old.message, text);
      continue;
    }
    valid++;
    const { head, payload } = got.value;
    assert.equal(payload.buffer, bytes.buffer, "the payload was not found by the scan");
    const { data, ...rest } = whole;
    assert.deepEqual({ ...head, data: undefined }, { ...rest, data: undefined }, text);
    assert.deepEqual(JSON.parse(Buffer.from(payload).toString("utf8")), data, text);
  }
  // Most are envelopes; the rest (a repeated schema or id that is not a string) must be rejected alike.
  assert.ok(valid > 2000, `only ${valid} valid envelopes`);
});

test("the payload is a view into the record, not a copy", () => {
  const bytes = Buffer.from(
    '{"v":1,"id":"i","stream":"s","schema":{"name":"n","version":1},"ts":"t","rt":"r","data":{"a":[1]}}',
  );
  const { payload } = decodeEnvelopeHead(bytes);
  assert.equal(payload.buffer, bytes.buffer);
  assert.equal(Buffer.from(payload).toString(), '{"a":[1]}');
});

test("damaged envelopes are rejected as the full decoder rejects them, or decode with a payload that is not JSON", () => {
  const DAMAGE = ['"', "\\", "{", "}", "[", "]", ",", ":", " ", "x", "1", "\u0001", "null"];
  let rejected = 0;
  let late = 0;
  for (let i = 0; i < 5000; i++) {
    let text = envelopeText();
    for (let n = 1 + Math.floor(rand() * 2); n > 0; n--) {
      const at = Math.floor(rand() * (text.length + 1));
      const r = rand();
      if (r < 0.4) text = text.slice(0, at) + text.slice(at + 1);
      else if (r < 0.9) text = text.slice(0, at) + pick(DAMAGE) + text.slice(at);
      else text = text.slice(0, at);
    }
    const bytes = Buffer.from(text);
    const got = outcome(() => decodeEnvelopeHead(bytes));
    const old = outcome(() => decodeEnvelope(bytes));
    if (old.ok) {
      assert.ok(got.ok, text);
      assert.deepEqual(JSON.parse(Buffer.from(got.value.payload).toString()), old.value.data, text);
    } else if (got.ok) {
      // Only a fault inside the payload may get through, and only as a payload that is not JSON.
      assert.equal(old.message, "record is not JSON", text);
      assert.throws(() => JSON.parse(Buffer.from(got.value.payload).toString()), SyntaxError, text);
      late++;
    } else {
      assert.equal(got.message, old.message, text);
      rejected++;
    }
  }
  assert.ok(rejected > 1000 && late > 100, `rejected ${rejected}, detected late ${late}`);
});

test("records that are not envelopes fail with the full decoder's words", () => {
  const cases: [string, string][] = [
    ["", "record is not JSON"],
    ["[1]", "record is not a Sluice v1 envelope"],
    ["5", "record is not an object"],
    ["null", "record is not an object"],
    ['{"v":1}', "record is not a Sluice v1 envelope"],
    [
      '{"v":2,"id":"i","stream":"s","schema":{"name":"n","version":1},"ts":"t","rt":"r","data":{}}',
      "record is not a Sluice v1 envelope",
    ],
    [
      '{"v":1,"id":"i","stream":"s","schema":{"name":"n","version":1},"ts":"t","rt":"r","data":{}} x',
      "record is not JSON",
    ],
    [
      '{"v":1,"id":"i","stream":"s","schema":{"name":"n","version":1},"ts":"t","rt":"r","enc":{}}',
      "record is not a Sluice v1 envelope",
    ],
    [
      '\ufeff{"v":1,"id":"i","stream":"s","schema":{"name":"n","version":1},"ts":"t","rt":"r","data":{}}',
      "record is not JSON",
    ],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => decodeEnvelopeHead(Buffer.from(text)), { name: "EnvelopeError", message }, text);
  }
});
