/**
 * What an operator looks at first: the newest data files written for a stream and its newest
 * undeliverable records with their reasons, straight from the sinks' buckets. Listing is bounded
 * (MAX_KEYS_LISTED per prefix) so a large lake costs a few pages; `truncated` says when older
 * objects were left unlisted. Error lines are read newest file first, payloads left out: the
 * reason, stage and code are what the console shows.
 */
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { SluiceError } from "../errors.ts";
import { PREFIX_PLACEHOLDER } from "../prefix.ts";
import type { ReadConfig, ReadPipelineRuntime } from "../runtime-config.ts";

export const DEFAULT_FILES_LIMIT = 20;
export const MAX_FILES_LIMIT = 100;
/** Keys listed per prefix at most: five pages of ListObjectsV2. */
export const MAX_KEYS_LISTED = 5000;
/** Error files read at most per pipeline, newest first. */
const MAX_ERROR_FILES_READ = 10;

export interface DataFileEntry {
  readonly pipeline: string;
  readonly key: string;
  readonly size: number;
  readonly modified: string;
}

export interface ErrorEntry {
  readonly pipeline: string;
  readonly key: string;
  readonly recordId: string | null;
  readonly stage: string;
  readonly code: string;
  readonly message: string;
  readonly eventTime: string | null;
}

export interface StreamFiles {
  readonly stream: string;
  readonly files: readonly DataFileEntry[];
  readonly errors: readonly ErrorEntry[];
  readonly truncated: boolean;
}

export function parseFilesLimit(raw: string | undefined): number {
  if (raw === undefined || raw === "") return DEFAULT_FILES_LIMIT;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_FILES_LIMIT) {
    throw new SluiceError(
      "INVALID_QUERY",
      `limit must be a whole number from 1 to ${MAX_FILES_LIMIT}, not ${JSON.stringify(raw.slice(0, 20))}`,
      400,
      "/limit",
    );
  }
  return n;
}

/** The sink prefix up to its first value known only per record, for this stream. */
export function streamPrefix(template: string, stream: string, pipeline: string): string {
  let fixed = "";
  let last = 0;
  for (const m of template.matchAll(PREFIX_PLACEHOLDER)) {
    fixed += template.slice(last, m.index);
    last = m.index + m[0].length;
    if (m[1] === "stream") fixed += stream;
    else if (m[1] === "pipeline") fixed += pipeline;
    else return fixed;
  }
  return fixed + template.slice(last);
}

interface Listed {
  readonly key: string;
  readonly size: number;
  readonly modifiedMs: number;
}

async function list(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<{ objects: Listed[]; truncated: boolean }> {
  const objects: Listed[] = [];
  let token: string | undefined;
  do {
    const out = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        MaxKeys: Math.min(1000, MAX_KEYS_LISTED - objects.length),
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const o of out.Contents ?? []) {
      if (o.Key) objects.push({ key: o.Key, size: o.Size ?? 0, modifiedMs: o.LastModified?.getTime() ?? 0 });
    }
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token && objects.length < MAX_KEYS_LISTED);
  return { objects, truncated: token !== undefined };
}

const newestFirst = (a: Listed, b: Listed) => b.modifiedMs - a.modifiedMs || (a.key < b.key ? 1 : -1);

async function errorLines(
  s3: S3Client,
  p: ReadPipelineRuntime,
  stream: string,
  o: Listed,
): Promise<ErrorEntry[]> {
  const out = await s3.send(new GetObjectCommand({ Bucket: p.sink.bucket, Key: o.key }));
  const bytes = await out.Body!.transformToByteArray();
  const text = (o.key.endsWith(".gz") ? gunzipSync(bytes) : Buffer.from(bytes)).toString("utf8");
  const entries: ErrorEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    // A record without an envelope names no stream: it may be anyone's, so it is shown.
    if (e.stream !== stream && e.stream !== null) continue;
    entries.push({
      pipeline: p.name,
      key: o.key,
      recordId: typeof e.recordId === "string" ? e.recordId : null,
      stage: String(e.stage ?? ""),
      code: String(e.code ?? ""),
      message: String(e.message ?? "").slice(0, 500),
      eventTime: typeof e.eventTime === "string" ? e.eventTime : null,
    });
  }
  return entries.reverse();
}

export async function streamFiles(
  s3: S3Client,
  config: ReadConfig,
  stream: string,
  limit: number,
): Promise<StreamFiles> {
  const pipelines = Object.values(config.pipelines).filter((p) => p.sources.includes(stream));
  let truncated = false;
  const files: (DataFileEntry & { modifiedMs: number })[] = [];
  const errors: ErrorEntry[] = [];
  for (const p of pipelines) {
    const data = await list(s3, p.sink.bucket, streamPrefix(p.sink.prefix, stream, p.name));
    truncated ||= data.truncated;
    for (const o of data.objects
      .filter((x) => x.key.endsWith(".parquet"))
      .sort(newestFirst)
      .slice(0, limit)) {
      files.push({
        pipeline: p.name,
        key: o.key,
        size: o.size,
        modified: new Date(o.modifiedMs).toISOString(),
        modifiedMs: o.modifiedMs,
      });
    }
    const failed = await list(s3, p.sink.bucket, `errors/${p.name}/`);
    truncated ||= failed.truncated;
    let found = 0;
    for (const o of failed.objects.sort(newestFirst).slice(0, MAX_ERROR_FILES_READ)) {
      if (found >= limit) break;
      const lines = await errorLines(s3, p, stream, o);
      errors.push(...lines);
      found += lines.length;
    }
  }
  return {
    stream,
    files: files
      .sort((a, b) => b.modifiedMs - a.modifiedMs)
      .slice(0, limit)
      .map(({ modifiedMs: _, ...f }) => f),
    errors: errors.slice(0, limit),
    truncated,
  };
}
