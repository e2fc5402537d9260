import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fullFormats } from "ajv-formats/dist/formats.js";
import { parquetReadObjects } from "hyparquet";
import { epochMillis, isDateTime, utcMillis } from "../../functions/core/date-time-format.ts";
import { parseIngestBody } from "../../functions/core/ingest/request.ts";
import { parsedTimestamp, parseTimestamp } from "../../functions/core/parquet/convert.ts";
import { encodeParquet, planColumns } from "../../functions/core/parquet/index.ts";
import { compiled } from "../../functions/core/validators.ts";
import { prng } from "../bench/generate.ts";
import { duckdb } from "../support/env.ts";

const ajvFormats = (fullFormats["date-time"] as { validate: (s: string) => boolean }).validate;

/**
 * ajv-formats checks a time it finds out of range again after subtracting the offset, so it takes
 * `24:59:30+01:00`; Sluice refuses an hour above 23 or a minute above 59 (see
 * date-time-format.ts). Everything else is as ajv-formats says.
 */
function reference(s: string): boolean {
  return ajvFormats(s) && Number(s.slice(11, 13)) <= 23 && Number(s.slice(14, 16)) <= 59;
}

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

test("differs from ajv-formats only on an hour above 23 or a minute above 59 that the offset brings to 23:59 UTC", () => {
  for (const s of [
    "2026-12-31T24:59:60+01:00",
    "2026-12-31T24:59:30+01:00",
    "2026-12-31T23:60:60+00:01",
    "2026-12-31T46:59:60+23:00",
  ]) {
    assert.equal(ajvFormats(s), true, s);
    assert.equal(isDateTime(s), false, s);
  }
  // The same seconds, spelled as times of day, are leap seconds for both.
  for (const s of ["2026-12-31T23:59:60Z", "2027-01-01T00:59:60+01:00", "2026-12-31T23:59:60+00:00"]) {
    assert.equal(ajvFormats(s), true, s);
    assert.equal(isDateTime(s), true, s);
  }
});

/** Every `HH:MM:60` with offsets around the leap second, in RFC 3339's own spellings. */
function leapSecondCandidates(): string[] {
  const out: string[] = [];
  const pad = (n: number) => String(n).padStart(2, "0");
  const offsets = [
    "Z",
    "+00:00",
    "-00:00",
    "+01:00",
    "-01:00",
    "+05:30",
    "-05:00",
    "+14:00",
    "-12:00",
    "+00:01",
    "-00:01",
  ];
  for (const date of ["2016-12-31", "2017-01-01", "2016-12-30"]) {
    for (let hh = 0; hh < 24; hh++) {
      for (const mi of [0, 1, 29, 30, 58, 59]) {
        for (const offset of offsets) {
          for (const frac of ["", ".5", ".999999"])
            out.push(`${date}T${pad(hh)}:${pad(mi)}:60${frac}${offset}`);
        }
      }
    }
  }
  return out;
}

test("a leap second is valid exactly where ajv-formats says (23:59:60 UTC), and is read as the following second", () => {
  let leap = 0;
  for (const s of leapSecondCandidates()) {
    const valid = isDateTime(s);
    assert.equal(valid, ajvFormats(s), s);
    // Date.parse refuses every :60; the same text with :59, one second later, is the instant meant.
    assert.ok(Number.isNaN(Date.parse(s)), s);
    const following = Date.parse(`${s.slice(0, 17)}59${s.slice(19)}`) + 1000;
    assert.equal(epochMillis(s), valid ? following : Number.NaN, s);
    assert.equal(parseTimestamp(s), valid, s);
    if (valid) {
      leap++;
      const micros = s.includes(".999999") ? 999999 : s.includes(".5") ? 500000 : 0;
      assert.deepEqual(
        [parsedTimestamp.seconds, parsedTimestamp.micros],
        [Math.floor(following / 1000), micros],
        s,
      );
      // The following second starts a UTC day.
      assert.equal((following - (following % 1000)) % 86_400_000, 0, s);
    }
  }
  assert.ok(leap >= 20, `${leap} leap seconds among the candidates`);
  assert.equal(epochMillis("2016-12-31T23:59:60Z"), Date.parse("2017-01-01T00:00:00Z"));
  assert.equal(epochMillis("2016-12-31T18:59:60.25-05:00"), Date.parse("2017-01-01T00:00:00.250Z"));
  assert.ok(Number.isNaN(epochMillis("2016-12-31T12:34:60Z")));
  assert.ok(Number.isNaN(epochMillis("2016-12-31T23:59:61Z")));
});

test("a leap second passes schema validation, ingest's event-time check and the encoder alike", async () => {
  const schema = {
    type: "object",
    properties: { at: { type: "string", format: "date-time" } },
  } as const;
  const validator = compiled({
    subject: "t",
    version: 1,
    fingerprint: "",
    createdAt: "",
    schema,
  } as Parameters<typeof compiled>[0]);
  const times = [
    "2016-12-31T23:59:60Z",
    "2016-12-31T23:59:60.5Z",
    "2016-12-31T18:59:60-05:00",
    "2017-01-01T00:59:60.123456+01:00",
    "2016-12-31T23:59:59.999999Z",
    "2017-01-01T00:00:00Z",
  ];
  for (const at of times) assert.deepEqual(validator.validate({ at }), [], at);
  assert.equal(validator.validate({ at: "2016-12-31T12:00:60Z" })[0]?.path, "/at");

  // A record's `time` in a batch body.
  const records = parseIngestBody({
    contentType: "application/json",
    body: Buffer.from(JSON.stringify({ records: times.map((time) => ({ data: { at: time }, time })) })),
  });
  assert.deepEqual(
    records.map((r) => r.error),
    times.map(() => undefined),
  );

  // Parquet: the following second, to the microsecond; :60 at another minute is refused.
  const plan = planColumns(schema);
  const rows = [...times, "2016-12-31T12:00:60Z"].map((at, i) => ({
    id: `r${i}`,
    eventTime: at,
    receiveTime: "2017-01-01T00:00:01Z",
    schemaVersion: 1,
    data: Buffer.from(JSON.stringify({ at })),
  }));
  const result = encodeParquet(plan, rows, { compression: "snappy", rowGroupSize: 100, metadata: {} });
  assert.deepEqual(
    result.rejected.map(({ index, code, path }) => [index, code, path]),
    [[6, "INVALID_TIMESTAMP", "/_event_time"]],
  );
  const dir = mkdtempSync(join(tmpdir(), "sluice-leap-"));
  try {
    const path = join(dir, "leap.parquet");
    writeFileSync(path, result.bytes);
    const expected = [
      "1483228800000000",
      "1483228800500000",
      "1483228800000000",
      "1483228800123456",
      "1483228799999999",
      "1483228800000000",
    ];
    const back = await duckdb<{ at: string; ev: string }>(
      `SELECT epoch_us("at")::VARCHAR AS at, epoch_us(_event_time)::VARCHAR AS ev FROM read_parquet('${path}') ORDER BY _id`,
    );
    assert.deepEqual(
      back.map((r) => r.at),
      expected,
    );
    assert.deepEqual(
      back.map((r) => r.ev),
      expected,
    );
    const b = result.bytes;
    const read = await parquetReadObjects({
      file: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer,
    });
    // hyparquet gives TIMESTAMP(MICROS) as a Date, to the millisecond.
    assert.deepEqual(
      read
        .sort((x, y) => String(x._id).localeCompare(String(y._id)))
        .map((r) => (r.at as Date).toISOString()),
      [
        "2017-01-01T00:00:00.000Z",
        "2017-01-01T00:00:00.500Z",
        "2017-01-01T00:00:00.000Z",
        "2017-01-01T00:00:00.123Z",
        "2016-12-31T23:59:59.999Z",
        "2017-01-01T00:00:00.000Z",
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
