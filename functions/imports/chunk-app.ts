/**
 * The chunk worker of import jobs, as a function of an SQS event (batch size 1, partial batch
 * responses): each message is one chunk (functions/core/imports/run-chunk.ts). A chunk that must
 * be tried again is reported as a batch item failure, so SQS delivers it after its visibility
 * timeout, and after the queue's maxReceiveCount moves it to the dead-letter queue.
 */
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { AwsClients } from "../core/aws-clients.ts";
import { DataKeyCache } from "../core/crypto/key-cache.ts";
import { IdempotencyStore } from "../core/idempotency.ts";
import { parseChunk } from "../core/imports/chunk-queue.ts";
import type { ImportJobs } from "../core/imports/jobs.ts";
import { runChunk } from "../core/imports/run-chunk.ts";
import { countAcceptedBytes } from "../core/ingest/accepted-bytes.ts";
import type { RecordResult } from "../core/ingest/ingest.ts";
import type { Logger } from "../core/logger.ts";
import { countIngest, type MetricsSink, tallyResults } from "../core/metrics.ts";
import type { RuntimeConfig } from "../core/runtime-config.ts";
import { SchemaRegistry } from "../core/schema-registry.ts";
import { intakeRefusal, StreamStates } from "../core/streams/lifecycle.ts";
import { ValidatorCache } from "../core/validators.ts";

export interface ChunkAppDeps {
  readonly config: RuntimeConfig;
  readonly clients: Pick<AwsClients, "dynamo" | "s3" | "kinesisPut" | "kms">;
  readonly jobs: ImportJobs;
  readonly logger: Logger;
  /** Counts each chunk's records as ingest counts a request's (service `sluice-import-chunk`). */
  readonly metrics?: MetricsSink;
}

export type ChunkApp = (event: SQSEvent) => Promise<SQSBatchResponse>;

export function createChunkApp(deps: ChunkAppDeps): ChunkApp {
  const { config, clients } = deps;
  const validators = new ValidatorCache(new SchemaRegistry(clients.dynamo, config.tables.schemas), 5_000);
  const ingest = {
    kinesis: clients.kinesisPut,
    eventStream: config.eventStream,
    validators,
    idempotency: new IdempotencyStore(clients.dynamo, config.tables.idempotency),
    payloadKeys: new DataKeyCache(clients.kms, { keyId: config.kmsKeyId, app: config.app }),
  };
  const states = new StreamStates(clients.dynamo, config.tables.control);
  const keys = new Map(config.imports.buckets.map((b) => [b.name, b.kmsKeyId]));
  const chunkDeps = {
    s3: clients.s3,
    ingest,
    jobs: deps.jobs,
    stream: (name: string) => config.streams[name],
    refusal: async (stream: { name: string }) =>
      intakeRefusal(stream.name, await states.current(stream.name))?.toDetail(),
    kmsKeyOf: (bucket: string) => keys.get(bucket) ?? config.kmsKeyId,
  };

  return async (event) => {
    const batchItemFailures: { itemIdentifier: string }[] = [];
    for (const message of event.Records) {
      const chunk = parseChunk(message.body);
      if (!chunk) {
        deps.logger.error("not a chunk message: dropped", { messageId: message.messageId });
        continue;
      }
      const log = deps.logger.child({ job: chunk.job, chunk: chunk.index });
      const settled: RecordResult[] = [];
      const puts = countAcceptedBytes(clients.kinesisPut);
      try {
        const outcome = await runChunk(
          { ...chunkDeps, ingest: { ...ingest, kinesis: puts.kinesis }, settled: (r) => settled.push(...r) },
          chunk,
        );
        const { recordsRead, accepted, duplicate, rejected, counted } = outcome;
        log.info("import chunk done", {
          recordsRead,
          accepted,
          duplicate,
          rejected,
          counted,
          ...(outcome.failure ? { failure: outcome.failure.code } : {}),
        });
      } catch (err) {
        log.warn("import chunk failed: delivered again", {
          error: (err as Error).name,
          message: (err as Error).message.slice(0, 200),
        });
        batchItemFailures.push({ itemIdentifier: message.messageId });
      } finally {
        // What was accepted before a failure is counted now; its delivery again finds duplicates.
        if (deps.metrics && settled.length > 0)
          countIngest(deps.metrics, chunk.stream, tallyResults(settled), puts.bytes());
      }
    }
    return { batchItemFailures };
  };
}
