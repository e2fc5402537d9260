/**
 * Runs Sluice's functions in-process against a LocalStack-compatible endpoint, with what AWS
 * puts around them: the HTTP API in front of ingest, one event source mapping per pipeline in
 * front of its batcher, and synchronous invoke of transformers by function name.
 */

import type { GlueClient } from "@aws-sdk/client-glue";
import { createAdminApp } from "../../functions/admin/app.ts";
import { createBatchApp } from "../../functions/batch/app.ts";
import { type CommitApp, createCommitApp, icebergSinks } from "../../functions/commit/app.ts";
import { createAuth } from "../../functions/core/auth/index.ts";
import {
  type AwsClients,
  clientBase,
  cloudWatchClient,
  createAwsClients,
} from "../../functions/core/aws-clients.ts";
import { createGlueClient } from "../../functions/core/catalog/glue-client.ts";
import { pipelineFilter } from "../../functions/core/esm-filter.ts";
import type {
  TransformationEvent,
  TransformationResponse,
  TransformerInvoker,
} from "../../functions/core/firehose-contract.ts";
import type { HttpApp } from "../../functions/core/http-app.ts";
import type { CommitResult } from "../../functions/core/iceberg/committer.ts";
import { ImportJobs } from "../../functions/core/imports/jobs.ts";
import { lambdaInvoker } from "../../functions/core/lambda-invoker.ts";
import type { Logger } from "../../functions/core/logger.ts";
import type { Manifest } from "../../functions/core/manifest/types.ts";
import {
  BATCH_SERVICE,
  IMPORT_SERVICE,
  INGEST_SERVICE,
  metricsOptions,
} from "../../functions/core/metrics.ts";
import { LOCAL_ACCOUNT, resourceNames } from "../../functions/core/names.ts";
import { type RuntimeConfig, runtimeConfig } from "../../functions/core/runtime-config.ts";
import { readConfig } from "../../functions/core/runtime-env.ts";
import { createImportsApp } from "../../functions/imports/app.ts";
import { createChunkApp } from "../../functions/imports/chunk-app.ts";
import { createIngestApp } from "../../functions/ingest/app.ts";
import { isAdminRoute, isImportRoute, isQueryRoute, isRegistryRoute } from "../../functions/ingest/routes.ts";
import { createQueryApp, queryCore } from "../../functions/query/app.ts";
import { createTailApp } from "../../functions/query/tail-app.ts";
import { createRegistryApp } from "../../functions/registry/app.ts";
import { createTransformer } from "../../functions/transform/transformer.ts";
import { createConsoleServer } from "./console-server.ts";
import { MetricsForwarder } from "./emf-extract.ts";
import { LogStreamMetrics } from "./emf-metrics.ts";
import { type EventSourceMapping, matchesPattern, startEventSourceMapping } from "./event-source-mapping.ts";
import { type HttpGateway, startHttpGateway } from "./http-gateway.ts";
import { provision } from "./provision.ts";
import { type SqsEventSource, startSqsEventSource } from "./sqs-event-source.ts";

export type TransformerFunction = (event: TransformationEvent) => Promise<TransformationResponse>;

export interface LocalRunnerOptions {
  readonly manifest: Manifest;
  readonly endpoint: string;
  /** @default "us-east-1" */
  readonly region?: string;
  /** Port of the local HTTP API; 0 picks a free one. @default 8080 */
  readonly httpPort?: number;
  readonly logger: Logger;
  /** In-process transformers by function name; other names are invoked through Lambda. */
  readonly transformers?: ReadonlyMap<string, TransformerFunction>;
  /** @default 200 */
  readonly pollIntervalMs?: number;
  /** Fault injection for in-process tests, per pipeline: runs after put, before commit. */
  readonly beforeCommit?: (pipeline: string) => Promise<void> | void;
  /** Run the pipelines' event source mappings and batchers. @default true */
  readonly pipelines?: boolean;
  /**
   * How often the Iceberg committer runs for the Iceberg sinks, as the schedule does in AWS;
   * 0 leaves it to `commit()`. @default 1000
   */
  readonly commitIntervalMs?: number;
  /** Called after each commit that added a snapshot (`npm start` prints them). */
  readonly onSnapshot?: (sink: string, result: CommitResult) => void;
  /** Per-call transformer timeout in the batchers. @default 60000 */
  readonly transformTimeoutMs?: number;
  /** Cache time of a subject's latest schema in the ingest function. @default 30000 */
  readonly schemaTtlMs?: number;
  /** Idempotency lock of the ingest function, shortened by crash tests. @default 60 */
  readonly idempotencyLockSeconds?: number;
  /** How long the ingest function reuses one readiness probe. @default 5000 */
  readonly healthTtlMs?: number;
  /**
   * An admin API key from an earlier run (e.g. `.sluice/dev-key`) to keep using if the apiKeys
   * table still knows it and it is enabled; otherwise a new one is created.
   */
  readonly reuseDevKey?: string;
  /** Run the import jobs' chunk worker on its queue. @default true */
  readonly imports?: boolean;
  /** JSON-lines objects larger than this are cut into chunks. @default 16 MiB */
  readonly importChunkBytes?: number;
}

export interface LocalRunner {
  readonly url: string;
  /** An admin API key for this run (reused or new); undefined when the manifest turns API keys off. */
  readonly devKey?: string;
  /** True when `devKey` is the `reuseDevKey` passed in. */
  readonly devKeyReused: boolean;
  /** The console's sign-in link: it works once, and each call makes a new one (see console-server.ts). */
  consoleLink(): string;
  readonly config: RuntimeConfig;
  readonly clients: AwsClients;
  readonly glue: GlueClient;
  readonly mappings: ReadonlyMap<string, EventSourceMapping>;
  /** The import chunks' event source mapping; absent with `imports: false`. */
  readonly importChunks?: SqsEventSource;
  /** Runs the Iceberg committer once for every Iceberg sink (serialized with the timer's runs). */
  commit(): Promise<Record<string, CommitResult>>;
  /** Waits until every pipeline has processed everything on the stream. */
  drained(timeoutMs?: number): Promise<void>;
  /** Puts the metrics of every EMF line the functions wrote so far (they go out within 250 ms anyway). */
  metricsFlushed(): Promise<void>;
  stop(): Promise<void>;
}

export async function startLocalRunner(o: LocalRunnerOptions): Promise<LocalRunner> {
  const region = o.region ?? "us-east-1";
  const config = runtimeConfig(o.manifest, LOCAL_ACCOUNT, region);
  const clients = createAwsClients({ endpoint: o.endpoint, region });
  const glue = createGlueClient({ endpoint: o.endpoint, region });
  await provision(clients, glue, o.manifest, config);
  const apiKeys = createAuth(config.auth, {
    dynamo: clients.dynamo,
    apiKeysTable: config.tables.apiKeys,
  }).apiKeys;
  const reusable =
    apiKeys && o.reuseDevKey !== undefined && (await apiKeys.lookup(o.reuseDevKey))?.role === "admin";
  const devKey = !apiKeys
    ? undefined
    : reusable
      ? o.reuseDevKey
      : (await apiKeys.create({ name: "dev", role: "admin", streams: "*" })).key;

  // Built-in transformers run in-process under their function names, as Lambda would run them.
  const names = resourceNames(o.manifest.name, LOCAL_ACCOUNT, region);
  const inProcess = new Map<string, TransformerFunction>();
  for (const p of Object.values(config.pipelines)) {
    if (p.steps.length > 0 && p.transformer === names.transformFunction(p.name)) {
      inProcess.set(p.transformer, createTransformer(p.steps));
    }
  }
  for (const [name, fn] of o.transformers ?? []) inProcess.set(name, fn);
  const remote = lambdaInvoker(clients.lambda);
  const invoke: TransformerInvoker = (name, event) => {
    const local = inProcess.get(name);
    return local ? local(event) : remote(name, event);
  };

  // The functions' EMF goes to CloudWatch as CloudWatch Logs would send it (./emf-extract.ts).
  const metricsLog = o.logger.child({ function: "metrics" });
  const cloudWatch = cloudWatchClient(clientBase({ endpoint: o.endpoint, region }));
  const forwarder = new MetricsForwarder({ cloudWatch, logger: metricsLog });
  const metricsFor = (service: string, dimensions: Record<string, string> = {}) =>
    new LogStreamMetrics(metricsOptions(config.app, service, metricsLog, dimensions), forwarder.write);

  const ingest = createIngestApp({
    config,
    clients,
    logger: o.logger.child({ function: "ingest" }),
    metrics: metricsFor(INGEST_SERVICE),
    ...(o.schemaTtlMs === undefined ? {} : { schemaTtlMs: o.schemaTtlMs }),
    ...(o.idempotencyLockSeconds === undefined ? {} : { idempotencyLockSeconds: o.idempotencyLockSeconds }),
    ...(o.healthTtlMs === undefined ? {} : { healthTtlMs: o.healthTtlMs }),
  });
  const registry = createRegistryApp({
    config,
    clients,
    glue,
    logger: o.logger.child({ function: "registry" }),
  });
  const admin = createAdminApp({
    config,
    clients: { ...clients, cloudWatch },
    logger: o.logger.child({ function: "admin" }),
  });
  // The read apps get the slice the deployed query function gets, so tests read with it.
  const queryDeps = {
    config: readConfig(config),
    clients,
    glue,
    logger: o.logger.child({ function: "query" }),
    pollMs: 100,
  };
  const readCore = queryCore(queryDeps);
  const query = createQueryApp(queryDeps, readCore);
  const tail = createTailApp(queryDeps, readCore);
  const jobs = new ImportJobs(clients.dynamo, config.tables.control);
  const imports = createImportsApp({
    config,
    clients,
    jobs,
    logger: o.logger.child({ function: "imports" }),
    ...(o.importChunkBytes === undefined ? {} : { chunkBytes: o.importChunkBytes }),
  });
  // One port for all, as API Gateway routes each path to its function.
  const api: HttpApp = (event) =>
    isRegistryRoute(event.routeKey)
      ? registry(event)
      : isAdminRoute(event.routeKey)
        ? admin(event)
        : isQueryRoute(event.routeKey)
          ? query(event)
          : isImportRoute(event.routeKey)
            ? imports(event)
            : ingest(event);
  const consoleServer = createConsoleServer(devKey);
  let gateway: HttpGateway;
  try {
    gateway = await startHttpGateway(
      api,
      o.httpPort ?? 8080,
      undefined,
      undefined,
      (routeKey) => (routeKey === "GET /v1/streams/{stream}/tail" ? tail : undefined),
      consoleServer.handle,
    );
  } catch (err) {
    if ((err as { code?: string }).code === "EADDRINUSE") {
      throw new Error(`port ${o.httpPort ?? 8080} is already in use: stop what holds it or pass --port`);
    }
    throw err;
  }
  consoleServer.setApiBase(gateway.url);

  const mappings = new Map<string, EventSourceMapping>();
  for (const pipeline of o.pipelines === false ? [] : Object.values(config.pipelines)) {
    const batch = createBatchApp({
      config,
      pipeline: pipeline.name,
      region,
      clients,
      invoke,
      logger: o.logger.child({ function: `${pipeline.name}-batch` }),
      metrics: metricsFor(BATCH_SERVICE, { Pipeline: pipeline.name }),
      ...(o.beforeCommit ? { beforeCommit: () => o.beforeCommit!(pipeline.name) } : {}),
      ...(o.transformTimeoutMs === undefined ? {} : { transformTimeoutMs: o.transformTimeoutMs }),
    });
    const pattern = pipelineFilter(pipeline);
    mappings.set(
      pipeline.name,
      startEventSourceMapping({
        kinesis: clients.kinesis,
        streamName: config.eventStream,
        region,
        filter: (data) => matchesPattern(pattern.data, data),
        batchSize: pipeline.batch.size,
        batchingWindowMs: pipeline.batch.windowSeconds * 1000,
        maxRetries: pipeline.batch.maxRetries,
        bisectOnError: pipeline.batch.bisectOnError,
        handler: batch,
        logger: o.logger.child({ esm: pipeline.name }),
        ...(o.pollIntervalMs === undefined ? {} : { pollIntervalMs: o.pollIntervalMs }),
      }),
    );
  }

  // The chunk worker behind its queue, batch size 1, as the CDK app's event source mapping.
  const importChunks =
    o.imports === false
      ? undefined
      : startSqsEventSource({
          sqs: clients.sqs,
          queueName: config.imports.queue,
          region,
          batchSize: 1,
          handler: createChunkApp({
            config,
            clients,
            jobs,
            logger: o.logger.child({ function: "import-chunk" }),
            metrics: metricsFor(IMPORT_SERVICE),
          }),
          logger: o.logger.child({ esm: "import-chunks" }),
        });

  // The committer: one at a time, as reserved concurrency 1 makes it in AWS.
  const committer: CommitApp = createCommitApp({
    config,
    clients,
    glue,
    logger: o.logger.child({ function: "commit" }),
  });
  let committing: Promise<Record<string, CommitResult>> = Promise.resolve({});
  const commit = () => {
    committing = committing
      .catch(() => ({}))
      .then(() => committer())
      .then((results) => {
        for (const [sink, r] of Object.entries(results))
          if (r.snapshotId !== undefined) o.onSnapshot?.(sink, r);
        return results;
      });
    return committing;
  };
  const hasIceberg = icebergSinks(config).length > 0;
  // Creates the tables' metadata now, so `npm start` shows them before the first batch.
  if (hasIceberg) {
    await commit().catch((err: Error) =>
      // Real LocalStack Community has no Glue: the Iceberg tables wait for one.
      o.logger.warn("iceberg tables not created", { error: err.name, message: err.message.slice(0, 200) }),
    );
  }
  const interval = o.commitIntervalMs ?? 1000;
  const timer =
    hasIceberg && interval > 0
      ? setInterval(() => {
          commit().catch((err: Error) =>
            o.logger.warn("iceberg commit failed", { error: err.name, message: err.message.slice(0, 200) }),
          );
        }, interval)
      : undefined;

  return {
    url: gateway.url,
    commit,
    ...(devKey === undefined ? {} : { devKey }),
    devKeyReused: reusable === true,
    consoleLink: () => consoleServer.oneTimeLink(),
    config,
    clients,
    glue,
    mappings,
    ...(importChunks === undefined ? {} : { importChunks }),
    async drained(timeoutMs) {
      await Promise.all([...mappings.values()].map((m) => m.drained(timeoutMs)));
    },
    metricsFlushed: () => forwarder.flush(),
    async stop() {
      if (timer) clearInterval(timer);
      await committing.catch(() => undefined);
      await gateway.close();
      await Promise.all([...mappings.values()].map((m) => m.stop()));
      await importChunks?.stop();
      await forwarder.flush();
      cloudWatch.destroy();
    },
  };
}
