import { mkdir, rm } from "node:fs/promises";
import S3rver from "s3rver";
import AWSAccount from "s3rver/lib/models/account.js";
import { backendFailed } from "../errors.ts";

export interface S3Backend {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * s3rver runs in-process: it is plain JS with no native parts, so a child process would only add
 * start-up time. It rejects unknown access key ids (InvalidAccessKeyId) but never checks SigV4
 * signatures, so registering the ids is all "accepting the credentials" takes.
 */
export async function startS3(directory: string): Promise<S3Backend> {
  const accessKeys = new Map<string, string>([["test", "test"]]);
  const envKey = process.env.AWS_ACCESS_KEY_ID;
  if (envKey) accessKeys.set(envKey, process.env.AWS_SECRET_ACCESS_KEY ?? "test");
  for (const [id, secret] of accessKeys) AWSAccount.DUMMY_ACCOUNT.createKeyPair(id, secret);

  // Other emulators here keep nothing across restarts (like LocalStack without PERSISTENCE), so
  // objects left from a previous run would only point at streams, tables and keys that are gone.
  await rm(directory, { recursive: true, force: true });
  await mkdir(directory, { recursive: true });

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
  try {
    const address = await server.run();
    return { url: `http://127.0.0.1:${address.port}`, stop: () => server.close() };
  } catch (error) {
    throw backendFailed("S3 (s3rver)", error, `Check that ${directory} is writable`);
  }
}
