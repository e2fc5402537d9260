/**
 * sluice.v1.QueryService through the gRPC proxy in front of the local read API, with a client
 * generated at runtime from proto/ (proto-loader): pages of a time range with cursors, key
 * lookups, the tail as a server stream (replay, the live marker, then live records, each once),
 * and the HTTPS API's errors as gRPC statuses with the Sluice code in the trailers.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { silentLogger } from "../../functions/core/logger.ts";
import { type GrpcProxy, startGrpcProxy } from "../../functions/grpc-proxy/cli.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

const PROTO_DIR = join(fileURLToPath(new URL("../../", import.meta.url)), "proto");
const definition = loadSync(["sluice/v1/query.proto"], {
  includeDirs: [PROTO_DIR],
  keepCase: false,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
});
const QueryClient = grpc.makeGenericClientConstructor(
  definition["sluice.v1.QueryService"] as unknown as grpc.ServiceDefinition,
  "sluice.v1.QueryService",
) as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
) => grpc.Client & Record<string, (...args: unknown[]) => unknown>;

interface Value {
  stringValue?: string;
  numberValue?: number;
  boolValue?: boolean;
}
interface Struct {
  fields: Record<string, Value>;
}
interface Page {
  records?: Struct[];
  nextCursor?: string;
  counters: Record<string, string>;
}
interface ReadEvent {
  event: "record" | "live" | "skipped";
  record?: Struct;
  live?: { replayed?: string };
}

let runner: LocalRunner;
let proxy: GrpcProxy;
let client: InstanceType<typeof QueryClient>;
let metadata: grpc.Metadata;
const sent: { id: string; ts: string; customerId: string }[] = [];
const BASE = Date.UTC(2026, 10, 23, 9);
const ts = (s: number) => ({ seconds: String(Math.floor(s)), nanos: 0 });
const str = (r: Struct, f: string) => r.fields[f]?.stringValue;

async function send(stream: string, records: { ts: string; customerId: string }[]) {
  const res = await fetch(`${runner.url}/v1/streams/${stream}/records`, {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeader(runner) },
    body: JSON.stringify({
      records: records.map((r) => ({
        data: { customerId: r.customerId, content: "g", category: "bug", isNegative: true, ts: r.ts },
      })),
    }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { results: { recordId: string }[] };
  return records.map((r, i) => ({ ...r, id: body.results[i]!.recordId }));
}

function unary<T>(method: string, request: unknown, md = metadata): Promise<T> {
  return new Promise((resolve, reject) =>
    (client[method] as (r: unknown, m: grpc.Metadata, cb: (e: unknown, v: T) => void) => void)(
      request,
      md,
      (err, value) => (err ? reject(err) : resolve(value)),
    ),
  );
}

async function refused(method: string, request: unknown, md = metadata) {
  const err = (await unary(method, request, md).then(
    () => assert.fail(`${method} succeeded`),
    (e: unknown) => e,
  )) as grpc.ServiceError;
  return { code: err.code, sluice: err.metadata?.get("sluice-error-code")[0], details: err.details };
}

before(async () => {
  runner = await startTestRunner("gq", { manifestPath: "test/fixtures/manifests/query.yaml" });
  proxy = await startGrpcProxy({ target: runner.url, port: 0, logger: silentLogger });
  client = new QueryClient(proxy.address, grpc.credentials.createInsecure());
  metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(authHeader(runner))) metadata.set(k, v);
  sent.push(
    ...(await send(
      "feedback",
      Array.from({ length: 30 }, (_, i) => ({
        ts: new Date(BASE + i * 240_000).toISOString(),
        customerId: i === 17 ? "grpc-solo" : `g-${i % 4}`,
      })),
    )),
  );
  await runner.drained();
});

after(async () => {
  client?.close();
  await proxy?.close();
  await runner?.stop();
});

describe("QueryTimeRange and LookupByKey", () => {
  test("pages of a range hold exactly its records, once, in order, as the HTTPS API answers", async () => {
    const from = BASE / 1000 + 600;
    const to = BASE / 1000 + 6000;
    const expected = sent
      .filter((s) => Date.parse(s.ts) / 1000 >= from && Date.parse(s.ts) / 1000 < to)
      .map((s) => s.id);
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await unary<Page>(
        "QueryTimeRange",
        cursor
          ? { stream: "feedback", cursor, limit: 4 }
          : { stream: "feedback", from: ts(from), to: ts(to), limit: 4 },
      );
      pages++;
      for (const r of page.records ?? []) ids.push(str(r, "_id")!);
      assert.ok(Number(page.counters.rowGroupsRead) >= 1);
      cursor = page.nextCursor;
    } while (cursor && pages < 50);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(ids, expected);
    assert.ok(pages >= 6);
  });

  test("fields, and a key lookup by partition key and by record id", async () => {
    const page = await unary<Page>("QueryTimeRange", {
      stream: "feedback",
      from: ts(BASE / 1000),
      fields: ["customerId", "isNegative"],
      limit: 100,
    });
    assert.equal(page.records!.length, 30);
    assert.deepEqual(Object.keys(page.records![0]!.fields).sort(), ["customerId", "isNegative"]);
    assert.equal(page.records![0]!.fields.isNegative!.boolValue, true);
    const solo = sent[17]!;
    const byKey = await unary<Page>("LookupByKey", { stream: "feedback", key: "grpc-solo" });
    assert.deepEqual(
      byKey.records!.map((r) => str(r, "_id")),
      [solo.id],
    );
    const byId = await unary<Page>("LookupByKey", { stream: "feedback", key: solo.id });
    assert.equal(str(byId.records![0]!, "customerId"), "grpc-solo");
    assert.ok(Number(byId.counters.rowGroupsRead) < Number(byId.counters.rowGroupsTotal));
  });

  test("errors: the status and the Sluice code of each", async () => {
    const backwards = await refused("QueryTimeRange", {
      stream: "feedback",
      from: ts(BASE / 1000 + 100),
      to: ts(BASE / 1000),
    });
    assert.deepEqual([backwards.code, backwards.sluice], [grpc.status.INVALID_ARGUMENT, "INVALID_QUERY"]);
    const noFrom = await refused("QueryTimeRange", { stream: "feedback" });
    assert.deepEqual([noFrom.code, noFrom.sluice], [grpc.status.INVALID_ARGUMENT, "INVALID_QUERY"]);
    const cursor = await refused("QueryTimeRange", { stream: "feedback", cursor: "nope" });
    assert.deepEqual([cursor.code, cursor.sluice], [grpc.status.INVALID_ARGUMENT, "INVALID_CURSOR"]);
    const unknown = await refused("LookupByKey", { stream: "nope", key: "x" });
    assert.deepEqual([unknown.code, unknown.sluice], [grpc.status.NOT_FOUND, "UNKNOWN_STREAM"]);
    const noKey = await refused("LookupByKey", { stream: "feedback" });
    assert.equal(noKey.code, grpc.status.INVALID_ARGUMENT);
    const badName = await refused("LookupByKey", { stream: "Bad Name!", key: "x" });
    assert.equal(badName.code, grpc.status.INVALID_ARGUMENT);
    const anonymous = await refused("LookupByKey", { stream: "feedback", key: "x" }, new grpc.Metadata());
    assert.equal(anonymous.code, grpc.status.UNAUTHENTICATED);
  });
});

test("StreamingRead replays, marks the switch, then follows; every record once", async () => {
  const now = Date.now();
  const replayed = await send(
    "feedback",
    Array.from({ length: 6 }, (_, i) => ({
      ts: new Date(now - (30 - i) * 60_000).toISOString(),
      customerId: "r",
    })),
  );
  await runner.drained();
  const call = (
    client.StreamingRead as (r: unknown, m: grpc.Metadata) => grpc.ClientReadableStream<ReadEvent>
  )({ stream: "feedback", from: ts(now / 1000 - 3600) }, metadata);
  const events: ReadEvent[] = [];
  let live: { id: string }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no live records within 30 s")), 30_000);
    call.on("data", (e: ReadEvent) => {
      events.push(e);
      if (e.event === "live")
        void send(
          "feedback",
          Array.from({ length: 4 }, () => ({ ts: new Date().toISOString(), customerId: "l" })),
        ).then((s) => {
          live = s;
        }, reject);
      const seen = new Set(events.map((x) => x.record && str(x.record, "_id")));
      if (live.length > 0 && live.every((s) => seen.has(s.id))) {
        clearTimeout(timer);
        resolve();
      }
    });
    call.on("error", (err: grpc.ServiceError) => {
      if (err.code !== grpc.status.CANCELLED) reject(err);
    });
  });
  await done;
  call.cancel();
  const ids = events.filter((e) => e.record).map((e) => str(e.record!, "_id")!);
  const switchAt = events.findIndex((e) => e.event === "live");
  assert.ok(switchAt > 0);
  assert.equal(new Set(ids).size, ids.length, "a record came twice");
  const before = new Set(events.slice(0, switchAt).map((e) => e.record && str(e.record, "_id")));
  for (const r of replayed) assert.ok(before.has(r.id), "replayed before the switch");
  for (const s of sent) assert.ok(!ids.includes(s.id), "records before from are not replayed");
  assert.equal(Number(events[switchAt]!.live!.replayed), switchAt);
});
