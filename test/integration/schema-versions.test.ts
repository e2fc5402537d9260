/**
 * Producers naming the schema version they write, through the public surfaces: the stream's
 * subject gets a v2 (an optional typed property, so it stays compatible), then records name v1,
 * v2, v9 (not registered) or nothing (the latest) over HTTPS (Sluice-Schema-Version header, a
 * batch item's schemaVersion, a CloudEvent's dataschema) and over gRPC through the proxy. Each is
 * validated against its version, and the envelope read back from Kinesis carries that version.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { silentLogger } from "../../functions/core/logger.ts";
import { type GrpcProxy, startGrpcProxy } from "../../functions/grpc-proxy/cli.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, readStream, uniqueApp } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const V1 = JSON.parse(readFileSync(join(ROOT, "schemas/feedback.v1.json"), "utf8"));
// v1 is open, so a v1 record may carry `sentiment` of any type; v2 wants a number there.
const V2 = {
  ...V1,
  title: "feedback.v2",
  properties: { ...V1.properties, sentiment: { type: "number", minimum: -1, maximum: 1 } },
};

interface Result {
  recordId: string | null;
  status: string;
  error?: { code: string; message: string; path?: string };
}

let runner: LocalRunner;

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${runner.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...authHeader(runner), ...headers },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: each test reads the fields it asserts on
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const send = (body: unknown, headers: Record<string, string> = {}) =>
  api("POST", "/v1/streams/feedback/records", body, headers);

const feedback = (customerId: string, extra: Record<string, unknown> = {}) => ({
  customerId,
  content: `feedback ${customerId}`,
  category: "praise",
  isNegative: false,
  ts: "2026-11-23T10:00:00Z",
  ...extra,
});

/** customerId -> the schema version its envelope carries, for the envelopes tagged `tag`. */
async function versionsOnStream(tag: string): Promise<Record<string, number>> {
  const envelopes = await readStream(runner.clients.kinesis, runner.config.eventStream);
  const out: Record<string, number> = {};
  for (const e of envelopes) {
    const id = (e.data as { customerId?: string }).customerId ?? "";
    if (!id.startsWith(tag)) continue;
    const schema = e.schema as { name: string; version: number };
    assert.equal(schema.name, "sluice.feedback");
    assert.equal(out[id], undefined, `${id} is on the stream once`);
    out[id] = schema.version;
  }
  return out;
}

const outcome = (r: Result) => (r.status === "rejected" ? [r.error!.code, r.error!.path] : [r.status]);

before(async () => {
  runner = await startTestRunner("sv", { pipelines: false, schemaTtlMs: 0 });
  const registered = await api("POST", "/v1/schemas", { name: "feedback", namespace: "sluice", schema: V2 });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  assert.equal(registered.body.version, 2);
});

after(async () => {
  await runner?.stop();
});

describe("records naming their schema version over HTTPS", () => {
  test("batch items are validated against the version each names, their envelopes carry it, and v9 costs only its record", async () => {
    const tag = uniqueApp("batch");
    const res = await send({
      records: [
        { data: feedback(`${tag}-v1`, { sentiment: "happy" }), schemaVersion: 1 },
        { data: feedback(`${tag}-v2`, { sentiment: 0.5 }), schemaVersion: 2 },
        { data: feedback(`${tag}-v2-bad`, { sentiment: "happy" }), schemaVersion: 2 },
        { data: feedback(`${tag}-v9`), schemaVersion: 9 },
        { data: feedback(`${tag}-latest`, { sentiment: -0.5 }) },
        { data: feedback(`${tag}-latest-bad`, { sentiment: "happy" }) },
        { data: feedback(`${tag}-zero`), schemaVersion: 0 },
      ],
    });
    assert.equal(res.status, 207);
    const results = res.body.results as Result[];
    assert.deepEqual(results.map(outcome), [
      ["accepted"],
      ["accepted"],
      ["SCHEMA_VIOLATION", "/sentiment"],
      ["SCHEMA_VERSION_NOT_FOUND", "/records/3/schemaVersion"],
      ["accepted"],
      ["SCHEMA_VIOLATION", "/sentiment"],
      ["INVALID_REQUEST", "/records/6/schemaVersion"],
    ]);
    assert.equal(results[3]!.error!.message, "schema sluice.feedback has no version 9");
    assert.deepEqual(await versionsOnStream(tag), {
      [`${tag}-v1`]: 1,
      [`${tag}-v2`]: 2,
      [`${tag}-latest`]: 2,
    });
  });

  test("the Sluice-Schema-Version header names the version of a whole request; an item's own wins", async () => {
    const tag = uniqueApp("header");
    const batch = await send(
      {
        records: [
          { data: feedback(`${tag}-h1`, { sentiment: "happy" }) },
          { data: feedback(`${tag}-own2`, { sentiment: 1 }), schemaVersion: 2 },
        ],
      },
      { "sluice-schema-version": "1" },
    );
    assert.equal(batch.status, 200, JSON.stringify(batch.body));
    const ndjson = await send(
      [feedback(`${tag}-nd1`, { sentiment: "meh" }), feedback(`${tag}-nd2`)]
        .map((r) => JSON.stringify(r))
        .join("\n"),
      { "content-type": "application/x-ndjson", "sluice-schema-version": "1" },
    );
    assert.equal(ndjson.status, 200, JSON.stringify(ndjson.body));
    const single = await send(feedback(`${tag}-single`, { sentiment: 0 }), { "sluice-schema-version": "2" });
    assert.equal(single.status, 200, JSON.stringify(single.body));
    assert.deepEqual(await versionsOnStream(tag), {
      [`${tag}-h1`]: 1,
      [`${tag}-own2`]: 2,
      [`${tag}-nd1`]: 1,
      [`${tag}-nd2`]: 1,
      [`${tag}-single`]: 2,
    });
  });

  test("a header version that is not registered rejects each record it names; one that is no version refuses the request", async () => {
    const tag = uniqueApp("header9");
    const notFound = await send(
      { records: [{ data: feedback(`${tag}-a`) }, { data: feedback(`${tag}-b`), schemaVersion: 1 }] },
      { "sluice-schema-version": "9" },
    );
    assert.equal(notFound.status, 207);
    assert.deepEqual((notFound.body.results as Result[]).map(outcome), [
      ["SCHEMA_VERSION_NOT_FOUND", "/headers/sluice-schema-version"],
      ["accepted"],
    ]);
    const allNotFound = await send(feedback(`${tag}-c`), { "sluice-schema-version": "9" });
    assert.equal(allNotFound.status, 400);
    const bad = await send(feedback(`${tag}-d`), { "sluice-schema-version": "two" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "INVALID_REQUEST");
    assert.equal(bad.body.error.path, "/headers/sluice-schema-version");
    assert.deepEqual(await versionsOnStream(tag), { [`${tag}-b`]: 1 });
  });

  test("a CloudEvent's dataschema names the version by registry URL or URN; another subject or form is rejected alone", async () => {
    const tag = uniqueApp("ce");
    const event = (id: string, dataschema: string | undefined, extra: Record<string, unknown> = {}) => ({
      specversion: "1.0",
      id: `${tag}-${id}`,
      source: "test",
      type: "feedback.created",
      ...(dataschema === undefined ? {} : { dataschema }),
      data: feedback(`${tag}-${id}`, extra),
    });
    const res = await send(
      [
        event("url1", "https://registry.example.com/v1/schemas/sluice.feedback/versions/1", {
          sentiment: "x",
        }),
        event("urn2", "urn:sluice:schema:sluice.feedback:2", { sentiment: 0.25 }),
        event("other", "urn:sluice:schema:shop.orders:1"),
        event("form", "https://example.com/schemas/feedback.json"),
        event("urn9", "urn:sluice:schema:sluice.feedback:9"),
        event("none", undefined),
      ],
      { "content-type": "application/cloudevents-batch+json" },
    );
    assert.equal(res.status, 207);
    const results = res.body.results as Result[];
    assert.deepEqual(results.map(outcome), [
      ["accepted"],
      ["accepted"],
      ["SCHEMA_MISMATCH", "/2/dataschema"],
      ["INVALID_DATASCHEMA", "/3/dataschema"],
      ["SCHEMA_VERSION_NOT_FOUND", "/4/dataschema"],
      ["accepted"],
    ]);
    assert.match(results[3]!.error!.message, /urn:sluice:schema:\{subject\}:\{n\}/);
    const structured = await send(event("single", "urn:sluice:schema:sluice.feedback:1", { sentiment: [] }), {
      "content-type": "application/cloudevents+json",
    });
    assert.equal(structured.status, 200, JSON.stringify(structured.body));
    assert.deepEqual(await versionsOnStream(tag), {
      [`${tag}-url1`]: 1,
      [`${tag}-urn2`]: 2,
      [`${tag}-none`]: 2,
      [`${tag}-single`]: 1,
    });
  });

  test("GET /v1/streams/{stream} still answers the stream and its latest version", async () => {
    const res = await api("GET", "/v1/streams/feedback");
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.schema, { subject: "sluice.feedback", version: 2 });
    assert.equal(res.body.name, "feedback");
  });
});

describe("records naming their schema version over gRPC", () => {
  const definition = loadSync(["sluice/v1/ingest.proto"], {
    includeDirs: [join(ROOT, "proto")],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const IngestClient = grpc.makeGenericClientConstructor(
    definition["sluice.v1.IngestService"] as unknown as grpc.ServiceDefinition,
    "sluice.v1.IngestService",
  ) as unknown as new (
    address: string,
    credentials: grpc.ChannelCredentials,
  ) => grpc.Client;

  interface Ack {
    recordId?: string;
    status: string;
    errorCode?: string;
    errorPath?: string;
  }

  let proxy: GrpcProxy;
  let client: grpc.Client;
  const metadata = () => {
    const m = new grpc.Metadata();
    const auth = authHeader(runner).authorization;
    if (auth !== undefined) m.set("authorization", auth);
    return m;
  };

  type Method = (
    request: unknown,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, value?: unknown) => void,
  ) => void;

  function unary<Res>(method: string, request: unknown) {
    const fn = (client as unknown as Record<string, Method>)[method]!.bind(client);
    return new Promise<{ value?: Res; error?: grpc.ServiceError }>((resolve) => {
      fn(request, metadata(), { deadline: Date.now() + 30_000 }, (err, value) =>
        resolve(err ? { error: err } : { value: value as Res }),
      );
    });
  }

  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  const ackOutcome = (a: Ack) =>
    a.status === "ACK_STATUS_REJECTED" ? [a.errorCode, a.errorPath] : [a.status];

  before(async () => {
    proxy = await startGrpcProxy({ target: runner.url, port: 0, logger: silentLogger });
    client = new IngestClient(proxy.address, grpc.credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    await proxy?.close();
  });

  test("IngestBatch: each record's schema_version, else the batch's, else the latest; v9 rejected alone with NOT_FOUND's code", async () => {
    const tag = uniqueApp("grpc");
    const own = await unary<{ acks: Ack[] }>("IngestBatch", {
      records: [
        { stream: "feedback", json: json(feedback(`${tag}-v1`, { sentiment: "happy" })), schemaVersion: 1 },
        { stream: "feedback", json: json(feedback(`${tag}-v9`)), schemaVersion: 9 },
        { stream: "feedback", json: json(feedback(`${tag}-latest`, { sentiment: 1 })) },
        { stream: "feedback", json: json(feedback(`${tag}-latest-bad`, { sentiment: "happy" })) },
      ],
    });
    assert.ok(own.value, own.error?.message);
    assert.deepEqual(own.value.acks.map(ackOutcome), [
      ["ACK_STATUS_ACCEPTED"],
      ["SCHEMA_VERSION_NOT_FOUND", "/schema_version"],
      ["ACK_STATUS_ACCEPTED"],
      ["SCHEMA_VIOLATION", "/sentiment"],
    ]);
    const batchLevel = await unary<{ acks: Ack[] }>("IngestBatch", {
      schemaVersion: 1,
      records: [
        { stream: "feedback", json: json(feedback(`${tag}-b1`, { sentiment: "happy" })) },
        { stream: "feedback", json: json(feedback(`${tag}-b2`, { sentiment: 0 })), schemaVersion: 2 },
      ],
    });
    assert.ok(batchLevel.value, batchLevel.error?.message);
    assert.deepEqual(batchLevel.value.acks.map(ackOutcome), [
      ["ACK_STATUS_ACCEPTED"],
      ["ACK_STATUS_ACCEPTED"],
    ]);
    assert.deepEqual(await versionsOnStream(tag), {
      [`${tag}-v1`]: 1,
      [`${tag}-latest`]: 2,
      [`${tag}-b1`]: 1,
      [`${tag}-b2`]: 2,
    });
  });

  test("Ingest and IngestStream carry the record's schema_version; an unregistered one fails the unary call with NOT_FOUND", async () => {
    const tag = uniqueApp("grpc1");
    const ok = await unary<{ ack: Ack }>("Ingest", {
      record: { stream: "feedback", json: json(feedback(`${tag}-u1`, { sentiment: "x" })), schemaVersion: 1 },
    });
    assert.equal(ok.value?.ack.status, "ACK_STATUS_ACCEPTED", ok.error?.message);
    const missing = await unary<{ ack: Ack }>("Ingest", {
      record: { stream: "feedback", json: json(feedback(`${tag}-u9`)), schemaVersion: 9 },
    });
    assert.equal(missing.error?.code, grpc.status.NOT_FOUND);
    assert.equal(String(missing.error?.metadata.get("sluice-error-code")[0]), "SCHEMA_VERSION_NOT_FOUND");
    assert.equal(String(missing.error?.metadata.get("sluice-error-path")[0]), "/schema_version");

    const call = (
      client as unknown as { IngestStream(m: grpc.Metadata): grpc.ClientDuplexStream<unknown, Ack> }
    ).IngestStream(metadata());
    const acks: Ack[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (a: Ack) => acks.push(a));
      call.on("error", reject);
      call.on("end", () => resolve());
    });
    call.write({
      stream: "feedback",
      json: json(feedback(`${tag}-s1`, { sentiment: "x" })),
      schemaVersion: 1,
    });
    call.write({ stream: "feedback", json: json(feedback(`${tag}-s2`, { sentiment: 0.1 })) });
    call.write({ stream: "feedback", json: json(feedback(`${tag}-s9`)), schemaVersion: 9 });
    call.end();
    await done;
    assert.deepEqual(acks.map(ackOutcome), [
      ["ACK_STATUS_ACCEPTED"],
      ["ACK_STATUS_ACCEPTED"],
      ["SCHEMA_VERSION_NOT_FOUND", "/schema_version"],
    ]);
    assert.deepEqual(await versionsOnStream(tag), {
      [`${tag}-u1`]: 1,
      [`${tag}-s1`]: 1,
      [`${tag}-s2`]: 2,
    });
  });
});
