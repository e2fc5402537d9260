/**
 * The foundation's end to end: one record POSTed to the local HTTP API lands as typed Parquet in
 * the sink bucket within seconds, read back with DuckDB.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import {
  authHeader,
  download,
  duckdb,
  FEEDBACK_V1_COLUMN_TYPES,
  listKeys,
  parquetColumnTypes,
  waitFor,
} from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

let runner: LocalRunner;
let bucket: string;

before(async () => {
  runner = await startTestRunner("e2e");
  bucket = Object.values(runner.config.pipelines)[0]!.sink.bucket;
});

after(async () => {
  await runner?.stop();
});

test("one feedback record POSTed over HTTP lands as one typed Parquet row within seconds", async () => {
  const record = {
    customerId: "c-1042",
    content: "Export does nothing on Safari — ünïcode ok",
    category: "bug",
    isNegative: true,
    tags: ["export", "safari"],
    ts: "2026-11-23T10:15:00.123456Z",
    browser: "safari-17",
  };
  const res = await fetch(`${runner.url}/v1/streams/feedback/records`, {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeader(runner) },
    body: JSON.stringify(record),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { results: { recordId: string; status: string }[] };
  assert.equal(body.results.length, 1);
  assert.equal(body.results[0]!.status, "accepted");
  const recordId = body.results[0]!.recordId;
  assert.match(recordId, /^[0-9A-HJKMNP-TV-Z]{26}$/);

  const started = Date.now();
  const keys = await waitFor(
    "a Parquet object",
    async () => {
      const found = (await listKeys(runner.clients.s3, bucket)).filter((k) => k.endsWith(".parquet"));
      return found.length > 0 ? found : undefined;
    },
    10_000,
  );
  assert.ok(Date.now() - started < 10_000);
  assert.equal(keys.length, 1);
  assert.match(keys[0]!, /^feedback\/dt=2026-11-23\/hr=10\/feedback-lake-shardId-\d+-\d+-0\.parquet$/);

  const dir = await download(runner.clients.s3, bucket, keys);
  assert.deepEqual(await parquetColumnTypes(`${dir}/*.parquet`), FEEDBACK_V1_COLUMN_TYPES);
  const rows = await duckdb(
    `SET TimeZone='UTC'; SELECT _id, epoch_us(_event_time) AS ev, _schema_version, customerId, content, category, isNegative, tags, epoch_us(ts) AS ts_us, _extra FROM read_parquet('${dir}/*.parquet')`,
  );
  assert.equal(rows.length, 1);
  const row = rows[0]!;
  assert.equal(row._id, recordId);
  assert.equal(row.customerId, "c-1042");
  assert.equal(row.content, record.content);
  assert.equal(row.category, "bug");
  assert.equal(row.isNegative, true);
  assert.deepEqual(row.tags, ["export", "safari"]);
  assert.equal(String(row.ts_us), String(Date.UTC(2026, 10, 23, 10, 15, 0, 123) * 1000 + 456));
  assert.equal(String(row.ev), row.ts_us);
  assert.equal(row._schema_version, 1);
  assert.deepEqual(JSON.parse(String(row._extra)), { browser: "safari-17" });
});
