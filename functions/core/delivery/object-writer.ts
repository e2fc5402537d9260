/** Puts and deletes sink objects with SSE-KMS, retrying transient failures with backoff. */
import { DeleteObjectsCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type BackoffPolicy, isTransient, withRetries } from "../backoff.ts";
import type { OutputObject } from "./types.ts";

export interface ObjectWriterOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly kmsKeyId: string;
  readonly retry: BackoffPolicy;
}

export async function putObjects(objects: readonly OutputObject[], o: ObjectWriterOptions): Promise<void> {
  // Sequential keeps memory at one body in flight beyond the encoded set, and the count is small.
  for (const obj of objects) {
    await withRetries(o.retry, isTransient, () =>
      o.s3.send(
        new PutObjectCommand({
          Bucket: o.bucket,
          Key: obj.key,
          Body: obj.body,
          ContentType: obj.contentType,
          ...(obj.contentEncoding ? { ContentEncoding: obj.contentEncoding } : {}),
          ServerSideEncryption: "aws:kms",
          SSEKMSKeyId: o.kmsKeyId,
          BucketKeyEnabled: true,
        }),
      ),
    );
  }
}

export async function deleteObjects(keys: readonly string[], o: ObjectWriterOptions): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const chunk = keys.slice(i, i + 1000);
    await withRetries(o.retry, isTransient, () =>
      o.s3.send(
        new DeleteObjectsCommand({
          Bucket: o.bucket,
          Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true },
        }),
      ),
    );
  }
}
