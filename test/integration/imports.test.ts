/**
 * Import jobs against the local runner, through the public surfaces: objects put in the lake
 * bucket under imports/, `POST /v1/imports` and `sluice import`, the job's answer at
 * `GET /v1/imports/{id}`, the rejected lines under errors/imports/, and the lake counted with
 * DuckDB. JSON-lines objects are cut into 256-byte chunks here, so ranges are exercised too.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { runImportCommand } from "../../bin/import-command.ts";
import type { LocalRunner } from "../../localstack/lambda/local-runner.ts";
import { countLake, feedback } from "../faults/lake.ts";
import { authHeader, getBytes, listKeys, uniqueApp, waitFor } from "../support/env.ts";
import { startTestRunner } from "../support/runner.ts";

let runner: LocalRunner;
let bucket: string;
before(async () => {
  runner = await startTestRunner("imports", { importChunkBytes: 256 });
  bucket = runner.config.imports.buckets[0]!.name;
});
after(async () => {
  await runner?.stop();
});

interface Job {
  id: string;
  state: string;
  stream: string;
  source: string;
  progress: { chunks: number; done: number; failed: number };
  counts: { objects: number; recordsRead: number; accepted: number; duplicate: number; rejected: number };
  rejectedLines: string;
  errors: { code: string; message: string }[];
}

async function put(key: string, body: string): Promise<void> {
  await runner.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${runner.url}${path}`, {
    method,
    headers: { ...authHeader(runner), "content-type": "application/json" },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function finished(id: string): Promise<Job> {
  return waitFor(
    `import ${id} to finish`,
    async () => {
      const { json } = await api("GET", `/v1/imports/${id}`);
      const job = json as unknown as Job;
      return job.state === "succeeded" || job.state === "failed" ? job : undefined;
    },
    25_000,
    100,
  );
}

async function cli(argv: string[]) {
  let out = "";
  let err = "";
  const code = await runImportCommand(
    [...argv, "--url", runner.url, "--key", runner.devKey ?? "", "--interval", "100"],
    {
      out: (t) => {
        out += t;
      },
      err: (t) => {
        err += t;
      },
    },
  );
  return { code, out, err };
}

const ndjson = (tag: string, n: number) =>
  `${Array.from({ length: n }, (_, i) => JSON.stringify(feedback(`${tag}-${i}`))).join("\n")}\n`;

const csvHeader = "customerId,content,category,isNegative,tags,ts\n";
const csvRow = (marker: string, isNegative = "false") =>
  `${marker},text of ${marker},other,${isNegative},"[""t""]",2026-11-23T10:15:00Z\n`;

async function rejectedLines(job: Job): Promise<Record<string, unknown>[]> {
  const keys = await listKeys(runner.clients.s3, bucket, `errors/imports/${job.id}/`);
  const lines: Record<string, unknown>[] = [];
  for (const key of keys) {
    const text = gunzipSync(await getBytes(runner.clients.s3, bucket, key)).toString("utf8");
    for (const l of text.split("\n").filter((x) => x !== "")) lines.push(JSON.parse(l));
  }
  return lines;
}

describe("import jobs", () => {
  const tag = uniqueApp("imp");
  const ndjsonKey = `imports/${tag}/events.ndjson`;

  test("an NDJSON object in several chunks, with sluice import following it: every record accepted, once each in the lake", async () => {
    await put(ndjsonKey, ndjson(`${tag}-nd`, 12));
    const { code, out, err } = await cli(["feedback", `s3://${bucket}/${ndjsonKey}`]);
    assert.equal(code, 0, out + err);
    assert.match(
      out,
      /succeeded: (\d+)\/\1 chunks, 1 objects, 12 read, 12 accepted, 0 duplicate, 0 rejected/,
    );
    const chunks = Number(/succeeded: (\d+)\//.exec(out)![1]);
    assert.ok(chunks > 1, `the 256-byte chunk size cut the object into ${chunks} chunks`);
    await runner.drained(20_000);
    const lake = await countLake(runner, bucket, "feedback-lake");
    for (let i = 0; i < 12; i++) assert.equal(lake.data.get(`${tag}-nd-${i}`), 1, `${tag}-nd-${i}`);
  });

  test("the same object imported again: nothing accepted twice, every record a duplicate, the lake unchanged", async () => {
    const { status, json } = await api("POST", "/v1/imports", {
      stream: "feedback",
      source: `s3://${bucket}/${ndjsonKey}`,
    });
    assert.equal(status, 202);
    const job = await finished((json as unknown as Job).id);
    assert.equal(job.state, "succeeded");
    const { objects, recordsRead, accepted, duplicate, rejected } = job.counts;
    assert.deepEqual([objects, recordsRead, accepted, duplicate, rejected], [1, 12, 0, 12, 0]);
    await runner.drained(20_000);
    const lake = await countLake(runner, bucket, "feedback-lake");
    for (let i = 0; i < 12; i++) assert.equal(lake.data.get(`${tag}-nd-${i}`), 1, `${tag}-nd-${i}`);
  });

  test("a CSV prefix with a bad row: that row rejected with its reason under errors/imports/, every other row accepted", async () => {
    await put(`imports/${tag}/csv/a.csv`, csvHeader + csvRow(`${tag}-c1`) + csvRow(`${tag}-c2`));
    await put(
      `imports/${tag}/csv/b.csv`,
      csvHeader + csvRow(`${tag}-c3`) + csvRow(`${tag}-bad`, "maybe") + csvRow(`${tag}-c4`),
    );
    const { status, json } = await api("POST", "/v1/imports", {
      stream: "feedback",
      source: `s3://${bucket}/imports/${tag}/csv/`,
    });
    assert.equal(status, 202, JSON.stringify(json));
    const job = await finished((json as unknown as Job).id);
    assert.equal(job.state, "succeeded");
    assert.equal(job.counts.objects, 2);
    assert.deepEqual([job.counts.recordsRead, job.counts.accepted, job.counts.rejected], [5, 4, 1]);
    assert.equal(job.rejectedLines, `s3://${bucket}/errors/imports/${job.id}/`);
    const lines = await rejectedLines(job);
    assert.equal(lines.length, 1);
    const [bad] = lines;
    assert.equal(bad!.code, "SCHEMA_VIOLATION");
    assert.equal(bad!.path, "/isNegative");
    assert.equal(bad!.line, 3);
    assert.equal(bad!.source, `s3://${bucket}/imports/${tag}/csv/b.csv`);
    assert.equal((bad!.payload as { customerId: string }).customerId, `${tag}-bad`);
    await runner.drained(20_000);
    const lake = await countLake(runner, bucket, "feedback-lake");
    for (const m of ["c1", "c2", "c3", "c4"]) assert.equal(lake.data.get(`${tag}-${m}`), 1, m);
    assert.equal(lake.data.get(`${tag}-bad`), undefined);
  });

  test("a missing object or an empty prefix: the job fails at once with SOURCE_NOT_FOUND", async () => {
    for (const source of [
      `s3://${bucket}/imports/${tag}/nothing.ndjson`,
      `s3://${bucket}/imports/${tag}/empty/`,
    ]) {
      const { status, json } = await api("POST", "/v1/imports", { stream: "feedback", source });
      assert.equal(status, 202);
      const job = json as unknown as Job;
      assert.equal(job.state, "failed");
      assert.equal(job.errors[0]?.code, "SOURCE_NOT_FOUND");
      assert.equal((await api("GET", `/v1/imports/${job.id}`)).json.state, "failed");
    }
    const { code, err } = await cli(["feedback", `s3://${bucket}/imports/${tag}/nothing.ndjson`]);
    assert.equal(code, 1);
    assert.match(err, /SOURCE_NOT_FOUND: .*does not exist/);
  });

  test("bad requests: each refused with its status, code and field", async () => {
    const cases: [unknown, number, string, string?][] = [
      ["{not json", 400, "INVALID_JSON"],
      [{ stream: "feedback" }, 400, "INVALID_IMPORT", "/source"],
      [{ stream: "feedback", source: "https://x/y" }, 400, "INVALID_IMPORT", "/source"],
      [
        { stream: "feedback", source: `s3://${bucket}/${ndjsonKey}`, format: "xml" },
        400,
        "INVALID_IMPORT",
        "/format",
      ],
      [
        { stream: "feedback", source: `s3://${bucket}/imports/${tag}/data.txt` },
        400,
        "INVALID_IMPORT",
        "/format",
      ],
      [
        { stream: "feedback", source: `s3://${bucket}/feedback/x.ndjson` },
        400,
        "SOURCE_NOT_ALLOWED",
        "/source",
      ],
      [
        { stream: "feedback", source: "s3://someone-elses-bucket/imports/x.ndjson" },
        400,
        "SOURCE_NOT_ALLOWED",
        "/source",
      ],
      [{ stream: "nope", source: `s3://${bucket}/${ndjsonKey}` }, 404, "UNKNOWN_STREAM", "/stream"],
    ];
    for (const [body, status, code, path] of cases) {
      const got = await api("POST", "/v1/imports", body);
      const error = got.json.error as { code: string; path?: string };
      assert.deepEqual([got.status, error.code, error.path], [status, code, path], JSON.stringify(body));
    }
  });

  test("an unknown job id is 404 NOT_FOUND, over the API and from sluice import status", async () => {
    for (const id of ["imp_0000000000000000", "not-an-id"]) {
      const got = await api("GET", `/v1/imports/${id}`);
      assert.equal(got.status, 404);
      assert.equal((got.json.error as { code: string }).code, "NOT_FOUND");
    }
    const { code, err } = await cli(["status", "imp_0000000000000000"]);
    assert.equal(code, 1);
    assert.match(err, /404 NOT_FOUND/);
  });
});
