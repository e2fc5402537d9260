/**
 * A local stand-in for API Gateway (HTTP API, payload format 2.0): turns each HTTP request into
 * the event API Gateway would send, calls the handler in-process and writes its answer back.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { matchRoute } from "../../functions/ingest/routes.ts";

/** API Gateway's own payload limit. */
const MAX_PAYLOAD = 10 * 1024 * 1024;

export type HttpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

export interface HttpGateway {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** How long a body may go without a byte before the request is answered 408. */
export const BODY_IDLE_TIMEOUT_MS = 10_000;

/** A body shorter than its Content-Length would otherwise hold the request open until the client gives up. */
function readBody(req: IncomingMessage, idleMs: number): Promise<Buffer | "TOO_LARGE" | "TIMEOUT"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer = setTimeout(() => resolve("TIMEOUT"), idleMs);
    req.on("data", (c: Buffer) => {
      clearTimeout(timer);
      timer = setTimeout(() => resolve("TIMEOUT"), idleMs);
      size += c.length;
      if (size <= MAX_PAYLOAD) chunks.push(c);
    });
    req.on("end", () => {
      clearTimeout(timer);
      resolve(size > MAX_PAYLOAD ? "TOO_LARGE" : Buffer.concat(chunks));
    });
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export function toEvent(
  req: IncomingMessage,
  body: Buffer,
  routeKey: string,
  pathParameters: Record<string, string>,
): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? "/", "http://localhost");
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(",") : v;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const now = new Date();
  return {
    version: "2.0",
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(Object.keys(pathParameters).length > 0 ? { pathParameters } : {}),
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: headers.host ?? "localhost",
      domainPrefix: "local",
      http: {
        method: req.method ?? "GET",
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey,
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    // Bodies always travel base64-encoded so every byte reaches the handler as sent.
    ...(body.length > 0
      ? { body: body.toString("base64"), isBase64Encoded: true }
      : { isBase64Encoded: false }),
  };
}

/**
 * A route answered as a stream (the tail's server-sent events), as a Lambda function URL with
 * response streaming answers it on AWS: the handler writes as it goes; `signal` ends when the
 * client goes away.
 */
export type StreamingHandler = (
  event: APIGatewayProxyEventV2,
  response: {
    start(status: number, headers: Record<string, string>): void;
    write(chunk: string): Promise<void>;
    end(): void;
  },
  signal: AbortSignal,
) => Promise<void>;

export function startHttpGateway(
  handler: HttpHandler,
  port: number,
  host = "127.0.0.1",
  bodyIdleMs = BODY_IDLE_TIMEOUT_MS,
  /** The streaming handler of a route key, if that route streams. */
  streamingFor: (routeKey: string) => StreamingHandler | undefined = () => undefined,
  /** Pages the dev runner serves beside the API (the console); true when it answered. */
  pages?: (req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<HttpGateway> {
  const server = createServer(async (req, res) => {
    if (pages?.(req, res)) return;
    const send = (
      status: number,
      body: string,
      headers: Record<string, string> = { "content-type": "application/json" },
    ) => {
      res.writeHead(status, headers);
      res.end(body);
    };
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const match = matchRoute(req.method ?? "GET", url.pathname);
      if (match === undefined || match === "METHOD_NOT_ALLOWED") {
        // What API Gateway answers for a route it does not have.
        return send(404, JSON.stringify({ message: "Not Found" }));
      }
      const body = await readBody(req, bodyIdleMs);
      if (body === "TOO_LARGE") return send(413, JSON.stringify({ message: "Request Entity Too Large" }));
      if (body === "TIMEOUT") {
        res.shouldKeepAlive = false;
        return send(
          408,
          JSON.stringify({ message: "Request Timeout: the body ended before its Content-Length" }),
        );
      }
      const event = toEvent(req, body, match.routeKey, match.pathParameters);
      const streaming = streamingFor(match.routeKey);
      if (streaming) {
        const gone = new AbortController();
        res.on("close", () => gone.abort());
        await streaming(
          event,
          {
            start: (status, headers) => res.writeHead(status, headers),
            write: (chunk) =>
              new Promise<void>((resolve, reject) =>
                res.write(chunk, (err) => (err ? reject(err) : resolve())),
              ),
            end: () => res.end(),
          },
          gone.signal,
        );
        return;
      }
      const result = await handler(event);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
      const payload =
        result.body === undefined
          ? ""
          : result.isBase64Encoded
            ? Buffer.from(result.body, "base64")
            : result.body;
      res.writeHead(result.statusCode ?? 200, headers);
      res.end(payload);
    } catch {
      // What API Gateway answers when the integration fails.
      send(500, JSON.stringify({ message: "Internal Server Error" }));
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address() as AddressInfo;
      resolve({
        url: `http://${host}:${address.port}`,
        server,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
