/**
 * Put, Get and DeleteBucketLifecycleConfiguration for s3rver, which answers all three 501
 * NotImplemented (its lib/routes.js). The rules are checked for the shape S3 insists on, stored
 * as sent beside the bucket's other subresources (`._S3rver_lifecycle.xml`, which listings skip),
 * and returned as stored. Nothing expires objects: this is test infrastructure for reading the
 * rules back, not a lifecycle engine.
 */
import { randomUUID } from "node:crypto";
import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Context, type Next, xmlError } from "./koa.ts";

/** The part of s3rver's FilesystemStore this uses. */
export interface BucketFiles {
  getBucketPath(bucket: string): string;
}

const FILE = "._S3rver_lifecycle.xml";
/** S3's limit on rules in one configuration. */
const MAX_RULES = 1000;

async function readBody(req: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/** Why S3 would refuse this configuration (MalformedXML), or undefined when it would take it. */
export function lifecycleProblem(xml: string): string | undefined {
  const root = /<LifecycleConfiguration\b[^>]*>([\s\S]*)<\/LifecycleConfiguration>\s*$/.exec(xml.trim());
  if (!root) return "the body is not a LifecycleConfiguration";
  const rules = [...root[1]!.matchAll(/<Rule>([\s\S]*?)<\/Rule>/g)].map((m) => m[1]!);
  if (rules.length === 0) return "a LifecycleConfiguration needs at least one Rule";
  if (rules.length > MAX_RULES) return `at most ${MAX_RULES} rules are allowed`;
  const ids = new Set<string>();
  for (const rule of rules) {
    const status = /<Status>([^<]*)<\/Status>/.exec(rule)?.[1];
    if (status !== "Enabled" && status !== "Disabled") return "each Rule needs Status Enabled or Disabled";
    if (!/<(Expiration|Transition|NoncurrentVersionExpiration|AbortIncompleteMultipartUpload)>/.test(rule))
      return "each Rule needs an action (Expiration, Transition, ...)";
    const id = /<ID>([^<]*)<\/ID>/.exec(rule)?.[1];
    if (id !== undefined) {
      if (id.length > 255) return "a Rule ID is at most 255 characters";
      if (ids.has(id)) return `Rule ID ${id} is used twice`;
      ids.add(id);
    }
  }
  return undefined;
}

/** Koa middleware answering `?lifecycle` on a bucket; everything else goes on to s3rver. */
export function lifecycleMiddleware(store: BucketFiles, tmpDir: string) {
  return async (ctx: Context, next: Next): Promise<unknown> => {
    const bucket = /^\/([^/]+)\/?$/.exec(ctx.path)?.[1];
    if (bucket === undefined || !("lifecycle" in ctx.query)) return next();
    const bucketPath = store.getBucketPath(bucket);
    const exists = await stat(bucketPath).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!exists) return xmlError(ctx, 404, "NoSuchBucket", "The specified bucket does not exist", bucket);
    const file = path.join(bucketPath, FILE);
    switch (ctx.method) {
      case "PUT": {
        const xml = await readBody(ctx.req);
        const problem = lifecycleProblem(xml);
        if (problem !== undefined) return xmlError(ctx, 400, "MalformedXML", problem, bucket);
        // Whole or not at all, like the objects of a persistent stack.
        const tmp = path.join(tmpDir, randomUUID());
        await writeFile(tmp, xml);
        await rename(tmp, file);
        ctx.status = 200;
        ctx.body = "";
        return;
      }
      case "GET": {
        const xml = await readFile(file, "utf8").catch(() => undefined);
        if (xml === undefined) {
          return xmlError(
            ctx,
            404,
            "NoSuchLifecycleConfiguration",
            "The lifecycle configuration does not exist",
            bucket,
          );
        }
        ctx.status = 200;
        ctx.type = "application/xml";
        ctx.body = xml;
        return;
      }
      case "DELETE":
        await rm(file, { force: true });
        ctx.status = 204;
        ctx.body = "";
        return;
      default:
        return xmlError(
          ctx,
          405,
          "MethodNotAllowed",
          "The specified method is not allowed against this resource.",
          bucket,
        );
    }
  };
}
