/**
 * An import's plan: the source's objects (one HeadObject, or ListObjectsV2 of a prefix) cut into
 * chunks, one SQS message each. A JSON-lines object larger than `chunkBytes` is cut into byte
 * ranges (a chunk owns the lines that start in its range); CSV (one header, cells that may hold
 * newlines), a JSON array and Parquet are one chunk per object.
 */
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { formatFromName, type InputFormat } from "../input/read-input.ts";
import type { ImportRequest } from "./request.ts";

export interface SourceObject {
  readonly key: string;
  /** As S3 gives it, quotes included. */
  readonly etag: string;
  readonly size: number;
}

export interface ChunkSpec {
  readonly job: string;
  readonly index: number;
  readonly stream: string;
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly format: InputFormat;
  /** Byte range `[start, end)` whose lines this chunk owns; the whole object when absent. */
  readonly start?: number;
  readonly end?: number;
}

/** An object the plan leaves out, with why. */
export interface Skipped {
  readonly key: string;
  readonly reason: string;
}

export interface Plan {
  readonly objects: number;
  readonly bytes: number;
  readonly chunks: readonly ChunkSpec[];
  readonly skipped: readonly Skipped[];
}

export const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024;
/** A job's chunks must fit its item's record of finished ones (400 KB) and one API call's time. */
export const MAX_CHUNKS = 10_000;

/** Cuts `objects` into chunks; pure, so the rule is tested without S3. */
export function planChunks(
  job: string,
  request: ImportRequest,
  objects: readonly SourceObject[],
  chunkBytes = DEFAULT_CHUNK_BYTES,
): Plan {
  const chunks: ChunkSpec[] = [];
  const skipped: Skipped[] = [];
  let bytes = 0;
  let planned = 0;
  for (const o of objects) {
    const format = request.format ?? formatFromName(o.key);
    if (format === undefined) {
      skipped.push({
        key: o.key,
        reason: "its extension names no format (.ndjson, .jsonl, .json, .csv, .parquet)",
      });
      continue;
    }
    planned++;
    bytes += o.size;
    const base = {
      job,
      stream: request.stream,
      bucket: request.source.bucket,
      key: o.key,
      etag: o.etag,
      format,
    };
    if (format !== "ndjson" || o.size <= chunkBytes) {
      chunks.push({ ...base, index: chunks.length });
      continue;
    }
    for (let start = 0; start < o.size; start += chunkBytes) {
      chunks.push({ ...base, index: chunks.length, start, end: Math.min(o.size, start + chunkBytes) });
    }
  }
  return { objects: planned, bytes, chunks, skipped };
}

/** The object, or every object under the prefix (none when nothing is there). */
export async function listSource(s3: S3Client, request: ImportRequest): Promise<SourceObject[]> {
  const { bucket, key, isPrefix } = request.source;
  if (!isPrefix) {
    try {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return [{ key, etag: head.ETag ?? "", size: head.ContentLength ?? 0 }];
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (err as Error).name === "NotFound" || (err as Error).name === "NoSuchKey")
        return [];
      throw err;
    }
  }
  const found: SourceObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: key,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const o of page.Contents ?? []) {
      // A "folder" placeholder is not a source.
      if (o.Key === undefined || o.Key.endsWith("/")) continue;
      found.push({ key: o.Key, etag: o.ETag ?? "", size: o.Size ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token && found.length <= MAX_CHUNKS);
  return found;
}
