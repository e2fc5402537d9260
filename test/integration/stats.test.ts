/**
 * Per-stream statistics end to end, against the local runner: records sent, duplicated and
 * rejected through the API, delivered by the batcher; the functions' EMF turned into metrics
 * with PutMetricData (as CloudWatch Logs does), read back by `GET /v1/streams/{stream}/stats`
 * with GetMetricData, and printed by `sluice stats`. And `GET /v1/streams/{stream}/files`, the
 * newest files and undeliverable records the console lists.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { runStatsCommand } from "../../bin/stats-command.ts";
import type { StreamStats } from "../../functions/core/stats/stream-stats.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, waitFor } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

let runner: LocalRunner;
before(async () => {
  runner = await startTestRunner("stats");
});
after(async () => {
  await runner?.stop();
});

const GOOD = 7;
/** Records the import job in `before` accepts. */
const IMPORTED = 2;
const eventTime = () => new Date(Date.now() - 60_000).toISOString();
const record = (i: number) => ({
  customerId: `c-${i}`,
  content: `note ${i}`,
  category: "bug",
  isNegative: i % 2 === 0,
  ts: eventTime(),
});

async function post(body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${runner.url}/v1/streams/feedback/records`, {
    method: "POST",
    headers: { ...authHeader(runner), "content-type": "application/json", ...headers },
    body: JSON.stringify(Array.isArray(body) ? { records: body.map((data) => ({ data })) } : body),
  });
  return { status: res.status, json: (await res.json()) as { results: { status: string }[] } };
}

async function stats(query = "", key = runner.devKey) {
  const res = await fetch(`${runner.url}/v1/streams/feedback/stats${query}`, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  return { status: res.status, json: (await res.json()) as StreamStats & { error: { code: string } } };
}

describe("GET /v1/streams/{stream}/stats", () => {
  before(async () => {
    // 7 good records, then 3 rejected in a mixed batch (2 schema violations, 1 event time far ahead).
    const first = await post(Array.from({ length: GOOD }, (_, i) => record(i)));
    assert.equal(first.status, 200);
    const mixed = await post([
      { ...record(100), category: "nonsense" },
      { ...record(101), isNegative: "yes" },
      { ...record(102), ts: "2099-01-01T00:00:00Z" },
    ]);
    assert.equal(mixed.status, 400);
    // A retried single record with the same idempotency key: accepted once, then a duplicate.
    const once = await post(record(200), { "idempotency-key": "stats-once" });
    const again = await post(record(200), { "idempotency-key": "stats-once" });
    assert.deepEqual(
      [once.json.results[0]?.status, again.json.results[0]?.status],
      ["accepted", "duplicate"],
    );
    // An import job of 2 good lines, 1 schema violation and 1 line that is not JSON: its records
    // count with the API's.
    const Bucket = runner.config.pipelines["feedback-lake"]!.sink.bucket;
    const lines = [record(300), record(301), { ...record(302), category: "nonsense" }].map((r) =>
      JSON.stringify(r),
    );
    await runner.clients.s3.send(
      new PutObjectCommand({ Bucket, Key: "imports/stats.ndjson", Body: `${lines.join("\n")}\n{not json\n` }),
    );
    const started = await fetch(`${runner.url}/v1/imports`, {
      method: "POST",
      headers: { ...authHeader(runner), "content-type": "application/json" },
      body: JSON.stringify({ stream: "feedback", source: `s3://${Bucket}/imports/stats.ndjson` }),
    });
    assert.equal(started.status, 202);
    const { id } = (await started.json()) as { id: string };
    const job = await waitFor("the import to finish", async () => {
      const res = await fetch(`${runner.url}/v1/imports/${id}`, { headers: authHeader(runner) });
      const j = (await res.json()) as { state: string; counts: { accepted: number; rejected: number } };
      return j.state === "succeeded" || j.state === "failed" ? j : undefined;
    });
    assert.deepEqual([job.state, job.counts.accepted, job.counts.rejected], ["succeeded", IMPORTED, 2]);
    await runner.drained(30_000);
  });

  test("answers the records accepted, duplicated, rejected by code, delivered, files and lag", async () => {
    const s = await waitFor(
      "the delivered records in the stream's stats",
      async () => {
        await runner.metricsFlushed();
        const r = await stats("?minutes=10");
        return r.status === 200 &&
          r.json.totals.delivered >= GOOD + 1 + IMPORTED &&
          r.json.totals.accepted >= GOOD + 1 + IMPORTED
          ? r.json
          : undefined;
      },
      30_000,
    );
    assert.equal(s.stream, "feedback");
    assert.equal(s.minutes, 10);
    assert.equal(s.series.length, 10);
    assert.deepEqual(
      [s.totals.accepted, s.totals.duplicates, s.totals.rejected, s.totals.delivered],
      [GOOD + 1 + IMPORTED, 1, 3 + 2, GOOD + 1 + IMPORTED],
    );
    assert.deepEqual(s.rejectedByCode, { SCHEMA_VIOLATION: 2 + 1, INVALID_EVENT_TIME: 1, INVALID_JSON: 1 });
    // The envelopes Kinesis took: more than the payloads' JSON.
    assert.ok(
      s.totals.bytes > JSON.stringify(record(0)).length * (GOOD + 1 + IMPORTED),
      String(s.totals.bytes),
    );
    const pipeline = s.pipelines["feedback-lake"];
    assert.ok(pipeline, JSON.stringify(s.pipelines));
    assert.equal(pipeline.delivered, GOOD + 1 + IMPORTED);
    assert.ok(pipeline.files >= 1 && s.totals.files === pipeline.files);
    // Event times were a minute old when sent: the lag from event time to file is at least that.
    assert.ok((pipeline.lagMaxMs ?? 0) >= 60_000, String(pipeline.lagMaxMs));
    // The per-minute series adds up to the totals.
    assert.equal(
      s.series.reduce((n, m) => n + m.accepted, 0),
      s.totals.accepted,
    );
    assert.equal(
      s.series.reduce((n, m) => n + m.rejected, 0),
      3 + 2,
    );
  });

  test("a reader key may read them; no key, an unknown stream or bad minutes are refused", async () => {
    const made = await fetch(`${runner.url}/v1/keys`, {
      method: "POST",
      headers: { ...authHeader(runner), "content-type": "application/json" },
      body: JSON.stringify({ name: "dashboards", role: "reader", streams: ["feedback"] }),
    });
    const reader = ((await made.json()) as { key: string }).key;
    assert.equal((await stats("", reader)).status, 200);

    const anonymous = await fetch(`${runner.url}/v1/streams/feedback/stats`);
    assert.equal(anonymous.status, 401);
    const unknown = await fetch(`${runner.url}/v1/streams/nope/stats`, { headers: authHeader(runner) });
    assert.deepEqual(
      [unknown.status, ((await unknown.json()) as { error: { code: string } }).error.code],
      [404, "UNKNOWN_STREAM"],
    );
    for (const minutes of ["0", "1441", "ten"]) {
      const r = await stats(`?minutes=${minutes}`);
      assert.deepEqual([r.status, r.json.error.code], [400, "INVALID_QUERY"], minutes);
    }
  });

  test("sluice stats prints the same figures as tables", async () => {
    const io = { out: "", err: "" };
    const code = await runStatsCommand(
      [
        "feedback",
        "--minutes",
        "10",
        "--url",
        runner.url,
        ...(runner.devKey ? ["--key", runner.devKey] : []),
      ],
      {
        out: (t) => {
          io.out += t;
        },
        err: (t) => {
          io.err += t;
        },
      },
    );
    assert.equal(code, 0, io.err);
    const lines = io.out.split("\n");
    const totals = lines[lines.findIndex((l) => l.startsWith("ACCEPTED")) + 1]!.split(/\s{2,}/);
    const taken = `${GOOD + 1 + IMPORTED}`;
    assert.deepEqual([totals[0], totals[1], totals[2], totals[4]], [taken, "1", "5", taken]);
    assert.match(io.out, /^SCHEMA_VIOLATION\s+3$/m);
    assert.match(io.out, /^INVALID_EVENT_TIME\s+1$/m);
    assert.match(io.out, /^INVALID_JSON\s+1$/m);
    assert.match(io.out, new RegExp(`^feedback-lake\\s+${taken}\\s+\\d+\\s+\\d`, "m"));

    const refused = { out: "", err: "" };
    const bad = await runStatsCommand(["nope", "--url", runner.url, "--key", runner.devKey ?? ""], {
      out: (t) => {
        refused.out += t;
      },
      err: (t) => {
        refused.err += t;
      },
    });
    assert.equal(bad, 1);
    assert.match(refused.err, /^refused \(404 UNKNOWN_STREAM\)/);
    assert.equal(await runStatsCommand([], { out: () => {}, err: () => {} }), 2);
  });
});

describe("GET /v1/streams/{stream}/files", () => {
  test("lists the stream's newest data files with sizes, and its undeliverable records with reasons", async () => {
    const bucket = runner.config.pipelines["feedback-lake"]!.sink.bucket;
    // An errors/ object as the batcher files one (gzipped JSON lines; real failures: test/faults/poison):
    // one line of this stream, one of another, which the listing leaves out.
    const lines = [
      {
        recordId: "01JSTATS0000000000000000AA",
        pipeline: "feedback-lake",
        stream: "feedback",
        stage: "transform",
        code: "TRANSFORM_FAILED",
        message: "the transformer answered ProcessingFailed",
        eventTime: "2026-12-01T10:00:00.000Z",
        payload: { secret: "not shown" },
      },
      {
        recordId: "01JSTATS0000000000000000BB",
        pipeline: "feedback-lake",
        stream: "other",
        stage: "encode",
        code: "SCHEMA_VIOLATION",
        message: "not this stream's",
        eventTime: null,
        payload: null,
      },
    ];
    await runner.clients.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "errors/feedback-lake/transform/2026/12/01/10/shardId-000000000000-1-0.jsonl.gz",
        Body: gzipSync(lines.map((l) => JSON.stringify(l)).join("\n")),
      }),
    );
    const res = await fetch(`${runner.url}/v1/streams/feedback/files?limit=5`, {
      headers: authHeader(runner),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      files: { pipeline: string; key: string; size: number; modified: string }[];
      errors: Record<string, unknown>[];
      truncated: boolean;
    };
    assert.ok(body.files.length >= 1 && body.files.length <= 5, JSON.stringify(body.files));
    for (const f of body.files) {
      assert.equal(f.pipeline, "feedback-lake");
      assert.match(f.key, /^feedback\/dt=\d{4}-\d{2}-\d{2}\/hr=\d{2}\/.+\.parquet$/);
      assert.ok(f.size > 0);
    }
    const times = body.files.map((f) => Date.parse(f.modified));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
      "newest first",
    );
    assert.deepEqual(body.errors, [
      {
        pipeline: "feedback-lake",
        key: "errors/feedback-lake/transform/2026/12/01/10/shardId-000000000000-1-0.jsonl.gz",
        recordId: "01JSTATS0000000000000000AA",
        stage: "transform",
        code: "TRANSFORM_FAILED",
        message: "the transformer answered ProcessingFailed",
        eventTime: "2026-12-01T10:00:00.000Z",
      },
    ]);
    assert.equal(body.truncated, false);

    const bad = await fetch(`${runner.url}/v1/streams/feedback/files?limit=0`, {
      headers: authHeader(runner),
    });
    assert.equal(bad.status, 400);
    const unknown = await fetch(`${runner.url}/v1/streams/nope/files`, { headers: authHeader(runner) });
    assert.equal(unknown.status, 404);
    assert.equal((await fetch(`${runner.url}/v1/streams/feedback/files`)).status, 401);
  });
});
