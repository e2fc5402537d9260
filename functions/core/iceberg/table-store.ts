/**
 * Where an Iceberg table lives: its Glue entry (table_type ICEBERG, metadata_location) and its
 * metadata files in the sink's bucket under SSE-KMS. A commit is a Glue UpdateTable conditional
 * on the VersionId read with the metadata, as Iceberg's Glue catalog commits: a concurrent
 * committer gets ConcurrentModificationException and starts again from the new metadata.
 */

import type { Column } from "@aws-sdk/client-glue";
import { GetTableCommand, type GlueClient, type Table, UpdateTableCommand } from "@aws-sdk/client-glue";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type BackoffPolicy, isTransient, withRetries } from "../backoff.ts";
import { putObject } from "../delivery/object-writer.ts";
import type { TableMetadata } from "./metadata.ts";

export interface TableLocation {
  readonly database: string;
  readonly table: string;
  readonly bucket: string;
  readonly kmsKeyId: string;
}

export interface LoadedTable {
  /** Undefined while the Glue table has no metadata yet (created by the deploy, not committed). */
  readonly metadata?: TableMetadata;
  readonly metadataLocation?: string;
  readonly versionId?: string;
  readonly glue: Table;
}

export class ConcurrentCommit extends Error {
  override readonly name = "ConcurrentCommit";
}

export const s3Url = (bucket: string, key: string) => `s3://${bucket}/${key}`;

export function keyOfUrl(url: string, bucket: string): string {
  const prefix = `s3://${bucket}/`;
  if (!url.startsWith(prefix)) throw new Error(`${url} is not in bucket ${bucket}`);
  return url.slice(prefix.length);
}

export class TableStore {
  constructor(
    private readonly glue: GlueClient,
    private readonly s3: S3Client,
    readonly where: TableLocation,
    private readonly retry: BackoffPolicy,
  ) {}

  async load(): Promise<LoadedTable> {
    const { Table: table } = await withRetries(this.retry, isTransient, () =>
      this.glue.send(new GetTableCommand({ DatabaseName: this.where.database, Name: this.where.table })),
    );
    if (!table) throw new Error(`Glue table ${this.where.database}.${this.where.table} not found`);
    const location = table.Parameters?.metadata_location;
    const base = { glue: table, ...(table.VersionId === undefined ? {} : { versionId: table.VersionId }) };
    if (!location) return base;
    const metadata = JSON.parse((await this.read(location)).toString("utf8")) as TableMetadata;
    return { ...base, metadata, metadataLocation: location };
  }

  async read(url: string): Promise<Buffer> {
    const out = await withRetries(this.retry, isTransient, () =>
      this.s3.send(
        new GetObjectCommand({ Bucket: this.where.bucket, Key: keyOfUrl(url, this.where.bucket) }),
      ),
    );
    return Buffer.from(await out.Body!.transformToByteArray());
  }

  async write(url: string, body: Uint8Array, contentType: string): Promise<void> {
    await putObject(
      { key: keyOfUrl(url, this.where.bucket), body, contentType, records: 0 },
      { s3: this.s3, bucket: this.where.bucket, kmsKeyId: this.where.kmsKeyId, retry: this.retry },
    );
  }

  /** Points the Glue table at `metadataLocation` if it is still at `loaded`'s version. */
  async swap(loaded: LoadedTable, metadataLocation: string, columns: Column[]): Promise<void> {
    const t = loaded.glue;
    try {
      await this.glue.send(
        new UpdateTableCommand({
          DatabaseName: this.where.database,
          ...(loaded.versionId === undefined ? {} : { VersionId: loaded.versionId }),
          TableInput: {
            Name: t.Name,
            ...(t.Description === undefined ? {} : { Description: t.Description }),
            TableType: "EXTERNAL_TABLE",
            Parameters: {
              ...t.Parameters,
              table_type: "ICEBERG",
              metadata_location: metadataLocation,
              ...(loaded.metadataLocation ? { previous_metadata_location: loaded.metadataLocation } : {}),
            },
            StorageDescriptor: { ...t.StorageDescriptor, Columns: columns },
          },
        }),
      );
    } catch (err) {
      if ((err as Error).name === "ConcurrentModificationException") {
        throw new ConcurrentCommit((err as Error).message);
      }
      throw err;
    }
  }
}
