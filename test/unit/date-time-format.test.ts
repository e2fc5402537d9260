import assert from "node:assert/strict";
import { test } from "node:test";
import { fullFormats } from "ajv-formats/dist/formats.js";
import { epochMillis, isDateTime, utcMillis } from "../../functions/core/date-time-format.ts";
import { compiled } from "../../functions/core/validators.ts";
import { prng } from "../bench/generate.ts";

const reference = (fullFormats["date-time"] as { validate: (s: string) => boolean }).validate;

const CASES = [
  "2026-11-23T10:00:00Z",
  "2026-11-23t10:00:00z",
  "2026-11-23 10:00:00.123456789+05:30",
  "2026-11-23T10:00:00+0530",
  "2026-11-23T10:00:00+05",
  "2026-11-23T10:00:00",
  "2026-11-23T10:00:00.Z",
  "2026-02-29T00:00:00Z",
  "2024-02-29T00:00:00Z",
  "1900-02-29T00:00:00Z",
  "2000-02-29T00:00:00Z",
  "2026-04-31T00:00:00Z",
  "2026-13-01T00:00:00Z",
  "2026-00-10T00:00:00Z",
  "2026-12-31T23:59:60Z",
  "2026-12-31T23:59:60.5Z",
  "2026-12-31T22:59:60-01:00",
  "2026-12-31T23:59:61Z",
  "2026-12-31T24:00:00Z",
  "2026-12-31T24:59:60+01:00",
  "2026-12-31T00:59:60+01:00",
  "2026-12-31T10:60:00Z",
  "2026-12-31T10:00:00+24:00",
  "2026-12-31T10:00:00+23:60",
  "2026-12-31\t10:00:00Z",
  "2026-12-31\u00a010:00:00Z",
  "2026-12-31T10:00:00ZZ",
  "2026-12-31T10:00:00Z ",
  " 2026-12-31T10:00:00Z",
  "2026-1-31T10:00:00Z",
  "+02026-12-31T10:00:00Z",
  "0000-01-01T00:00:00Z",
  "2026-12-31T10:00:00+05:3",
  "2026-12-31T10:00:00+05:300",
  "2026-12-31T1０:00:00Z",
  "",
];

test("agrees with ajv-formats' date-time on edge cases", () => {
  for (const s of CASES) assert.equal(isDateTime(s), reference(s), JSON.stringify(s));
});

test("agrees with ajv-formats' date-time on 200,000 mutated strings", () => {
  const rand = prng(3);
  const alphabet = "0123456789-:.+TtZz \t59";
  for (let n = 0; n < 200_000; n++) {
    const chars = [...CASES[Math.floor(rand() * CASES.length)]!];
    for (let k = Math.floor(rand() * 3); k >= 0; k--) {
      const at = Math.floor(rand() * (chars.length + 1));
      const c = alphabet[Math.floor(rand() * alphabet.length)]!;
      const op = rand();
      if (op < 0.4) chars[at] = c;
      else if (op < 0.7) chars.splice(at, 0, c);
      else chars.splice(at, 1);
    }
    const s = chars.join("");
    assert.equal(isDateTime(s), reference(s), JSON.stringify(s));
  }
});

test("schemas compiled by Sluice use it", () => {
  const schema = compiled({
    subject: "t",
    version: 1,
    fingerprint: "",
    createdAt: "",
    schema: { type: "object", properties: { ts: { type: "string", format: "date-time" } } },
  } as Parameters<typeof compiled>[0]);
  assert.deepEqual(schema.validate({ ts: "2026-11-23T10:00:00Z" }), []);
  assert.equal(schema.validate({ ts: "2026-02-29T10:00:00Z" })[0]?.path, "/ts");
});

test("utcMillis equals Date.parse on canonical UTC forms and declines the rest; epochMillis equals Date.parse", () => {
  const rand = prng(5);
  const pad = (v: number, n: number) => String(v).padStart(n, "0");
  for (let n = 0; n < 50_000; n++) {
    const frac =
      rand() < 0.5 ? "" : `.${String(Math.floor(rand() * 1e9)).slice(0, 1 + Math.floor(rand() * 9))}`;
    const s =
      `${pad(100 + Math.floor(rand() * 9900), 4)}-${pad(1 + Math.floor(rand() * 12), 2)}-${pad(1 + Math.floor(rand() * 31), 2)}` +
      `T${pad(Math.floor(rand() * 24), 2)}:${pad(Math.floor(rand() * 60), 2)}:${pad(Math.floor(rand() * 60), 2)}${frac}Z`;
    const fast = utcMillis(s);
    if (!Number.isNaN(fast)) assert.equal(fast, Date.parse(s), s);
    else assert.ok(Number.isNaN(Date.parse(s)) || /-(29|30|31)T/.test(s), s);
    assert.ok(Object.is(epochMillis(s), Date.parse(s)), s);
  }
  for (const s of [
    "2026-11-23T10:00:00+00:00",
    "2026-11-23 10:00:00Z",
    "0099-01-01T00:00:00Z",
    "2026-11-23T10:00:00.Z",
  ]) {
    assert.ok(Number.isNaN(utcMillis(s)), s);
    assert.ok(Object.is(epochMillis(s), Date.parse(s)), s);
  }
  assert.equal(utcMillis("2026-11-23T10:00:00.123999Z"), Date.parse("2026-11-23T10:00:00.123Z"));
});
