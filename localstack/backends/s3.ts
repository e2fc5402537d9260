import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import S3rver from "s3rver";
import AWSAccount from "s3rver/lib/models/account.js";
import { backendFailed } from "../errors.ts";
import { type BucketFiles, lifecycleMiddleware } from "../s3/lifecycle.ts";
import { listObjectsV2Middleware } from "../s3/list-objects-v2.ts";

export interface S3Backend {
  readonly url: string;
  stop(): Promise<void>;
}

export interface S3Options {
  /**
   * Keep the buckets and objects already in `directory`, and write each object whole (temp file,
   * then rename) before answering, so an acknowledged object survives SIGKILL.
   * @default false: the folder is emptied at start
   */
  readonly keep?: boolean;
}

/** The part of s3rver's FilesystemStore (lib/stores/filesystem.js) that object writes go through. */
interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5?: string): Promise<void>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
}

interface StoredObject {
  readonly bucket: string;
  readonly key: string;
  readonly content: Buffer | NodeJS.ReadableStream;
  readonly metadata: unknown;
}

/**
 * s3rver answers a PUT once the body has passed through, before its file write has finished, and
 * rewrites objects in place (a kill mid-write leaves half an object). This writes the body to a
 * temp file, waits for it, renames it over the object, then the metadata the same way.
 */
function writeObjectsWhole(store: FilesystemStore, tmpDir: string): void {
  const tmpPath = () => path.join(tmpDir, randomUUID());
  const putMetadata = store.putMetadata.bind(store);
  store.putObject = async (object) => {
    const objectPath = store.getResourcePath(object.bucket, object.key, "object");
    await mkdir(path.dirname(objectPath), { recursive: true });
    const tmp = tmpPath();
    const md5 = createHash("md5");
    let size = 0;
    if (Buffer.isBuffer(object.content)) {
      md5.update(object.content);
      size = object.content.length;
      await writeFile(tmp, object.content);
    } else {
      const count = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          md5.update(chunk);
          size += chunk.length;
          callback(null, chunk);
        },
      });
      await pipeline(object.content, count, createWriteStream(tmp));
    }
    await rename(tmp, objectPath);
    const digest = md5.digest("hex");
    // s3rver's own putMetadata, pointed at temp files, then renamed into place.
    const targets = new Map<string, string>();
    const redirected = Object.create(store, {
      getResourcePath: {
        value: (bucket: string, key: string, resource: string) => {
          const temp = tmpPath();
          targets.set(temp, store.getResourcePath(bucket, key, resource));
          return temp;
        },
      },
    }) as FilesystemStore;
    await putMetadata.call(redirected, object.bucket, object.key, object.metadata, digest);
    for (const [temp, target] of targets) await rename(temp, target);
    return { size, md5: digest };
  };
}

/**
 * s3rver runs in-process: it is plain JS with no native parts, so a child process would only add
 * start-up time. It rejects unknown access key ids (InvalidAccessKeyId) but never checks SigV4
 * signatures, so registering the ids is all "accepting the credentials" takes.
 */
export async function startS3(directory: string, options: S3Options = {}): Promise<S3Backend> {
  const accessKeys = new Map<string, string>([["test", "test"]]);
  const envKey = process.env.AWS_ACCESS_KEY_ID;
  if (envKey) accessKeys.set(envKey, process.env.AWS_SECRET_ACCESS_KEY ?? "test");
  for (const [id, secret] of accessKeys) AWSAccount.DUMMY_ACCOUNT.createKeyPair(id, secret);

  // Without persistence the other emulators keep nothing across restarts (like LocalStack without
  // PERSISTENCE), so objects left from a previous run would only point at streams, tables and
  // keys that are gone.
  if (!options.keep) await rm(directory, { recursive: true, force: true });
  await mkdir(directory, { recursive: true });
  // Next to the folder, not in it (s3rver would list it as a bucket), on the same file system.
  const tmpDir = `${directory}.tmp`;
  await rm(tmpDir, { recursive: true, force: true });
  await mkdir(tmpDir, { recursive: true });

  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    allowMismatchedSignatures: true,
    // Path-style only from arbitrary hosts; vhost-style only via LocalStack's own domain, so a
    // client reaching us as e.g. "devbox:4566" isn't mistaken for bucket "devbox".
    vhostBuckets: false,
    serviceEndpoint: "localhost.localstack.cloud",
  });
  const store = (server as unknown as { store: FilesystemStore & BucketFiles }).store;
  if (options.keep) writeObjectsWhole(store, tmpDir);
  // Ahead of s3rver's router (its last middleware), which answers lifecycle calls 501 and cannot
  // page ListObjectsV2 on Node's OpenSSL 3.
  const middleware = (server as unknown as { middleware: unknown[] }).middleware;
  middleware.splice(middleware.length - 1, 0, lifecycleMiddleware(store, tmpDir), listObjectsV2Middleware());
  try {
    const address = await server.run();
    return { url: `http://127.0.0.1:${address.port}`, stop: () => server.close() };
  } catch (error) {
    throw backendFailed("S3 (s3rver)", error, `Check that ${directory} is writable`);
  }
}
