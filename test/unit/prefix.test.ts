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
