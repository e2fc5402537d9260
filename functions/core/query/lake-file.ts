/**
 * One Parquet file of the lake, read with hyparquet through ranged GETs: the footer first, then
 * only the column chunks of the row groups and columns a query needs. Every byte fetched is
 * counted against the query's scan limit before it is fetched.
 */
import { createRequire } from "node:module";
import zlib from "node:zlib";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  type AsyncBuffer,
  type Compressors,
  type FileMetaData,
  parquetMetadataAsync,
  parquetReadObjects,
} from "hyparquet";
import type { LakeRow } from "./types.ts";

export type { FileMetaData };

/** Called with the bytes a fetch will cost; throws to refuse it. */
export type ScanBudget = (bytes: number) => void;

type Decompress = (input: Uint8Array, outputLength: number) => Uint8Array;

let zstd: Decompress | undefined;

function loadZstd(): Decompress {
  const native = (zlib as unknown as { zstdDecompressSync?: (b: Uint8Array) => Buffer }).zstdDecompressSync;
  if (native) return (input) => native(input);
  // Node.js before 22.15 has no zstd in zlib; the writer loads the same package for the same reason.
  const napi = createRequire(import.meta.url)("zstd-napi") as { decompress(b: Uint8Array): Buffer };
  return (input) => napi.decompress(input);
}

/** hyparquet decodes SNAPPY itself; the other codecs the batcher may write come from here. */
export const COMPRESSORS: Compressors = {
  ZSTD: (input, length) => {
    zstd ??= loadZstd();
    return zstd(input, length);
  },
  GZIP: (input) => zlib.gunzipSync(input),
};

export function s3Buffer(
  s3: S3Client,
  bucket: string,
  key: string,
  size: number,
  budget: ScanBudget,
): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start, end) {
      const last = Math.min(end ?? size, size);
      budget(last - start);
      const out = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${last - 1}` }),
      );
      const bytes = await out.Body!.transformToByteArray();
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

/** Footer bytes to fetch first: Sluice's footers are small; one GET usually covers them. */
const FOOTER_FETCH = 64 * 1024;

export function readMetadata(file: AsyncBuffer): Promise<FileMetaData> {
  return parquetMetadataAsync(file, { initialFetchSize: Math.min(FOOTER_FETCH, file.byteLength) });
}

export function keyValue(metadata: FileMetaData, key: string): string | undefined {
  return metadata.key_value_metadata?.find((kv) => kv.key === key)?.value;
}

/** Top-level column names of the file, in file order. */
export function topColumns(metadata: FileMetaData): string[] {
  const names = new Set<string>();
  for (const c of metadata.row_groups[0]?.columns ?? []) {
    const top = c.meta_data?.path_in_schema[0];
    if (top !== undefined) names.add(top);
  }
  return [...names];
}

/** Compressed bytes of the chunks of `columns` (top-level names) in row group `rg`. */
export function chunkBytes(metadata: FileMetaData, rg: number, columns: ReadonlySet<string>): number {
  let n = 0;
  for (const c of metadata.row_groups[rg]!.columns) {
    const m = c.meta_data;
    if (m && columns.has(m.path_in_schema[0]!)) n += Number(m.total_compressed_size);
  }
  return n;
}

/** Rows `[start, end)` of the file, only `columns`. */
export function readRows(
  file: AsyncBuffer,
  metadata: FileMetaData,
  columns: readonly string[],
  start: number,
  end: number,
): Promise<LakeRow[]> {
  return parquetReadObjects({
    file,
    metadata,
    columns: [...columns],
    rowStart: start,
    rowEnd: end,
    compressors: COMPRESSORS,
  }) as Promise<LakeRow[]>;
}
