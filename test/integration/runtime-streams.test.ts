/**
 * Streams created at run time (POST /v1/streams, `sluice streams create`): bad requests are
 * refused with the field at fault, a created stream takes records over HTTPS and through the gRPC
 * proxy within the state cache time, its records land once each in its own `{stream}/` prefix of
 * the runtimeStreams pipeline's sink (counted with DuckDB), and it pauses and deletes like a
 * declared stream.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { grpcTransport } from "../../bin/send/transport.ts";
import { runStreamsCommand } from "../../bin/streams-command.ts";
import { createAuth } from "../../functions/core/auth/index.ts";
import { silentLogger } from "../../functions/core/logger.ts";
import { type GrpcProxy, startGrpcProxy } from "../../functions/grpc-proxy/cli.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, download, duckdb, listKeys, waitFor } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

let runner: LocalRunner;
let proxy: GrpcProxy;
before(async () => {
  runner = await startTestRunner("rts", { manifestPath: "test/fixtures/manifests/runtime-streams.yaml" });
  proxy = await startGrpcProxy({ target: runner.url, port: 0, logger: silentLogger });
});
after(async () => {
  await proxy?.close();
  await runner?.stop();
});

const ORDER_SCHEMA = {
  type: "object",
  required: ["orderId", "amount", "ts"],
  additionalProperties: false,
  properties: {
    orderId: { type: "string" },
    amount: { type: "number" },
    ts: { type: "string", format: "date-time" },
  },
};

const order = (orderId: string, amount = 9.5) => ({ orderId, amount, ts: "2026-11-23T11:00:00Z" });

async function cli(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await runStreamsCommand([...argv, "--url", runner.url, "--key", runner.devKey ?? ""], {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

async function call(method: string, path: string, body?: unknown, headers = authHeader(runner)) {
  const res = await fetch(`${runner.url}${path}`, {
    method,
    headers: { ...headers, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & {
      error?: { code: string; message: string; path?: string };
      results?: { status: string; recordId: string | null; error?: { code: string } }[];
    },
  };
}

const postRecords = (stream: string, records: unknown[]) =>
  call("POST", `/v1/streams/${stream}/records`, {
    records: records.map((data, i) => ({ data, key: `k-${i}-${JSON.stringify(data)}` })),
  });

describe("streams created at run time", () => {
  test("a bad create is refused with its code and field: bad name 400, declared 409, unknown schema 404, no schema 400, not JSON 400, not admin 403", async () => {
    const badName = await call("POST", "/v1/streams", { name: "Bad Name", schema: "sluice.feedback" });
    assert.equal(badName.status, 400);
    assert.equal(badName.body.error?.code, "INVALID_STREAM_NAME");
    assert.equal(badName.body.error?.path, "/name");

    const declared = await call("POST", "/v1/streams", { name: "feedback", schema: "sluice.feedback" });
    assert.equal(declared.status, 409);
    assert.equal(declared.body.error?.code, "STREAM_EXISTS");
    assert.match(declared.body.error?.message ?? "", /declared in the manifest/);

    const unknown = await call("POST", "/v1/streams", { name: "ghosts", schema: "nope.missing" });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error?.code, "SCHEMA_NOT_FOUND");
    assert.equal(unknown.body.error?.path, "/schema");

    const noSchema = await call("POST", "/v1/streams", { name: "ghosts" });
    assert.equal(noSchema.status, 400);
    assert.equal(noSchema.body.error?.path, "/schema");

    const extra = await call("POST", "/v1/streams", { name: "ghosts", schema: "sluice.feedback", shards: 4 });
    assert.equal(extra.status, 400);
    assert.equal(extra.body.error?.path, "/shards");

    const notJson = await call("POST", "/v1/streams", "{name:");
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.error?.code, "INVALID_JSON");

    const auth = createAuth(runner.config.auth, {
      dynamo: runner.clients.dynamo,
      apiKeysTable: runner.config.tables.apiKeys,
    });
    const writer = await auth.apiKeys!.create({ name: "w", role: "writer", streams: "*" });
    const forbidden = await call(
      "POST",
      "/v1/streams",
      { name: "ghosts", schema: "sluice.feedback" },
      { authorization: `Bearer ${writer.key}` },
    );
    assert.equal(forbidden.status, 403);

    // None of the refusals created anything.
    const list = await call("GET", "/v1/streams");
    assert.deepEqual(
      (list.body.streams as { name: string }[]).map((s) => s.name),
      ["feedback"],
    );
  });

  test("a stream created from a schema file takes records over HTTPS and gRPC, and they land once each under its own prefix", async () => {
    // Asked for before it exists: 404, and the miss sits in ingest's state cache.
    const early = await postRecords("orders", [order("early")]);
    assert.equal(early.status, 404);
    assert.equal(early.body.error?.code, "UNKNOWN_STREAM");

    const file = join(mkdtempSync(join(tmpdir(), "sluice-orders-")), "orders.json");
    writeFileSync(file, JSON.stringify(ORDER_SCHEMA));
    const created = await cli(
      "create",
      "orders",
      "--schema",
      file,
      "--event-time-field",
      "ts",
      "--partition-key",
      "orderId",
    );
    assert.equal(created.code, 0, created.err);
    assert.match(created.out, /^sluice\.orders version 1 registered\norders\s+active\s+sluice\.orders@1/);
    assert.match(created.out, /delivered by pipeline feedback-lake/);

    const again = await cli("create", "orders", "--schema", "sluice.orders");
    assert.equal(again.code, 1);
    assert.match(again.err, /refused \(409 STREAM_EXISTS\): stream orders exists \(active\) at \/name/);

    // Within the state cache time (2 s) the miss expires and the stream takes records.
    const http = Array.from({ length: 5 }, (_, i) => order(`http-${i}`, i));
    const accepted = await waitFor(
      "orders to take records",
      async () => {
        const r = await postRecords("orders", http);
        return r.status === 200 ? r : undefined;
      },
      10_000,
    );
    assert.deepEqual(
      accepted.body.results?.map((r) => r.status),
      Array(5).fill("accepted"),
    );

    const bad = await postRecords("orders", [{ orderId: "no-amount", ts: "2026-11-23T11:00:00Z" }]);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.results?.[0]?.error?.code, "SCHEMA_VIOLATION");

    const grpc = grpcTransport(proxy.address, runner.devKey);
    try {
      const sent = await grpc.send(
        "orders",
        Array.from({ length: 3 }, (_, i) => ({
          ordinal: i,
          data: order(`grpc-${i}`),
          key: `g-${i}`,
          bytes: 0,
        })),
      );
      assert.deepEqual(
        sent.results?.map((r) => r.status),
        ["accepted", "accepted", "accepted"],
        sent.message,
      );
    } finally {
      grpc.close();
    }

    const shown = await call("GET", "/v1/streams/orders");
    assert.equal(shown.status, 200);
    assert.equal(shown.body.subject, "sluice.orders");
    assert.equal(shown.body.partitionKey, "orderId");

    await runner.drained();
    const bucket = runner.config.pipelines["feedback-lake"]!.sink.bucket;
    const keys = (await listKeys(runner.clients.s3, bucket, "orders/")).filter((k) => k.endsWith(".parquet"));
    assert.ok(keys.length > 0, "no Parquet under orders/");
    assert.ok(
      keys.every((k) => k.startsWith("orders/dt=2026-11-23/hr=11/")),
      keys.join(", "),
    );
    const dir = await download(runner.clients.s3, bucket, keys);
    const rows = await duckdb<{ orderId: string; n: number; amount: number }>(
      `SELECT orderId, count(*)::INT AS n, max(amount) AS amount FROM read_parquet('${dir}/*.parquet', union_by_name = true) GROUP BY orderId ORDER BY orderId`,
    );
    assert.deepEqual(
      rows.map((r) => [r.orderId, r.n]),
      [...["grpc-0", "grpc-1", "grpc-2"], ...http.map((h) => h.orderId)].sort().map((id) => [id, 1]),
    );
    assert.equal(rows.find((r) => r.orderId === "http-4")?.amount, 4);
    // Nothing of orders went into feedback's prefix.
    const feedbackKeys = await listKeys(runner.clients.s3, bucket, "feedback/");
    assert.equal(feedbackKeys.filter((k) => k.endsWith(".parquet")).length, 0);
  });

  test("a run-time stream is listed, pauses, resumes and deletes like a declared one", async () => {
    const list = await cli("list");
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /\nfeedback\s+active\s+sluice\.feedback@1\n/);
    assert.match(list.out, /\norders\s+active\s+sluice\.orders@1\s+since /);

    const paused = await cli("pause", "orders");
    assert.equal(paused.code, 0, paused.err);
    const refused = await waitFor(
      "the pause to reach intake",
      async () => {
        const r = await postRecords("orders", [order("paused")]);
        return r.status === 409 ? r : undefined;
      },
      10_000,
    );
    assert.equal(refused.body.error?.code, "STREAM_PAUSED");
    assert.equal((await cli("resume", "orders")).code, 0);

    const deleted = await cli("delete", "orders");
    assert.equal(deleted.code, 0, deleted.err);
    assert.match(deleted.out, /^orders\s+deleted/);
    const gone = await waitFor(
      "the delete to reach intake",
      async () => {
        const r = await postRecords("orders", [order("after-delete")]);
        return r.status === 404 ? r : undefined;
      },
      10_000,
    );
    assert.match(gone.body.error?.message ?? "", /orders was deleted/);
    const recreate = await call("POST", "/v1/streams", { name: "orders", schema: "sluice.orders" });
    assert.equal(recreate.status, 409);
    assert.equal(recreate.body.error?.code, "STREAM_EXISTS");
    const unknown = await cli("pause", "never-created");
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /404 UNKNOWN_STREAM/);
  });
});
