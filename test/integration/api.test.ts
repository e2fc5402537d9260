/** The API's other routes over HTTP: schema registry, health with readiness, the OpenAPI document. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

let runner: LocalRunner;

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${runner.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...authHeader(runner) },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

before(async () => {
  // A long health TTL, so the test of the cache does not depend on how fast a loaded machine is.
  runner = await startTestRunner("api", { pipelines: false, schemaTtlMs: 0, healthTtlMs: 600_000 });
});

after(async () => {
  await runner?.stop();
});

const orders = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  required: ["orderId"],
  properties: { orderId: { type: "string" }, amount: { type: "number" } },
};

describe("schema registry", () => {
  test("registering a schema creates version 1; the same schema reformatted returns it again", async () => {
    const first = await call("POST", "/v1/schemas", { name: "orders", namespace: "shop", schema: orders });
    assert.equal(first.status, 201);
    assert.equal(first.body.subject, "shop.orders");
    assert.equal(first.body.version, 1);
    const reordered = {
      properties: orders.properties,
      required: orders.required,
      type: "object",
      $schema: orders.$schema,
    };
    const again = await call("POST", "/v1/schemas", { name: "orders", namespace: "shop", schema: reordered });
    assert.equal(again.status, 200);
    assert.equal(again.body.version, 1);
    assert.equal(again.body.created, false);
    assert.equal(again.body.fingerprint, first.body.fingerprint);
  });

  test("a changed schema becomes version 2, and versions are listed and fetched", async () => {
    const v2 = { ...orders, properties: { ...orders.properties, currency: { type: "string" } } };
    const created = await call("POST", "/v1/schemas", { name: "orders", namespace: "shop", schema: v2 });
    assert.equal(created.status, 201);
    assert.equal(created.body.version, 2);
    const list = await call("GET", "/v1/schemas/shop.orders/versions");
    assert.deepEqual(
      (list.body.versions as { version: number }[]).map((v) => v.version),
      [1, 2],
    );
    const latest = await call("GET", "/v1/schemas/shop.orders/versions/latest");
    assert.deepEqual(latest.body.schema, v2);
    const one = await call("GET", "/v1/schemas/shop.orders/versions/1");
    assert.deepEqual(one.body.schema, orders);
    const subjects = (await call("GET", "/v1/schemas")).body.subjects as {
      subject: string;
      latestVersion: number;
    }[];
    assert.deepEqual(
      subjects.find((s) => s.subject === "shop.orders"),
      { subject: "shop.orders", latestVersion: 2, versions: 2 },
    );
    assert.ok(subjects.some((s) => s.subject === "sluice.feedback"));
  });

  test("a new version of a stream's schema takes effect for ingest without a restart", async () => {
    const feedback = (await call("GET", "/v1/schemas/sluice.feedback/versions/latest")).body.schema as Record<
      string,
      unknown
    >;
    const record = {
      customerId: "c",
      content: "x",
      category: "bug",
      isNegative: true,
      ts: "2026-11-23T10:00:00Z",
      tags: ["a"],
    };
    assert.equal((await call("POST", "/v1/streams/feedback/records", record)).status, 200);
    const stricter = {
      ...feedback,
      additionalProperties: false,
      properties: { ...(feedback.properties as object) },
      required: [...(feedback.required as string[]), "tags"],
    };
    // Stricter is not BACKWARD compatible (old records lack tags): refused, unless the mode allows it.
    const refusedVersion = await call("POST", "/v1/schemas", {
      name: "feedback",
      namespace: "sluice",
      schema: stricter,
    });
    assert.equal(refusedVersion.status, 409);
    const registered = await call("POST", "/v1/schemas", {
      name: "feedback",
      namespace: "sluice",
      schema: stricter,
      compatibility: "NONE",
    });
    assert.equal(registered.status, 201);
    assert.equal(registered.body.compatibility, "NONE");
    const { tags: _t, ...withoutTags } = record;
    const refused = await call("POST", "/v1/streams/feedback/records", withoutTags);
    assert.equal(refused.status, 400);
    const result = (refused.body.results as { error: { code: string; path: string } }[])[0]!;
    assert.deepEqual([result.error.code, result.error.path], ["SCHEMA_VIOLATION", "/tags"]);
    const stream = await call("GET", "/v1/streams/feedback");
    assert.deepEqual(stream.body.schema, { subject: "sluice.feedback", version: registered.body.version });
  });

  test("bad registrations name what is wrong", async () => {
    const badName = await call("POST", "/v1/schemas", { name: "Bad Name", schema: orders });
    assert.deepEqual([badName.status, (badName.body.error as { path: string }).path], [400, "/name"]);
    const badSchema = await call("POST", "/v1/schemas", { name: "x", schema: { type: "nonsense" } });
    assert.deepEqual(
      [badSchema.status, (badSchema.body.error as { code: string }).code],
      [400, "INVALID_SCHEMA"],
    );
    const dialect = await call("POST", "/v1/schemas", {
      name: "x",
      schema: { $schema: "http://json-schema.org/draft-04/schema#" },
    });
    assert.equal((dialect.body.error as { path: string }).path, "/schema/$schema");
    const notJson = await call("POST", "/v1/schemas", "{nope");
    assert.equal((notJson.body.error as { code: string }).code, "INVALID_JSON");
    const missing = await call("GET", "/v1/schemas/shop.nothing/versions/1");
    assert.equal(missing.status, 404);
  });
});

describe("health and documents", () => {
  type Health = {
    live: boolean;
    status: string;
    checkedAt: string;
    checks: Record<string, { ok: boolean; latencyMs: number }>;
  };
  const health = async (headers: Record<string, string>) => {
    const res = await fetch(`${runner.url}/v1/health`, { headers });
    return { status: res.status, body: (await res.json()) as Health };
  };

  test("health reports Kinesis, DynamoDB and KMS ready with latencies to an authenticated caller", async () => {
    const res = await health(authHeader(runner));
    assert.equal(res.status, 200);
    assert.equal(res.body.live, true);
    assert.equal(res.body.status, "ok");
    for (const name of ["kinesis", "dynamodb", "kms"]) {
      assert.equal(res.body.checks[name]!.ok, true, name);
      assert.ok(res.body.checks[name]!.latencyMs >= 0);
    }
  });

  test("an anonymous caller gets liveness only: no dependency names, latencies or probe time", async () => {
    assert.ok(runner.devKey, "the test manifest has API keys on");
    const res = await fetch(`${runner.url}/v1/health`);
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(text), { live: true });
    for (const leak of ["kinesis", "dynamodb", "kms", "latency"])
      assert.ok(!text.toLowerCase().includes(leak), leak);
  });

  test("a credential sent to health must be valid: a bad one is 401, not a quiet downgrade", async () => {
    const bad: Record<string, string>[] = [
      { "x-api-key": "nope" },
      { authorization: "Bearer sk_notARealKeyAtAll0000000000000000000000000" },
    ];
    for (const headers of bad) {
      const res = await fetch(`${runner.url}/v1/health`, { headers });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "UNAUTHENTICATED");
    }
  });

  test("readiness is probed once per window: repeated and concurrent calls share one probe", async () => {
    const first = await health(authHeader(runner));
    const burst = await Promise.all(Array.from({ length: 20 }, () => health(authHeader(runner))));
    assert.ok(!Number.isNaN(Date.parse(first.body.checkedAt)));
    assert.deepEqual(new Set(burst.map((r) => r.body.checkedAt)), new Set([first.body.checkedAt]));
  });

  test("the OpenAPI document is served, and real responses match its schemas", async () => {
    const res = await fetch(`${runner.url}/v1/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { openapi: string; components: unknown };
    assert.equal(doc.openapi, "3.1.0");
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ $id: "openapi", components: doc.components });
    const ingestResponse = ajv.getSchema("openapi#/components/schemas/IngestResponse")!;
    const mixed = await call("POST", "/v1/streams/feedback/records", {
      records: [
        {
          data: {
            customerId: "c",
            content: "x",
            category: "bug",
            isNegative: true,
            tags: [],
            ts: "2026-11-23T10:00:00Z",
          },
        },
        { data: { nope: 1 } },
      ],
    });
    assert.equal(mixed.status, 207);
    assert.equal(ingestResponse(mixed.body), true, JSON.stringify(ingestResponse.errors));
    const errorResponse = ajv.getSchema("openapi#/components/schemas/ErrorResponse")!;
    const unknown = await call("POST", "/v1/streams/nope/records", {});
    assert.equal(errorResponse(unknown.body), true);
    const healthSchema = ajv.getSchema("openapi#/components/schemas/Health")!;
    assert.equal(healthSchema((await health({})).body), true);
    const ready = (await health(authHeader(runner))).body;
    assert.equal(healthSchema(ready), true, JSON.stringify(healthSchema.errors));
    assert.equal(healthSchema({ ...ready, checkedAt: 5 }), false);
  });
});

describe("auth over HTTP", () => {
  const record = {
    customerId: "c",
    content: "x",
    category: "bug",
    isNegative: true,
    tags: [],
    ts: "2026-11-23T10:00:00Z",
  };
  const postAs = (headers: Record<string, string>, stream = "feedback") =>
    fetch(`${runner.url}/v1/streams/${stream}/records`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(record),
    });

  test("no credentials, an unknown key, or a malformed header is 401 with a challenge, and the key is never echoed", async () => {
    const cases: Record<string, string>[] = [
      {},
      { authorization: "Bearer sk_notARealKeyAtAll0000000000000000000000000" },
      { "x-api-key": "nope" },
    ];
    for (const headers of cases) {
      const res = await postAs(headers);
      const text = await res.text();
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, "UNAUTHENTICATED");
      assert.match(res.headers.get("www-authenticate") ?? "", /Bearer/);
      for (const value of Object.values(headers)) assert.ok(!text.includes(value.replace("Bearer ", "")));
    }
  });

  test("a writer writes only its streams and cannot change schemas; a reader cannot write", async () => {
    const { createAuth } = await import("../../functions/core/auth/index.ts");
    const store = createAuth(runner.config.auth, {
      dynamo: runner.clients.dynamo,
      apiKeysTable: runner.config.tables.apiKeys,
    }).apiKeys!;
    const writer = (await store.create({ name: "w", role: "writer", streams: ["feedback"] })).key;
    const other = (await store.create({ name: "o", role: "writer", streams: ["orders"] })).key;
    const reader = (await store.create({ name: "r", role: "reader", streams: "*" })).key;
    assert.equal((await postAs({ "x-api-key": writer })).status, 200);
    assert.equal((await postAs({ authorization: `Bearer ${other}` })).status, 403);
    assert.equal((await postAs({ authorization: `Bearer ${reader}` })).status, 403);
    const schemaWrite = await fetch(`${runner.url}/v1/schemas`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${writer}` },
      body: JSON.stringify({ name: "x", schema: { type: "object" } }),
    });
    assert.equal(schemaWrite.status, 403);
    const schemaRead = await fetch(`${runner.url}/v1/schemas`, {
      headers: { authorization: `Bearer ${reader}` },
    });
    assert.equal(schemaRead.status, 200);
  });

  test("health and the OpenAPI document need no credentials", async () => {
    assert.equal((await fetch(`${runner.url}/v1/health`)).status, 200);
    assert.equal(
      (await fetch(`${runner.url}/v1/openapi.json`, { headers: { "x-api-key": "garbage" } })).status,
      200,
    );
  });
});

describe("odd requests", () => {
  test("a malformed percent-escape in the stream name is 400 INVALID_STREAM_NAME, not a 500", async () => {
    for (const name of ["%E0%A4%A", "feedback%", "%ff"]) {
      const res = await call("POST", `/v1/streams/${name}/records`, { a: 1 });
      assert.equal(res.status, 400, name);
      assert.equal((res.body.error as { code: string }).code, "INVALID_STREAM_NAME", name);
    }
  });

  test("an Idempotency-Key header on a batch body is refused with a reason", async () => {
    const res = await fetch(`${runner.url}/v1/streams/feedback/records`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "k1", ...authHeader(runner) },
      body: JSON.stringify({ records: [{ data: { a: 1 } }, { data: { a: 2 } }] }),
    });
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, 400);
    assert.equal(body.error.code, "INVALID_REQUEST");
    assert.match(body.error.message, /single-record request; a batch body keys each item/);
  });
});
