/**
 * `sluice grpc-proxy`: options parsed and checked once here, then {@link startGrpcProxy}.
 *
 *   sluice grpc-proxy --target https://abc.execute-api.eu-west-1.amazonaws.com
 *     [--host 127.0.0.1] [--port 50051] [--tls-cert FILE --tls-key FILE [--client-ca FILE]]
 *     [--max-message-bytes N] [--batch-records N] [--batch-bytes N] [--linger-ms N]
 *     [--max-in-flight N] [--max-connections N] [--request-timeout-ms N] [--log-level info]
 *
 * Runs until SIGINT or SIGTERM, then drains: every record read gets its ack before the calls
 * end. Exit code 2 for bad options, 1 when the proxy cannot start.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createLogger, type LogLevel } from "../core/logger.ts";
import { type GrpcProxy, type GrpcProxyOptions, startGrpcProxy } from "./server.ts";

export { type GrpcProxy, type GrpcProxyOptions, startGrpcProxy };

export const GRPC_PROXY_USAGE = `usage: sluice grpc-proxy --target <url> [options]

Serves sluice.v1.IngestService over gRPC and forwards to the HTTPS ingest API at <url>.

options:
  --target <url>              base URL of the ingest API (required)
  --host <addr>               address to listen on (default: 127.0.0.1; 0.0.0.0 in a container)
  --port <n>                  port to listen on (default: 50051)
  --tls-cert <file>           PEM certificate chain: serve TLS
  --tls-key <file>            PEM private key of --tls-cert
  --client-ca <file>          PEM CA bundle: require client certificates it signed (mTLS)
  --max-message-bytes <n>     largest message a client may send (default: 5242880)
  --batch-records <n>         records per forwarded request (default: 500)
  --batch-bytes <n>           body bytes per forwarded request (default: 5242880)
  --linger-ms <n>             how long a streamed record waits for company (default: 20)
  --max-in-flight <n>         requests one stream may have outstanding (default: 4)
  --max-connections <n>       connections to the target (default: 64)
  --request-timeout-ms <n>    how long the target may take to answer (default: 30000)
  --log-level <level>         debug, info, warn or error (default: info)
`;

export class GrpcProxyUsageError extends Error {
  override readonly name = "GrpcProxyUsageError";
}

const LEVELS = new Set(["debug", "info", "warn", "error"]);

function integer(name: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new GrpcProxyUsageError(`--${name} needs an integer >= ${min}, not ${value}`);
  return n;
}

function file(name: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new GrpcProxyUsageError(`--${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code})`);
  }
}

/** Options of `sluice grpc-proxy`, checked; throws GrpcProxyUsageError with what is wrong. */
export function parseGrpcProxyArgs(
  argv: readonly string[],
): GrpcProxyOptions & { readonly logLevel: LogLevel } {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        target: { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "client-ca": { type: "string" },
        "max-message-bytes": { type: "string" },
        "batch-records": { type: "string" },
        "batch-bytes": { type: "string" },
        "linger-ms": { type: "string" },
        "max-in-flight": { type: "string" },
        "max-connections": { type: "string" },
        "request-timeout-ms": { type: "string" },
        "log-level": { type: "string" },
      },
    }) as { values: Record<string, string | undefined> });
  } catch (err) {
    throw new GrpcProxyUsageError((err as Error).message);
  }
  const target = values.target;
  if (!target) throw new GrpcProxyUsageError("--target is required");
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new GrpcProxyUsageError(`--target is not a URL: ${target}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new GrpcProxyUsageError(`--target must be an http or https URL, not ${url.protocol}`);
  }
  const cert = file("tls-cert", values["tls-cert"]);
  const key = file("tls-key", values["tls-key"]);
  const clientCa = file("client-ca", values["client-ca"]);
  if ((cert === undefined) !== (key === undefined)) {
    throw new GrpcProxyUsageError("--tls-cert and --tls-key go together");
  }
  if (clientCa && !cert) throw new GrpcProxyUsageError("--client-ca needs --tls-cert and --tls-key");
  const logLevel = values["log-level"] ?? "info";
  if (!LEVELS.has(logLevel)) throw new GrpcProxyUsageError(`--log-level must be debug, info, warn or error`);

  const numbers = {
    port: integer("port", values.port, 0),
    maxMessageBytes: integer("max-message-bytes", values["max-message-bytes"]),
    batchRecords: integer("batch-records", values["batch-records"]),
    batchBytes: integer("batch-bytes", values["batch-bytes"]),
    lingerMs: integer("linger-ms", values["linger-ms"], 0),
    maxInFlightBatches: integer("max-in-flight", values["max-in-flight"]),
    maxConnections: integer("max-connections", values["max-connections"]),
    requestTimeoutMs: integer("request-timeout-ms", values["request-timeout-ms"]),
  };
  return {
    target,
    logLevel: logLevel as LogLevel,
    ...(values.host ? { host: values.host } : {}),
    ...Object.fromEntries(Object.entries(numbers).filter(([, v]) => v !== undefined)),
    ...(cert && key ? { tls: { cert, key, ...(clientCa ? { clientCa } : {}) } } : {}),
  };
}

/**
 * Runs the proxy from command-line arguments (those after `grpc-proxy`) until SIGINT or
 * SIGTERM, and resolves once it has drained and stopped. Bad options print the usage and set
 * exit code 2; a proxy that cannot start sets exit code 1.
 */
export async function runGrpcProxy(argv: string[]): Promise<void> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(GRPC_PROXY_USAGE);
    return;
  }
  let options: ReturnType<typeof parseGrpcProxyArgs>;
  try {
    options = parseGrpcProxyArgs(argv);
  } catch (err) {
    if (!(err instanceof GrpcProxyUsageError)) throw err;
    process.stderr.write(`error: ${err.message}\n\n${GRPC_PROXY_USAGE}`);
    process.exitCode = 2;
    return;
  }
  const { logLevel, ...proxyOptions } = options;
  const logger = createLogger("sluice-grpc-proxy", logLevel);
  let proxy: GrpcProxy;
  try {
    proxy = await startGrpcProxy({ ...proxyOptions, logger });
  } catch (err) {
    process.stderr.write(`error: the gRPC proxy cannot start: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      logger.info("shutting down", { signal });
      void proxy.close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
