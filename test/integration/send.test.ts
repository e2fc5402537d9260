/**
 * `sluice send` against a running ingest API: every format, stdin through the real entry point,
 * a CSV with bad rows (each rejected with its reason, the rest accepted), a re-run that writes
 * nothing twice, a server that answers 503 with Retry-After once, and gRPC through the proxy.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runSendCommand, type SendIo } from "../../bin/send-command.ts";
import { silentLogger } from "../../functions/core/logger.ts";
import { type GrpcProxy, startGrpcProxy } from "../../functions/grpc-proxy/cli.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { feedback } from "../faults/lake.ts";
import { duckdb, uniqueApp } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

let runner: LocalRunner;
before(async () => {
  runner = await startTestRunner("send", { pipelines: false });
});
after(async () => {
  await runner?.stop();
});

const dir = mkdtempSync(join(tmpdir(), "sluice-send-"));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function send(argv: string[], stdin = Buffer.alloc(0), url = runner.url) {
  let out = "";
  let err = "";
  const io: SendIo = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    isTTY: false,
    stdin: async () => stdin,
  };
  const code = await runSendCommand([...argv, "--url", url, "--key", runner.devKey ?? ""], io);
  return { code, out, err };
}

const ndjson = (tag: string, n: number) =>
  `${Array.from({ length: n }, (_, i) => JSON.stringify(feedback(`${tag}-${i}`))).join("\n")}\n`;

function summary(out: string): [number, number, number] {
  const m = /(\d+) accepted, (\d+) duplicate, (\d+) rejected/.exec(out);
  assert.ok(m, out);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

const rejectLines = (path: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { line: number; code: string; path?: string; message: string });

describe("sluice send", () => {
  test("NDJSON in batches of 500 (501 records, two batches): all accepted, and the same file again is all duplicates", async () => {
    const path = file("a.ndjson", ndjson(uniqueApp("nd"), 501));
    const first = await send(["feedback", path]);
    assert.equal(first.code, 0, first.err);
    assert.deepEqual(summary(first.out), [501, 0, 0]);
    const again = await send(["feedback", path]);
    assert.deepEqual(summary(again.out), [0, 501, 0]);
  });

  test("a CSV typed by the stream's schema: a short row and an untypable cell are rejected with reasons, the rest accepted", async () => {
    const tag = uniqueApp("csv");
    const csv = [
      "customerId,content,category,isNegative,rating,tags,ts",
      `${tag}-1,good,praise,false,5,"[""a""]",2026-11-23T10:15:00Z`,
      `${tag}-2,short row,bug`,
      `${tag}-3,bad rating,bug,true,lots,[],2026-11-23T10:15:00Z`,
      `${tag}-4,fine,other,true,,,2026-11-23T10:15:00Z`,
    ].join("\n");
    const path = file("b.csv", `${csv}\n`);
    const res = await send(["feedback", path]);
    assert.equal(res.code, 1, "some records were rejected");
    assert.deepEqual(summary(res.out), [2, 0, 2]);
    const rejects = rejectLines(`${path}.rejects.ndjson`);
    assert.deepEqual(
      rejects.map((r) => [r.line, r.code]),
      [
        [3, "INVALID_CSV"],
        [4, "SCHEMA_VIOLATION"],
      ],
    );
    assert.equal(rejects[1]!.path, "/rating");
  });

  test("a JSON array from stdin through the real entry point, with plain progress lines when not a terminal", async () => {
    const tag = uniqueApp("arr");
    const body = JSON.stringify(Array.from({ length: 30 }, (_, i) => feedback(`${tag}-${i}`)));
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "bin/sluice.ts",
        "send",
        "feedback",
        "-",
        "--url",
        runner.url,
        "--key",
        runner.devKey ?? "",
        "--rejects",
        join(dir, "stdin.rejects"),
        "--progress-every",
        "0.001",
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.stdin.end(body);
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 0, err);
    assert.deepEqual(summary(out), [30, 0, 0]);
    assert.match(err, /^sent 30\/30 records \(100%\), \d+ rec\/s, 0\.0 MB, ETA 0s$/m);
  });

  test("on a terminal (a pseudo-terminal from script(1)) the progress bar shows records, rate, bytes and ETA", async () => {
    const path = file("tty.ndjson", ndjson(uniqueApp("tty"), 20));
    const command = [process.execPath, "--import", "tsx", "bin/sluice.ts", "send", "feedback", path]
      .concat(["--url", runner.url, "--key", runner.devKey ?? ""])
      .map((a) => `'${a}'`)
      .join(" ");
    const child = spawn("script", ["-qec", command, "/dev/null"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 0, out);
    assert.match(out, /100% \| 20\/20 records \| \d+ rec\/s \| 0\.0 MB \| ETA 0s/);
    assert.deepEqual(summary(out), [20, 0, 0]);
  });

  test("Parquet written by DuckDB, int64 and timestamps included", async () => {
    const tag = uniqueApp("pq");
    const path = join(dir, "c.parquet");
    await duckdb(
      `COPY (SELECT '${tag}-' || i AS customerId, 'text' AS content, 'bug' AS category, i % 2 = 0 AS isNegative,
        (i % 5 + 1)::BIGINT AS rating, strftime(TIMESTAMP '2026-11-23 10:15:00', '%Y-%m-%dT%H:%M:%SZ') AS ts
        FROM range(40) t(i)) TO '${path}' (FORMAT PARQUET)`,
    );
    const res = await send(["feedback", path]);
    assert.equal(res.code, 0, res.err + res.out);
    assert.deepEqual(summary(res.out), [40, 0, 0]);
  });

  test("--key-field takes the idempotency key from the records, so the same records in another file are duplicates", async () => {
    const tag = uniqueApp("kf");
    const text = ndjson(tag, 10);
    const first = await send(["feedback", file("k1.ndjson", text), "--key-field", "customerId"]);
    assert.deepEqual(summary(first.out), [10, 0, 0]);
    const reordered = text.trim().split("\n").reverse().join("\n");
    const second = await send(["feedback", file("k2.ndjson", reordered), "--key-field", "customerId"]);
    assert.deepEqual(summary(second.out), [0, 10, 0]);
  });

  test("a 503 with Retry-After is waited out and the batch sent again; nothing is lost or doubled", async () => {
    const seen: number[] = [];
    const server: Server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      seen.push(Date.now());
      if (seen.length === 1) {
        res.writeHead(503, { "retry-after": "1", "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code: "UNAVAILABLE", message: "try later" } }));
        return;
      }
      const upstream = await fetch(`${runner.url}${req.url}`, {
        method: req.method ?? "GET",
        headers: Object.fromEntries(
          Object.entries(req.headers).filter(([k]) => ["content-type", "x-api-key"].includes(k)),
        ) as Record<string, string>,
        body: req.method === "POST" ? Buffer.concat(chunks) : undefined,
      });
      res.writeHead(upstream.status, { "content-type": "application/json" });
      res.end(await upstream.text());
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await send(["feedback", file("r.ndjson", ndjson(uniqueApp("ra"), 25))], undefined, url);
      assert.equal(res.code, 0, res.err);
      assert.deepEqual(summary(res.out), [25, 0, 0]);
      assert.match(res.out, /1 retries/);
      assert.equal(seen.length, 2);
      assert.ok(seen[1]! - seen[0]! >= 950, `resent after ${seen[1]! - seen[0]!} ms, Retry-After said 1 s`);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test("--grpc sends through the proxy's IngestService with the same keys and outcomes", async () => {
    const proxy: GrpcProxy = await startGrpcProxy({ target: runner.url, port: 0, logger: silentLogger });
    try {
      const path = file("g.ndjson", `${ndjson(uniqueApp("grpc"), 20)}{"customerId":"x","category":"nope"}\n`);
      const first = await send(["feedback", path, "--grpc", proxy.address]);
      assert.deepEqual(summary(first.out), [20, 0, 1]);
      assert.deepEqual(
        rejectLines(`${path}.rejects.ndjson`).map((r) => [r.line, r.code]),
        [[21, "SCHEMA_VIOLATION"]],
      );
      const again = await send(["feedback", path, "--grpc", proxy.address]);
      assert.deepEqual(summary(again.out), [0, 20, 1]);
    } finally {
      await proxy.close();
    }
  });

  test("a refusal no retry changes (an unknown stream, a bad key) stops the send with the reason", async () => {
    const path = file("u.ndjson", ndjson("u", 2));
    const unknown = await send(["nosuchstream", path]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /404.*UNKNOWN_STREAM/);
    const usage = await send([]);
    assert.equal(usage.code, 2);
  });
});
