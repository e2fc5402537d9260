/** What the middlewares in front of s3rver's router share: the part of a Koa context they use. */
import { randomUUID } from "node:crypto";

export interface Context {
  readonly method: string;
  readonly path: string;
  query: Record<string, unknown>;
  readonly req: NodeJS.ReadableStream;
  status: number;
  body: unknown;
  type: string;
  set(name: string, value: string): void;
}

export type Next = () => Promise<unknown>;

export function xmlError(ctx: Context, status: number, code: string, message: string, bucket: string): void {
  ctx.status = status;
  ctx.type = "application/xml";
  ctx.body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
    `<BucketName>${bucket}</BucketName><RequestId>${randomUUID()}</RequestId></Error>`;
}
