/**
 * Test-only service faults at the edge: the failures AWS answers under load (a PutRecords with
 * some entries throttled, S3 503 SlowDown, 500 InternalError after the write happened, DynamoDB
 * throttling and transaction conflicts, KMS throttling), injected by rule so a test can count
 * what the pipeline does with them. Off unless an edge is started with an injector.
 */
import http from "node:http";
import { pipeline } from "node:stream/promises";
import { AwsChunkedDecoder, decodedHeaders, isAwsChunked } from "./aws-chunked.ts";
import { SERVICES, type ServiceName, type ServiceStatus, startEdge } from "./edge.ts";
import {
  type EdgeRequest,
  type EdgeResponse,
  forwardHeaders,
  responseHeaders,
  sendAwsError,
  sendJson,
} from "./respond.ts";

export type FaultAction =
  /** Answer this error; with `after`, only once the backend has done the work (an ambiguous failure). */
  | {
      readonly kind: "error";
      readonly status: number;
      readonly code: string;
      readonly message?: string;
      readonly after?: boolean;
    }
  /** Kinesis PutRecords: one entry in every `every` fails with `code`, and is not written. */
  | { readonly kind: "partial"; readonly code: string; readonly message?: string; readonly every: number }
  /** DynamoDB TransactWriteItems: cancelled, with `reason` on the first item and None on the rest. */
  | { readonly kind: "cancel"; readonly reason: string };

export interface FaultRule {
  readonly service: string;
  /** The API operation: an X-Amz-Target's (PutRecords, TransactWriteItems) or S3's (PutObject, DeleteObjects). */
  readonly operation: string;
  readonly action: FaultAction;
  /** Matching requests let through before the first fault. @default 0 */
  readonly skip?: number;
  /** Fault one matching request in every `every`. @default 1 */
  readonly every?: number;
  /** At most this many faults; then the rule lets everything through. @default unlimited */
  readonly times?: number;
}

export interface FaultCount {
  readonly service: string;
  readonly operation: string;
  /** Requests that matched the rule. */
  readonly matched: number;
  /** Requests answered with the fault. */
  readonly injected: number;
  /** PutRecords entries failed (partial faults only). */
  readonly entries: number;
}

interface LiveRule {
  readonly rule: FaultRule;
  matched: number;
  injected: number;
  entries: number;
}

/** The path after the edge has picked a service: where the injector hands a faulted request back. */
export interface Backend {
  readonly url: URL;
  readonly agent: http.Agent;
}

const S3_SUBRESOURCE_OPS: readonly (readonly [string, string, string])[] = [
  ["POST", "delete", "DeleteObjects"],
  ["POST", "uploads", "CreateMultipartUpload"],
  ["POST", "uploadId", "CompleteMultipartUpload"],
  ["PUT", "partNumber", "UploadPart"],
  ["DELETE", "uploadId", "AbortMultipartUpload"],
  ["GET", "list-type", "ListObjectsV2"],
  ["GET", "uploadId", "ListParts"],
];

/** The S3 operation of a path-style request, by method, path depth and sub-resource. */
export function s3Operation(method: string, url: string, headers: http.IncomingHttpHeaders): string {
  const [path = "/", query = ""] = url.split("?", 2);
  const params = new URLSearchParams(query);
  for (const [m, param, op] of S3_SUBRESOURCE_OPS) if (m === method && params.has(param)) return op;
  const parts = path.split("/").filter((p) => p !== "");
  if (parts.length === 0) return method === "GET" ? "ListBuckets" : `${method}Service`;
  const onObject = parts.length > 1;
  switch (method) {
    case "PUT":
      if (!onObject) return "CreateBucket";
      return headers["x-amz-copy-source"] ? "CopyObject" : "PutObject";
    case "GET":
      return onObject ? "GetObject" : "ListObjects";
    case "HEAD":
      return onObject ? "HeadObject" : "HeadBucket";
    case "DELETE":
      return onObject ? "DeleteObject" : "DeleteBucket";
    default:
      return `${method}${onObject ? "Object" : "Bucket"}`;
  }
}

export function operationOf(service: string, req: EdgeRequest): string {
  if (service === "s3") return s3Operation(req.method ?? "GET", req.url ?? "/", req.headers);
  const target = req.headers["x-amz-target"];
  return typeof target === "string" ? target.slice(target.lastIndexOf(".") + 1) : "";
}

async function readBody(req: EdgeRequest, service: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) chunks.push(chunk);
  };
  if (service === "s3" && isAwsChunked(req.headers)) await pipeline(req, new AwsChunkedDecoder(), sink);
  else await pipeline(req, sink);
  return Buffer.concat(chunks);
}

interface Forwarded {
  readonly status: number;
  readonly headers: http.OutgoingHttpHeaders;
  readonly body: Buffer;
}

function forward(req: EdgeRequest, service: string, backend: Backend, body: Buffer): Promise<Forwarded> {
  const headers = forwardHeaders(req.headers);
  if (service === "s3" && isAwsChunked(req.headers)) {
    decodedHeaders(headers as Record<string, string | string[] | undefined>);
  }
  headers["content-length"] = body.length;
  return new Promise((resolve, reject) => {
    const upstream = http.request(
      {
        host: backend.url.hostname,
        port: backend.url.port,
        method: req.method,
        path: req.url,
        headers,
        agent: backend.agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 502,
            headers: responseHeaders(res),
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    upstream.on("error", reject);
    upstream.end(body);
  });
}

function reply(res: EdgeResponse, answer: Forwarded, body = answer.body): void {
  res.writeHead(answer.status, { ...answer.headers, "content-length": body.length });
  res.end(body);
}

interface PutRecordsEntry {
  SequenceNumber?: string;
  ShardId?: string;
  ErrorCode?: string;
  ErrorMessage?: string;
}

/** Keeps PutRecords' contract: the failed entries are not written, the answer has one entry per record, in order. */
async function partialPutRecords(
  live: LiveRule,
  action: Extract<FaultAction, { kind: "partial" }>,
  req: EdgeRequest,
  res: EdgeResponse,
  backend: Backend,
): Promise<void> {
  const request = JSON.parse((await readBody(req, "kinesis")).toString("utf8")) as { Records: unknown[] };
  const failed = new Set<number>();
  request.Records.forEach((_, i) => {
    if ((live.entries + i) % action.every === 0) failed.add(i);
  });
  live.entries += failed.size;
  const kept = request.Records.filter((_, i) => !failed.has(i));
  let written: PutRecordsEntry[] = [];
  let answer: Forwarded | undefined;
  if (kept.length > 0) {
    answer = await forward(
      req,
      "kinesis",
      backend,
      Buffer.from(JSON.stringify({ ...request, Records: kept })),
    );
    if (answer.status !== 200) {
      reply(res, answer);
      return;
    }
    written = (JSON.parse(answer.body.toString("utf8")) as { Records: PutRecordsEntry[] }).Records;
  }
  const message = action.message ?? "Rate exceeded for shard in stream under account 000000000000.";
  let next = 0;
  const entries = request.Records.map((_, i) =>
    failed.has(i) ? { ErrorCode: action.code, ErrorMessage: message } : written[next++]!,
  );
  // kinesis-mock writes `"ErrorCode": null` on written entries.
  const failedCount = entries.filter((e) => Boolean(e.ErrorCode)).length;
  const body = Buffer.from(JSON.stringify({ FailedRecordCount: failedCount, Records: entries }), "utf8");
  if (answer) reply(res, answer, body);
  else {
    res.writeHead(200, { "content-type": "application/x-amz-json-1.1", "content-length": body.length });
    res.end(body);
  }
}

async function inject(
  live: LiveRule,
  service: string,
  req: EdgeRequest,
  res: EdgeResponse,
  backend: Backend,
): Promise<void> {
  const { action } = live.rule;
  switch (action.kind) {
    case "partial":
      return partialPutRecords(live, action, req, res, backend);
    case "cancel": {
      const request = JSON.parse((await readBody(req, service)).toString("utf8")) as {
        TransactItems?: unknown[];
      };
      const reasons = (request.TransactItems ?? [null]).map((_, i) =>
        i === 0 ? { Code: action.reason, Message: "Transaction is ongoing for the item" } : { Code: "None" },
      );
      sendAwsError(
        res,
        400,
        service,
        "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(", ")}]`,
        { CancellationReasons: reasons },
      );
      return;
    }
    case "error": {
      const body = await readBody(req, service);
      if (action.after) await forward(req, service, backend, body);
      sendAwsError(res, action.status, service, action.code, action.message ?? `injected ${action.code}`);
      return;
    }
  }
}

/** The rules a test arms, and what each did. One per edge; `set` replaces the rules and their counts. */
export class FaultInjector {
  private rules: LiveRule[] = [];

  set(rules: readonly FaultRule[]): void {
    for (const rule of rules) {
      if ((rule.every ?? 1) < 1 || (rule.action.kind === "partial" && rule.action.every < 1)) {
        throw new Error(`fault rule ${rule.service} ${rule.operation}: every must be at least 1`);
      }
    }
    this.rules = rules.map((rule) => ({ rule, matched: 0, injected: 0, entries: 0 }));
  }

  clear(): void {
    this.rules = [];
  }

  counts(): FaultCount[] {
    return this.rules.map(({ rule, matched, injected, entries }) => ({
      service: rule.service,
      operation: rule.operation,
      matched,
      injected,
      entries,
    }));
  }

  /** The rule that faults this request, if any; counts the match either way. */
  private take(service: string, operation: string): LiveRule | undefined {
    for (const live of this.rules) {
      const { rule } = live;
      if (rule.service !== service || rule.operation !== operation) continue;
      const n = live.matched++ - (rule.skip ?? 0);
      if (n < 0 || n % (rule.every ?? 1) !== 0) continue;
      if (rule.times !== undefined && live.injected >= rule.times) continue;
      live.injected++;
      return live;
    }
    return undefined;
  }

  /** Handles the request if a rule faults it; false leaves it to the edge's normal proxying. */
  handle(service: string, req: EdgeRequest, res: EdgeResponse, backend: Backend): boolean {
    const live = this.take(service, operationOf(service, req));
    if (!live) return false;
    inject(live, service, req, res, backend).catch((error: Error) =>
      sendAwsError(res, 502, service, "BadGateway", `fault injection failed: ${error.message}`),
    );
    return true;
  }

  /** `GET|PUT|DELETE /_sluice/faults`: the rules as JSON, so a test in another process can arm them. */
  async control(req: EdgeRequest, res: EdgeResponse): Promise<void> {
    if (req.method === "PUT") {
      try {
        const body = JSON.parse((await readBody(req, "control")).toString("utf8")) as { rules?: FaultRule[] };
        this.set(body.rules ?? []);
      } catch (error) {
        sendJson(res, 400, { error: (error as Error).message });
        return;
      }
    } else if (req.method === "DELETE") {
      this.clear();
    } else if (req.method !== "GET") {
      sendJson(res, 405, { error: "use GET, PUT or DELETE" });
      return;
    }
    sendJson(res, 200, { faults: this.counts() });
  }
}

export interface FaultEdge {
  /** e.g. http://127.0.0.1:40123: point clients here instead of at `upstream`. */
  readonly endpoint: string;
  readonly faults: FaultInjector;
  close(): Promise<void>;
}

/**
 * An edge in front of any AWS-compatible endpoint (the embedded stack, LocalStack) that passes
 * everything through except what its rules fault, so the same fault tests run against both.
 */
export async function startFaultEdge(upstream: string, port = 0): Promise<FaultEdge> {
  const faults = new FaultInjector();
  const running = Object.fromEntries(SERVICES.map((s) => [s, "running"])) as Record<
    ServiceName,
    ServiceStatus
  >;
  const edge = await startEdge({ port, host: "127.0.0.1", status: () => running, faults });
  for (const service of SERVICES) edge.setBackend(service, upstream);
  return { endpoint: `http://127.0.0.1:${edge.port}`, faults, close: () => edge.close() };
}
