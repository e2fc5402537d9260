/**
 * What integration tests share: the endpoint (from `npm test` or AWS_ENDPOINT_URL), unique
 * names per test, and reading Parquet back from the bucket with DuckDB.
 */

import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from "@aws-sdk/client-kinesis";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { DuckDBInstance } from "@duckdb/node-api";

export function endpoint(): string {
  const url = process.env.AWS_ENDPOINT_URL;
  if (!url) throw new Error("AWS_ENDPOINT_URL is not set: run integration tests with `npm test`");
  return url;
}

/** A fresh app name, so each test's stream, tables and buckets are its own. */
export function uniqueApp(prefix = "t"): string {
  return `${prefix}-${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

export async function listKeys(s3: S3Client, bucket: string, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

export async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return out.Body!.transformToByteArray();
}

/** Downloads objects into a temp folder, keeping their keys as paths, and returns the folder. */
export async function download(s3: S3Client, bucket: string, keys: readonly string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "sluice-test-"));
  for (const key of keys) {
    const path = join(dir, key.replaceAll("/", "__"));
    writeFileSync(path, await getBytes(s3, bucket, key));
  }
  return dir;
}

export async function duckdb<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  try {
    const r = await c.runAndReadAll(sql);
    return r.getRowObjectsJson() as T[];
  } finally {
    c.closeSync();
  }
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A record as Kinesis holds it: the exact bytes, for tests that look at what is on the stream. */
export interface RawStreamRecord {
  readonly data: Buffer;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly shardId: string;
}

/** Every record on a stream, across all shards, from the start, as bytes. */
export async function readStreamRecords(
  kinesis: KinesisClient,
  streamName: string,
): Promise<RawStreamRecord[]> {
  const out: RawStreamRecord[] = [];
  const shards = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  for (const shard of shards.Shards ?? []) {
    let iterator = (
      await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shard.ShardId,
          ShardIteratorType: "TRIM_HORIZON",
        }),
      )
    ).ShardIterator;
    for (let i = 0; iterator && i < 100; i++) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const r of page.Records ?? []) {
        out.push({
          data: Buffer.from(r.Data!),
          sequenceNumber: r.SequenceNumber!,
          partitionKey: r.PartitionKey!,
          shardId: shard.ShardId!,
        });
      }
      if ((page.Records ?? []).length === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return out;
}

/** Every envelope on a stream, across all shards, from the start. */
export async function readStream(
  kinesis: KinesisClient,
  streamName: string,
): Promise<Record<string, unknown>[]> {
  return (await readStreamRecords(kinesis, streamName)).map(
    (r) => JSON.parse(r.data.toString("utf8")) as Record<string, unknown>,
  );
}

/** feedback.v1's Parquet columns as DuckDB reports them: envelope columns, schema, `_extra`. */
export const FEEDBACK_V1_COLUMN_TYPES = {
  _id: "VARCHAR",
  _event_time: "TIMESTAMP WITH TIME ZONE",
  _receive_time: "TIMESTAMP WITH TIME ZONE",
  _schema_version: "INTEGER",
  customerId: "VARCHAR",
  content: "VARCHAR",
  category: "VARCHAR",
  isNegative: "BOOLEAN",
  tags: "VARCHAR[]",
  rating: "BIGINT",
  ts: "TIMESTAMP WITH TIME ZONE",
  _extra: "VARCHAR",
} as const;

/** Column name -> DuckDB type of the Parquet files matching `glob`. */
export async function parquetColumnTypes(glob: string): Promise<Record<string, string>> {
  const rows = await duckdb<{ column_name: string; column_type: string }>(
    `DESCRIBE SELECT * FROM read_parquet('${glob}')`,
  );
  return Object.fromEntries(rows.map((r) => [r.column_name, r.column_type]));
}

/** The Authorization header for a runner's dev key, or nothing when API keys are off. */
export function authHeader(runner: { devKey?: string }): Record<string, string> {
  return runner.devKey ? { authorization: `Bearer ${runner.devKey}` } : {};
}

/**
 * Why the endpoint cannot serve Glue, or false when it can: the embedded stack has it, real
 * LocalStack Community does not (it is a Pro service), so tests of the catalog skip there.
 */
export async function glueUnavailable(): Promise<string | false> {
  return serviceUnavailable("glue", "Glue");
}

/** The same for Athena: the embedded stack emulates it (localstack/athena/), LocalStack Community not. */
export async function athenaUnavailable(): Promise<string | false> {
  return serviceUnavailable("athena", "Athena");
}

async function serviceUnavailable(service: string, name: string): Promise<string | false> {
  const health = (await fetch(`${endpoint()}/_localstack/health`).then((r) => r.json())) as {
    services?: Record<string, string>;
  };
  return /running|available/.test(health.services?.[service] ?? "")
    ? false
    : `the endpoint has no ${name} (real LocalStack Community)`;
}
