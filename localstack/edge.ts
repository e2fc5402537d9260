import { once } from "node:events";
import http, { type IncomingHttpHeaders } from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { pipeline } from "node:stream";
import { AwsChunkedDecoder, AwsChunkedError, decodedHeaders, isAwsChunked } from "./aws-chunked.ts";
import type { FaultInjector } from "./faults.ts";
import {
  type EdgeRequest,
  type EdgeResponse,
  forwardHeaders,
  responseHeaders,
  sendAwsError,
  sendJson,
} from "./respond.ts";

export const SERVICES = ["kinesis", "dynamodb", "s3", "kms", "glue", "sqs", "cloudwatch", "athena"] as const;
export type ServiceName = (typeof SERVICES)[number];
export type ServiceStatus = "running" | "starting" | "error";

/** Every HTTP/2 connection starts with these bytes ("prior knowledge" h2c, RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const HEALTH_PATHS = new Set(["/_localstack/health", "/_sluice/health"]);
const FAULTS_PATH = "/_sluice/faults";

const TARGET_PREFIXES: readonly (readonly [string, ServiceName])[] = [
  ["Kinesis_", "kinesis"],
  ["DynamoDBStreams_", "dynamodb"],
  ["DynamoDB_", "dynamodb"],
  ["TrentService.", "kms"],
  ["AWSGlue.", "glue"],
  ["AmazonSQS.", "sqs"],
  ["GraniteServiceVersion20100801.", "cloudwatch"],
  ["AmazonAthena.", "athena"],
];

/** Signing names that differ from the service's own: CloudWatch signs as `monitoring`. */
const SIGNING_NAMES: Readonly<Record<string, ServiceName>> = { monitoring: "cloudwatch" };

/**
 * Which service a request is for: the SigV4 credential scope is authoritative (every SDK call is
 * signed), the JSON protocols' X-Amz-Target covers unsigned calls, a presigned URL carries the scope
 * in its query, and anything else is S3 (browsers, curl, SigV2), as on LocalStack.
 */
export function routeService(headers: IncomingHttpHeaders, url: string): string {
  const authorization = headers.authorization;
  const scope = /Credential=[^/,\s]*\/\d{8}\/[^/]*\/([^/]+)\/aws4_request/.exec(authorization ?? "")?.[1];
  if (scope) return SIGNING_NAMES[scope] ?? scope;

  const target = headers["x-amz-target"];
  if (typeof target === "string") {
    for (const [prefix, service] of TARGET_PREFIXES) {
      if (target.startsWith(prefix)) return service;
    }
  }

  const queryStart = url.indexOf("?");
  if (queryStart >= 0) {
    const credential = new URLSearchParams(url.slice(queryStart + 1)).get("X-Amz-Credential");
    const service = credential?.split("/")[3];
    if (service) return SIGNING_NAMES[service] ?? service;
  }
  return "s3";
}

function isServiceName(name: string): name is ServiceName {
  return (SERVICES as readonly string[]).includes(name);
}

export interface EdgeServer {
  readonly port: number;
  /** Where each service's backend listens; requests for a service without one get a 503. */
  setBackend(service: ServiceName, url: string): void;
  close(): Promise<void>;
}

export interface EdgeOptions {
  port: number;
  host: string;
  status: () => Record<ServiceName, ServiceStatus>;
  /** Test-only: service faults by rule, armed in-process or at `/_sluice/faults`. */
  faults?: FaultInjector;
}

function proxy(
  req: EdgeRequest,
  res: EdgeResponse,
  service: ServiceName,
  backend: URL,
  agent: http.Agent,
): void {
  const headers = forwardHeaders(req.headers);
  const dechunk = service === "s3" && isAwsChunked(req.headers);
  if (dechunk) decodedHeaders(headers as Record<string, string | string[] | undefined>);

  const upstream = http.request({
    host: backend.hostname,
    port: backend.port,
    method: req.method,
    path: req.url,
    headers,
    agent,
  });
  upstream.on("response", (upstreamRes) => {
    if (res.destroyed) {
      upstreamRes.destroy();
      return;
    }
    res.writeHead(upstreamRes.statusCode ?? 502, responseHeaders(upstreamRes));
    pipeline(upstreamRes, res as NodeJS.WritableStream, () => {});
  });
  const fail = (error: Error | null | undefined): void => {
    if (!error) return;
    upstream.destroy();
    if (res.headersSent || res.destroyed) {
      res.destroy();
    } else if (error instanceof AwsChunkedError) {
      sendAwsError(res, 400, service, "IncompleteBody", error.message);
    } else {
      sendAwsError(res, 502, service, "BadGateway", `${service} backend unavailable: ${error.message}`);
    }
  };
  upstream.on("error", fail);
  // Client went away mid-request: don't leave the backend request dangling.
  res.on("close", () => {
    if (!upstream.writableFinished || !res.writableFinished) upstream.destroy();
  });
  if (dechunk) {
    pipeline(req, new AwsChunkedDecoder(), upstream, fail);
  } else {
    pipeline(req, upstream, fail);
  }
}

/**
 * The single endpoint in front of all emulators. One TCP listener serves HTTP/1.1 and h2c: the
 * AWS SDK v3 Kinesis client defaults to HTTP/2, and kinesis-mock's own h2c fails with protocol
 * errors, so the edge terminates HTTP/2 itself and talks HTTP/1.1 to every backend.
 */
export async function startEdge(options: EdgeOptions): Promise<EdgeServer> {
  const backends = new Map<ServiceName, URL>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();

  const onRequest = (req: EdgeRequest, res: EdgeResponse): void => {
    const pathname = (req.url ?? "/").split("?")[0] ?? "/";
    if ((req.method === "GET" || req.method === "HEAD") && HEALTH_PATHS.has(pathname)) {
      sendJson(
        res,
        200,
        { services: options.status(), edition: "community", version: "sluice-embedded" },
        req.method === "HEAD",
      );
      return;
    }
    if (options.faults && pathname === FAULTS_PATH) {
      void options.faults.control(req, res);
      return;
    }
    const service = routeService(req.headers, req.url ?? "/");
    if (!isServiceName(service)) {
      sendAwsError(
        res,
        501,
        service,
        "InternalFailure",
        `Service '${service}' is not available in the embedded stack`,
      );
      return;
    }
    const backend = backends.get(service);
    if (!backend) {
      sendAwsError(res, 503, service, "ServiceUnavailable", `${service} is still starting`);
      return;
    }
    if (options.faults?.handle(service, req, res, { url: backend, agent })) return;
    proxy(req, res, service, backend, agent);
  };

  const h1 = http.createServer(onRequest);
  const h2 = http2.createServer(
    {
      // Large PutRecords bodies: let clients send without waiting on 64 KiB window updates.
      settings: { initialWindowSize: 4 * 1024 * 1024 },
      maxSessionMemory: 64,
    },
    onRequest,
  );
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    session.once("connect", () => session.setLocalWindowSize(16 * 1024 * 1024));
  });

  const onConnection = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // Errors before a server owns the socket (e.g. a client resetting mid-preface) are not ours to report.
    const ignore = (): void => {};
    socket.on("error", ignore);
    let seen: Buffer = Buffer.alloc(0);
    const sniff = (chunk: Buffer): void => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, H2_PREFACE.length);
      const matches = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (matches && n < H2_PREFACE.length) return;
      socket.off("data", sniff);
      socket.pause();
      socket.unshift(seen);
      socket.off("error", ignore);
      if (matches) {
        // Http2Session drains bytes already buffered on the socket when it takes it over.
        h2.emit("connection", socket);
      } else {
        // The HTTP/1 parser reads straight from the socket handle from now on; the sniffed bytes
        // sit in the JS buffer and only reach it via "data". resume() flushes them on the next
        // tick, before any further network read can be delivered, so order is kept.
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", sniff);
  };

  const listen = (server: net.Server, port: number, host: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });

  const listeners = [net.createServer(onConnection)];
  await listen(listeners[0]!, options.port, options.host);
  const address = listeners[0]!.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  if (options.host === "127.0.0.1") {
    // "localhost" may resolve to ::1 first (LocalStack docs use http://localhost:4566); best effort,
    // as the host may have no IPv6 or something else may own [::1]:port.
    const v6 = net.createServer(onConnection);
    if (
      await listen(v6, port, "::1").then(
        () => true,
        () => false,
      )
    )
      listeners.push(v6);
  }

  return {
    port,
    setBackend(service, url) {
      backends.set(service, new URL(url));
    },
    async close() {
      const closed = listeners.map((listener) => once(listener, "close"));
      for (const listener of listeners) listener.close();
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await Promise.all(closed);
    },
  };
}
