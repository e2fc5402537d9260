/**
 * gRPC producers through the Sluice gRPC proxy. A client generated from proto/ (proto-loader)
 * and a second, independent one (Python grpcio, test/integration/grpc_client.py) talk to the
 * proxy in front of the local ingest API; valid records are read back from Parquet with DuckDB.
 * Failure modes the local ingest cannot be made to show on demand (a slow target, a target that
 * dies mid-stream, credential checks with a known answer) use small stub targets on loopback.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { silentLogger } from "../../functions/core/logger.ts";
import { type GrpcProxy, startGrpcProxy } from "../../functions/grpc-proxy/cli.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { download, duckdb, listKeys, uniqueApp } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PROTO_DIR = join(ROOT, "proto");

// The test's own client, generated at runtime from the same proto files.
const definition = loadSync(
  ["sluice/v1/ingest.proto", "grpc/health/v1/health.proto", "grpc/reflection/v1/reflection.proto"],
  { includeDirs: [PROTO_DIR], keepCase: false, longs: String, enums: String, defaults: false, oneofs: true },
);
type ClientConstructor = new (address: string, credentials: grpc.ChannelCredentials) => grpc.Client;
function clientClass(name: string): ClientConstructor {
  return grpc.makeGenericClientConstructor(
    definition[name] as unknown as grpc.ServiceDefinition,
    name,
  ) as unknown as ClientConstructor;
}
const IngestClient = clientClass("sluice.v1.IngestService");
const HealthClient = clientClass("grpc.health.v1.Health");
const ReflectionClient = clientClass("grpc.reflection.v1.ServerReflection");

interface Ack {
  recordId?: string;
  status: "ACK_STATUS_ACCEPTED" | "ACK_STATUS_DUPLICATE" | "ACK_STATUS_REJECTED";
  errorCode?: string;
  errorMessage?: string;
  errorPath?: string;
  clientId?: string;
  retryAfterSeconds?: number;
}

interface GrpcRecord {
  stream: string;
  json?: Buffer;
  struct?: unknown;
  idempotencyKey?: string;
  eventTime?: { seconds: string; nanos?: number };
  clientId?: string;
}

type Method<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, value?: Res) => void,
) => void;

type CallResult<T> = { ok: true; value: T } | { ok: false; error: grpc.ServiceError };

function unary<Req, Res>(client: grpc.Client, method: string, request: Req, metadata = new grpc.Metadata()) {
  const fn = (client as unknown as Record<string, Method<Req, Res>>)[method]!.bind(client);
  return new Promise<CallResult<Res>>((resolve) => {
    fn(request, metadata, { deadline: Date.now() + 30_000 }, (err, value) =>
      resolve(err ? { ok: false, error: err } : { ok: true, value: value as Res }),
    );
  });
}

function errorCode(err: grpc.ServiceError): { status: string; code?: string; path?: string } {
  const code = err.metadata.get("sluice-error-code")[0];
  const path = err.metadata.get("sluice-error-path")[0];
  return {
    status: grpc.status[err.code],
    ...(code === undefined ? {} : { code: String(code) }),
    ...(path === undefined ? {} : { path: String(path) }),
  };
}

interface StreamRun {
  acks: Ack[];
  error?: grpc.ServiceError;
  /** Times the client's write() said to wait: flow control reaching the producer. */
  waits: number;
}

/** Writes every record as fast as flow control allows, then half-closes; collects acks. */
async function streamRecords(
  client: grpc.Client,
  records: Iterable<GrpcRecord>,
  metadata = new grpc.Metadata(),
  onAck?: (ack: Ack, index: number) => void,
): Promise<StreamRun> {
  const call = (
    client as unknown as { IngestStream(m: grpc.Metadata): grpc.ClientDuplexStream<GrpcRecord, Ack> }
  ).IngestStream(metadata);
  const run: StreamRun = { acks: [], waits: 0 };
  const finished = new Promise<void>((resolve) => {
    call.on("data", (ack: Ack) => {
      onAck?.(ack, run.acks.length);
      run.acks.push(ack);
    });
    call.on("error", (err: grpc.ServiceError) => {
      run.error = err;
    });
    // Emitted last, after the acks and after "error" when the call failed.
    call.on("status", () => resolve());
  });
  let failed = false;
  void finished.then(() => {
    failed = run.error !== undefined;
  });
  for (const record of records) {
    if (failed) break;
    if (!call.write(record)) {
      run.waits++;
      await Promise.race([new Promise((r) => call.once("drain", r)), finished]);
    }
  }
  call.end();
  await finished;
  return run;
}

function authMetadata(runner: LocalRunner | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  const devKey = (runner as { devKey?: string } | undefined)?.devKey;
  if (devKey !== undefined) metadata.set("authorization", `Bearer ${devKey}`);
  return metadata;
}

const feedback = (id: string, extra: Record<string, unknown> = {}) => ({
  customerId: id,
  content: `feedback ${id}`,
  category: "praise",
  isNegative: false,
  tags: ["grpc"],
  ts: "2026-11-23T10:00:00Z",
  ...extra,
});

const asJson = (value: unknown) => Buffer.from(JSON.stringify(value));

/** A JSON object as google.protobuf.Struct in proto-loader's object form. */
function toStruct(value: Record<string, unknown>): unknown {
  const v = (x: unknown): unknown => {
    if (x === null) return { nullValue: "NULL_VALUE" };
    if (typeof x === "number") return { numberValue: x };
    if (typeof x === "string") return { stringValue: x };
    if (typeof x === "boolean") return { boolValue: x };
    if (Array.isArray(x)) return { listValue: { values: x.map(v) } };
    return { structValue: toStruct(x as Record<string, unknown>) };
  };
  return { fields: Object.fromEntries(Object.entries(value).map(([k, x]) => [k, v(x)])) };
}

interface Stub {
  url: string;
  server: Server;
  close(): Promise<void>;
}

async function startStub(
  handler: (req: IncomingMessage, body: string, res: ServerResponse) => void,
): Promise<Stub> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handler(req, Buffer.concat(chunks).toString("utf8"), res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** A stand-in ingest API that accepts everything, with record ids that name what it got. */
function acceptAll(seen: string[], delayMs = 0) {
  return (_req: IncomingMessage, body: string, res: ServerResponse) => {
    const records = (JSON.parse(body) as { records: { data: { customerId: string } }[] }).records;
    for (const r of records) seen.push(r.data.customerId);
    const results = records.map((r) => ({ recordId: `id-${r.data.customerId}`, status: "accepted" }));
    setTimeout(() => answer(res, 200, { results }), delayMs);
  };
}

const proxies: GrpcProxy[] = [];
const clients: grpc.Client[] = [];
async function proxyFor(target: string, options: Partial<Parameters<typeof startGrpcProxy>[0]> = {}) {
  const proxy = await startGrpcProxy({ target, port: 0, logger: silentLogger, ...options });
  proxies.push(proxy);
  const client = new IngestClient(proxy.address, grpc.credentials.createInsecure());
  clients.push(client);
  return { proxy, client };
}

after(async () => {
  for (const c of clients) c.close();
  await Promise.all(proxies.map((p) => p.close()));
});

describe("gRPC proxy in front of the local ingest", () => {
  let runner: LocalRunner;
  let proxy: GrpcProxy;
  let client: grpc.Client;
  let auth: grpc.Metadata;

  before(async () => {
    runner = await startTestRunner("grpc");
    ({ proxy, client } = await proxyFor(runner.url));
    auth = authMetadata(runner);
  });

  after(async () => {
    await runner?.stop();
  });

  test("Ingest accepts a record, answers its retry as DUPLICATE of the same id, and fails bad ones with precise statuses", async () => {
    const key = uniqueApp("key");
    const record = { stream: "feedback", json: asJson(feedback("u-1")), idempotencyKey: key, clientId: "c1" };
    const first = await unary<object, { ack: Ack }>(client, "Ingest", { record }, auth);
    const again = await unary<object, { ack: Ack }>(client, "Ingest", { record }, auth);
    assert.ok(first.ok && again.ok, "both calls succeed");
    assert.equal(first.value.ack.status, "ACK_STATUS_ACCEPTED");
    assert.match(first.value.ack.recordId!, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(first.value.ack.clientId, "c1");
    assert.deepEqual(again.value.ack, {
      recordId: first.value.ack.recordId,
      status: "ACK_STATUS_DUPLICATE",
      clientId: "c1",
    });

    const cases: [string, GrpcRecord, { status: string; code?: string; path?: string }][] = [
      [
        "schema violation",
        { stream: "feedback", json: asJson(feedback("u-2", { category: "spam" })) },
        { status: "INVALID_ARGUMENT", code: "SCHEMA_VIOLATION", path: "/category" },
      ],
      [
        "struct payload with a wrong type",
        { stream: "feedback", struct: toStruct(feedback("u-3", { isNegative: "no" })) },
        { status: "INVALID_ARGUMENT", code: "SCHEMA_VIOLATION", path: "/isNegative" },
      ],
      [
        "malformed JSON bytes",
        { stream: "feedback", json: Buffer.from('{"customerId": ') },
        { status: "INVALID_ARGUMENT", code: "INVALID_JSON", path: "/json" },
      ],
      [
        "event time too far in the future",
        { stream: "feedback", json: asJson(feedback("u-4")), eventTime: { seconds: "4070908800" } },
        { status: "INVALID_ARGUMENT", code: "INVALID_EVENT_TIME", path: "/event_time" },
      ],
      [
        "idempotency key over 256 characters",
        { stream: "feedback", json: asJson(feedback("u-5")), idempotencyKey: "k".repeat(257) },
        { status: "INVALID_ARGUMENT", code: "INVALID_IDEMPOTENCY_KEY", path: "/idempotency_key" },
      ],
      [
        "unknown stream",
        { stream: "nope", json: asJson(feedback("u-6")) },
        { status: "NOT_FOUND", code: "UNKNOWN_STREAM", path: "/stream" },
      ],
      [
        "bad stream name",
        { stream: "Bad_Name!", json: asJson(feedback("u-7")) },
        { status: "INVALID_ARGUMENT", code: "INVALID_STREAM_NAME", path: "/stream" },
      ],
    ];
    for (const [what, bad, expected] of cases) {
      const res = await unary<object, { ack: Ack }>(client, "Ingest", { record: bad }, auth);
      assert.ok(!res.ok, `${what}: the call fails`);
      assert.deepEqual(errorCode(res.error), expected, what);
    }
  });

  test("bytes that are not a valid message, or a Struct nested past the limit, are INVALID_ARGUMENT, not INTERNAL; in a stream they cost only themselves", async () => {
    const service = definition["sluice.v1.IngestService"] as unknown as Record<
      string,
      { path: string; requestSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown }
    >;
    const identity = (b: Buffer): Buffer => b;
    // Field 1 (record), length-delimited, with a length far past the end.
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    const unaryError = await new Promise<grpc.ServiceError>((resolve, reject) => {
      client.makeUnaryRequest(service.Ingest!.path, identity, identity, garbage, auth, (err) =>
        err ? resolve(err) : reject(new Error("garbage was accepted")),
      );
    });
    assert.deepEqual(errorCode(unaryError), { status: "INVALID_ARGUMENT", code: "INVALID_REQUEST" });
    assert.match(unaryError.details, /not a valid Ingest message/);

    // Encoded by hand: protobufjs refuses to encode what it would refuse to decode, other stacks don't.
    const varint = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...varint(n >>> 7)]);
    const field = (n: number, bytes: Buffer): Buffer =>
      Buffer.concat([Buffer.from([(n << 3) | 2, ...varint(bytes.length)]), bytes]);
    let value: Buffer = Buffer.from([0x11, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]); // Value{number_value: 1}
    let deepStruct: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 60; i++) {
      deepStruct = field(1, Buffer.concat([field(1, Buffer.from("a")), field(2, value)]));
      value = field(5, deepStruct);
    }
    const deepRequest = field(1, Buffer.concat([field(1, Buffer.from("feedback")), field(3, deepStruct)]));
    const nestedError = await new Promise<grpc.ServiceError>((resolve, reject) => {
      client.makeUnaryRequest(service.Ingest!.path, identity, identity, deepRequest, auth, (err) =>
        err ? resolve(err) : reject(new Error("a Struct 60 deep was accepted")),
      );
    });
    assert.deepEqual(errorCode(nestedError), { status: "INVALID_ARGUMENT", code: "INVALID_REQUEST" });
    assert.match(nestedError.details, /nesting depth/);

    const stream = service.IngestStream!;
    const call = client.makeBidiStreamRequest(stream.path, identity, identity, auth);
    const acks: Ack[] = [];
    call.on("data", (b: Buffer) => acks.push(stream.responseDeserialize(b) as Ack));
    const ended = new Promise<void>((resolve, reject) => {
      call.on("end", resolve);
      call.on("error", reject);
    });
    const valid = (id: string) =>
      stream.requestSerialize({ stream: "feedback", json: asJson(feedback(`m-${id}`)), clientId: id });
    call.write(valid("1"));
    call.write(Buffer.from([0x12, 0x05, 0x01]));
    call.write(valid("3"));
    call.end();
    await ended;
    assert.deepEqual(
      acks.map((a) => [a.clientId ?? "", a.status, a.errorCode ?? ""]),
      [
        ["1", "ACK_STATUS_ACCEPTED", ""],
        ["", "ACK_STATUS_REJECTED", "INVALID_REQUEST"],
        ["3", "ACK_STATUS_ACCEPTED", ""],
      ],
    );
  });

  test("a message over the size limit is RESOURCE_EXHAUSTED; missing credentials are UNAUTHENTICATED", async () => {
    const big = {
      stream: "feedback",
      json: asJson(feedback("big", { content: "x".repeat(6 * 1024 * 1024) })),
    };
    const res = await unary<object, { ack: Ack }>(client, "Ingest", { record: big }, auth);
    assert.ok(!res.ok);
    assert.equal(res.error.code, grpc.status.RESOURCE_EXHAUSTED);

    if ((runner as { devKey?: string }).devKey === undefined) return;
    const anonymous = await unary<object, { ack: Ack }>(client, "Ingest", {
      record: { stream: "feedback", json: asJson(feedback("anon")) },
    });
    assert.ok(!anonymous.ok);
    assert.deepEqual(errorCode(anonymous.error), { status: "UNAUTHENTICATED", code: "UNAUTHENTICATED" });
  });

  test("IngestBatch of 500 JSON and Struct records with 4 bad ones answers 500 acks in order with precise codes", async () => {
    const tag = uniqueApp("b");
    const records: GrpcRecord[] = Array.from({ length: 500 }, (_, i) =>
      i % 2 === 0
        ? { stream: "feedback", json: asJson(feedback(`${tag}-${i}`)), clientId: String(i) }
        : { stream: "feedback", struct: toStruct(feedback(`${tag}-${i}`)), clientId: String(i) },
    );
    records[3] = {
      stream: "feedback",
      struct: toStruct(feedback(`${tag}-3`, { isNegative: "no" })),
      clientId: "3",
    };
    records[100] = { stream: "feedback", json: Buffer.from("[1,2"), clientId: "100" };
    records[250] = {
      stream: "feedback",
      json: asJson(feedback(`${tag}-250`, { category: "spam" })),
      clientId: "250",
    };
    records[499] = {
      stream: "feedback",
      json: asJson(feedback(`${tag}-499`)),
      eventTime: { seconds: "99999999999999" },
      clientId: "499",
    };
    const res = await unary<object, { acks: Ack[] }>(client, "IngestBatch", { records }, auth);
    assert.ok(res.ok, res.ok ? "" : res.error.message);
    const acks = res.value.acks;
    assert.equal(acks.length, 500);
    assert.deepEqual(
      acks.map((a) => a.clientId),
      records.map((r) => r.clientId),
    );
    const rejected = acks.flatMap((a, i) =>
      a.status === "ACK_STATUS_REJECTED" ? [[i, a.errorCode, a.errorPath]] : [],
    );
    assert.deepEqual(rejected, [
      [3, "SCHEMA_VIOLATION", "/isNegative"],
      [100, "INVALID_JSON", "/json"],
      [250, "SCHEMA_VIOLATION", "/category"],
      [499, "INVALID_EVENT_TIME", "/event_time"],
    ]);
    assert.equal(
      new Set(acks.filter((a) => a.status === "ACK_STATUS_ACCEPTED").map((a) => a.recordId)).size,
      496,
    );

    const mixed = await unary<object, { acks: Ack[] }>(
      client,
      "IngestBatch",
      { records: [records[0], { ...records[2], stream: "other" }] },
      auth,
    );
    assert.ok(!mixed.ok);
    assert.deepEqual(errorCode(mixed.error), {
      status: "INVALID_ARGUMENT",
      code: "INVALID_REQUEST",
      path: "/records/1/stream",
    });
    const tooMany = await unary<object, { acks: Ack[] }>(
      client,
      "IngestBatch",
      { records: [...records, records[0]] },
      auth,
    );
    assert.ok(!tooMany.ok);
    assert.deepEqual(errorCode(tooMany.error), { status: "RESOURCE_EXHAUSTED", code: "TOO_MANY_RECORDS" });
    const unknown = await unary<object, { acks: Ack[] }>(
      client,
      "IngestBatch",
      { records: [{ ...records[0], stream: "nope" }] },
      auth,
    );
    assert.ok(!unknown.ok);
    assert.deepEqual(errorCode(unknown.error), {
      status: "NOT_FOUND",
      code: "UNKNOWN_STREAM",
      path: "/stream",
    });
  });

  test("IngestStream of 5,000 records with bad ones: acks in order with precise codes, and the valid records land in Parquet", async () => {
    const tag = uniqueApp("s");
    const expected = new Map<number, [string, string | undefined]>();
    function* records(): Generator<GrpcRecord> {
      for (let i = 0; i < 5_000; i++) {
        const id = `${tag}-${i}`;
        const clientId = String(i);
        switch (i % 250) {
          case 17:
            expected.set(i, ["SCHEMA_VIOLATION", "/category"]);
            yield { stream: "feedback", json: asJson(feedback(id, { category: "spam" })), clientId };
            break;
          case 61:
            expected.set(i, ["INVALID_JSON", "/json"]);
            yield { stream: "feedback", json: Buffer.from(`{"customerId":"${id}",}`), clientId };
            break;
          case 103:
            expected.set(i, ["UNKNOWN_STREAM", "/stream"]);
            yield { stream: "nope", json: asJson(feedback(id)), clientId };
            break;
          case 149:
            expected.set(i, ["INVALID_EVENT_TIME", "/ts"]);
            yield {
              stream: "feedback",
              struct: toStruct(feedback(id, { ts: "2099-01-01T00:00:00Z" })),
              clientId,
            };
            break;
          case 211:
            expected.set(i, ["INVALID_IDEMPOTENCY_KEY", "/idempotency_key"]);
            yield {
              stream: "feedback",
              json: asJson(feedback(id)),
              idempotencyKey: "k".repeat(300),
              clientId,
            };
            break;
          default:
            yield i % 3 === 0
              ? { stream: "feedback", struct: toStruct(feedback(id)), clientId, idempotencyKey: id }
              : {
                  stream: "feedback",
                  json: asJson(feedback(id)),
                  clientId,
                  eventTime: {
                    seconds: String(Date.parse("2026-11-23T10:30:00Z") / 1000),
                    nanos: 250_000_000,
                  },
                };
        }
      }
    }
    const started = Date.now();
    const run = await streamRecords(client, records(), auth);
    const streamedMs = Date.now() - started;
    assert.equal(run.error, undefined, run.error?.message);
    assert.equal(run.acks.length, 5_000);
    run.acks.forEach((ack, i) => {
      assert.equal(ack.clientId, String(i), "acks come in the order of the records");
      const bad = expected.get(i);
      if (bad) {
        assert.equal(ack.status, "ACK_STATUS_REJECTED", `record ${i}`);
        assert.deepEqual([ack.errorCode, ack.errorPath], bad, `record ${i}`);
        assert.equal(ack.recordId, undefined);
      } else {
        assert.equal(ack.status, "ACK_STATUS_ACCEPTED", `record ${i}: ${ack.errorCode} ${ack.errorMessage}`);
      }
    });
    const accepted = new Set(
      run.acks.filter((a) => a.status === "ACK_STATUS_ACCEPTED").map((a) => a.recordId!),
    );
    assert.equal(accepted.size, 5_000 - expected.size);

    await runner.drained(60_000);
    const bucket = runner.config.pipelines["feedback-lake"]!.sink.bucket;
    const keys = (await listKeys(runner.clients.s3, bucket, "feedback/")).filter((k) =>
      k.endsWith(".parquet"),
    );
    const dir = await download(runner.clients.s3, bucket, keys);
    const rows = await duckdb<{ _id: string; customerId: string; event_time: string }>(
      `SELECT _id, customerId, strftime(_event_time, '%Y-%m-%dT%H:%M:%S.%g') AS event_time
       FROM read_parquet('${dir}/*.parquet') WHERE customerId LIKE '${tag}-%'`,
    );
    const ids = rows.map((r) => r._id);
    assert.equal(ids.length, new Set(ids).size, "no record twice");
    assert.deepEqual(new Set(ids), accepted, "every accepted record, nothing else");
    const byCustomer = new Map(rows.map((r) => [r.customerId, r.event_time]));
    assert.equal(
      byCustomer.get(`${tag}-1`),
      "2026-11-23T10:30:00.250",
      "event_time overrides the payload's ts",
    );
    assert.equal(
      byCustomer.get(`${tag}-3`),
      "2026-11-23T10:00:00.000",
      "a Struct payload's ts is its event time",
    );
    process.stdout.write(
      `# 5,000 records streamed and acked in ${streamedMs} ms; Parquet after ${Date.now() - started} ms\n`,
    );
  });

  test("health says SERVING and reflection describes the ingest service", async () => {
    const health = new HealthClient(proxy.address, grpc.credentials.createInsecure());
    clients.push(health);
    const server = await unary<object, { status: string }>(health, "Check", {});
    const ingest = await unary<object, { status: string }>(health, "Check", {
      service: "sluice.v1.IngestService",
    });
    const unknown = await unary<object, { status: string }>(health, "Check", { service: "nope.Service" });
    assert.ok(server.ok && ingest.ok && !unknown.ok);
    assert.equal(server.value.status, "SERVING");
    assert.equal(ingest.value.status, "SERVING");
    assert.equal(unknown.error.code, grpc.status.NOT_FOUND);

    const reflection = new ReflectionClient(proxy.address, grpc.credentials.createInsecure());
    clients.push(reflection);
    const call = (
      reflection as unknown as {
        ServerReflectionInfo(): grpc.ClientDuplexStream<object, Record<string, unknown>>;
      }
    ).ServerReflectionInfo();
    const answers: Record<string, unknown>[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (a: Record<string, unknown>) => answers.push(a));
      call.on("end", resolve);
      call.on("error", reject);
    });
    call.write({ listServices: "" });
    call.write({ fileContainingSymbol: "sluice.v1.IngestService" });
    call.write({ fileContainingSymbol: "sluice.v1.Nope" });
    call.end();
    await done;
    const services = (answers[0]!.listServicesResponse as { service: { name: string }[] }).service.map(
      (s) => s.name,
    );
    assert.deepEqual(services.sort(), [
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "sluice.v1.IngestService",
      "sluice.v1.QueryService",
    ]);
    const files = (answers[1]!.fileDescriptorResponse as { fileDescriptorProto: Buffer[] })
      .fileDescriptorProto;
    const names = files.map((f) => f.subarray(2, 2 + f[1]!).toString("utf8"));
    assert.deepEqual(names.sort(), [
      "google/protobuf/struct.proto",
      "google/protobuf/timestamp.proto",
      "sluice/v1/ingest.proto",
    ]);
    assert.equal((answers[2]!.errorResponse as { errorCode: number }).errorCode, grpc.status.NOT_FOUND);
  });

  describe("from a second client stack: Python grpcio", () => {
    const python = findPython();

    async function py(scenario: string, extra: string[] = []): Promise<Record<string, unknown>> {
      const devKey = (runner as { devKey?: string }).devKey;
      const args = [
        join(ROOT, "test/integration/grpc_client.py"),
        "--target",
        proxy.address,
        "--proto-dir",
        PROTO_DIR,
        "--scenario",
        scenario,
        "--tag",
        uniqueApp("py"),
        ...(devKey === undefined ? [] : ["--auth", devKey]),
        ...extra,
      ];
      // Asynchronous: the proxy under test answers from this same process.
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(python!, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, out, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out),
        );
      });
      return JSON.parse(stdout) as Record<string, unknown>;
    }

    const skip = python
      ? false
      : "python3 with grpcio is missing: .ci/run installs python3-grpcio and python3-grpc-tools";

    test("unary calls: Struct and JSON payloads, a keyed retry, and the failures' statuses and codes", {
      skip,
    }, async () => {
      const out = (await py("unary")) as Record<
        string,
        { accepted?: boolean; recordId?: string; status?: string | number; code?: string; path?: string }
      > & {
        keyed: { accepted: boolean; recordId: string; status: number }[];
      };
      assert.equal(out.struct!.accepted, true);
      assert.equal(out.keyed[0]!.accepted, true);
      assert.equal(out.keyed[1]!.status, 2, "DUPLICATE");
      assert.equal(out.keyed[1]!.recordId, out.keyed[0]!.recordId);
      assert.deepEqual(out.schema, {
        status: "INVALID_ARGUMENT",
        code: "SCHEMA_VIOLATION",
        path: "/category",
      });
      assert.deepEqual(out.unknownStream, { status: "NOT_FOUND", code: "UNKNOWN_STREAM", path: "/stream" });
      assert.deepEqual(out.badJson, { status: "INVALID_ARGUMENT", code: "INVALID_JSON", path: "/json" });
    });

    test("a batch and a stream of 300 records give acks in order with precise codes", { skip }, async () => {
      const batch = (await py("batch")) as {
        acks: { accepted: boolean; code: string; path: string; clientId: string }[];
      };
      assert.deepEqual(
        batch.acks.map((a) => a.clientId),
        Array.from({ length: 10 }, (_, i) => String(i)),
      );
      assert.deepEqual(
        batch.acks.flatMap((a, i) => (a.accepted ? [] : [[i, a.code, a.path]])),
        [
          [3, "SCHEMA_VIOLATION", "/isNegative"],
          [7, "INVALID_JSON", "/json"],
        ],
      );
      const stream = (await py("stream", ["--count", "300"])) as {
        acks: { accepted: boolean; code: string; clientId: string }[];
      };
      assert.equal(stream.acks.length, 300);
      stream.acks.forEach((a, i) => {
        assert.equal(a.clientId, String(i));
        assert.equal(a.accepted, i % 50 !== 49);
        if (!a.accepted) assert.equal(a.code, "SCHEMA_VIOLATION");
      });
    });

    test("server reflection gives Python descriptors it can call the service with; health answers", {
      skip,
    }, async () => {
      const out = (await py("reflection")) as {
        services: string[];
        files: string[];
        ack: { accepted: boolean };
      };
      assert.ok(out.services.includes("sluice.v1.IngestService"));
      assert.ok(out.files.includes("sluice/v1/ingest.proto"));
      assert.equal(out.ack.accepted, true);
      const health = await py("health");
      assert.deepEqual(
        { server: health.server, ingest: health["sluice.v1.IngestService"], unknown: health["nope.Service"] },
        { server: "SERVING", ingest: "SERVING", unknown: "NOT_FOUND" },
      );
    });
  });
});

describe("gRPC proxy against stub targets", () => {
  test("credentials pass through unchanged; refusals map to UNAUTHENTICATED and PERMISSION_DENIED", async () => {
    const seen: { authorization?: string; apiKey?: string }[] = [];
    const stub = await startStub((req, body, res) => {
      seen.push({
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        ...(req.headers["x-api-key"] ? { apiKey: String(req.headers["x-api-key"]) } : {}),
      });
      if (req.headers.authorization === "Bearer good" || req.headers["x-api-key"] === "sk_good") {
        const n = (JSON.parse(body) as { records: unknown[] }).records.length;
        return answer(res, 200, {
          results: Array.from({ length: n }, (_, i) => ({ recordId: `r${i}`, status: "accepted" })),
        });
      }
      if (req.headers.authorization === "Bearer reader") {
        return answer(res, 403, {
          error: { code: "FORBIDDEN", message: "may not write to stream feedback" },
        });
      }
      answer(
        res,
        401,
        { error: { code: "UNAUTHENTICATED", message: "missing credentials" } },
        { "www-authenticate": "Bearer" },
      );
    });
    try {
      const { client } = await proxyFor(stub.url);
      const record = { stream: "feedback", json: asJson(feedback("a")) };
      const md = (name: string, value: string) => {
        const m = new grpc.Metadata();
        m.set(name, value);
        return m;
      };
      const good = await unary<object, { ack: Ack }>(
        client,
        "Ingest",
        { record },
        md("authorization", "Bearer good"),
      );
      const key = await unary<object, { ack: Ack }>(client, "Ingest", { record }, md("x-api-key", "sk_good"));
      const none = await unary<object, { ack: Ack }>(client, "Ingest", { record });
      const reader = await unary<object, { ack: Ack }>(
        client,
        "Ingest",
        { record },
        md("authorization", "Bearer reader"),
      );
      assert.ok(good.ok && key.ok);
      assert.ok(!none.ok && !reader.ok);
      assert.deepEqual(errorCode(none.error), { status: "UNAUTHENTICATED", code: "UNAUTHENTICATED" });
      assert.deepEqual(errorCode(reader.error), { status: "PERMISSION_DENIED", code: "FORBIDDEN" });
      assert.deepEqual(seen, [
        { authorization: "Bearer good" },
        { apiKey: "sk_good" },
        {},
        { authorization: "Bearer reader" },
      ]);

      // In a stream, refused credentials end the call once every record read has its ack.
      const run = await streamRecords(
        client,
        Array.from({ length: 20 }, (_, i) => ({ ...record, clientId: String(i) })),
      );
      assert.equal(run.error?.code, grpc.status.UNAUTHENTICATED);
      assert.ok(
        run.acks.every((a) => a.status === "ACK_STATUS_REJECTED" && a.errorCode === "UNAUTHENTICATED"),
      );
    } finally {
      await stub.close();
    }
  });

  test("target down: UNAVAILABLE, and nothing is acked that the target did not accept", async () => {
    const { client } = await proxyFor("http://127.0.0.1:9");
    const down = await unary<object, { ack: Ack }>(client, "Ingest", {
      record: { stream: "feedback", json: asJson(feedback("x")) },
    });
    assert.ok(!down.ok);
    assert.deepEqual(errorCode(down.error), { status: "UNAVAILABLE", code: "UNAVAILABLE" });
    assert.equal(down.error.metadata.get("retry-after")[0], "1");

    // A target that accepts three requests, then goes away mid-stream.
    const accepted = new Set<string>();
    let requests = 0;
    const stub = await startStub((req, body, res) => {
      if (++requests > 3) {
        req.socket.destroy();
        return;
      }
      const records = (JSON.parse(body) as { records: { data: { customerId: string } }[] }).records;
      for (const r of records) accepted.add(r.data.customerId);
      answer(res, 200, {
        results: records.map((r) => ({ recordId: r.data.customerId, status: "accepted" })),
      });
    });
    try {
      const dying = await proxyFor(stub.url, { batchRecords: 100, lingerMs: 5 });
      const run = await streamRecords(
        dying.client,
        Array.from({ length: 2_000 }, (_, i) => ({
          stream: "feedback",
          json: asJson(feedback(`d-${i}`)),
          clientId: String(i),
        })),
      );
      assert.equal(run.error?.code, grpc.status.UNAVAILABLE);
      assert.deepEqual(
        run.acks.map((a) => a.clientId),
        run.acks.map((_, i) => String(i)),
      );
      const acked = run.acks.filter((a) => a.status === "ACK_STATUS_ACCEPTED").map((a) => a.recordId!);
      assert.deepEqual(new Set(acked), accepted, "acked as accepted exactly what the target accepted");
      assert.ok(
        run.acks
          .filter((a) => a.status === "ACK_STATUS_REJECTED")
          .every((a) => a.errorCode === "UNAVAILABLE"),
        "the rest is rejected as UNAVAILABLE",
      );
      assert.ok(
        accepted.size > 0 && accepted.size < 2_000,
        `${accepted.size} accepted before the target died`,
      );
    } finally {
      await stub.close();
    }
  });

  test("a slow target: the producer sees flow control, not errors; the proxy's buffer stays bounded and no record is lost", async () => {
    const seen: string[] = [];
    const stub = await startStub(acceptAll(seen, 100));
    try {
      const { proxy, client } = await proxyFor(stub.url, { maxInFlightBatches: 2 });
      const total = 20_000;
      const run = await streamRecords(
        client,
        Array.from({ length: total }, (_, i) => ({
          stream: "feedback",
          json: asJson(feedback(`slow-${i}`, { content: "y".repeat(500) })),
          clientId: String(i),
        })),
      );
      assert.equal(run.error, undefined);
      assert.ok(run.waits > 0, "write() told the producer to wait");
      assert.equal(run.acks.length, total);
      run.acks.forEach((ack, i) => {
        assert.equal(ack.clientId, String(i));
        assert.equal(ack.recordId, `id-slow-${i}`);
      });
      assert.deepEqual(
        [...seen].sort(byIndex),
        Array.from({ length: total }, (_, i) => `slow-${i}`),
        "every record reached the target once",
      );
      const stats = proxy.stats();
      // Two requests in flight and one batch filling: at most 3 x 500 records held.
      assert.ok(stats.peakBufferedRecords <= 1_500, `peak ${stats.peakBufferedRecords} records buffered`);
      assert.ok(stats.pauses > 0);
      assert.ok(stats.peakInFlightBatches <= 2);
    } finally {
      await stub.close();
    }
  });

  test("graceful shutdown: every record the proxy read gets its ack, then the stream ends UNAVAILABLE", async () => {
    const seen: string[] = [];
    const stub = await startStub(acceptAll(seen, 50));
    try {
      const { proxy, client } = await proxyFor(stub.url);
      let closing: Promise<void> | undefined;
      const run = await streamRecords(
        client,
        (function* () {
          for (let i = 0; i < 1_000_000; i++) {
            yield { stream: "feedback", json: asJson(feedback(`g-${i}`)), clientId: String(i) };
          }
        })(),
        new grpc.Metadata(),
        (_ack, index) => {
          if (index === 3_000) closing = proxy.close();
        },
      );
      await closing;
      assert.equal(run.error?.code, grpc.status.UNAVAILABLE);
      assert.ok(run.acks.length > 3_000);
      assert.ok(run.acks.every((a, i) => a.status === "ACK_STATUS_ACCEPTED" && a.clientId === String(i)));
      assert.deepEqual(seen.length, run.acks.length, "what reached the target is exactly what was acked");
    } finally {
      await stub.close();
    }
  });

  test("TLS, and mTLS that refuses a client without a certificate", {
    skip: hasOpenssl() ? false : "openssl missing",
  }, async () => {
    const pki = makePki();
    const seen: string[] = [];
    const stub = await startStub(acceptAll(seen));
    try {
      const record = { record: { stream: "feedback", json: asJson(feedback("tls")) } };
      const tls = await startGrpcProxy({
        target: stub.url,
        port: 0,
        logger: silentLogger,
        tls: { cert: pki.serverCert, key: pki.serverKey },
      });
      proxies.push(tls);
      const tlsClient = new IngestClient(`localhost:${tls.port}`, grpc.credentials.createSsl(pki.caCert));
      clients.push(tlsClient);
      assert.ok((await unary(tlsClient, "Ingest", record)).ok);

      const mtls = await startGrpcProxy({
        target: stub.url,
        port: 0,
        logger: silentLogger,
        tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.caCert },
      });
      proxies.push(mtls);
      const withCert = new IngestClient(
        `localhost:${mtls.port}`,
        grpc.credentials.createSsl(pki.caCert, pki.clientKey, pki.clientCert),
      );
      const withoutCert = new IngestClient(`localhost:${mtls.port}`, grpc.credentials.createSsl(pki.caCert));
      clients.push(withCert, withoutCert);
      assert.ok((await unary(withCert, "Ingest", record)).ok);
      const refused = await unary(withoutCert, "Ingest", record);
      assert.ok(!refused.ok);
      assert.equal(refused.error.code, grpc.status.UNAVAILABLE);
      assert.equal(seen.length, 2);
    } finally {
      await stub.close();
    }
  });
});

function byIndex(a: string, b: string): number {
  return Number(a.slice(a.lastIndexOf("-") + 1)) - Number(b.slice(b.lastIndexOf("-") + 1));
}

function findPython(): string | undefined {
  // Debian's python3-grpcio installs for the system interpreter, which may not be first on PATH.
  for (const candidate of ["python3", "/usr/bin/python3"]) {
    try {
      execFileSync(candidate, ["-c", "import grpc, google.protobuf"], { stdio: "ignore" });
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A throwaway CA with a server certificate for localhost and a client certificate. */
function makePki() {
  const dir = mkdtempSync(join(tmpdir(), "sluice-pki-"));
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  ssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=sluice test CA",
  );
  writeFileSync(join(dir, "server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  for (const who of ["server", "client"]) {
    ssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${who}.key`,
      "-out",
      `${who}.csr`,
      "-subj",
      `/CN=${who === "server" ? "localhost" : "producer"}`,
    );
    ssl(
      "x509",
      "-req",
      "-in",
      `${who}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${who}.pem`,
      "-days",
      "1",
      ...(who === "server" ? ["-extfile", "server.ext"] : []),
    );
  }
  const read = (name: string) => readFileSync(join(dir, name));
  return {
    caCert: read("ca.pem"),
    serverCert: read("server.pem"),
    serverKey: read("server.key"),
    clientCert: read("client.pem"),
    clientKey: read("client.key"),
  };
}
