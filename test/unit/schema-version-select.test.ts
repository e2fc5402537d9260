/**
 * Which schema version a record names (the Sluice-Schema-Version header, a batch item's
 * schemaVersion, a CloudEvent's dataschema), what is refused and with which code and path, and
 * the ingest core validating each record against its version and putting that version in its
 * envelope. Plain functions over plain data: Kinesis and the registry are stand-ins.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { status } from "@grpc/grpc-js";
import { envelopeEncoders } from "../../functions/core/envelope.ts";
import type { IdempotencyStore } from "../../functions/core/idempotency.ts";
import { ingestRecords } from "../../functions/core/ingest/ingest.ts";
import { type ParsedRecord, parseIngestBody } from "../../functions/core/ingest/request.ts";
import {
  selectSchemas,
  VERSION_HEADER_PATH,
  versionFromDataschema,
} from "../../functions/core/ingest/schema-version.ts";
import type { StreamRuntime } from "../../functions/core/runtime-config.ts";
import { type CompiledSchema, compiled } from "../../functions/core/validators.ts";
import { planBatch } from "../../functions/grpc-proxy/batch-request.ts";
import { toForwardItem } from "../../functions/grpc-proxy/records.ts";
import { grpcStatusFor, recordPath } from "../../functions/grpc-proxy/status.ts";
import { refused } from "../support/refused.ts";

const SUBJECT = "sluice.feedback";

const stream: StreamRuntime = {
  name: "feedback",
  subject: SUBJECT,
  idempotencyTtlSeconds: 60,
  maxFutureSkewSeconds: 300,
};

function schemaVersion(version: number, properties: Record<string, unknown>): CompiledSchema {
  return compiled({
    subject: SUBJECT,
    version,
    schema: { type: "object", required: ["n"], properties: { n: { type: "integer" }, ...properties } },
    fingerprint: `f${version}`,
    createdAt: "",
  } as Parameters<typeof compiled>[0]);
}

// v2 adds an optional typed property: v1, open, takes any `note`; v2 wants a string.
const V1 = schemaVersion(1, {});
const V2 = schemaVersion(2, { note: { type: "string" } });

/** A registry stand-in with v1 and v2 (the latest), counting its lookups. */
function registry(versions: readonly CompiledSchema[] = [V1, V2]) {
  const calls = { latest: 0, get: [] as number[] };
  return {
    calls,
    async latest(subject: string) {
      calls.latest++;
      return subject === SUBJECT ? versions.at(-1) : undefined;
    },
    async get(subject: string, version: number) {
      calls.get.push(version);
      return subject === SUBJECT ? versions.find((v) => v.version === version) : undefined;
    },
  };
}

const json = (value: unknown, schemaVersion?: string) =>
  parseIngestBody({
    contentType: "application/json",
    body: Buffer.from(JSON.stringify(value)),
    ...(schemaVersion === undefined ? {} : { schemaVersion }),
  });

const ce = (attributes: Record<string, unknown>, i = 0) => ({
  specversion: "1.0",
  id: `e-${i}`,
  source: "test",
  type: "t",
  data: { n: i },
  ...attributes,
});

describe("the Sluice-Schema-Version header", () => {
  test("names the version of every record of any body format, and points at itself", () => {
    const bodies: [string, string][] = [
      ["application/json", JSON.stringify({ n: 1 })],
      ["application/json", JSON.stringify({ records: [{ data: { n: 1 } }, { data: { n: 2 } }] })],
      ["application/x-ndjson", '{"n":1}\n{"n":2}\n'],
      ["application/cloudevents+json", JSON.stringify(ce({}))],
      ["application/cloudevents-batch+json", JSON.stringify([ce({}, 0), ce({}, 1)])],
    ];
    for (const [contentType, text] of bodies) {
      const records = parseIngestBody({ contentType, body: Buffer.from(text), schemaVersion: " 2 " });
      assert.ok(records.length >= 1);
      for (const r of records) {
        assert.equal(r.error, undefined, `${contentType}: ${JSON.stringify(r.error)}`);
        assert.deepEqual(r.schema, { version: 2, path: VERSION_HEADER_PATH }, contentType);
      }
    }
  });

  test("without it, and without a version of their own, records name none", () => {
    const [r] = json({ records: [{ data: { n: 1 } }] });
    assert.equal(r!.schema, undefined);
  });

  test("a value that is not a positive integer refuses the whole request with 400 INVALID_REQUEST", () => {
    for (const value of ["0", "-1", "1.5", "two", "", "2,3", "1e3", "99999999999999999"]) {
      const err = refused(() => json({ n: 1 }, value));
      assert.deepEqual(
        [err.code, err.status, err.path],
        ["INVALID_REQUEST", 400, VERSION_HEADER_PATH],
        value,
      );
    }
  });
});

describe("a batch item's schemaVersion", () => {
  test("names that record's version and wins over the header", () => {
    const records = json(
      {
        records: [
          { data: { n: 1 }, key: "a", schemaVersion: 1 },
          { data: { n: 2 }, key: "b" },
        ],
      },
      "2",
    );
    assert.deepEqual(
      records.map((r) => r.schema),
      [
        { version: 1, path: "/records/0/schemaVersion" },
        { version: 2, path: VERSION_HEADER_PATH },
      ],
    );
  });

  test("not a positive integer rejects that record alone with INVALID_REQUEST at its pointer", () => {
    const bad = [0, -3, 1.5, "2", null, true, 2 ** 53];
    const records = json({
      records: [{ data: { n: 0 } }, ...bad.map((schemaVersion, i) => ({ data: { n: i }, schemaVersion }))],
    });
    assert.equal(records[0]!.error, undefined);
    bad.forEach((value, i) => {
      assert.deepEqual(
        records[i + 1]!.error,
        {
          code: "INVALID_REQUEST",
          message: "schemaVersion must be a positive integer",
          path: `/records/${i + 1}/schemaVersion`,
        },
        String(value),
      );
    });
  });

  test("a record with other faults reports those first, as before", () => {
    const [r] = json({ records: [{ data: { n: 1 }, key: "", schemaVersion: 0 }] });
    assert.equal(r!.error?.code, "INVALID_IDEMPOTENCY_KEY");
  });
});

describe("a CloudEvent's dataschema", () => {
  const forms: [string, { subject: string; version: number }][] = [
    ["https://ingest.example.com/v1/schemas/sluice.feedback/versions/2", { subject: SUBJECT, version: 2 }],
    [
      "https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1/schemas/sluice.feedback/versions/12",
      {
        subject: SUBJECT,
        version: 12,
      },
    ],
    ["https://127.0.0.1:8443/v1/schemas/shop.orders/versions/1", { subject: "shop.orders", version: 1 }],
    ["urn:sluice:schema:sluice.feedback:3", { subject: SUBJECT, version: 3 }],
    ["URN:sluice:schema:a.b.c:7", { subject: "a.b.c", version: 7 }],
  ];
  for (const [uri, named] of forms) {
    test(`${uri} names ${named.subject} version ${named.version}`, () => {
      assert.deepEqual(versionFromDataschema(uri, "/dataschema"), { ...named, path: "/dataschema" });
    });
  }

  test("any other form is INVALID_DATASCHEMA, with the forms that are accepted", () => {
    const others = [
      "http://ingest.example.com/v1/schemas/sluice.feedback/versions/2",
      "https://ingest.example.com/v1/schemas/sluice.feedback/versions/latest",
      "https://ingest.example.com/v1/schemas/sluice.feedback/versions/0",
      "https://ingest.example.com/v1/schemas/sluice.feedback/versions/2?x=1",
      "https://ingest.example.com/v1/schemas/sluice.feedback/versions/2#v",
      "https://ingest.example.com/v1/schemas/sluice.feedback/versions/2/",
      "https://example.com/schemas/feedback.json",
      "urn:sluice:schema:sluice.feedback",
      "urn:sluice:schema:sluice.feedback:v2",
      "urn:other:schema:sluice.feedback:2",
      "sluice.feedback:2",
      "",
      42,
      null,
    ];
    for (const value of others) {
      const error = versionFromDataschema(value, "/3/dataschema");
      assert.equal("code" in error && error.code, "INVALID_DATASCHEMA", String(value));
      assert.equal((error as { path: string }).path, "/3/dataschema");
      assert.match(
        (error as { message: string }).message,
        /https:\/\/\{host\}\/v1\/schemas\/\{subject\}\/versions\/\{n\} or urn:sluice:schema:\{subject\}:\{n\}/,
      );
    }
  });

  test("wins over the header; a bad one rejects its event alone, at its pointer", () => {
    const events = [
      ce({ dataschema: "urn:sluice:schema:sluice.feedback:1" }, 0),
      ce({}, 1),
      ce({ dataschema: "https://example.com/feedback.json" }, 2),
    ];
    const records = parseIngestBody({
      contentType: "application/cloudevents-batch+json",
      body: Buffer.from(JSON.stringify(events)),
      schemaVersion: "2",
    });
    assert.deepEqual(records[0]!.schema, { version: 1, subject: SUBJECT, path: "/0/dataschema" });
    assert.deepEqual(records[1]!.schema, { version: 2, path: VERSION_HEADER_PATH });
    assert.equal(records[2]!.error?.code, "INVALID_DATASCHEMA");
    assert.equal(records[2]!.error?.path, "/2/dataschema");

    const [single] = parseIngestBody({
      contentType: "application/cloudevents+json",
      body: Buffer.from(JSON.stringify(ce({ dataschema: "urn:sluice:schema:sluice.feedback:x" }))),
    });
    assert.deepEqual(single!.error?.path, "/dataschema");
  });
});

describe("selectSchemas", () => {
  const named = (version: number, subject?: string): ParsedRecord => ({
    data: { n: 1 },
    schema: { version, path: `/p${version}`, ...(subject === undefined ? {} : { subject }) },
  });

  test("records that name no version get the latest, looked up once, and nothing else", async () => {
    const r = registry();
    const selection = await selectSchemas(r, stream, [{ data: {} }, { data: {} }]);
    assert.equal(selection.latest, V2);
    assert.deepEqual(r.calls, { latest: 1, get: [] });
  });

  test("each named version is looked up once per request; the latest only if a record needs it", async () => {
    const r = registry();
    const selection = await selectSchemas(r, stream, [named(1), named(1), named(9), named(1)]);
    assert.equal(selection.latest, undefined);
    assert.deepEqual(r.calls, { latest: 0, get: [1, 9] });
    assert.equal(selection.named(named(1).schema!), V1);
    assert.deepEqual(selection.named(named(9).schema!), {
      code: "SCHEMA_VERSION_NOT_FOUND",
      message: "schema sluice.feedback has no version 9",
      path: "/p9",
    });
  });

  test("a dataschema of another subject is SCHEMA_MISMATCH, without a lookup", async () => {
    const r = registry();
    const choice = named(1, "shop.orders");
    const selection = await selectSchemas(r, stream, [choice]);
    assert.deepEqual(r.calls, { latest: 0, get: [] });
    assert.deepEqual(selection.named(choice.schema!), {
      code: "SCHEMA_MISMATCH",
      message: "dataschema names schema shop.orders; stream feedback takes sluice.feedback",
      path: "/p1",
    });
  });

  test("records rejected already need no schema", async () => {
    const r = registry([]);
    const selection = await selectSchemas(r, stream, [{ error: { code: "INVALID_JSON", message: "x" } }]);
    assert.equal(selection.latest, undefined);
    assert.deepEqual(r.calls, { latest: 0, get: [] });
  });

  test("a stream with no schema at all still refuses records that name none with SCHEMA_NOT_FOUND", async () => {
    await assert.rejects(selectSchemas(registry([]), stream, [{ data: {} }]), { code: "SCHEMA_NOT_FOUND" });
  });
});

describe("envelopeEncoders", () => {
  test("encoders of several versions in one request never overwrite each other's envelopes", () => {
    const encoders = envelopeEncoders({ stream: "s", rt: "2026-01-01T00:00:00.000Z" });
    const one = encoders({ name: SUBJECT, version: 1 });
    assert.equal(encoders({ name: SUBJECT, version: 1 }), one, "made once per version");
    const two = encoders({ name: SUBJECT, version: 2 });
    const out = [1, 2, 1, 2].map((v, i) =>
      (v === 1 ? one : two)(`id${i}`, null, "2026-01-01T00:00:00Z", { i }),
    );
    assert.deepEqual(
      out.map((bytes) => {
        const e = JSON.parse(Buffer.from(bytes).toString("utf8"));
        return [e.id, e.schema.version, e.data.i];
      }),
      [
        ["id0", 1, 0],
        ["id1", 2, 1],
        ["id2", 1, 2],
        ["id3", 2, 3],
      ],
    );
  });
});

describe("ingestRecords with named versions", () => {
  /** Kinesis answering every entry, keeping what it was sent. */
  function kinesis() {
    const sent: Record<string, unknown>[] = [];
    let seq = 0;
    const client = {
      send: async (cmd: { input: { Records?: { Data: Uint8Array }[] } }) => {
        const records = cmd.input.Records ?? [];
        for (const r of records) sent.push(JSON.parse(Buffer.from(r.Data).toString("utf8")));
        return {
          FailedRecordCount: 0,
          Records: records.map(() => ({ ShardId: "shardId-0", SequenceNumber: String(++seq) })),
        };
      },
    };
    return { sent, client: client as unknown as KinesisClient };
  }

  test("each record is validated against its version, its envelope carries it, and an unknown one costs only its record", async () => {
    const k = kinesis();
    const records = json(
      {
        records: [
          // Valid under v1 (open) only: v2 wants note to be a string.
          { data: { n: 1, note: 5 }, schemaVersion: 1 },
          { data: { n: 2, note: 5 }, schemaVersion: 2 },
          { data: { n: 3, note: "x" }, schemaVersion: 2 },
          { data: { n: 4 }, schemaVersion: 9 },
          { data: { n: 5 } },
          { data: { n: 6 }, schemaVersion: 1 },
        ],
      },
      undefined,
    );
    const results = await ingestRecords(
      {
        kinesis: k.client,
        eventStream: "events",
        validators: registry() as never,
        idempotency: {} as IdempotencyStore,
      },
      stream,
      records,
    );
    assert.deepEqual(
      results.map((r) => [r.status, r.error?.code, r.error?.path]),
      [
        ["accepted", undefined, undefined],
        ["rejected", "SCHEMA_VIOLATION", "/note"],
        ["accepted", undefined, undefined],
        ["rejected", "SCHEMA_VERSION_NOT_FOUND", "/records/3/schemaVersion"],
        ["accepted", undefined, undefined],
        ["accepted", undefined, undefined],
      ],
    );
    assert.deepEqual(
      k.sent.map((e) => [(e.data as { n: number }).n, e.schema]),
      [
        [1, { name: SUBJECT, version: 1 }],
        [3, { name: SUBJECT, version: 2 }],
        [5, { name: SUBJECT, version: 2 }],
        [6, { name: SUBJECT, version: 1 }],
      ],
    );
  });
});

describe("the gRPC proxy's schema_version", () => {
  const limits = { maxBatchBytes: 5 * 1024 * 1024, maxBatchRecords: 500 };
  const record = (schemaVersion?: number) => ({
    stream: "feedback",
    json: Buffer.from('{"n":1}'),
    ...(schemaVersion === undefined ? {} : { schemaVersion }),
  });
  const items = (plan: ReturnType<typeof planBatch>) =>
    "sent" in plan ? plan.sent.map((s) => JSON.parse(s.item.text)) : assert.fail("refused");

  test("is forwarded as the batch item's schemaVersion; 0 or unset sends none, so the latest is used", () => {
    assert.deepEqual(
      [record(3), record(0), record()].map((r) => {
        const c = toForwardItem(r, limits);
        return c.ok ? JSON.parse(c.item.text) : c.error;
      }),
      [{ data: { n: 1 }, schemaVersion: 3 }, { data: { n: 1 } }, { data: { n: 1 } }],
    );
  });

  test("IngestBatch's own schema_version is that of each record that names none", () => {
    assert.deepEqual(items(planBatch([record(3), record(0), record()], limits, 2)), [
      { data: { n: 1 }, schemaVersion: 3 },
      { data: { n: 1 }, schemaVersion: 2 },
      { data: { n: 1 }, schemaVersion: 2 },
    ]);
  });

  test("errors about the version point at the record's schema_version, with gRPC statuses", () => {
    assert.equal(
      recordPath("/records/4/schemaVersion", "SCHEMA_VERSION_NOT_FOUND", undefined),
      "/schema_version",
    );
    assert.equal(grpcStatusFor("SCHEMA_VERSION_NOT_FOUND"), status.NOT_FOUND);
    assert.equal(grpcStatusFor("SCHEMA_MISMATCH"), status.INVALID_ARGUMENT);
    assert.equal(grpcStatusFor("INVALID_DATASCHEMA"), status.INVALID_ARGUMENT);
  });
});
