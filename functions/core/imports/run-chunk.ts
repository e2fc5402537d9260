/**
 * One chunk of an import, read -> batch -> ingest -> file the rejected -> report: its records go
 * through exactly what `POST /v1/streams/{stream}/records` does to a batch body (the request
 * parser's checks, then validation, idempotency and the Kinesis put of the ingest core), each
 * keyed by its object version and position. Records refused for reasons that pass (throttling,
 * Kinesis unavailable, a key still in progress) are tried again here, then the chunk fails and SQS
 * delivers it again; everything else rejected goes to `errors/imports/{job}/` with its reason.
 */
import { gzipSync } from "node:zlib";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type BackoffPolicy, backoffDelay, sleep } from "../backoff.ts";
import { putObject } from "../delivery/object-writer.ts";
import type { ErrorDetail } from "../errors.ts";
import { type IngestDeps, ingestRecords, type RecordResult } from "../ingest/ingest.ts";
import { DEFAULT_LIMITS, parseIngestBody } from "../ingest/request.ts";
import { currentSchema } from "../ingest/schema-version.ts";
import { columnTypes } from "../input/read-input.ts";
import type { StreamRuntime } from "../runtime-config.ts";
import {
  importKey,
  ndjsonLines,
  ordinalName,
  readAll,
  type SourceRecord,
  wholeObjectRecords,
} from "./chunk-records.ts";
import type { ImportCounts, ImportJobs, JobError } from "./jobs.ts";
import type { ChunkSpec } from "./plan.ts";
import { sourceUrl } from "./request.ts";

export interface ChunkDeps {
  readonly s3: S3Client;
  readonly ingest: IngestDeps;
  readonly jobs: ImportJobs;
  /** The stream by name, or undefined when it is not (or no longer) declared. */
  readonly stream: (name: string) => StreamRuntime | undefined;
  /** Why the stream takes no records now (paused, deleted), or undefined. */
  readonly refusal: (stream: StreamRuntime) => Promise<ErrorDetail | undefined>;
  /** SSE-KMS key of each source bucket, for its errors/ objects. */
  readonly kmsKeyOf: (bucket: string) => string;
  /** @default 500 records */
  readonly batchRecords?: number;
  /** @default 4 MiB of request body: under the API's 5 MiB with room for the keys */
  readonly batchBytes?: number;
  /** Retries of records refused for passing reasons. @default 5 attempts, 100 ms to 2 s */
  readonly retry?: BackoffPolicy;
  /**
   * Each record's final answer as it is settled (for the stream's metrics, as ingest counts a
   * request's): accepted, duplicate, or rejected for good, including records that could not be
   * read. A record refused for a passing reason is told once settled, never per attempt.
   */
  readonly settled?: (results: readonly RecordResult[]) => void;
}

export interface ChunkOutcome extends ImportCounts {
  /** False when the chunk had already reported (a repeated delivery). */
  readonly counted: boolean;
  readonly failure?: JobError;
}

/** Thrown to have SQS deliver the chunk again; nothing of it is counted yet. */
export class ChunkRetry extends Error {
  override readonly name = "ChunkRetry";
}

const PASSING = new Set(["THROTTLED", "UNAVAILABLE", "IN_PROGRESS"]);
const DEFAULT_RETRY: BackoffPolicy = { attempts: 5, baseMs: 100, capMs: 2_000 };

interface Rejected {
  readonly record: SourceRecord;
  readonly error: ErrorDetail;
}

export async function runChunk(deps: ChunkDeps, chunk: ChunkSpec): Promise<ChunkOutcome> {
  const object = sourceUrl(chunk.bucket, chunk.key);
  const stream = deps.stream(chunk.stream);
  const fail = async (failure: JobError): Promise<ChunkOutcome> => {
    const zero = { recordsRead: 0, accepted: 0, duplicate: 0, rejected: 0 };
    const counted = await deps.jobs.finishChunk(chunk.job, chunk.index, zero, failure);
    return { ...zero, counted, failure };
  };
  if (!stream)
    return fail({ code: "UNKNOWN_STREAM", message: `stream ${chunk.stream} does not exist`, object });
  const refused = await deps.refusal(stream);
  if (refused) return fail({ code: refused.code, message: refused.message, object });
  await deps.jobs.started(chunk.job);

  let records: AsyncIterable<SourceRecord> | SourceRecord[];
  let body: (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
  try {
    const from = chunk.start !== undefined && chunk.start > 0 ? chunk.start - 1 : 0;
    const got = await deps.s3.send(
      new GetObjectCommand({
        Bucket: chunk.bucket,
        Key: chunk.key,
        IfMatch: chunk.etag,
        ...(from > 0 ? { Range: `bytes=${from}-` } : {}),
      }),
    );
    // Emulators that ignore If-Match still say which version they sent.
    if (got.ETag !== undefined && got.ETag !== chunk.etag)
      throw Object.assign(new Error(), { name: "PreconditionFailed" });
    body = got.Body as unknown as AsyncIterable<Uint8Array> & { destroy?: () => void };
    if (chunk.format === "ndjson") {
      records = ndjsonLines(body, chunk.start ?? 0, chunk.end ?? Number.POSITIVE_INFINITY);
    } else {
      const types =
        chunk.format === "csv"
          ? columnTypes((await currentSchema(deps.ingest.validators, stream)).schema)
          : new Map();
      records = await wholeObjectRecords(await readAll(body), chunk.format, types);
    }
  } catch (err) {
    const name = (err as Error).name;
    if (name === "PreconditionFailed" || name === "412") {
      return fail({
        code: "SOURCE_CHANGED",
        message: `${object} changed (its ETag is no longer ${chunk.etag}) after the import was planned: import it again`,
        object,
      });
    }
    if (name === "NoSuchKey" || name === "NotFound") {
      return fail({
        code: "SOURCE_NOT_FOUND",
        message: `${object} was deleted after the import was planned`,
        object,
      });
    }
    throw err;
  }

  const counts = { recordsRead: 0, accepted: 0, duplicate: 0, rejected: 0 };
  const rejected: Rejected[] = [];
  const maxRecords = deps.batchRecords ?? DEFAULT_LIMITS.maxRecords;
  const maxBytes = deps.batchBytes ?? 4 * 1024 * 1024;
  let batch: { record: SourceRecord; item: string }[] = [];
  let batchBytes = 0;
  const refuse = (record: SourceRecord, error: ErrorDetail) => {
    rejected.push({ record, error });
    deps.settled?.([{ recordId: null, status: "rejected", error }]);
  };
  const flush = async () => {
    if (batch.length === 0) return;
    const results = await ingestWithRetries(deps, stream, batch, chunk);
    results.forEach((r, i) => {
      if (r.status === "accepted") counts.accepted++;
      else if (r.status === "duplicate") counts.duplicate++;
      else rejected.push({ record: batch[i]!.record, error: recordRelative(r.error!) });
    });
    batch = [];
    batchBytes = 0;
  };
  try {
    for await (const record of records) {
      counts.recordsRead++;
      if (record.problem || record.text === undefined) {
        refuse(record, {
          code: record.problem?.code ?? "UNREADABLE_RECORD",
          message: record.problem?.message ?? "unreadable",
          path: "",
        });
        continue;
      }
      const bytes = Buffer.byteLength(record.text);
      if (bytes > DEFAULT_LIMITS.maxRecordBytes) {
        refuse(record, {
          code: "RECORD_TOO_LARGE",
          message: `record is ${bytes} bytes; the limit is ${DEFAULT_LIMITS.maxRecordBytes}`,
          path: "/data",
        });
        continue;
      }
      const key = importKey(chunk.bucket, chunk.key, chunk.etag, record.ordinal);
      const item = `{"key":${JSON.stringify(key)},"data":${record.text}}`;
      if (batch.length >= maxRecords || (batch.length > 0 && batchBytes + item.length + 1 > maxBytes))
        await flush();
      batch.push({ record, item });
      batchBytes += Buffer.byteLength(item) + 1;
    }
    await flush();
  } finally {
    body?.destroy?.();
  }
  counts.rejected = rejected.length;
  if (rejected.length > 0) await fileRejected(deps, chunk, rejected);
  const counted = await deps.jobs.finishChunk(chunk.job, chunk.index, counts);
  return { ...counts, counted };
}

/** The batch as the API would get it, through the API's parser and the ingest core. */
async function ingestWithRetries(
  deps: ChunkDeps,
  stream: StreamRuntime,
  batch: readonly { item: string }[],
  chunk: ChunkSpec,
): Promise<RecordResult[]> {
  const policy = deps.retry ?? DEFAULT_RETRY;
  const results: RecordResult[] = new Array(batch.length);
  let open = batch.map((_, i) => i);
  for (let attempt = 0; open.length > 0; attempt++) {
    if (attempt >= policy.attempts) {
      const waiting = new Set(open);
      deps.settled?.(results.filter((_, i) => !waiting.has(i)));
      throw new ChunkRetry(
        `chunk ${chunk.index} of ${chunk.job}: ${open.length} records still refused (${results[open[0]!]?.error?.code}); SQS delivers it again`,
      );
    }
    if (attempt > 0) await sleep(Math.max(50, backoffDelay(policy, attempt)));
    const body = `{"records":[${open.map((i) => batch[i]!.item).join(",")}]}`;
    const parsed = parseIngestBody({ contentType: "application/json", body });
    const answers = await ingestRecords(deps.ingest, stream, parsed);
    const again: number[] = [];
    answers.forEach((a, pos) => {
      const i = open[pos]!;
      results[i] = a;
      if (a.status === "rejected" && PASSING.has(a.error?.code ?? "")) again.push(i);
    });
    open = again;
  }
  deps.settled?.(results);
  return results;
}

/** A path into the batch body (`/records/3/data/x`) as a path into the record (`/data/x`). */
function recordRelative(error: ErrorDetail): ErrorDetail {
  const path = error.path?.replace(/^\/records\/\d+/, "");
  return { code: error.code, message: error.message, ...(path === undefined ? {} : { path }) };
}

/**
 * The chunk's rejected records as one gzipped JSON-lines object, `errors/imports/{job}/{chunk}.jsonl.gz`
 * beside the source, in the batcher's errors/ format (code, message, the payload) plus where the
 * record sits in its object. The key is the chunk's, so a chunk delivered again rewrites it.
 */
async function fileRejected(deps: ChunkDeps, chunk: ChunkSpec, rejected: readonly Rejected[]): Promise<void> {
  const at = ordinalName(chunk.format);
  const source = sourceUrl(chunk.bucket, chunk.key);
  const lines = rejected.map(({ record, error }) =>
    JSON.stringify({
      job: chunk.job,
      stream: chunk.stream,
      stage: "import",
      source,
      etag: chunk.etag,
      [at]: record.ordinal,
      code: error.code,
      message: error.message,
      path: error.path ?? null,
      payload: payloadOf(record.text),
    }),
  );
  await putObject(
    {
      key: `errors/imports/${chunk.job}/${String(chunk.index).padStart(5, "0")}.jsonl.gz`,
      body: gzipSync(`${lines.join("\n")}\n`),
      contentType: "application/x-ndjson",
      contentEncoding: "gzip",
      records: lines.length,
    },
    { s3: deps.s3, bucket: chunk.bucket, kmsKeyId: deps.kmsKeyOf(chunk.bucket), retry: DEFAULT_RETRY },
  );
}

function payloadOf(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
