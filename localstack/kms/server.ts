/**
 * TEST INFRASTRUCTURE ONLY: serves the KMS emulator over AWS JSON 1.1
 * (`POST /`, `X-Amz-Target: TrentService.<Operation>`).
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import { listenOnLoopback } from "../process.ts";
import { isKmsOperation, KmsEmulator, KmsError } from "./emulator.ts";

const MAX_BODY_BYTES = 1024 * 1024;
const CONTENT_TYPE = "application/x-amz-json-1.1";

export interface KmsServer {
  readonly url: string;
  stop(): Promise<void>;
}

/** Region from the SigV4 credential scope, as KMS ARNs are regional. */
function regionOf(authorization: string | undefined): string {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\/kms\//.exec(authorization ?? "")?.[1] ?? "us-east-1";
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const payload = Buffer.from(JSON.stringify(body), "utf8");
  res.writeHead(status, {
    "content-type": CONTENT_TYPE,
    "content-length": payload.length,
    "x-amzn-requestid": randomUUID(),
  });
  res.end(payload);
}

function sendError(res: http.ServerResponse, error: KmsError): void {
  res.setHeader("x-amzn-errortype", error.type);
  send(res, error.status, { __type: error.type, message: error.message });
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new KmsError("ValidationException", "Request body too large", 413);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

export function createKmsRequestListener(
  emulator: KmsEmulator = new KmsEmulator(),
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    void (async () => {
      try {
        const target = req.headers["x-amz-target"];
        const operation =
          typeof target === "string" && target.startsWith("TrentService.") ? target.slice(13) : "";
        if (req.method !== "POST" || !isKmsOperation(operation)) {
          throw new KmsError(
            "UnknownOperationException",
            `Operation '${operation || target}' is not supported`,
          );
        }
        const raw = await readBody(req);
        let input: unknown;
        try {
          input = raw.length === 0 ? {} : JSON.parse(raw.toString("utf8"));
        } catch {
          throw new KmsError("SerializationException", "Request body is not valid JSON");
        }
        if (typeof input !== "object" || input === null || Array.isArray(input)) {
          throw new KmsError("SerializationException", "Request body must be a JSON object");
        }
        const output = emulator.handle(
          operation,
          input as Record<string, unknown>,
          regionOf(req.headers.authorization),
        );
        send(res, 200, output);
      } catch (error) {
        if (error instanceof KmsError) {
          sendError(res, error);
        } else {
          sendError(
            res,
            new KmsError(
              "KMSInternalException",
              error instanceof Error ? error.message : "internal error",
              500,
            ),
          );
        }
      }
    })();
  };
}

export interface KmsServerOptions {
  /** Keep keys in this file across restarts. @default in memory only */
  readonly keysFile?: string;
}

export async function startKmsServer(options: KmsServerOptions = {}): Promise<KmsServer> {
  const emulator = new KmsEmulator(options.keysFile === undefined ? {} : { keysFile: options.keysFile });
  const server = http.createServer(createKmsRequestListener(emulator));
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
