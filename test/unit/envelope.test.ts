import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodeEnvelope,
  type Envelope,
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
