/**
 * TEST INFRASTRUCTURE ONLY: the AWS JSON 1.0/1.1 plumbing (`POST /`, `X-Amz-Target`) shared by the
 * in-repo emulators.
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import http, { type IncomingHttpHeaders } from "node:http";
import { gunzipSync } from "node:zlib";
import { listenOnLoopback } from "./process.ts";

const MAX_BODY_BYTES = 1024 * 1024;

export type JsonObject = Record<string, unknown>;

/** An error in AWS JSON 1.1's shape: `__type` names it (the SDKs map it to an exception class). */
export class AwsJsonError extends Error {
  readonly type: string;
  readonly status: number;
  /**
   * `Code;Fault` for services that also speak the Query protocol (CloudWatch): the SDKs read the
   * error's Query name from the `x-amzn-query-error` header.
   */
  readonly queryError?: string;

  constructor(type: string, message: string, status = 400, queryError?: string) {
    super(message);
    this.type = type;
    this.status = status;
    if (queryError !== undefined) this.queryError = queryError;
  }
}

/** One emulated service: what it answers to and how its errors are spelled. */
export interface AwsJsonService<Operation extends string> {
  /** The X-Amz-Target prefix before the operation name, e.g. `TrentService.`. */
  readonly targetPrefix: string;
  /** Where the error text goes: KMS sends `message`, Glue `Message`; the SDKs read either. */
  readonly messageField: "message" | "Message";
  /** `__type` for a malformed request (bad JSON, too large). */
  readonly invalidRequestType: string;
  /** `__type` for a failure of the emulator itself (HTTP 500). */
  readonly internalErrorType: string;
  /** `1.0` (CloudWatch, DynamoDB, SQS) or `1.1` (KMS, Glue): only the content type differs. @default "1.1" */
  readonly jsonVersion?: "1.0" | "1.1";
  isOperation(name: string): name is Operation;
  /**
   * Each change runs synchronously, as one writer; an answer may wait for something to happen
   * (SQS's long polling) and then read the state as it is.
   */
  handle(
    operation: Operation,
    input: JsonObject,
    headers: IncomingHttpHeaders,
  ): JsonObject | Promise<JsonObject>;
}

export interface AwsJsonServer {
  readonly url: string;
  stop(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, body: unknown, contentType: string): void {
  const payload = Buffer.from(JSON.stringify(body), "utf8");
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": payload.length,
    "x-amzn-requestid": randomUUID(),
  });
  res.end(payload);
}

async function readBody(req: http.IncomingMessage, invalidRequestType: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new AwsJsonError(invalidRequestType, "Request body too large", 413);
    chunks.push(buffer);
  }
  const body = Buffer.concat(chunks);
  // CloudWatch's PutMetricData is sent gzipped once it passes the SDK's compression threshold.
  if (req.headers["content-encoding"] !== "gzip") return body;
  try {
    return gunzipSync(body, { maxOutputLength: MAX_BODY_BYTES });
  } catch {
    throw new AwsJsonError(invalidRequestType, "Request body is not valid gzip or is too large");
  }
}

async function parseRequest(req: http.IncomingMessage, invalidRequestType: string): Promise<JsonObject> {
  const raw = await readBody(req, invalidRequestType);
  let input: unknown;
  try {
    input = raw.length === 0 ? {} : JSON.parse(raw.toString("utf8"));
  } catch {
    throw new AwsJsonError("SerializationException", "Request body is not valid JSON");
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new AwsJsonError("SerializationException", "Request body must be a JSON object");
  }
  return input as JsonObject;
}

export function createAwsJsonListener<Operation extends string>(
  service: AwsJsonService<Operation>,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const contentType = `application/x-amz-json-${service.jsonVersion ?? "1.1"}`;
  const sendError = (res: http.ServerResponse, error: AwsJsonError): void => {
    res.setHeader("x-amzn-errortype", error.type);
    if (error.queryError !== undefined) res.setHeader("x-amzn-query-error", error.queryError);
    send(res, error.status, { __type: error.type, [service.messageField]: error.message }, contentType);
  };
  return (req, res) => {
    void (async () => {
      try {
        const target = req.headers["x-amz-target"];
        const operation =
          typeof target === "string" && target.startsWith(service.targetPrefix)
            ? target.slice(service.targetPrefix.length)
            : "";
        if (req.method !== "POST" || !service.isOperation(operation)) {
          throw new AwsJsonError(
            "UnknownOperationException",
            `Operation '${operation || target}' is not supported`,
          );
        }
        const input = await parseRequest(req, service.invalidRequestType);
        send(res, 200, await service.handle(operation, input, req.headers), contentType);
      } catch (error) {
        if (error instanceof AwsJsonError) {
          sendError(res, error);
        } else {
          const message = error instanceof Error ? error.message : "internal error";
          sendError(res, new AwsJsonError(service.internalErrorType, message, 500));
        }
      }
    })();
  };
}

export async function startAwsJsonServer<Operation extends string>(
  service: AwsJsonService<Operation>,
): Promise<AwsJsonServer> {
  const server = http.createServer(createAwsJsonListener(service));
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}
