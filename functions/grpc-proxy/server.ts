/**
 * The Sluice gRPC proxy: a @grpc/grpc-js server with sluice.v1.IngestService, the standard
 * health service and server reflection, forwarding records to the HTTPS ingest API.
 *
 * @example
 * const proxy = await startGrpcProxy({ target: "http://127.0.0.1:8080", port: 50051 });
 * // ... later
 * await proxy.close();
 */
import { readFileSync } from "node:fs";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { createLogger, type Logger } from "../core/logger.ts";
import { DescriptorIndex } from "./descriptors.ts";
import { Forwarder } from "./forwarder.ts";
import { HealthState } from "./health.ts";
import { createIngestService } from "./ingest-service.ts";
import {
  DESCRIPTOR_SET_PATH,
  HEALTH_SERVICE,
  INGEST_SERVICE,
  loadProtos,
  QUERY_SERVICE,
  REFLECTION_SERVICES,
  serviceDefinition,
  tolerantServiceDefinition,
} from "./protos.ts";
import { createQueryService } from "./query-service.ts";
import { reflectionService } from "./reflection.ts";
import { ProxyStats, type ProxyStatsSnapshot } from "./stats.ts";
import type { CoalescingLimits, StreamSession } from "./stream-session.ts";

const MiB = 1024 * 1024;

export interface GrpcProxyTls {
  /** PEM certificate chain the proxy presents. */
  readonly cert: string | Buffer;
  /** PEM private key of that certificate. */
  readonly key: string | Buffer;
  /** PEM CA bundle; when set, clients must present a certificate it signed (mTLS). */
  readonly clientCa?: string | Buffer;
}

export interface GrpcProxyOptions {
  /** Base URL of the HTTPS ingest API, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com`. */
  readonly target: string;
  /** @default 50051; 0 picks a free port */
  readonly port?: number;
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** TLS, and mTLS with `clientCa`. @default plaintext */
  readonly tls?: GrpcProxyTls;
  /** Largest message a client may send; larger ones fail with RESOURCE_EXHAUSTED. @default 5 MiB */
  readonly maxMessageBytes?: number;
  /** Records per forwarded request. @default 500 */
  readonly batchRecords?: number;
  /** Body bytes per forwarded request. @default 5 MiB (the ingest API's limit) */
  readonly batchBytes?: number;
  /** How long a streamed record waits for others to share its request. @default 20 */
  readonly lingerMs?: number;
  /** Requests one stream call may have outstanding before it stops reading. @default 4 */
  readonly maxInFlightBatches?: number;
  /** Connections to the target, shared by all calls. @default 64 */
  readonly maxConnections?: number;
  /** How long the target may take to answer one request. @default 30000 */
  readonly requestTimeoutMs?: number;
  /** How long close() lets stream calls drain before cutting them. @default 10000 */
  readonly shutdownGraceMs?: number;
  /** @default JSON lines on stdout at info */
  readonly logger?: Logger;
}

export interface GrpcProxy {
  readonly port: number;
  /** `host:port` to dial. */
  readonly address: string;
  stats(): ProxyStatsSnapshot;
  /** Stops serving: health NOT_SERVING, stream calls drained (acks out), then the server stops. */
  close(): Promise<void>;
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, not ${value}`);
  return value;
}

export async function startGrpcProxy(options: GrpcProxyOptions): Promise<GrpcProxy> {
  const logger = options.logger ?? createLogger("sluice-grpc-proxy");
  const maxMessageBytes = positive("maxMessageBytes", options.maxMessageBytes ?? 5 * MiB);
  const batchRecords = positive("batchRecords", options.batchRecords ?? 500);
  const batchBytes = positive("batchBytes", options.batchBytes ?? 5 * MiB);
  const maxInFlightBatches = positive("maxInFlightBatches", options.maxInFlightBatches ?? 4);
  const limits: CoalescingLimits = {
    maxBatchRecords: batchRecords,
    maxBatchBytes: batchBytes,
    lingerMs: Math.max(0, options.lingerMs ?? 20),
    maxInFlightBatches,
    // Enough to keep every in-flight slot full and one batch filling behind them.
    maxBufferedRecords: batchRecords * (maxInFlightBatches + 1),
    maxBufferedBytes: batchBytes * (maxInFlightBatches + 1),
  };
  const forwarder = new Forwarder({
    target: options.target,
    maxConnections: positive("maxConnections", options.maxConnections ?? 64),
    requestTimeoutMs: positive("requestTimeoutMs", options.requestTimeoutMs ?? 30_000),
    logger,
  });
  const stats = new ProxyStats();
  const sessions = new Set<StreamSession>();
  const definition = loadProtos();
  const index = new DescriptorIndex(readFileSync(DESCRIPTOR_SET_PATH));
  const served = [INGEST_SERVICE, QUERY_SERVICE, HEALTH_SERVICE, ...REFLECTION_SERVICES];
  const health = new HealthState([INGEST_SERVICE, QUERY_SERVICE]);

  const server = new Server({
    "grpc.max_receive_message_length": maxMessageBytes,
    // Each stream call holds a bounded buffer; this bounds the calls per connection.
    "grpc.max_concurrent_streams": 256,
  });
  server.addService(
    tolerantServiceDefinition(definition, INGEST_SERVICE),
    createIngestService({ forwarder, limits, stats, logger, sessions }),
  );
  server.addService(
    tolerantServiceDefinition(definition, QUERY_SERVICE),
    createQueryService({
      target: options.target,
      logger,
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
    }),
  );
  server.addService(serviceDefinition(definition, HEALTH_SERVICE), health.service());
  for (const name of REFLECTION_SERVICES) {
    server.addService(serviceDefinition(definition, name), reflectionService(index, served));
  }

  const credentials = options.tls
    ? ServerCredentials.createSsl(
        options.tls.clientCa ? Buffer.from(options.tls.clientCa) : null,
        [{ cert_chain: Buffer.from(options.tls.cert), private_key: Buffer.from(options.tls.key) }],
        options.tls.clientCa !== undefined,
      )
    : ServerCredentials.createInsecure();
  const host = options.host ?? "127.0.0.1";
  const bindHost = host.includes(":") ? `[${host}]` : host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${bindHost}:${options.port ?? 50051}`, credentials, (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  logger.info("grpc proxy listening", {
    address: `${bindHost}:${port}`,
    target: new URL(options.target).origin,
    tls: options.tls ? (options.tls.clientCa ? "mtls" : "tls") : "off",
  });

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    health.stopServing();
    const grace = options.shutdownGraceMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const drained = Promise.all([...sessions].map((s) => s.shutdown()));
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), grace);
      }),
    ]);
    clearTimeout(timer);
    await new Promise<void>((resolve) => {
      if (timedOut) {
        server.forceShutdown();
        resolve();
        return;
      }
      // Unary calls still running finish; new calls are refused.
      const cut = setTimeout(() => server.forceShutdown(), grace);
      server.tryShutdown(() => {
        clearTimeout(cut);
        resolve();
      });
    });
    forwarder.close();
    logger.info("grpc proxy stopped", { drainTimedOut: timedOut, ...stats.snapshot() });
  }

  return {
    port,
    address: `${bindHost}:${port}`,
    stats: () => stats.snapshot(),
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}
