/**
 * INT64 columns hold the integer the payload's text spells, exactly, over the whole signed 64-bit
 * range (functions/core/parquet/number-text.ts): never the double JSON.parse rounds it to, never
 * clamped. Integers outside the range, and numbers with a fraction, leave their row with a reason
 * while their neighbours are written. Every file is read back by two independent readers, DuckDB
 * and hyparquet.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parquetReadObjects } from "hyparquet";
import type { JsonSchema } from "../../functions/core/manifest/types.ts";
import {
  type EncodeOptions,
  type EncodeResult,
  encodeParquet,
  type ParquetRow,
  planColumns,
} from "../../functions/core/parquet/index.ts";
import { BEYOND_RANGE, exactInteger, FRACTION } from "../../functions/core/parquet/number-text.ts";
import { compiled } from "../../functions/core/validators.ts";
import { prng } from "../bench/generate.ts";
import { duckdb } from "../support/env.ts";

const SCHEMA: JsonSchema = {
  type: "object",
  properties: {
    n: { type: "integer" },
    d: { type: "number" },
    s: { type: "object", properties: { k: { type: "integer" }, x: { type: "number" } } },
    l: { type: "array", items: { type: "integer" } },
    lines: { type: "array", items: { type: "object", properties: { qty: { type: "integer" } } } },
    meta: { type: "object" },
  },
};

// Snappy: hyparquet decodes it without a plug-in.
const OPTIONS: EncodeOptions = { compression: "snappy", rowGroupSize: 1000, metadata: {} };
const plan = planColumns(SCHEMA);

let dir: string;
let files = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "sluice-int64-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function rows(texts: readonly string[]): ParquetRow[] {
  return texts.map((t, i) => ({
    id: `r${String(i).padStart(3, "0")}`,
    eventTime: "2024-06-01T12:00:00Z",
    receiveTime: "2024-06-01T12:00:01Z",
    schemaVersion: 1,
    data: Buffer.from(t, "utf8"),
  }));
}

function save(result: EncodeResult): string {
  assert.ok(result.bytes.length > 0, "expected a file");
  const path = join(dir, `f${files++}.parquet`);
  writeFileSync(path, result.bytes);
  return path;
}

/** Column `name` of every row, as DuckDB reads it: BIGINT as its decimal digits. */
async function duckdbColumn(path: string, sql: string): Promise<unknown[]> {
  const got = await duckdb<{ v: unknown }>(`SELECT ${sql} AS v FROM read_parquet('${path}') ORDER BY _id`);
  return got.map((r) => r.v);
}

/** Every row, as hyparquet reads it: INT64 as BigInt. */
async function hyparquetRows(result: EncodeResult): Promise<Record<string, unknown>[]> {
  const b = result.bytes;
  const file = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  const got = await parquetReadObjects({ file });
  return got.sort((a, c) => String(a._id).localeCompare(String(c._id)));
}

const EXACT = ["9007199254740993", "-9007199254740993", "9223372036854775807", "-9223372036854775808"];

describe("INT64 columns from payload text", () => {
  test("hold integers beyond 2^53 exactly, up to both ends of the range, at the top level and nested", async () => {
    const texts = EXACT.map(
      (v) => `{"n":${v},"s":{"k":${v},"x":1.5},"l":[1,${v},-1],"lines":[{"qty":${v}}],"d":${v}}`,
    );
    const result = encodeParquet(plan, rows(texts), OPTIONS);
    assert.deepEqual(result.rejected, []);
    const path = save(result);

    assert.deepEqual(await duckdbColumn(path, "n::VARCHAR"), EXACT);
    assert.deepEqual(await duckdbColumn(path, "s.k::VARCHAR"), EXACT);
    assert.deepEqual(await duckdbColumn(path, "l[2]::VARCHAR"), EXACT);
    assert.deepEqual(await duckdbColumn(path, "lines[1].qty::VARCHAR"), EXACT);
    // A DOUBLE column still takes the nearest double, as JSON.parse does.
    assert.deepEqual(
      await duckdbColumn(path, "d"),
      EXACT.map((v) => Number(v)),
    );

    const read = await hyparquetRows(result);
    assert.deepEqual(
      read.map((r) => r.n),
      EXACT.map(BigInt),
    );
    assert.deepEqual(
      read.map((r) => (r.s as { k: bigint }).k),
      EXACT.map(BigInt),
    );
    assert.deepEqual(
      read.map((r) => r.l),
      EXACT.map((v) => [1n, BigInt(v), -1n]),
    );
    assert.deepEqual(
      read.map((r) => (r.lines as { qty: bigint }[])[0]!.qty),
      EXACT.map(BigInt),
    );
  });

  test("are exact also when the record is parsed whole (an escaped key makes the reader give up)", async () => {
    const texts = EXACT.map((v) => `{"\\u0078":1,"n":${v},"s":{"k":${v}},"l":[${v}]}`);
    const result = encodeParquet(plan, rows(texts), OPTIONS);
    assert.deepEqual(result.rejected, []);
    const path = save(result);
    assert.deepEqual(await duckdbColumn(path, "n::VARCHAR"), EXACT);
    assert.deepEqual(await duckdbColumn(path, "s.k::VARCHAR"), EXACT);
    assert.deepEqual(await duckdbColumn(path, "l[1]::VARCHAR"), EXACT);
    assert.deepEqual(
      await duckdbColumn(path, "_extra"),
      EXACT.map(() => '{"x":1}'),
    );
    const read = await hyparquetRows(result);
    assert.deepEqual(
      read.map((r) => r.n),
      EXACT.map(BigInt),
    );
  });

  test("integers outside the signed 64-bit range go to rejected as OUT_OF_RANGE, never clamped; neighbours land", async () => {
    const texts = [
      '{"n":1}',
      '{"n":9223372036854775808}',
      '{"n":2}',
      '{"n":-9223372036854775809}',
      '{"s":{"k":18446744073709551616}}',
      '{"l":[1,-9223372036854775809]}',
      '{"lines":[{"qty":1},{"qty":1e19}]}',
      '{"n":1e400}',
      '{"n":-1e400}',
      '{"n":9223372036854775807}',
    ];
    const result = encodeParquet(plan, rows(texts), OPTIONS);
    assert.deepEqual(
      result.rejected.map(({ index, code, path }) => ({ index, code, path })),
      [
        { index: 1, code: "OUT_OF_RANGE", path: "/n" },
        { index: 3, code: "OUT_OF_RANGE", path: "/n" },
        { index: 4, code: "OUT_OF_RANGE", path: "/s/k" },
        { index: 5, code: "OUT_OF_RANGE", path: "/l/1" },
        { index: 6, code: "OUT_OF_RANGE", path: "/lines/1/qty" },
        { index: 7, code: "OUT_OF_RANGE", path: "/n" },
        { index: 8, code: "OUT_OF_RANGE", path: "/n" },
      ],
    );
    for (const r of result.rejected) {
      assert.match(r.message, /outside the signed 64-bit range/);
      assert.ok(!r.message.includes("18446744073709551616") && !r.message.includes("1e"), "never the value");
    }
    assert.equal(result.rowCount, 3);
    const path = save(result);
    assert.deepEqual(await duckdbColumn(path, "n::VARCHAR"), ["1", "2", "9223372036854775807"]);
    assert.deepEqual(
      (await hyparquetRows(result)).map((r) => r.n),
      [1n, 2n, 9223372036854775807n],
    );
  });

  test("take what ajv's `integer` takes (1.0, 1.0e3, 1200e-2), the digits past 2^53, and refuse a fraction", async () => {
    // ajv's `type: "integer"` accepts a whole double however it is written; within ±2^53 the
    // column stores that double, beyond it the digits.
    const validator = compiled({
      subject: "t",
      version: 1,
      fingerprint: "",
      createdAt: "",
      schema: SCHEMA,
    } as Parameters<typeof compiled>[0]);
    const whole: [string, string][] = [
      ["12.0", "12"],
      ["1.0e3", "1000"],
      ["1E+2", "100"],
      ["1200e-2", "12"],
      ["-0", "0"],
      ["0.0e999999999", "0"],
      // Their doubles are whole (1 and 0): ajv passes them, and the column stores what ajv saw.
      ["1.0000000000000000001", "1"],
      ["-1e-400", "0"],
      ["9.223372036854775807e18", "9223372036854775807"],
      ["-92233720368547758.08e2", "-9223372036854775808"],
    ];
    for (const [text] of whole) assert.deepEqual(validator.validate(JSON.parse(`{"n":${text}}`)), [], text);
    const result = encodeParquet(plan, rows(whole.map(([text]) => `{"n":${text}}`)), OPTIONS);
    assert.deepEqual(result.rejected, []);
    const path = save(result);
    assert.deepEqual(
      await duckdbColumn(path, "n::VARCHAR"),
      whole.map(([, v]) => v),
    );
    assert.deepEqual(
      (await hyparquetRows(result)).map((r) => r.n),
      whole.map(([, v]) => BigInt(v)),
    );

    // These hold a fraction. Past 2^53 ajv sees a rounded double, whole for the last two, and
    // passes them; the column reads their digits and refuses them rather than store a rounded value.
    const fractions = ["12.5", "-0.5", "1e-1", "9007199254740993.5", "-92233720368547758.075e2"];
    for (const f of fractions.slice(3)) assert.deepEqual(validator.validate({ n: JSON.parse(f) }), [], f);
    const refused = encodeParquet(
      plan,
      rows(['{"n":7}', ...fractions.map((f) => `{"n":${f}}`), '{"s":{"k":1.25}}']),
      OPTIONS,
    );
    assert.deepEqual(
      refused.rejected.map(({ index, code, path, message }) => [index, code, path, message]),
      [1, 2, 3, 4, 5]
        .map((i) => [i, "TYPE_MISMATCH", "/n", "expected integer, got a number with a fraction"])
        .concat([[6, "TYPE_MISMATCH", "/s/k", "expected integer, got a number with a fraction"]]),
    );
    assert.equal(refused.rowCount, 1);
  });

  test("JSON text columns and _extra keep what JSON.parse gives for the same numbers", async () => {
    const result = encodeParquet(
      plan,
      rows([
        '{"s":{"k":1,"more":9007199254740993e0},"meta":{"big":9007199254740993},"other":12345678901234567890}',
      ]),
      OPTIONS,
    );
    assert.deepEqual(result.rejected, []);
    const path = save(result);
    const [row] = await duckdb<{ meta: string; _extra: string }>(
      `SELECT meta, _extra FROM read_parquet('${path}')`,
    );
    const parsed = (text: string) => JSON.stringify(JSON.parse(text));
    assert.equal(row?.meta, parsed('{"big":9007199254740993}'));
    assert.equal(row?._extra, parsed('{"other":12345678901234567890,"s":{"more":9007199254740993e0}}'));
    assert.equal(row?._extra, '{"other":12345678901234567000,"s":{"more":9007199254740992}}');
  });

  test("from the text equal, byte for byte, the file of the same payloads given parsed with BigInts, over random batches", () => {
    const rnd = prng(64);
    const randomInt64 = (): bigint => {
      const hi = BigInt(Math.floor(rnd() * 2 ** 32));
      const lo = BigInt(Math.floor(rnd() * 2 ** 32));
      const v = BigInt.asIntN(64, (hi << 32n) | lo);
      // Mostly large, sometimes near the ends of the range or small.
      const r = rnd();
      if (r < 0.1) return 9223372036854775807n - BigInt(Math.floor(rnd() * 3));
      if (r < 0.2) return -9223372036854775808n + BigInt(Math.floor(rnd() * 3));
      if (r < 0.3) return BigInt(Math.floor(rnd() * 2000) - 1000);
      return v;
    };
    const spell = (v: bigint): string => {
      const s = String(v);
      const r = rnd();
      if (r < 0.15) return `${s}.0`;
      if (r < 0.25) return `${s}00e-2`;
      if (r < 0.35 && s.length > 3) {
        // d.ddd...eN
        const neg = s.startsWith("-") ? "-" : "";
        const digits = s.replace("-", "");
        return `${neg}${digits[0]}.${digits.slice(1)}e${digits.length - 1}`;
      }
      return s;
    };
    for (let batch = 0; batch < 20; batch++) {
      const n = 1 + Math.floor(rnd() * 80);
      const texts: string[] = [];
      const parsed: ParquetRow[] = [];
      for (let i = 0; i < n; i++) {
        const a = randomInt64();
        const b = randomInt64();
        const c = randomInt64();
        const whole = rnd() < 0.2; // an escaped undeclared key: the record is parsed whole
        texts.push(
          `{${whole ? '"\\u0078":true,' : ""}"n":${spell(a)},"s":{"k":${spell(b)},"x":0.5},"l":[${spell(c)},${spell(a)}],"lines":[{"qty":${spell(b)}}]}`,
        );
        parsed.push({
          ...rows([""])[0]!,
          id: `r${String(i).padStart(3, "0")}`,
          data: { ...(whole ? { x: true } : {}), n: a, s: { k: b, x: 0.5 }, l: [c, a], lines: [{ qty: b }] },
        });
      }
      const fromText = encodeParquet(plan, rows(texts), OPTIONS);
      const fromValues = encodeParquet(plan, parsed, OPTIONS);
      assert.deepEqual(fromText.rejected, [], `batch ${batch}`);
      assert.deepEqual(fromValues.rejected, [], `batch ${batch}`);
      assert.ok(
        Buffer.from(fromText.bytes).equals(Buffer.from(fromValues.bytes)),
        `batch ${batch}: files differ`,
      );
    }
  });
});

describe("payloads given parsed", () => {
  test("a BigInt is exact; Infinity in an integer column is OUT_OF_RANGE, not 'a number with a fraction'", async () => {
    const result = encodeParquet(
      plan,
      [
        { ...rows([""])[0]!, id: "a", data: { n: 9223372036854775807n, l: [-9223372036854775808n] } },
        { ...rows([""])[0]!, id: "b", data: { n: Number.POSITIVE_INFINITY } },
        { ...rows([""])[0]!, id: "c", data: { n: 9223372036854775808n } },
      ],
      OPTIONS,
    );
    assert.deepEqual(
      result.rejected.map(({ index, code }) => [index, code]),
      [
        [1, "OUT_OF_RANGE"],
        [2, "OUT_OF_RANGE"],
      ],
    );
    const read = await hyparquetRows(result);
    assert.deepEqual(
      read.map((r) => [r.n, r.l]),
      [[9223372036854775807n, [-9223372036854775808n]]],
    );
  });
});

describe("exactInteger", () => {
  test("reads the digits of any JSON number literal, within 64 or 32 bits", () => {
    const cases: [string, 32 | 64, bigint | typeof FRACTION | typeof BEYOND_RANGE][] = [
      ["0", 64, 0n],
      ["-0.0", 64, 0n],
      ["9223372036854775807", 64, 9223372036854775807n],
      ["-9223372036854775808", 64, -9223372036854775808n],
      ["9223372036854775808", 64, BEYOND_RANGE],
      ["-9223372036854775809", 64, BEYOND_RANGE],
      ["00000000000000000000001", 64, 1n], // not JSON, but leading zeros say nothing
      ["1e18", 64, 1000000000000000000n],
      ["1e19", 64, BEYOND_RANGE],
      ["1e999999999999", 64, BEYOND_RANGE],
      ["1e-999999999999", 64, FRACTION],
      ["0e999999999999", 64, 0n],
      ["123.4500e2", 64, 12345n],
      ["123.4501e2", 64, FRACTION],
      ["1.5", 64, FRACTION],
      ["2147483647", 32, 2147483647n],
      ["-2147483648", 32, -2147483648n],
      ["2147483648", 32, BEYOND_RANGE],
      ["-2.147483649e9", 32, BEYOND_RANGE],
    ];
    for (const [text, bits, expected] of cases) assert.equal(exactInteger(text, bits), expected, text);
  });
});
