/**
 * The import core without AWS: how a job's objects become chunks, how a byte range of a JSON-lines
 * object yields exactly the lines that start in it (so the chunks of an object cover each line
 * once, however it is cut), the idempotency key rule, the request's checks and the job state.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SluiceError } from "../../functions/core/errors.ts";
import {
  importKey,
  ndjsonLines,
  type SourceRecord,
  wholeObjectRecords,
} from "../../functions/core/imports/chunk-records.ts";
import { jobState } from "../../functions/core/imports/jobs.ts";
import { planChunks } from "../../functions/core/imports/plan.ts";
import { parseImportRequest } from "../../functions/core/imports/request.ts";

const imports = { queue: "q", buckets: [{ name: "lake-bucket", kmsKeyId: "alias/k" }], prefix: "imports/" };

/** `bytes` from `from` on, in pieces of `piece` bytes, as a ranged GET's body arrives. */
async function* body(bytes: Buffer, from: number, piece: number): AsyncGenerator<Uint8Array> {
  for (let i = from; i < bytes.length; i += piece) yield bytes.subarray(i, Math.min(bytes.length, i + piece));
}

async function linesOf(bytes: Buffer, start: number, end: number, piece = 7): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const r of ndjsonLines(body(bytes, start > 0 ? start - 1 : 0, piece), start, end)) out.push(r);
  return out;
}

describe("NDJSON byte ranges", () => {
  const text = '{"a":1}\n{"b":22}\n\n{"c":333}\r\n{bad\n{"e":5}';
  const bytes = Buffer.from(text);
  const starts = [0, 8, 18, 29, 34]; // byte offsets of the five non-empty lines

  test("one range over the whole object: every line once, named by its byte offset; a bad line keeps its text", async () => {
    const lines = await linesOf(bytes, 0, bytes.length);
    assert.deepEqual(
      lines.map((l) => l.ordinal),
      starts,
    );
    assert.equal(lines[2]!.text, '{"c":333}');
    assert.equal(lines[3]!.problem?.code, "INVALID_JSON");
    assert.equal(lines[3]!.text, "{bad");
    assert.equal(lines[4]!.text, '{"e":5}');
  });

  test("every cut of the object into ranges yields each line exactly once, whatever the read size", async () => {
    for (let cut = 1; cut < bytes.length; cut++) {
      for (const piece of [1, 3, 64]) {
        const seen: number[] = [];
        for (let start = 0; start < bytes.length; start += cut) {
          const end = Math.min(bytes.length, start + cut);
          for (const l of await linesOf(bytes, start, end, piece)) {
            assert.ok(
              l.ordinal >= start && l.ordinal < end,
              `line at ${l.ordinal} outside [${start}, ${end})`,
            );
            seen.push(l.ordinal);
          }
        }
        assert.deepEqual(seen, starts, `cut ${cut}, piece ${piece}`);
      }
    }
  });
});

describe("whole objects through sluice send's parsers", () => {
  test("CSV rows typed by the schema, each named by its line; a short row is unreadable, not dropped", async () => {
    const csv = Buffer.from("id,n,ok\na,1,true\nb,2\nc,3,false\n");
    const types = new Map([
      ["id", ["string"]],
      ["n", ["integer"]],
      ["ok", ["boolean"]],
    ]);
    const records = await wholeObjectRecords(csv, "csv", types);
    assert.deepEqual(
      records.map((r) => [r.ordinal, r.text ?? r.problem?.code]),
      [
        [2, '{"id":"a","n":1,"ok":true}'],
        [3, "UNREADABLE_RECORD"],
        [4, '{"id":"c","n":3,"ok":false}'],
      ],
    );
  });

  test("a .json that is not an array is one unreadable record with the parser's reason", async () => {
    const [only, ...rest] = await wholeObjectRecords(Buffer.from('{"a":1}'), "json", new Map());
    assert.equal(rest.length, 0);
    assert.equal(only!.problem?.code, "UNREADABLE_RECORD");
    assert.match(only!.problem!.message, /one JSON array/);
  });
});

describe("chunk plans", () => {
  const request = parseImportRequest(
    JSON.stringify({ stream: "s", source: "s3://lake-bucket/imports/x/" }),
    imports,
  );

  test("JSON lines over the chunk size are cut into contiguous ranges; CSV, JSON and Parquet stay whole; no format is skipped", () => {
    const plan = planChunks(
      "imp_1",
      request,
      [
        { key: "imports/x/a.ndjson", etag: '"1"', size: 25 },
        { key: "imports/x/b.csv", etag: '"2"', size: 100 },
        { key: "imports/x/c.parquet", etag: '"3"', size: 100 },
        { key: "imports/x/readme.txt", etag: '"4"', size: 5 },
        { key: "imports/x/d.jsonl", etag: '"5"', size: 10 },
      ],
      10,
    );
    assert.deepEqual(
      plan.chunks.map((c) => [c.index, c.key, c.format, c.start, c.end]),
      [
        [0, "imports/x/a.ndjson", "ndjson", 0, 10],
        [1, "imports/x/a.ndjson", "ndjson", 10, 20],
        [2, "imports/x/a.ndjson", "ndjson", 20, 25],
        [3, "imports/x/b.csv", "csv", undefined, undefined],
        [4, "imports/x/c.parquet", "parquet", undefined, undefined],
        [5, "imports/x/d.jsonl", "ndjson", undefined, undefined],
      ],
    );
    assert.equal(plan.objects, 4);
    assert.equal(plan.bytes, 235);
    assert.deepEqual(
      plan.skipped.map((s) => s.key),
      ["imports/x/readme.txt"],
    );
  });

  test("a format given in the request applies to every object", () => {
    const csv = parseImportRequest(
      JSON.stringify({ stream: "s", source: "s3://lake-bucket/imports/x/", format: "csv" }),
      imports,
    );
    const plan = planChunks("imp_1", csv, [{ key: "imports/x/data.txt", etag: '"1"', size: 5 }]);
    assert.deepEqual(
      plan.chunks.map((c) => c.format),
      ["csv"],
    );
  });
});

describe("import requests", () => {
  const refused = (body: unknown): [string, string | undefined] => {
    try {
      parseImportRequest(typeof body === "string" ? body : JSON.stringify(body), imports);
    } catch (err) {
      assert.ok(err instanceof SluiceError);
      return [err.code, err.path];
    }
    assert.fail("accepted");
  };

  test("each fault names its field", () => {
    assert.deepEqual(refused(""), ["EMPTY_BODY", undefined]);
    assert.deepEqual(refused("[1]"), ["INVALID_IMPORT", ""]);
    assert.deepEqual(refused({ source: "s3://lake-bucket/imports/a.csv" }), ["INVALID_IMPORT", "/stream"]);
    assert.deepEqual(refused({ stream: "s", source: "s3://lake-bucket/imports/a.csv", extra: 1 }), [
      "INVALID_IMPORT",
      "/extra",
    ]);
    assert.deepEqual(refused({ stream: "s", source: "s3:/lake-bucket/a.csv" }), [
      "INVALID_IMPORT",
      "/source",
    ]);
    assert.deepEqual(refused({ stream: "s", source: "s3://lake-bucket/other/a.csv" }), [
      "SOURCE_NOT_ALLOWED",
      "/source",
    ]);
    assert.deepEqual(refused({ stream: "s", source: "s3://lake-bucket/imports/a" }), [
      "INVALID_IMPORT",
      "/format",
    ]);
  });
});

describe("idempotency keys and job states", () => {
  test("the key depends on bucket, key, ETag and position, and fits the 256-character limit", () => {
    const k = importKey("b", "imports/a.csv", '"e1"', 3);
    assert.equal(k, importKey("b", "imports/a.csv", '"e1"', 3));
    assert.notEqual(k, importKey("b", "imports/a.csv", '"e2"', 3));
    assert.notEqual(k, importKey("b", "imports/a.csv", '"e1"', 4));
    assert.notEqual(k, importKey("c", "imports/a.csv", '"e1"', 3));
    assert.ok(importKey("b", `imports/${"x".repeat(1000)}`, '"e"', 1e12).length <= 256);
  });

  test("queued, running, succeeded, and failed when any chunk failed or nothing could run", () => {
    assert.equal(jobState({ chunks: 3 }), "queued");
    assert.equal(jobState({ chunks: 3, startedAt: "t" }), "running");
    assert.equal(jobState({ chunks: 3, done: 1 }), "running");
    assert.equal(jobState({ chunks: 3, done: 3 }), "succeeded");
    assert.equal(jobState({ chunks: 3, done: 2, failed: 1 }), "failed");
    assert.equal(jobState({ chunks: 0, failedAt: "t" }), "failed");
  });
});
