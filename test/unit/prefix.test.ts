import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compilePrefix, type PrefixContext, safeSegment } from "../../functions/core/prefix.ts";

const at = Date.UTC(2026, 10, 23, 9, 5, 7);

describe("compilePrefix", () => {
  test("fills stream, pipeline and UTC time parts", () => {
    const t = compilePrefix("{stream}/{pipeline}/dt={yyyy}-{MM}-{dd}/hr={HH}/m={mm}/");
    assert.deepEqual(t({ stream: "feedback", pipeline: "lake", eventTimeMs: at, data: {} }), {
      ok: true,
      prefix: "feedback/lake/dt=2026-11-23/hr=09/m=05/",
    });
  });

  test("field and partition-key values are encoded so they cannot add or escape a segment", () => {
    const t = compilePrefix("c={field:customer.id}/r={partitionKey:region}/");
    const r = t({
      stream: "s",
      pipeline: "p",
      eventTimeMs: at,
      data: { customer: { id: "../../etc/x\u0001" } },
      partitionKeys: { region: ".." },
    });
    assert.equal(r.ok, true);
    if (r.ok) {
      assert.equal(r.prefix, "c=..%2F..%2Fetc%2Fx%01/r=%2E%2E/");
      assert.ok(!r.prefix.split("/").includes(".."));
    }
  });

  test("a missing or empty field is a prefix failure, not an empty segment", () => {
    const t = compilePrefix("c={field:customer}/");
    assert.equal(t({ stream: "s", pipeline: "p", eventTimeMs: at, data: {} }).ok, false);
    const empty = t({ stream: "s", pipeline: "p", eventTimeMs: at, data: { customer: "" } });
    assert.deepEqual(empty.ok ? undefined : empty.code, "PREFIX_VALUE_INVALID");
  });

  test("only {field:} placeholders read the payload, and the template says whether it has one", () => {
    // A context whose payload throws when read.
    const untouchable = (ctx: Omit<PrefixContext, "data">): PrefixContext =>
      Object.defineProperty({ ...ctx }, "data", {
        get() {
          throw new Error("the payload was read");
        },
      });
    const t = compilePrefix("{stream}/{pipeline}/r={partitionKey:region}/{yyyy}/");
    assert.equal(t.readsData, false);
    const r = t(
      untouchable({ stream: "s", pipeline: "p", eventTimeMs: at, partitionKeys: { region: "eu" } }),
    );
    assert.deepEqual(r, { ok: true, prefix: "s/p/r=eu/2026/" });
    const withField = compilePrefix("{stream}/c={field:c}/");
    assert.equal(withField.readsData, true);
    assert.throws(
      () => withField(untouchable({ stream: "s", pipeline: "p", eventTimeMs: at })),
      /payload was read/,
    );
  });

  test("safeSegment keeps ordinary names readable", () => {
    assert.equal(safeSegment("eu-west-1_a.b"), "eu-west-1_a.b");
  });
});

describe("prefix values that cannot make a key, and look-alikes", () => {
  const t = compilePrefix("c={field:c}/");
  const ctx = (c: unknown): PrefixContext => ({ stream: "s", pipeline: "p", eventTimeMs: at, data: { c } });

  test("look-alike, bidi and format characters are percent-encoded; letters stay readable", () => {
    for (const [value, encoded] of [
      ["a\u2215b", "a%E2%88%95b"], // DIVISION SLASH
      ["a\uFF0Fb", "a%EF%BC%8Fb"], // FULLWIDTH SOLIDUS
      ["a\u202Eb", "a%E2%80%AEb"], // RIGHT-TO-LEFT OVERRIDE
      ["\uFEFFa", "%EF%BB%BFa"], // BOM
      ["a\u200Bb", "a%E2%80%8Bb"], // ZERO WIDTH SPACE
      ["a\u2024b", "a%E2%80%A4b"], // ONE DOT LEADER
      ["a b", "a%20b"],
      ["café", "café"],
      ["東京", "東京"],
      ["\u0301a", "%CC%81a"], // a combining mark first would join the `=` before it
    ] as const) {
      assert.deepEqual(t(ctx(value)), { ok: true, prefix: `c=${encoded}/` }, value);
    }
  });

  test("a value over 255 bytes as a segment, or with a lone surrogate, fails with PREFIX_VALUE_INVALID", () => {
    const long = t(ctx("x".repeat(300)));
    assert.equal(long.ok, false);
    if (!long.ok) {
      assert.equal(long.code, "PREFIX_VALUE_INVALID");
      assert.match(long.message, /field c is 300 bytes as a key segment; at most 255/);
    }
    // 100 characters that triple when escaped.
    const escaped = t(ctx(" ".repeat(100)));
    assert.equal(escaped.ok ? undefined : escaped.code, "PREFIX_VALUE_INVALID");
    assert.equal(t(ctx("x".repeat(255))).ok, true);
    const surrogate = t(ctx("a\uD800b"));
    assert.equal(surrogate.ok ? undefined : surrogate.code, "PREFIX_VALUE_INVALID");
  });

  test("every key a random value makes is valid for S3 and round-trips through percent-decoding", () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pool = [
      "a",
      "Z",
      "0",
      "/",
      "\\",
      ".",
      "%",
      " ",
      "é",
      "\u2215",
      "\uFF0F",
      "\u202E",
      "\uFEFF",
      "\u0000",
      "\u{1F600}",
      "=",
      "?",
      "#",
    ];
    for (let n = 0; n < 2000; n++) {
      const value = Array.from(
        { length: 1 + Math.floor(rand() * 12) },
        () => pool[Math.floor(rand() * pool.length)],
      ).join("");
      const r = t(ctx(value));
      assert.equal(r.ok, true, value);
      if (!r.ok) continue;
      const segment = r.prefix.slice(2, -1);
      assert.ok(!segment.includes("/"), value);
      assert.ok(segment !== "." && segment !== "..", value);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not pass
      assert.doesNotMatch(segment, /[\u0000-\u001f\u007f\p{Cf}\p{Z}\u2215\uFF0F]/u, value);
      assert.equal(decodeURIComponent(segment), value);
    }
  });
});
