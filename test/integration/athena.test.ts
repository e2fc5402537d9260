/**
 * `sluice query --athena` against the embedded stack's Athena (localstack/athena/): SQL over the
 * sinks' Glue tables returns what DuckDB reads from the same Parquet files; the stream form builds
 * the SQL from the usual flags; a failing query exits 1 with Athena's reason.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { runReadCommand } from "../../bin/read-command.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { athenaUnavailable, authHeader, download, duckdb, endpoint, listKeys } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

const skip = await athenaUnavailable();
const FIXTURE = "test/fixtures/manifests/query.yaml";

let runner: LocalRunner;
let manifestPath: string;
const at = (h: number, m: number) => new Date(Date.UTC(2026, 10, 23, h, m)).toISOString();
const sent: { id: string; ts: string }[] = [];

before(async () => {
  if (skip) return;
  runner = await startTestRunner("ath", { manifestPath: FIXTURE });
  // The stream form reads the manifest for the table: this run's, under its app name.
  const dir = mkdtempSync(join(tmpdir(), "sluice-athena-test-"));
  manifestPath = join(dir, "sluice.yaml");
  writeFileSync(
    manifestPath,
    readFileSync(FIXTURE, "utf8")
      .replace(/^name: .*$/m, `name: ${runner.config.app}`)
      .replace("../../../schemas/", `${resolve("schemas")}/`),
  );
  const records = [
    ...Array.from({ length: 12 }, (_, i) => ({ stream: "feedback", ts: at(9, i * 4) })),
    ...Array.from({ length: 9 }, (_, i) => ({ stream: "feedback", ts: at(10, i * 5) })),
    ...Array.from({ length: 5 }, (_, i) => ({ stream: "sealed", ts: at(9, i) })),
  ];
  for (const stream of ["feedback", "sealed"]) {
    const mine = records.filter((r) => r.stream === stream);
    const res = await fetch(`${runner.url}/v1/streams/${stream}/records`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeader(runner) },
      body: JSON.stringify({
        records: mine.map((r, i) => ({
          data: { customerId: `c${i % 3}`, content: "x", category: "other", isNegative: false, ts: r.ts },
        })),
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { results: { recordId: string }[] };
    if (stream === "feedback")
      for (const [i, r] of body.results.entries()) sent.push({ id: r.recordId, ts: mine[i]!.ts });
  }
  await runner.drained();
});
after(async () => {
  await runner?.stop();
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runReadCommand("query", [...argv, "--endpoint", endpoint()], {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

const ndjson = (text: string) =>
  text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, string>);

describe("sluice query --athena", { skip }, () => {
  test("SQL over the sink's table counts per stream and hour what DuckDB reads from the files", async () => {
    const db = runner.config.catalog.database;
    const bucket = runner.config.pipelines.lake!.sink.bucket;
    const keys = (await listKeys(runner.clients.s3, bucket)).filter((k) => k.endsWith(".parquet"));
    const dir = await download(runner.clients.s3, bucket, keys);
    const expected = await duckdb<{ stream: string; hour: string; n: number }>(
      `SELECT regexp_extract(filename, '/([a-z]+)__dt=', 1) AS stream, strftime(date_trunc('hour', _event_time AT TIME ZONE 'UTC'), '%H') AS hour, count(*)::INTEGER AS n FROM read_parquet('${dir}/*.parquet', filename = true) GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    assert.deepEqual(
      expected.map((r) => `${r.stream} ${r.hour} ${r.n}`),
      ["feedback 09 12", "feedback 10 9", "sealed 09 5"],
    );
    const { code, out, err } = await cli(
      "--athena",
      `SELECT "stream", hr, count(*) AS n FROM "${db}"."lake" GROUP BY 1, 2 ORDER BY 1, 2`,
      "--format",
      "ndjson",
    );
    assert.equal(code, 0, err);
    assert.deepEqual(
      ndjson(out).map((r) => `${r.stream} ${r.hr} ${r.n}`),
      expected.map((r) => `${r.stream} ${r.hour} ${r.n}`),
    );
  });

  test("the stream form builds the SQL from --from, --to, --where and --fields, over the manifest's table", async () => {
    const { code, out, err } = await cli(
      "feedback",
      "--athena",
      "--from",
      at(9, 30),
      "--to",
      at(10, 20),
      "--where",
      "customerId!=c1",
      "--fields",
      "_id,customerId",
      "--manifest",
      manifestPath,
      "--format",
      "csv",
    );
    assert.equal(code, 0, err);
    const lines = out.trim().split("\n");
    assert.equal(lines[0], "_id,customerId");
    const inRange = sent.filter((s, i) => {
      const t = Date.parse(s.ts);
      const customer = `c${(i < 12 ? i : i - 12) % 3}`;
      return t >= Date.parse(at(9, 30)) && t < Date.parse(at(10, 20)) && customer !== "c1";
    });
    assert.ok(inRange.length > 0);
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(",")[0]),
      inRange.map((s) => s.id),
    );
  });

  test("a failing query exits 1 with Athena's reason", async () => {
    const { code, err } = await cli(
      "--athena",
      `SELECT no_such_column FROM "${runner.config.catalog.database}"."lake"`,
    );
    assert.equal(code, 1);
    assert.match(err, /Athena query \S+ FAILED: .*no_such_column/);
  });
});
