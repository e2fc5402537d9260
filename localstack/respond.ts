/** Answers the edge gives itself (health, errors, faults), shaped as the AWS SDKs expect them. */
import type http from "node:http";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type http2 from "node:http2";

export type EdgeRequest = http.IncomingMessage | http2.Http2ServerRequest;
export type EdgeResponse = http.ServerResponse | http2.Http2ServerResponse;

/** Headers that describe one hop's connection and must not be forwarded (RFC 9110 §7.6.1). */
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
  // The edge already answered (or, for h2, never needed) the 100-continue handshake.
  "expect",
]);

export function sendJson(res: EdgeResponse, status: number, body: unknown, head = false): void {
  const payload = Buffer.from(JSON.stringify(body), "utf8");
  res.writeHead(status, { "content-type": "application/json", "content-length": payload.length });
  if (head) res.end();
  else res.end(payload);
}

function xmlText(text: string): string {
  return text.replace(/[<>&]/g, (c) => (c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&amp;"));
}

/** An error shaped so the SDKs' JSON and XML parsers both surface the code and message. */
export function sendAwsError(
  res: EdgeResponse,
  status: number,
  service: string,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (service === "s3") {
    const payload = Buffer.from(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlText(code)}</Code><Message>${xmlText(message)}</Message></Error>`,
      "utf8",
    );
    res.writeHead(status, { "content-type": "application/xml", "content-length": payload.length });
    res.end(payload);
    return;
  }
  const payload = Buffer.from(JSON.stringify({ __type: code, message, ...extra }), "utf8");
  res.writeHead(status, {
    "content-type": "application/x-amz-json-1.1",
    "content-length": payload.length,
    "x-amzn-errortype": code,
  });
  res.end(payload);
}

export function forwardHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(":") || HOP_BY_HOP.has(name) || value === undefined) continue;
    out[name] = value;
  }
  // HTTP/2 carries the host in :authority; HTTP/1.1 backends need it back in Host.
  const authority = headers[":authority"];
  if (out.host === undefined && typeof authority === "string") out.host = authority;
  return out;
}

export function responseHeaders(source: http.IncomingMessage): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(source.headers)) {
    // Node's HTTP/2 layer throws on connection-specific headers; HTTP/1 re-frames the body itself.
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    headers[name] = value;
  }
  return headers;
}
