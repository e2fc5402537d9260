/**
 * The batcher as a function of a Kinesis event: the Lambda handler and the local poller call this.
 * Not @aws-lambda-powertools/batch: its processPartialResponse fails records one by one, and
 * Sluice's batches are exactly-once by checkpoint (files keyed by the batch's first sequence
 * number, the checkpoint moved after the write), so a batch fails whole, from its first record,
 * and what no retry can fix goes to errors/ instead.
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from "aws-lambda";
import type { AwsClients } from "../core/aws-clients.ts";
import { CheckpointStore } from "../core/checkpoints.ts";
import { DataKeyOpener } from "../core/crypto/key-opener.ts";
import { createBatcher } from "../core/delivery/batcher.ts";
import type { TransformerInvoker } from "../core/firehose-contract.ts";
import type { Logger } from "../core/logger.ts";
import { countBatch, type MetricsSink } from "../core/metrics.ts";
import type { RuntimeConfig } from "../core/runtime-config.ts";
import { SchemaRegistry } from "../core/schema-registry.ts";
import { ValidatorCache } from "../core/validators.ts";

export interface BatchAppDeps {
  readonly config: RuntimeConfig;
  readonly pipeline: string;
  readonly region: string;
  readonly clients: AwsClients;
  readonly invoke: TransformerInvoker;
  readonly logger: Logger;
  /** Where committed batches' counts go (the Lambda handler's EMF metrics); none when absent. */
  readonly metrics?: MetricsSink;
  readonly beforeCommit?: () => Promise<void> | void;
  /** Per-call transformer timeout. @default 60000 */
  readonly transformTimeoutMs?: number;
}

export type BatchApp = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>;

export function createBatchApp(deps: BatchAppDeps): BatchApp {
  const pipeline = deps.config.pipelines[deps.pipeline];
  if (!pipeline) throw new Error(`pipeline ${deps.pipeline} is not in the configuration`);
  const batcher = createBatcher({
    pipeline,
    region: deps.region,
    s3: deps.clients.s3,
    kinesis: deps.clients.kinesis,
    payloadKeys: new DataKeyOpener(deps.clients.kms, { keyId: deps.config.kmsKeyId, app: deps.config.app }),
    checkpoints: new CheckpointStore(deps.clients.dynamo, deps.config.tables.checkpoints),
    validators: new ValidatorCache(new SchemaRegistry(deps.clients.dynamo, deps.config.tables.schemas)),
    invoke: deps.invoke,
    logger: deps.logger,
    ...(deps.beforeCommit ? { beforeCommit: deps.beforeCommit } : {}),
    ...(deps.transformTimeoutMs === undefined ? {} : { transformTimeoutMs: deps.transformTimeoutMs }),
  });
  return async (event) => {
    const { batchItemFailures, summary } = await batcher(event.Records);
    if (summary && deps.metrics) countBatch(deps.metrics, summary, Date.now());
    return { batchItemFailures };
  };
}
