/**
 * ListObjectsV2 paging for s3rver, which ciphers its continuation tokens with DES: Node's OpenSSL 3
 * refuses DES (ERR_OSSL_EVP_UNSUPPORTED), so every listing of more than 1,000 keys (or max-keys)
 * failed with 500 InternalError. This hands s3rver a V1 listing whose marker is the start key, and
 * turns its answer into a V2 one with a token of its own (base64 of bucket and where to go on,
 * opaque to clients as S3's are). The listing itself, prefixes and delimiters included, is still
 * s3rver's.
 */
import { type Context, type Next, xmlError } from "./koa.ts";

interface Listed {
  Key: string;
  Owner?: unknown;
}

interface Listing {
  Marker?: unknown;
  NextMarker?: unknown;
  Contents?: Listed[];
  CommonPrefixes?: { Prefix: string }[];
  IsTruncated?: boolean;
  [field: string]: unknown;
}

const TOKEN_PREFIX = "sluice-s3:";

function continuationToken(bucket: string, marker: string): string {
  return Buffer.from(`${TOKEN_PREFIX}${bucket}/${marker}`, "utf8").toString("base64");
}

/** The key a token continues after, or undefined when it is not one of ours for this bucket. */
function keyAfter(token: string, bucket: string): string | undefined {
  const text = Buffer.from(token, "base64").toString("utf8");
  const head = `${TOKEN_PREFIX}${bucket}/`;
  return text.startsWith(head) ? text.slice(head.length) : undefined;
}

export function listObjectsV2Middleware() {
  return async (ctx: Context, next: Next): Promise<unknown> => {
    const bucket = /^\/([^/]+)\/?$/.exec(ctx.path)?.[1];
    const q = ctx.query;
    // A marker with list-type=2 is s3rver's to refuse (InvalidArgument), as S3 does.
    if (ctx.method !== "GET" || bucket === undefined || q["list-type"] !== "2" || "marker" in q)
      return next();
    const {
      "list-type": _v2,
      "continuation-token": token,
      "start-after": startAfter,
      "fetch-owner": fetchOwner,
      ...v1
    } = q;
    let after = typeof startAfter === "string" ? startAfter : undefined;
    if (typeof token === "string" && token !== "") {
      after = keyAfter(token, bucket);
      if (after === undefined)
        return xmlError(ctx, 400, "InvalidArgument", "The continuation token provided is incorrect", bucket);
    }
    ctx.query = after === undefined ? v1 : { ...v1, marker: after };
    await next();
    const listing = (ctx.body as { ListBucketResult?: Listing } | undefined)?.ListBucketResult;
    if (listing === undefined) return;
    const { Marker: _m, NextMarker: _n, Contents = [], CommonPrefixes = [], ...rest } = listing;
    // S3 counts common prefixes towards max-keys and pages over keys and prefixes in one order;
    // s3rver counts keys only, so a page is cut here and may end on a prefix.
    const maxKeys = Math.min(1000, Number(q["max-keys"] ?? 1000));
    type Entry = { at: string; key: Listed } | { at: string; prefix: { Prefix: string } };
    const entries: Entry[] = [
      ...Contents.map((key) => ({ at: key.Key, key })),
      ...CommonPrefixes.map((prefix) => ({ at: prefix.Prefix, prefix })),
    ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    const page = entries.slice(0, maxKeys);
    const truncated = listing.IsTruncated === true || entries.length > page.length;
    const last = page.at(-1);
    // After a prefix, past every key under it: no key continues a prefix with U+FFFF.
    const marker = last === undefined ? undefined : "prefix" in last ? `${last.at}\uffff` : last.at;
    const keys = page.flatMap((e) => ("key" in e ? [e.key] : []));
    ctx.body = {
      ListBucketResult: {
        ...rest,
        ...(typeof token === "string" && token !== "" ? { ContinuationToken: token } : { StartAfter: after }),
        ...(truncated && marker !== undefined
          ? { NextContinuationToken: continuationToken(bucket, marker) }
          : {}),
        KeyCount: page.length,
        IsTruncated: truncated,
        Contents: fetchOwner === "true" ? keys : keys.map(({ Owner: _o, ...c }) => c),
        CommonPrefixes: page.flatMap((e) => ("prefix" in e ? [e.prefix] : [])),
      },
    };
  };
}
