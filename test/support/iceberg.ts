/**
 * Reading an Iceberg table the way an engine does, with code independent of Sluice's writer:
 * icebird (its own Avro and metadata reader, hyparquet for the data) and DuckDB over the files
 * the current snapshot's manifests list. icebird fetches `s3://` locations from
 * `https://{bucket}.s3.amazonaws.com/`; `s3Fetch` answers those from the endpoint's S3 instead
 * (a URL translation with range support, not a stand-in: the bytes are the stored objects).
 */

import { GetTableCommand, type GlueClient } from "@aws-sdk/client-glue";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { icebergManifests, icebergRead } from "icebird";
import { splitManifestEntries } from "icebird/src/manifest.js";
import type { TableMetadata } from "../../functions/core/iceberg/metadata.ts";
import { download, duckdb, getBytes } from "./env.ts";

const S3_HTTPS = /^https:\/\/([^./]+)\.s3\.amazonaws\.com\/(.+)$/;

/** Runs `fn` with fetch answering icebird's S3 URLs from `s3`. */
export async function withS3Fetch<T>(s3: S3Client, fn: () => Promise<T>): Promise<T> {
  const real = globalThis.fetch;
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const m = S3_HTTPS.exec(url);
    if (!m) return real(input, init);
    const range = new Headers(init?.headers).get("Range") ?? undefined;
    try {
      const out = await s3.send(
        new GetObjectCommand({
          Bucket: m[1],
          Key: decodeURIComponent(m[2]!),
          ...(range ? { Range: range } : {}),
        }),
      );
      const body = await out.Body!.transformToByteArray();
      return new Response(body, {
        status: range ? 206 : 200,
        headers: { "content-length": String(body.byteLength) },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  }) as typeof fetch;
  try {
    return await fn();
  } finally {
    globalThis.fetch = real;
  }
}

export async function glueMetadataLocation(glue: GlueClient, database: string, table: string) {
  const out = await glue.send(new GetTableCommand({ DatabaseName: database, Name: table }));
  return { table: out.Table!, location: out.Table?.Parameters?.metadata_location };
}

export async function readMetadata(s3: S3Client, url: string): Promise<TableMetadata> {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url)!;
  return JSON.parse(Buffer.from(await getBytes(s3, m[1]!, m[2]!)).toString("utf8")) as TableMetadata;
}

/** The live data files of the current snapshot, as icebird reads the manifest list and manifests. */
export async function snapshotFiles(s3: S3Client, metadata: TableMetadata) {
  return withS3Fetch(s3, async () => {
    // biome-ignore lint/suspicious/noExplicitAny: icebird's types are its own
    const { dataEntries } = splitManifestEntries(await icebergManifests(metadata as any));
    return dataEntries.map((e) => ({
      path: e.data_file.file_path as string,
      records: Number(e.data_file.record_count),
      size: Number(e.data_file.file_size_in_bytes),
      partition: e.data_file.partition as Record<string, unknown>,
      lower: e.data_file.lower_bounds as unknown,
    }));
  });
}

/** Every row of the table at `metadata`'s current snapshot, read by icebird. */
export function icebirdRows(s3: S3Client, metadata: TableMetadata): Promise<Record<string, unknown>[]> {
  // biome-ignore lint/suspicious/noExplicitAny: icebird's types are its own
  return withS3Fetch(s3, () => icebergRead({ tableUrl: metadata.location, metadata: metadata as any }));
}

/** DuckDB over the snapshot's files: total rows and distinct record ids. */
export async function duckdbCount(s3: S3Client, bucket: string, paths: readonly string[]) {
  if (paths.length === 0) return { rows: 0, ids: 0 };
  const keys = paths.map((p) => p.slice(`s3://${bucket}/`.length));
  const dir = await download(s3, bucket, keys);
  const [r] = await duckdb<{ rows: string; ids: string }>(
    `SELECT count(*) AS rows, count(DISTINCT _id) AS ids FROM read_parquet('${dir}/*.parquet')`,
  );
  return { rows: Number(r!.rows), ids: Number(r!.ids) };
}

/** Every manifest entry of the current snapshot, deleted ones too, as icebird reads them. */
export async function manifestEntries(s3: S3Client, metadata: TableMetadata) {
  return withS3Fetch(s3, async () => {
    // biome-ignore lint/suspicious/noExplicitAny: icebird's types are its own
    const manifests = await icebergManifests(metadata as any);
    return manifests.flatMap((m) =>
      m.entries.map((e) => ({
        status: Number(e.status),
        path: e.data_file.file_path as string,
        snapshotId: e.snapshot_id === undefined ? undefined : Number(e.snapshot_id),
        sequenceNumber: Number(e.sequence_number),
        fileSequenceNumber: Number(e.file_sequence_number),
      })),
    );
  });
}

/** Downloads the objects of `paths` (s3:// URLs in `bucket`) and returns their local paths. */
export async function localCopies(s3: S3Client, bucket: string, paths: readonly string[]): Promise<string[]> {
  const keys = paths.map((p) => p.slice(`s3://${bucket}/`.length));
  const dir = await download(s3, bucket, keys);
  return keys.map((k) => `${dir}/${k.replaceAll("/", "__")}`);
}
