import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import type { TransformationEvent, TransformationRecordOut } from "../../functions/core/firehose-contract.ts";
import type { TransformStep } from "../../functions/core/manifest/types.ts";
import { customTransformNames, register } from "../../functions/transform/custom.ts";
import { sentimentScore } from "../../functions/transform/custom-transforms.ts";
import { compileSteps, REDACTED, type StepOutcome } from "../../functions/transform/steps.ts";
import { createTransformer, type TransformSummary } from "../../functions/transform/transformer.ts";

const now = new Date("2026-03-04T05:06:07.089Z");
const ctx = { now, recordId: "r-1" };

function apply(steps: readonly TransformStep[], record: Record<string, unknown>): StepOutcome {
  return compileSteps(steps).apply(record, ctx);
}

function ok(outcome: StepOutcome): Record<string, unknown> {
  assert.equal(outcome.result, "Ok", JSON.stringify(outcome));
  return outcome.result === "Ok" ? outcome.data : {};
}

function failure(outcome: StepOutcome): { code: string; message: string } {
  assert.equal(outcome.result, "ProcessingFailed", JSON.stringify(outcome));
  return outcome.result === "ProcessingFailed"
    ? { code: outcome.code, message: outcome.message }
    : { code: "", message: "" };
}

function keeps(
  condition: Extract<TransformStep, { filter: unknown }>["filter"],
  record: Record<string, unknown>,
): boolean {
  return apply([{ filter: condition }], record).result === "Ok";
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

const b64 = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64");
const unb64 = (data: string | undefined) =>
  JSON.parse(Buffer.from(data ?? "", "base64").toString("utf8")) as unknown;

function firehoseEvent(payloads: readonly unknown[]): TransformationEvent {
  return {
    invocationId: "inv-1",
    deliveryStreamArn: "arn:aws:firehose:us-east-1:000000000000:deliverystream/lake",
    region: "us-east-1",
    records: payloads.map((payload, i) => ({
      recordId: `rec-${i}`,
      data: typeof payload === "string" ? Buffer.from(payload).toString("base64") : b64(payload),
      approximateArrivalTimestamp: 1_700_000_000_000,
      kinesisRecordMetadata: {
        shardId: "shardId-000000000000",
        partitionKey: `pk-${i}`,
        sequenceNumber: String(1000 + i),
        subsequenceNumber: "0",
        approximateArrivalTimestamp: 1_700_000_000_000,
      },
    })),
  };
}

// Test-only custom transforms, registered once for the whole file.
register("test-drop-all", () => null);
register("test-throw", () => {
  throw new Error(`boom ${"x".repeat(500)}`);
});
register("test-mutate-options", (record, options) => {
  (options as Record<string, unknown>).seen = true;
  return record;
});
register("test-trap", (record) => {
  const trap = { ...record };
  Object.defineProperty(trap, "boom", {
    enumerable: true,
    get() {
      throw new Error("trap");
    },
  });
  return trap;
});
register("test-bigint", (record) => ({ ...record, n: 1n }));
register("test-edit-nested", (record) => {
  (record.user as Record<string, unknown>).name = "changed";
  return record;
});

describe("filter", () => {
  test("eq and ne compare without converting types", () => {
    assert.equal(keeps({ field: "n", op: "eq", value: 1 }, { n: 1 }), true);
    assert.equal(keeps({ field: "n", op: "eq", value: 1 }, { n: "1" }), false);
    assert.equal(keeps({ field: "tags", op: "eq", value: ["a", "b"] }, { tags: ["a", "b"] }), true);
    assert.equal(keeps({ field: "n", op: "ne", value: 1 }, { n: "1" }), true);
    assert.equal(keeps({ field: "n", op: "ne", value: 1 }, { n: 1 }), false);
    assert.equal(keeps({ field: "n", op: "ne", value: 1 }, {}), true);
  });

  test("in matches any listed value, of the same type", () => {
    const cond = { field: "status", op: "in", value: ["open", "pending", 3] } as const;
    assert.equal(keeps(cond, { status: "pending" }), true);
    assert.equal(keeps(cond, { status: 3 }), true);
    assert.equal(keeps(cond, { status: "3" }), false);
    assert.equal(keeps(cond, {}), false);
    assert.equal(keeps({ field: "p", op: "in", value: [{ x: 1 }] }, { p: { x: 1 } }), true);
  });

  test("gt/gte/lt/lte order numbers, strings and ISO instants; mixed types never match", () => {
    assert.equal(keeps({ field: "n", op: "gt", value: 5 }, { n: 6 }), true);
    assert.equal(keeps({ field: "n", op: "gt", value: 5 }, { n: 5 }), false);
    assert.equal(keeps({ field: "n", op: "gte", value: 5 }, { n: 5 }), true);
    assert.equal(keeps({ field: "n", op: "lt", value: 5 }, { n: 4.5 }), true);
    assert.equal(keeps({ field: "n", op: "lte", value: 5 }, { n: 5 }), true);
    assert.equal(keeps({ field: "n", op: "lte", value: 5 }, { n: 6 }), false);
    assert.equal(keeps({ field: "n", op: "gt", value: 5 }, { n: "6" }), false);
    assert.equal(keeps({ field: "s", op: "lt", value: "m" }, { s: "apple" }), true);
    assert.equal(keeps({ field: "s", op: "lt", value: "m" }, { s: 1 }), false);
    // 10:30+02:00 is 08:30Z, before 09:00Z, though it sorts after it as text.
    const since = { field: "ts", op: "gte", value: "2026-01-01T09:00:00Z" } as const;
    assert.equal(keeps(since, { ts: "2026-01-01T10:30:00+02:00" }), false);
    assert.equal(keeps(since, { ts: "2026-01-01T09:00:00.5Z" }), true);
    assert.equal(keeps(since, { ts: "2026-01-02" }), true);
    assert.equal(keeps(since, { ts: "tomorrow" }), false);
    assert.equal(keeps(since, { ts: 1_800_000_000 }), false);
    assert.equal(keeps(since, {}), false);
  });

  test("exists: true or absent means present, false means absent; null counts as present", () => {
    assert.equal(keeps({ field: "a.b", op: "exists" }, { a: { b: 0 } }), true);
    assert.equal(keeps({ field: "a.b", op: "exists", value: true }, { a: {} }), false);
    assert.equal(keeps({ field: "a.b", op: "exists", value: false }, { a: {} }), true);
    assert.equal(keeps({ field: "a.b", op: "exists", value: false }, { a: { b: null } }), false);
    assert.equal(keeps({ field: "toString", op: "exists" }, {}), false);
  });

  test("contains finds substrings and array elements", () => {
    assert.equal(
      keeps({ field: "text", op: "contains", value: "refund" }, { text: "want a refund now" }),
      true,
    );
    assert.equal(keeps({ field: "text", op: "contains", value: "refund" }, { text: "thanks" }), false);
    assert.equal(keeps({ field: "tags", op: "contains", value: "vip" }, { tags: ["new", "vip"] }), true);
    assert.equal(keeps({ field: "tags", op: "contains", value: 2 }, { tags: [1, "2"] }), false);
    assert.equal(keeps({ field: "text", op: "contains", value: 1 }, { text: "1" }), false);
  });

  test("regex is compiled once and matches strings only", () => {
    const cond = { field: "email", op: "regex", value: "@example\\.(com|org)$" } as const;
    assert.equal(keeps(cond, { email: "a@example.org" }), true);
    assert.equal(keeps(cond, { email: "a@example.net" }), false);
    assert.equal(keeps(cond, { email: 42 }), false);
    assert.throws(
      () => compileSteps([{ filter: { field: "x", op: "regex", value: "(" } }]),
      /step 1 \(filter\).*regex/,
    );
  });

  test("and, or and not combine, nested", () => {
    const cond = {
      and: [
        {
          or: [
            { field: "kind", op: "eq", value: "bug" },
            { field: "priority", op: "gte", value: 3 },
          ],
        },
        { not: { field: "user.internal", op: "eq", value: true } },
      ],
    } as const;
    assert.equal(keeps(cond, { kind: "bug", user: { internal: false } }), true);
    assert.equal(keeps(cond, { kind: "idea", priority: 4, user: {} }), true);
    assert.equal(keeps(cond, { kind: "idea", priority: 1 }), false);
    assert.equal(keeps(cond, { kind: "bug", user: { internal: true } }), false);
  });

  test("a dropped record says which step dropped it", () => {
    const outcome = apply([{ set: { a: 1 } }, { filter: { field: "a", op: "eq", value: 2 } }], {});
    assert.equal(outcome.result, "Dropped");
    assert.match(outcome.result === "Dropped" ? outcome.reason : "", /^step 2 \(filter\)/);
  });
});

describe("rename, project, set, drop", () => {
  test("rename moves fields, including into and out of nested objects", () => {
    const input = deepFreeze({ a: 1, user: { id: "u1", name: "Ann" } });
    const data = ok(
      apply([{ rename: { a: "b", "user.id": "userId", "user.name": "profile.display.name" } }], input),
    );
    assert.deepEqual(data, { b: 1, user: {}, userId: "u1", profile: { display: { name: "Ann" } } });
  });

  test("rename of a missing source is a no-op; renames in one step swap", () => {
    assert.deepEqual(ok(apply([{ rename: { missing: "x" } }], { a: 1 })), { a: 1 });
    assert.deepEqual(ok(apply([{ rename: { a: "b", b: "a" } }], { a: 1, b: 2 })), { a: 2, b: 1 });
  });

  test("project keeps the listed paths in order, nested paths preserved", () => {
    const input = {
      z: 1,
      a: 2,
      user: { id: "u1", secret: "s", geo: { country: "DE", city: "B" } },
      extra: true,
    };
    const data = ok(apply([{ project: ["user.geo.country", "a", "missing", "user.id"] }], deepFreeze(input)));
    assert.deepEqual(data, { user: { geo: { country: "DE" }, id: "u1" }, a: 2 });
    assert.deepEqual(Object.keys(data), ["user", "a"]);
  });

  test("set writes constants and templates; a single template keeps the value's type", () => {
    const data = ok(
      apply(
        [
          {
            set: {
              "meta.source": "web",
              "meta.version": 2,
              "meta.flags": { beta: true },
              receivedAt: "{{now}}",
              id: "{{uuid}}",
              count: "{{field:stats.count}}",
              copy: "{{field:stats}}",
              label: "{{field:user}}-{{field:stats.count}} at {{ now }}",
              absent: "{{field:nope}}",
              partial: "x-{{field:nope}}",
            },
          },
        ],
        deepFreeze({ user: "ann", stats: { count: 7 } }),
      ),
    );
    assert.deepEqual(data.meta, { source: "web", version: 2, flags: { beta: true } });
    assert.equal(data.receivedAt, "2026-03-04T05:06:07.089Z");
    assert.match(String(data.id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(data.count, 7);
    assert.deepEqual(data.copy, { count: 7 });
    assert.equal(data.label, "ann-7 at 2026-03-04T05:06:07.089Z");
    assert.equal("absent" in data, false);
    assert.equal("partial" in data, false);
  });

  test("set values are computed before any is written, and objects are not shared", () => {
    const pipeline = compileSteps([
      { set: { a: 1, b: "{{field:a}}", obj: { n: 1 } } },
      { set: { "obj.n": 2 } },
    ]);
    const first = ok(pipeline.apply({ a: 0 }, ctx));
    assert.deepEqual(first, { a: 1, b: 0, obj: { n: 2 } });
    const second = ok(pipeline.apply({}, ctx));
    assert.deepEqual(second.obj, { n: 2 });
    assert.notEqual(first.obj, second.obj);
    const copied = ok(apply([{ set: { copy: "{{field:o}}" } }, { set: { "o.x": 2 } }], { o: { x: 1 } }));
    assert.deepEqual(copied, { o: { x: 2 }, copy: { x: 1 } });
  });

  test("two {{uuid}} values differ", () => {
    const data = ok(apply([{ set: { a: "{{uuid}}", b: "{{uuid}}" } }], {}));
    assert.notEqual(data.a, data.b);
  });

  test("set replaces a non-object on the way with an object", () => {
    assert.deepEqual(ok(apply([{ set: { "a.b": 1 } }], { a: 5 })), { a: { b: 1 } });
  });

  test("drop removes paths; missing ones are ignored", () => {
    const input = deepFreeze({ a: 1, user: { id: 1, email: "e" }, keep: true });
    assert.deepEqual(ok(apply([{ drop: ["a", "user.email", "nope", "user.nope.deeper"] }], input)), {
      user: { id: 1 },
      keep: true,
    });
  });

  test("unknown templates are rejected at compile time", () => {
    assert.throws(() => compileSteps([{ set: { a: "{{today}}" } }]), /step 1 \(set\).*unknown template/);
  });
});

describe("coerce", () => {
  const record = {
    s: 12,
    obj: { a: 1 },
    n: "3.5",
    i: "42",
    i2: 7.0,
    b1: "true",
    b2: "0",
    b3: 1,
    b4: "FALSE",
    t1: "2026-01-02T03:04:05+01:00",
    t2: 1_700_000_000,
    t3: 1_700_000_000_123,
    nul: null,
  };

  test("converts to every target type; missing and null fields stay as they are", () => {
    const data = ok(
      apply(
        [
          {
            coerce: {
              s: "string",
              obj: "string",
              n: "number",
              i: "integer",
              i2: "integer",
              b1: "boolean",
              b2: "boolean",
              b3: "boolean",
              b4: "boolean",
              t1: "timestamp",
              t2: "timestamp",
              t3: "timestamp",
              nul: "integer",
              missing: "number",
            },
          },
        ],
        deepFreeze({ ...record }),
      ),
    );
    assert.deepEqual(data, {
      s: "12",
      obj: '{"a":1}',
      n: 3.5,
      i: 42,
      i2: 7,
      b1: true,
      b2: false,
      b3: true,
      b4: false,
      t1: "2026-01-02T02:04:05.000Z",
      t2: "2023-11-14T22:13:20.000Z",
      t3: "2023-11-14T22:13:20.123Z",
      nul: null,
    });
  });

  test("rejects what does not convert cleanly", () => {
    const bad: [string, unknown, "number" | "integer" | "boolean" | "timestamp"][] = [
      ["x", "1.5", "integer"],
      ["x", 1.5, "integer"],
      ["x", "12345678901234567890", "integer"],
      ["x", "abc", "number"],
      ["x", "0x10", "number"],
      ["x", "", "number"],
      ["x", true, "number"],
      ["x", "yes", "boolean"],
      ["x", 2, "boolean"],
      ["x", "2026-02-30", "timestamp"],
      ["x", "next tuesday", "timestamp"],
    ];
    for (const [field, value, type] of bad) {
      const result = failure(apply([{ coerce: { [field]: type } }], { [field]: value }));
      assert.equal(result.code, "COERCE_FAILED", `${JSON.stringify(value)} -> ${type}`);
    }
  });

  test("onError fail (default) names the field and type; null nulls it; drop drops the record", () => {
    const input = { user: { age: "old" }, other: "1" };
    const failed = failure(apply([{ coerce: { "user.age": "integer", other: "integer" } }], input));
    assert.equal(failed.code, "COERCE_FAILED");
    assert.match(failed.message, /"user\.age"/);
    assert.match(failed.message, /integer/);
    assert.doesNotMatch(failed.message, /old/, "the message must not carry the payload");
    assert.equal(
      failure(apply([{ coerce: { "user.age": "integer" }, onError: "fail" }], input)).code,
      "COERCE_FAILED",
    );
    assert.deepEqual(
      ok(apply([{ coerce: { "user.age": "integer", other: "integer" }, onError: "null" }], input)),
      {
        user: { age: null },
        other: 1,
      },
    );
    const dropped = apply([{ coerce: { "user.age": "integer" }, onError: "drop" }], input);
    assert.equal(dropped.result, "Dropped");
  });
});

describe("timestamp", () => {
  const parse = (value: unknown, formats?: string[], to?: string) =>
    apply([{ timestamp: { field: "t", ...(formats ? { formats } : {}), ...(to ? { to } : {}) } }], {
      t: value,
    });
  const iso = (value: unknown, formats?: string[]) => ok(parse(value, formats)).t;

  test("epoch seconds and milliseconds", () => {
    assert.equal(iso(1_700_000_000, ["epoch_s"]), "2023-11-14T22:13:20.000Z");
    assert.equal(iso("1700000000.25", ["epoch_s"]), "2023-11-14T22:13:20.250Z");
    assert.equal(iso(1_700_000_000_123, ["epoch_ms"]), "2023-11-14T22:13:20.123Z");
  });

  test("ISO-8601 with an offset becomes UTC; no offset means UTC", () => {
    assert.equal(iso("2026-01-02T03:04:05.123456-05:30", ["iso8601"]), "2026-01-02T08:34:05.123Z");
    assert.equal(iso("2026-01-02 03:04", ["iso8601"]), "2026-01-02T03:04:00.000Z");
    assert.equal(iso("2026-01-02", ["iso8601"]), "2026-01-02T00:00:00.000Z");
  });

  test("RFC 2822", () => {
    assert.equal(iso("Tue, 01 Nov 2022 10:00:00 +0100", ["rfc2822"]), "2022-11-01T09:00:00.000Z");
    assert.equal(iso("1 Nov 22 10:00 PST", ["rfc2822"]), "2022-11-01T18:00:00.000Z");
    assert.equal(iso("Tue, 01 Nov 2022 10:00:00 GMT", ["rfc2822"]), "2022-11-01T10:00:00.000Z");
  });

  test("strftime patterns", () => {
    assert.equal(iso("2026-03-04 05:06:07", ["%Y-%m-%d %H:%M:%S"]), "2026-03-04T05:06:07.000Z");
    assert.equal(iso("04/03/2026 05:06:07.5 +0200", ["%d/%m/%Y %H:%M:%S.%f %z"]), "2026-03-04T03:06:07.500Z");
    assert.equal(iso(20260304, ["%Y%m%d"]), "2026-03-04T00:00:00.000Z");
    assert.equal(iso("100% 2026", ["100%% %Y"]), "2026-01-01T00:00:00.000Z");
    assert.throws(() => compileSteps([{ timestamp: { field: "t", formats: ["%Y %b"] } }]), /%b/);
    assert.throws(
      () => compileSteps([{ timestamp: { field: "t", formats: ["unix"] } }]),
      /unknown time format/,
    );
  });

  test("the first format that fits wins; default formats cover ISO, epoch and RFC 2822", () => {
    assert.equal(iso("1700000000", ["iso8601", "epoch_s", "epoch_ms"]), "2023-11-14T22:13:20.000Z");
    assert.equal(iso("2026-03-04T05:06:07Z"), "2026-03-04T05:06:07.000Z");
    assert.equal(iso(1_700_000_000), "2023-11-14T22:13:20.000Z");
    assert.equal(iso(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
    assert.equal(iso("Tue, 01 Nov 2022 10:00:00 +0000"), "2022-11-01T10:00:00.000Z");
  });

  test("writes to `to` when given and leaves the source alone", () => {
    assert.deepEqual(ok(parse("1700000000", ["epoch_s"], "meta.at")), {
      t: "1700000000",
      meta: { at: "2023-11-14T22:13:20.000Z" },
    });
  });

  test("unparseable values fail with TIMESTAMP_FAILED; a missing field is left missing", () => {
    const result = failure(parse("2026-13-01", ["iso8601", "%Y-%m-%d"]));
    assert.equal(result.code, "TIMESTAMP_FAILED");
    assert.match(result.message, /"t"/);
    assert.equal(failure(parse("31/02/2026", ["%d/%m/%Y"])).code, "TIMESTAMP_FAILED");
    assert.deepEqual(ok(apply([{ timestamp: { field: "t" } }], { x: 1 })), { x: 1 });
  });
});

describe("mask", () => {
  test("redact replaces values; missing fields are skipped", () => {
    const data = ok(
      apply(
        [{ mask: { fields: ["email", "user.phone", "nope"], mode: "redact" } }],
        deepFreeze({ email: "a@b.c", user: { phone: 123 } }),
      ),
    );
    assert.deepEqual(data, { email: REDACTED, user: { phone: REDACTED } });
  });

  test("sha256 hashes salt + value as hex", () => {
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    const salted = ok(
      apply([{ mask: { fields: ["email", "n"], mode: "sha256", salt: "pepper" } }], {
        email: "a@b.c",
        n: 42,
      }),
    );
    assert.deepEqual(salted, { email: sha("peppera@b.c"), n: sha("pepper42") });
    const plain = ok(apply([{ mask: { fields: ["email"], mode: "sha256" } }], { email: "a@b.c" }));
    assert.equal(plain.email, sha("a@b.c"));
  });
});

describe("route", () => {
  test("sets partition keys from fields and templates", () => {
    const outcome = apply(
      [
        { route: { region: "geo.region", tier: "{{field:tier}}", day: "d-{{field:day}}" } },
        { route: { n: "count" } },
      ],
      { geo: { region: "eu" }, tier: 2, day: "mon", count: 3 },
    );
    assert.equal(outcome.result, "Ok");
    assert.deepEqual(outcome.result === "Ok" ? outcome.partitionKeys : undefined, {
      region: "eu",
      tier: "2",
      day: "d-mon",
      n: "3",
    });
  });

  test("a missing, empty or non-scalar field fails with ROUTE_FAILED", () => {
    assert.equal(failure(apply([{ route: { region: "geo.region" } }], { geo: {} })).code, "ROUTE_FAILED");
    assert.equal(failure(apply([{ route: { region: "region" } }], { region: "" })).code, "ROUTE_FAILED");
    assert.equal(
      failure(apply([{ route: { region: "region" } }], { region: { a: 1 } })).code,
      "ROUTE_FAILED",
    );
    assert.equal(failure(apply([{ route: { region: "r-{{field:region}}" } }], {})).code, "ROUTE_FAILED");
  });

  test("no route, no partition keys", () => {
    const outcome = apply([{ set: { a: 1 } }], {});
    assert.equal(outcome.result === "Ok" && "partitionKeys" in outcome, false);
  });
});

describe("custom", () => {
  test("sentiment is registered whenever custom.ts is imported", () => {
    assert.ok(customTransformNames().has("sentiment"));
  });

  test("sentiment labels and scores text from options.field (default content)", () => {
    const positive = ok(apply([{ custom: "sentiment" }], { content: "I love it, great support!" }));
    assert.equal(positive.sentiment, "positive");
    assert.ok(typeof positive.sentimentScore === "number" && positive.sentimentScore > 0.5);
    const negative = ok(
      apply([{ custom: "sentiment", options: { field: "review.text" } }], {
        review: { text: "Terrible. The app crashes." },
      }),
    );
    assert.equal(negative.sentiment, "negative");
    assert.ok(typeof negative.sentimentScore === "number" && negative.sentimentScore < 0);
    const neutral = ok(apply([{ custom: "sentiment" }], { content: "The invoice is attached." }));
    assert.deepEqual([neutral.sentiment, neutral.sentimentScore], ["neutral", 0]);
    const missing = ok(apply([{ custom: "sentiment" }], {}));
    assert.equal(missing.sentiment, "neutral");
    assert.ok(sentimentScore("not good") < 0, "a negator flips the next word");
  });

  test("a throw is CUSTOM_FAILED with the error's message cut to 200 characters", () => {
    const result = failure(apply([{ custom: "test-throw" }], {}));
    assert.equal(result.code, "CUSTOM_FAILED");
    assert.equal(result.message.length, 200);
    assert.ok(result.message.startsWith("boom xxx"));
    const sentiment = failure(apply([{ custom: "sentiment" }], { content: 5 }));
    assert.equal(sentiment.code, "CUSTOM_FAILED");
    assert.match(sentiment.message, /not text/);
  });

  test("null drops the record; unknown names fail at compile time", () => {
    assert.equal(apply([{ custom: "test-drop-all" }], { a: 1 }).result, "Dropped");
    assert.throws(
      () => compileSteps([{ custom: "nope" }]),
      /step 1 \(custom\).*unknown custom transform "nope"/,
    );
  });

  test("a transform gets a copy and frozen options, so neither the input nor the next record changes", () => {
    const input = { user: { name: "Ann" } };
    const data = ok(apply([{ custom: "test-edit-nested" }], input));
    assert.deepEqual(data, { user: { name: "changed" } });
    assert.deepEqual(input, { user: { name: "Ann" } });
    assert.equal(
      failure(apply([{ custom: "test-mutate-options", options: { a: 1 } }], {})).code,
      "CUSTOM_FAILED",
    );
  });
});

describe("compileSteps", () => {
  test("never changes its input, whatever the steps do", () => {
    const input = deepFreeze({
      a: "1",
      user: { id: "u1", email: "a@b.c", geo: { country: "DE" } },
      ts: 1_700_000_000,
      content: "great",
    });
    const snapshot = structuredClone(input);
    const steps: TransformStep[] = [
      { rename: { "user.id": "userId" } },
      { set: { "user.geo.city": "Berlin", "meta.at": "{{now}}" } },
      { coerce: { a: "integer" } },
      { timestamp: { field: "ts", formats: ["epoch_s"] } },
      { mask: { fields: ["user.email"], mode: "redact" } },
      { drop: ["user.geo.country"] },
      { custom: "sentiment" },
      { set: { "user.geo.zip": "10115" } },
      { project: ["userId", "user", "a", "ts", "meta", "sentiment"] },
      { route: { country: "user.geo.city" } },
    ];
    const data = ok(apply(steps, input));
    assert.deepEqual(input, snapshot);
    assert.deepEqual(data, {
      userId: "u1",
      user: { email: REDACTED, geo: { city: "Berlin", zip: "10115" } },
      a: 1,
      ts: "2023-11-14T22:13:20.000Z",
      meta: { at: "2026-03-04T05:06:07.089Z" },
      sentiment: "positive",
    });
  });

  test("a step that throws unexpectedly fails only with TRANSFORM_ERROR", () => {
    const result = failure(apply([{ custom: "test-trap" }, { set: { x: "{{field:boom}}" } }], {}));
    assert.equal(result.code, "TRANSFORM_ERROR");
    assert.match(result.message, /^step 2 \(set\) failed unexpectedly: trap/);
  });

  test("malformed steps throw at compile time naming the step", () => {
    assert.throws(
      () => compileSteps([{ set: { a: 1 } }, { bogus: 1 } as unknown as TransformStep]),
      /exactly one of/,
    );
    assert.throws(
      () => compileSteps([{ coerce: { a: "date" as "string" } }]),
      /step 1 \(coerce\).*unknown type "date"/,
    );
    assert.throws(() => compileSteps([{ rename: { "a..b": "c" } }]), /empty segment/);
  });
});

describe("prototype pollution", () => {
  test("__proto__, constructor and prototype in data and config stay plain fields", () => {
    const input = JSON.parse('{"__proto__": {"x": 1}, "a": {"__proto__": {"y": 2}}}') as Record<
      string,
      unknown
    >;
    const outcome = apply(
      [
        {
          set: {
            "__proto__.x": 2,
            "__proto__.polluted": true,
            "constructor.prototype.polluted": true,
            "a.__proto__.z": 3,
          },
        },
        { rename: { a: "prototype" } },
        { coerce: { "__proto__.x": "string" } },
        { mask: { fields: ["__proto__.polluted"], mode: "redact" } },
        {
          custom: "sentiment",
          options: JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>,
        },
        { route: JSON.parse('{"__proto__": "__proto__.x"}') as Record<string, string> },
      ],
      input,
    );
    const data = ok(outcome);
    const keys = outcome.result === "Ok" ? outcome.partitionKeys : undefined;
    assert.equal(Object.getPrototypeOf(keys), Object.prototype);
    assert.deepEqual(JSON.stringify(keys), '{"__proto__":"2"}');
    const probe: Record<string, unknown> = {};
    assert.equal(probe.x, undefined);
    assert.equal(probe.polluted, undefined);
    assert.equal(probe.z, undefined);
    assert.equal(Object.getPrototypeOf(data), Object.prototype);
    assert.equal(Object.hasOwn(data, "__proto__"), true);
    const json = JSON.parse(JSON.stringify(data)) as unknown;
    assert.deepEqual(
      json,
      JSON.parse(
        '{"__proto__": {"x": "2", "polluted": "***REDACTED***"}, "constructor": {"prototype": {"polluted": true}}, "prototype": {"__proto__": {"y": 2, "z": 3}}, "sentiment": "neutral", "sentimentScore": 0}',
      ),
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.hasOwn(Object.prototype, "polluted"), false);
  });

  test("the Firehose path keeps __proto__ keys as data", async () => {
    const transform = createTransformer([
      { drop: ["__proto__.x"] },
      { filter: { field: "__proto__.y", op: "eq", value: 2 } },
    ]);
    const event = firehoseEvent(['{"__proto__": {"x": 1, "y": 2}}', '{"__proto__": {"y": 3}}']);
    const response = await transform(event);
    assert.deepEqual(
      response.records.map((r) => r.result),
      ["Ok", "Dropped"],
    );
    assert.equal(Buffer.from(response.records[0]!.data ?? "", "base64").toString(), '{"__proto__":{"y":2}}');
    assert.equal(({} as Record<string, unknown>).y, undefined);
  });
});

describe("createTransformer (Firehose contract)", () => {
  const steps: TransformStep[] = [
    { filter: { field: "kind", op: "ne", value: "test" } },
    { rename: { rating: "score", "user.id": "userId" } },
    { coerce: { score: "integer" } },
    { route: { kind: "kind" } },
  ];

  test("filter + rename + coerce over a mixed batch: one result per record, in order", async () => {
    const summaries: TransformSummary[] = [];
    const transform = createTransformer(steps, { onSummary: (s) => summaries.push(s) });
    const payloads = [
      { kind: "review", rating: "5", user: { id: "u1" } },
      { kind: "test", rating: "1" },
      { kind: "review", rating: "five" },
      "{not json",
      { kind: "bug", rating: 2 },
      "[1, 2]",
      { rating: "3" },
    ];
    const event = firehoseEvent(payloads);
    const response = await transform(event);
    assert.deepEqual(
      response.records.map((r) => r.recordId),
      event.records.map((r) => r.recordId),
    );
    assert.deepEqual(
      response.records.map((r) => r.result),
      ["Ok", "Dropped", "ProcessingFailed", "ProcessingFailed", "Ok", "ProcessingFailed", "ProcessingFailed"],
    );
    const [first, , badRating, badJson, second] = response.records as TransformationRecordOut[];
    assert.deepEqual(unb64(first!.data), { kind: "review", user: {}, score: 5, userId: "u1" });
    assert.deepEqual(first!.metadata, { partitionKeys: { kind: "review" } });
    assert.deepEqual(unb64(second!.data), { kind: "bug", score: 2 });
    assert.equal(badRating!.data, event.records[2]!.data, "failed records echo their input");
    assert.equal(badJson!.data, event.records[3]!.data);
    assert.equal(badRating!.metadata, undefined);
    assert.deepEqual(summaries, [
      {
        invocationId: "inv-1",
        records: 7,
        ok: 2,
        dropped: 1,
        failed: 4,
        failures: [
          {
            recordId: "rec-2",
            code: "COERCE_FAILED",
            message: 'step 3 (coerce): field "score" cannot be coerced to integer',
          },
          { recordId: "rec-3", code: "INVALID_JSON", message: "data is not valid JSON" },
          { recordId: "rec-5", code: "NOT_AN_OBJECT", message: "data is not a JSON object" },
          {
            recordId: "rec-6",
            code: "ROUTE_FAILED",
            message:
              'step 4 (route): partition key "kind" has no value ("kind" is missing, empty or not a scalar)',
          },
        ],
      },
    ]);
  });

  test("an unserializable result fails only that record", async () => {
    const transform = createTransformer([{ custom: "test-bigint" }]);
    const response = await transform(firehoseEvent([{ a: 1 }]));
    assert.equal(response.records[0]!.result, "ProcessingFailed");
  });

  test("no steps passes records through", async () => {
    const response = await createTransformer([])(firehoseEvent([{ a: 1 }]));
    assert.deepEqual(unb64(response.records[0]!.data), { a: 1 });
  });

  test("10k records in one call: every one answered, in order", async () => {
    const transform = createTransformer([
      ...steps,
      { set: { at: "{{now}}", "meta.source": "bench" } },
      { timestamp: { field: "ts", formats: ["epoch_ms"] } },
      { mask: { fields: ["user.email"], mode: "sha256", salt: "s" } },
    ]);
    const payloads = Array.from({ length: 10_000 }, (_, i) => ({
      kind: i % 10 === 0 ? "test" : "review",
      rating: String(i % 5),
      ts: 1_700_000_000_000 + i,
      user: { id: `u${i}`, email: `u${i}@example.com` },
      content: "some text to carry along",
    }));
    const event = firehoseEvent(payloads);
    const response = await transform(event);
    assert.equal(response.records.length, 10_000);
    assert.deepEqual(
      response.records.map((r) => r.recordId),
      event.records.map((r) => r.recordId),
    );
    assert.equal(response.records.filter((r) => r.result === "Ok").length, 9_000);
  });
});

describe("handler", () => {
  test("reads SLUICE_CONFIG and SLUICE_PIPELINE once and serves that pipeline's steps", async () => {
    const config = {
      app: "sluice",
      eventStream: "sluice-events",
      tables: { idempotency: "i", checkpoints: "c", schemas: "s", apiKeys: "k" },
      kmsKeyId: "alias/sluice",
      streams: {},
      pipelines: {
        lake: {
          name: "lake",
          sources: ["feedback"],
          steps: [{ set: { piped: true } }, { custom: "sentiment" }],
          transformer: "sluice-lake-transform",
          sink: {},
          batch: { size: 100, windowSeconds: 1, maxRetries: 1, bisectOnError: true },
        },
      },
    };
    process.env.SLUICE_CONFIG = JSON.stringify(config);
    process.env.SLUICE_PIPELINE = "lake";
    process.env.LOG_LEVEL = "error";
    const { handler } = await import("../../functions/transform/handler.ts");
    const response = await handler(firehoseEvent([{ content: "great" }]));
    assert.deepEqual(unb64(response.records[0]!.data), {
      content: "great",
      piped: true,
      sentiment: "positive",
      sentimentScore: sentimentScore("great"),
    });
  });
});
