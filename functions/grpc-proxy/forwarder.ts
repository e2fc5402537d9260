/**
 * Sends batch bodies to the HTTPS ingest API over keep-alive connections and reads back either
 * the per-record results or the refusal of the whole request. Nothing here retries a request
 * the target may have processed: the one retry is for a pooled connection the server had
 * already closed, which never reached it.
 */
import http from "node:http";
import https from "node:https";
import { status } from "@grpc/grpc-js";
import type { Logger } from "../core/logger.ts";
import { type Refusal, refusalFromResponse, type TargetResult, unreachable } from "./status.ts";

export interface ForwarderOptions {
  /** Base URL of the ingest API, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com`. */
  readonly target: string;
  /** Connections to the target, shared by all calls; more requests wait for one. */
  readonly maxConnections: number;
  /** How long one request may take before the proxy gives up on it. */
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
}

export interface ForwardRequest {
  readonly stream: string;
  readonly body: Buffer;
  readonly records: number;
  /** Credentials passed through unchanged (`authorization`, `x-api-key`). */
  readonly headers: Readonly<Record<string, string>>;
  /** Epoch ms after which the caller no longer waits (the gRPC deadline). */
  readonly deadline?: number;
}

export type ForwardOutcome =
  | {
      readonly kind: "results";
      readonly results: readonly TargetResult[];
      readonly retryAfterSeconds?: number;
    }
  | { readonly kind: "refused"; readonly refusal: Refusal };

/** Answers this large are not the ingest API's (500 results are a few tens of KiB). */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

interface RawResponse {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly body: Buffer;
}

class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    /** The request went out on a pooled connection and no answer byte came back. */
    readonly staleConnection: boolean,
  ) {
    super(message);
  }
}

function retryAfterOf(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(1, Math.ceil((at - Date.now()) / 1000));
}

function isResults(body: unknown, count: number): body is { results: TargetResult[] } {
  const results = (body as { results?: unknown } | null)?.results;
  return (
    Array.isArray(results) &&
    results.length === count &&
    results.every(
      (r) => r !== null && typeof r === "object" && typeof (r as { status?: unknown }).status === "string",
    )
  );
}

export class Forwarder {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly client: typeof http | typeof https;

  constructor(private readonly options: ForwarderOptions) {
    this.base = new URL(options.target);
    if (this.base.protocol !== "http:" && this.base.protocol !== "https:") {
      throw new Error(`the target must be an http or https URL, not ${this.base.protocol}`);
    }
    this.client = this.base.protocol === "https:" ? https : http;
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.maxConnections,
      maxFreeSockets: options.maxConnections,
      scheduling: "lifo" as const,
    };
    this.agent =
      this.base.protocol === "https:" ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  urlFor(stream: string): URL {
    const url = new URL(this.base);
    url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/streams/${encodeURIComponent(stream)}/records`;
    return url;
  }

  async forward(request: ForwardRequest): Promise<ForwardOutcome> {
    const url = this.urlFor(request.stream);
    const timeoutMs = Math.max(
      1,
      Math.min(
        this.options.requestTimeoutMs,
        request.deadline === undefined ? Infinity : request.deadline - Date.now(),
      ),
    );
    let raw: RawResponse;
    try {
      raw = await this.send(url, request, timeoutMs).catch((err: unknown) => {
        if (err instanceof TransportError && err.staleConnection) return this.send(url, request, timeoutMs);
        throw err;
      });
    } catch (err) {
      const code = err instanceof TransportError ? err.code : undefined;
      this.options.logger.warn("target unreachable", {
        stream: request.stream,
        records: request.records,
        error: code ?? "ERROR",
      });
      return {
        kind: "refused",
        refusal: unreachable(`the ingest API cannot be reached: ${(err as Error).message}`),
      };
    }
    const retryAfterSeconds = retryAfterOf(raw.retryAfter);
    let body: unknown;
    try {
      body = JSON.parse(raw.body.toString("utf8"));
    } catch {
      body = undefined;
    }
    if (isResults(body, request.records)) {
      return {
        kind: "results",
        results: body.results,
        ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
      };
    }
    if (raw.status < 300) {
      return {
        kind: "refused",
        refusal: {
          ...unreachable(`the target answered HTTP ${raw.status} without one result per record`),
          code: "INTERNAL",
          grpcStatus: status.INTERNAL,
        },
      };
    }
    return { kind: "refused", refusal: refusalFromResponse(raw.status, body, retryAfterSeconds) };
  }

  private send(url: URL, request: ForwardRequest, timeoutMs: number): Promise<RawResponse> {
    return new Promise<RawResponse>((resolve, reject) => {
      let answered = false;
      const req = this.client.request(url, {
        method: "POST",
        agent: this.agent,
        headers: {
          "content-type": "application/json",
          "content-length": String(request.body.length),
          "user-agent": "sluice-grpc-proxy",
          ...request.headers,
        },
      });
      const timer = setTimeout(() => {
        req.destroy(new TransportError(`no answer within ${timeoutMs} ms`, "ETIMEDOUT", false));
      }, timeoutMs);
      req.on("response", (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES)
            req.destroy(new TransportError("the answer is too large", "E2BIG", false));
          else chunks.push(chunk);
        });
        res.on("end", () => {
          clearTimeout(timer);
          const retryAfter = res.headers["retry-after"];
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
            body: Buffer.concat(chunks),
          });
        });
        res.on("error", (err) => {
          clearTimeout(timer);
          reject(new TransportError(err.message, (err as NodeJS.ErrnoException).code, false));
        });
      });
      req.on("error", (err) => {
        clearTimeout(timer);
        if (err instanceof TransportError) return reject(err);
        const code = (err as NodeJS.ErrnoException).code;
        reject(new TransportError(err.message, code, req.reusedSocket && !answered && code === "ECONNRESET"));
      });
      req.end(request.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
