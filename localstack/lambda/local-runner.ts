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
import { type AwsClients, createAwsClients } from "../../functions/core/aws-clients.ts";
import { createGlueClient } from "../../functions/core/catalog/glue-client.ts";
import { esmFilterPattern } from "../../functions/core/esm-filter.ts";
import type {
  TransformationEvent,
  TransformationResponse,
  TransformerInvoker,
} from "../../functions/core/firehose-contract.ts";
import type { HttpApp } from "../../functions/core/http-app.ts";
import type { CommitResult } from "../../functions/core/iceberg/committer.ts";
import { lambdaInvoker } from "../../functions/core/lambda-invoker.ts";
import type { Logger } from "../../functions/core/logger.ts";
import type { Manifest } from "../../functions/core/manifest/types.ts";
import { LOCAL_ACCOUNT, resourceNames } from "../../functions/core/names.ts";
import { type RuntimeConfig, runtimeConfig } from "../../functions/core/runtime-config.ts";
import { createIngestApp } from "../../functions/ingest/app.ts";
import { isAdminRoute, isQueryRoute, isRegistryRoute } from "../../functions/ingest/routes.ts";
import { createQueryApp, queryCore } from "../../functions/query/app.ts";
import { createTailApp } from "../../functions/query/tail-app.ts";
import { createRegistryApp } from "../../functions/registry/app.ts";
import { createTransformer } from "../../functions/transform/transformer.ts";
import { type EventSourceMapping, matchesPattern, startEventSourceMapping } from "./event-source-mapping.ts";
import { type HttpGateway, startHttpGateway } from "./http-gateway.ts";
import { provision } from "./provision.ts";

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
}

export interface LocalRunner {
  readonly url: string;
  /** An admin API key for this run (reused or new); undefined when the manifest turns API keys off. */
  readonly devKey?: string;
  /** True when `devKey` is the `reuseDevKey` passed in. */
  readonly devKeyReused: boolean;
  readonly config: RuntimeConfig;
  readonly clients: AwsClients;
  readonly glue: GlueClient;
  readonly mappings: ReadonlyMap<string, EventSourceMapping>;
  /** Runs the Iceberg committer once for every Iceberg sink (serialized with the timer's runs). */
  commit(): Promise<Record<string, CommitResult>>;
  /** Waits until every pipeline has processed everything on the stream. */
  drained(timeoutMs?: number): Promise<void>;
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

  const ingest = createIngestApp({
    config,
    clients,
    logger: o.logger.child({ function: "ingest" }),
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
  const admin = createAdminApp({ config, clients, logger: o.logger.child({ function: "admin" }) });
  const queryDeps = { config, clients, logger: o.logger.child({ function: "query" }), pollMs: 100 };
  const readCore = queryCore(queryDeps);
  const query = createQueryApp(queryDeps, readCore);
  const tail = createTailApp(queryDeps, readCore);
  // One port for all, as API Gateway routes each path to its function.
  const api: HttpApp = (event) =>
    isRegistryRoute(event.routeKey)
      ? registry(event)
      : isAdminRoute(event.routeKey)
        ? admin(event)
        : isQueryRoute(event.routeKey)
          ? query(event)
          : ingest(event);
  let gateway: HttpGateway;
  try {
    gateway = await startHttpGateway(api, o.httpPort ?? 8080, undefined, undefined, (routeKey) =>
      routeKey === "GET /v1/streams/{stream}/tail" ? tail : undefined,
    );
  } catch (err) {
    if ((err as { code?: string }).code === "EADDRINUSE") {
      throw new Error(`port ${o.httpPort ?? 8080} is already in use: stop what holds it or pass --port`);
    }
    throw err;
  }

  const mappings = new Map<string, EventSourceMapping>();
  for (const pipeline of o.pipelines === false ? [] : Object.values(config.pipelines)) {
    const batch = createBatchApp({
      config,
      pipeline: pipeline.name,
      region,
      clients,
      invoke,
      logger: o.logger.child({ function: `${pipeline.name}-batch` }),
      ...(o.beforeCommit ? { beforeCommit: () => o.beforeCommit!(pipeline.name) } : {}),
      ...(o.transformTimeoutMs === undefined ? {} : { transformTimeoutMs: o.transformTimeoutMs }),
    });
    const pattern = esmFilterPattern(pipeline.sources);
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
    config,
    clients,
    glue,
    mappings,
    async drained(timeoutMs) {
      await Promise.all([...mappings.values()].map((m) => m.drained(timeoutMs)));
    },
    async stop() {
      if (timer) clearInterval(timer);
      await committing.catch(() => undefined);
      await gateway.close();
      await Promise.all([...mappings.values()].map((m) => m.stop()));
    },
  };
}
