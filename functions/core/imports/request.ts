/**
 * The body of `POST /v1/imports`, checked once into a typed request: `{ "stream", "source":
 * "s3://bucket/key" | "s3://bucket/prefix/", "format"?: "ndjson" | "json" | "csv" | "parquet" }`.
 * Each fault is a 400 `INVALID_IMPORT` at its field; a source outside what imports may read is a
 * 400 `SOURCE_NOT_ALLOWED`.
 */
import { SluiceError } from "../errors.ts";
import { formatFromName, INPUT_FORMATS, type InputFormat } from "../input/read-input.ts";
import type { ImportsRuntime } from "../runtime-config.ts";

export interface ImportSource {
  readonly bucket: string;
  /** An object's key, or a prefix ending in `/`. */
  readonly key: string;
  readonly isPrefix: boolean;
}

export interface ImportRequest {
  readonly stream: string;
  readonly source: ImportSource;
  /** Absent: each object's from its extension. */
  readonly format?: InputFormat;
}

const invalid = (message: string, path: string) => new SluiceError("INVALID_IMPORT", message, 400, path);

/** `s3://bucket/key` (or `s3://bucket/prefix/`), or why not. */
export function parseS3Url(url: string): ImportSource {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(url);
  if (!m) throw invalid('source must be "s3://<bucket>/<key>" or "s3://<bucket>/<prefix>/"', "/source");
  const key = m[2]!;
  if (Buffer.byteLength(key) > 1024) throw invalid("source key is over S3's 1024 bytes", "/source");
  return { bucket: m[1]!, key, isPrefix: key.endsWith("/") };
}

export function sourceUrl(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

export function parseImportRequest(body: Buffer | string, imports: ImportsRuntime): ImportRequest {
  const text = typeof body === "string" ? body : body.toString("utf8");
  if (text.trim() === "") throw new SluiceError("EMPTY_BODY", "the request body is empty", 400);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SluiceError("INVALID_JSON", "the request body is not JSON", 400);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalid('the body must be an object: {"stream", "source", "format"?}', "");
  }
  const { stream, source, format, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) throw invalid(`unknown field ${JSON.stringify(extra)}`, `/${extra}`);
  if (typeof stream !== "string" || stream === "") throw invalid("stream must be a stream name", "/stream");
  if (typeof source !== "string") throw invalid("source must be an s3:// URL", "/source");
  if (format !== undefined && !(INPUT_FORMATS as readonly unknown[]).includes(format)) {
    throw invalid(`format must be one of ${INPUT_FORMATS.join(", ")}`, "/format");
  }
  const parsed = parseS3Url(source);
  if (!imports.buckets.some((b) => b.name === parsed.bucket) || !parsed.key.startsWith(imports.prefix)) {
    throw new SluiceError(
      "SOURCE_NOT_ALLOWED",
      `imports read only under ${imports.prefix} of ${imports.buckets.map((b) => `s3://${b.name}/`).join(", ")}`,
      400,
      "/source",
    );
  }
  if (!parsed.isPrefix && format === undefined && formatFromName(parsed.key) === undefined) {
    throw invalid(
      "the source's extension names no format (.ndjson, .jsonl, .json, .csv, .parquet): give format",
      "/format",
    );
  }
  return { stream, source: parsed, ...(format === undefined ? {} : { format: format as InputFormat }) };
}
