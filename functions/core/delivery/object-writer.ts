/** Puts and deletes sink objects with SSE-KMS, retrying transient failures with backoff. */
import { DeleteObjectsCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type BackoffPolicy, isTransient, withRetries } from "../backoff.ts";
import { MAX_KEY_BYTES, MAX_SEGMENT_BYTES, utf8Bytes } from "../prefix.ts";
import type { OutputObject } from "./types.ts";

export interface ObjectWriterOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly kmsKeyId: string;
  readonly retry: BackoffPolicy;
}

export async function putObject(obj: OutputObject, o: ObjectWriterOptions): Promise<void> {
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

/**
 * Why S3 or a Hive-style reader would not take `key`, or undefined when it is fine: the last
 * check before a write, so a key built wrongly fails its records rather than the batch.
 */
export function invalidKeyReason(key: string): string | undefined {
  const bytes = utf8Bytes(key);
  if (bytes > MAX_KEY_BYTES) return `the object key is ${bytes} bytes; S3 allows ${MAX_KEY_BYTES}`;
  if (
    key.startsWith("/") ||
    key.split("/").some((s, i, all) => (s === "" && i < all.length - 1) || s === "." || s === "..")
  )
    return "the object key has an empty, . or .. segment";
  for (const segment of key.split("/")) {
    if (utf8Bytes(segment) > MAX_SEGMENT_BYTES)
      return `an object key segment is over ${MAX_SEGMENT_BYTES} bytes`;
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f\p{Cf}\p{Zl}\p{Zp}\uFFFD]/u.test(key) || /\p{Cs}/u.test(key))
    return "the object key has a control, format or invalid character";
  return undefined;
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
