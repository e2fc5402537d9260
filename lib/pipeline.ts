import { Arn, ArnFormat, Duration, Stack } from "aws-cdk-lib";
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import type { IStream } from "aws-cdk-lib/aws-kinesis";
import type { IKey } from "aws-cdk-lib/aws-kms";
import {
  EventSourceMapping,
  FilterCriteria,
  type IEventSourceDlq,
  MetricType,
  StartingPosition,
} from "aws-cdk-lib/aws-lambda";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { FilterPattern, MetricFilter, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { pipelineFilter } from "../functions/core/esm-filter.ts";
import { pendingPartition } from "../functions/core/iceberg/pending-files.ts";
import { BATCH_SERVICE } from "../functions/core/metrics.ts";
import { PREFIX_PLACEHOLDER } from "../functions/core/prefix.ts";
import type { PipelineRuntime, RuntimeConfig } from "../functions/core/runtime-config.ts";
import type { FailedBatches } from "./failed-batches.ts";
import { SluiceFunction } from "./function-defaults.ts";
import {
  encryptedStreams,
  grantEventSourceRead,
  grantInvoke,
  grantObjectWrites,
  grantPayloadKeyDecryption,
  grantSendMessage,
  grantTable,
  grantTableItems,
} from "./grants.ts";
import { acknowledge, acknowledgeWildcardResources } from "./nag.ts";
import { functionEnvironment, PIPELINE_ENV, pipelineConfig } from "./runtime-env.ts";

export interface PipelineProps {
  /** The pipeline as the runtime config resolves it (sources, steps, transformer, sink, batch). */
  readonly pipeline: PipelineRuntime;
  /** The whole runtime config; the pipeline's functions get their own slice of it. */
  readonly config: RuntimeConfig;
  readonly stream: IStream;
  /** The sink's bucket, encrypted with the key the pipeline's sink names. */
  readonly bucket: IBucket;
  /** Key encrypting the dead-letter queue. */
  readonly key: IKey;
  /**
   * The KMS key the payload data keys of encrypted source streams are under: the key the runtime
   * config's `kmsKeyId` names. @default the event stream's encryption key
   */
  readonly payloadKey?: IKey;
  readonly checkpoints: ITable;
  readonly schemas: ITable;
  /** Required when the pipeline's `batch.onFailure` is `bucket`. */
  readonly failedBatches?: FailedBatches;
  readonly batchFunctionName: string;
  readonly transformFunctionName: string;
  /** Namespace of the metrics derived from the batcher's logs. @default "Sluice" */
  readonly metricsNamespace?: string;
  /** Where a new mapping starts reading. @default StartingPosition.TRIM_HORIZON */
  readonly startingPosition?: StartingPosition;
  /** Iterator age at which the pipeline is late enough to alarm. @default Duration.minutes(10) */
  readonly iteratorAgeAlarm?: Duration;
  /** Memory of the batcher; 1769 MB is one full vCPU for Parquet encoding. @default 1769 */
  readonly batcherMemorySize?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/** The key patterns a pipeline may write: its data prefix for each source stream, and its errors. */
export function objectKeyPatterns(
  pipeline: Pick<PipelineRuntime, "name" | "sources"> & {
    readonly sink: Pick<PipelineRuntime["sink"], "prefix">;
  },
): string[] {
  const patterns = new Set<string>();
  for (const stream of pipeline.sources) {
    // Up to the first value only known per record (time, fields); `{stream}` and `{pipeline}`
    // are known here and are already key-safe by their naming rules.
    let fixed = "";
    let last = 0;
    for (const m of pipeline.sink.prefix.matchAll(new RegExp(PREFIX_PLACEHOLDER.source, "g"))) {
      fixed += pipeline.sink.prefix.slice(last, m.index);
      last = m.index + m[0].length;
      if (m[1] === "stream") fixed += stream;
      else if (m[1] === "pipeline") fixed += pipeline.name;
      else {
        last = Number.POSITIVE_INFINITY;
        break;
      }
    }
    if (Number.isFinite(last)) fixed += pipeline.sink.prefix.slice(last);
    patterns.add(`${fixed}*`);
  }
  patterns.add(`errors/${pipeline.name}/*`);
  return [...patterns];
}

/**
 * One pipeline: its transformer (when it has declarative steps), its batcher, and the event source
 * mapping feeding the batcher the envelopes of its source streams, with a dead-letter queue for
 * batches that exhaust their retries. Its alarms: iterator age, records written to `errors/`,
 * dead letters, throttles (the app's delivery-lag alarm is the dashboard's, over every pipeline).
 *
 * Metrics derived from the batcher's logs (namespace `metricsNamespace`, dimension `Pipeline`),
 * from the `delivered`, `failed` and `dropped` counts of its `batch committed` line:
 * RecordsDelivered, RecordsFailed (written under `errors/`) and RecordsDropped (filtered out by a
 * transform): the three places an accepted record can end.
 *
 * About 18 CloudFormation resources per pipeline (17 without a transformer): a stack holds at most
 * 500, so one app has room for about 25 pipelines.
 */
export class Pipeline extends Construct {
  public readonly batcher: NodejsFunction;
  public readonly transformer?: NodejsFunction;
  public readonly mapping: EventSourceMapping;
  /** The SQS dead-letter queue, with `batch.onFailure: queue`; undefined with `bucket`. */
  public readonly deadLetters: Queue | undefined;
  public readonly alarms: readonly Alarm[];
  private readonly namespace: string;
  private readonly pipelineName: string;

  constructor(scope: Construct, id: string, props: PipelineProps) {
    super(scope, id);
    const { pipeline } = props;
    this.pipelineName = pipeline.name;
    this.namespace = props.metricsNamespace ?? "Sluice";
    const config = pipelineConfig(props.config, pipeline.name);
    const env = (fn: string) => functionEnvironment(fn, config, { [PIPELINE_ENV]: pipeline.name });
    const logRetention = props.logRetention ? { logRetention: props.logRetention } : {};

    let transformer: SluiceFunction | undefined;
    if (pipeline.steps.length > 0 && pipeline.transformer === props.transformFunctionName) {
      transformer = new SluiceFunction(this, "Transform", {
        kind: "transform",
        functionName: props.transformFunctionName,
        // The batcher waits up to 60 s for a transformer (Firehose allows up to 5 min).
        timeout: Duration.seconds(60),
        environment: env(props.transformFunctionName),
        ...logRetention,
      });
      this.transformer = transformer.fn;
    }

    const batcher = new SluiceFunction(this, "Batch", {
      kind: "batch",
      functionName: props.batchFunctionName,
      memorySize: props.batcherMemorySize ?? 1769,
      timeout: Duration.minutes(5),
      environment: env(props.batchFunctionName),
      ...logRetention,
    });
    this.batcher = batcher.fn;
    const role = batcher.role;

    const objects = grantObjectWrites(props.bucket, role, objectKeyPatterns(pipeline));
    acknowledgeWildcardResources(
      role,
      objects,
      "S3 object ARNs can only be scoped by key prefix: these are this pipeline's own data prefix (per source stream) and errors prefix, nothing else in the bucket.",
    );
    grantTable(props.checkpoints, role, "dynamodb:GetItem", "dynamodb:UpdateItem");
    // An Iceberg sink's batcher puts the batch's pending files beside its checkpoint, in the
    // checkpoint commit's transaction (functions/core/iceberg/pending-files.ts).
    if (pipeline.sink.type === "iceberg") {
      grantTableItems(props.checkpoints, role, [pendingPartition(pipeline.sink.name)], "dynamodb:PutItem");
    }
    grantTable(props.schemas, role, "dynamodb:GetItem", "dynamodb:Query");
    if (transformer) {
      grantInvoke(transformer.fn.functionArn, role);
    } else if (pipeline.transformer !== undefined) {
      grantInvoke(this.externalTransformerArn(pipeline.transformer), role);
    }

    let onFailure: IEventSourceDlq;
    if (pipeline.batch.onFailure === "bucket") {
      if (props.failedBatches === undefined) {
        throw new Error(`${pipeline.name}: batch.onFailure is bucket, but there is no failed-batches bucket`);
      }
      this.deadLetters = undefined;
      onFailure = props.failedBatches.destinationFor(role);
    } else {
      const deadLetters = new Queue(this, "DeadLetters", {
        encryption: QueueEncryption.KMS,
        encryptionMasterKey: props.key,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      acknowledge(
        deadLetters,
        "AwsSolutions-SQS3",
        "This queue is itself a dead-letter queue: the on-failure destination of the pipeline's event source mapping.",
      );
      grantSendMessage(deadLetters, role);
      this.deadLetters = deadLetters;
      onFailure = { bind: () => ({ destination: deadLetters.queueArn }) };
    }

    grantEventSourceRead(props.stream, role);
    // Payload encryption: the data keys of its encrypted sources, and no other stream's.
    const encrypted = encryptedStreams(props.config, pipeline.sources);
    const payloadKey = props.payloadKey ?? props.stream.encryptionKey;
    if (encrypted.length > 0 && payloadKey === undefined) {
      throw new Error(
        `${pipeline.name}: sources ${encrypted.join(", ")} encrypt payloads, but there is no payload key`,
      );
    }
    if (payloadKey) grantPayloadKeyDecryption(pipeline.name, payloadKey, role, props.config.app, encrypted);
    this.mapping = new EventSourceMapping(this, "Mapping", {
      target: this.batcher,
      eventSourceArn: props.stream.streamArn,
      startingPosition: props.startingPosition ?? StartingPosition.TRIM_HORIZON,
      batchSize: pipeline.batch.size,
      maxBatchingWindow: Duration.seconds(pipeline.batch.windowSeconds),
      bisectBatchOnError: pipeline.batch.bisectOnError,
      retryAttempts: pipeline.batch.maxRetries,
      // One batcher per shard: the checkpoint and the exactly-once object keys assume one writer.
      parallelizationFactor: 1,
      reportBatchItemFailures: true,
      onFailure,
      filters: [FilterCriteria.filter(pipelineFilter(pipeline) as unknown as Record<string, unknown>)],
      metricsConfig: { metrics: [MetricType.EVENT_COUNT] },
    });
    // The mapping validates its role's access when it is created.
    this.mapping.node.addDependency(role);

    const logs = batcher.logGroup;
    for (const [metricName, pattern, value] of [
      ["RecordsDelivered", "batch committed", "$.delivered"],
      ["RecordsFailed", "batch committed", "$.failed"],
      ["RecordsDropped", "batch committed", "$.dropped"],
    ] as const) {
      new MetricFilter(this, metricName, {
        logGroup: logs,
        metricNamespace: this.namespace,
        metricName,
        filterPattern: FilterPattern.stringValue("$.message", "=", pattern),
        metricValue: value,
        dimensions: { Pipeline: "$.pipeline" },
      });
    }

    const alarm = (id: string, description: string, metric: IMetric, threshold: number, periods = 1) =>
      new Alarm(this, id, {
        alarmDescription: `${pipeline.name}: ${description}`,
        metric,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: periods,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    this.alarms = [
      alarm(
        "IteratorAgeAlarm",
        "the batcher is falling behind the stream",
        this.metricIteratorAge(),
        (props.iteratorAgeAlarm ?? Duration.minutes(10)).toMilliseconds(),
        3,
      ),
      alarm("ErrorRecordsAlarm", "records were written to the errors prefix", this.metricRecordsFailed(), 1),
      alarm(
        "DeadLettersAlarm",
        this.deadLetters
          ? "a batch exhausted its retries; its shard range is in the dead-letter queue"
          : "a batch exhausted its retries; its records are in the failed-batches bucket",
        this.metricFailedBatches(),
        1,
      ),
      alarm(
        "BatchFailuresAlarm",
        "batcher invocations failed; the mapping retries them, then files the batch as failed",
        this.batcher.metricErrors({ statistic: "Sum", period: Duration.minutes(5) }),
        1,
      ),
      alarm("ThrottlesAlarm", "batcher or transformer invocations throttled", this.metricThrottles(), 1),
    ];
  }

  /**
   * Batches the mapping gave up on: the dead-letter queue's depth (maximum), or with the
   * failed-batches bucket the mapping's OnFailureDestinationDeliveredEventCount (sum).
   */
  public metricFailedBatches(): Metric {
    if (this.deadLetters) {
      return this.deadLetters.metricApproximateNumberOfMessagesVisible({
        statistic: "Maximum",
        period: Duration.minutes(1),
      });
    }
    return new Metric({
      namespace: "AWS/Lambda",
      metricName: "OnFailureDestinationDeliveredEventCount",
      dimensionsMap: { EventSourceMappingUUID: this.mapping.eventSourceMappingId },
      statistic: "Sum",
      period: Duration.minutes(1),
    });
  }

  /** Age of the newest record the batcher has read (AWS/Lambda IteratorAge, maximum). */
  public metricIteratorAge(): Metric {
    return this.batcher.metric("IteratorAge", { statistic: "Maximum", period: Duration.minutes(1) });
  }

  /**
   * The event source mapping's record counts (AWS/Lambda, dimension EventSourceMappingUUID, enabled
   * by its metrics config): PolledEventCount is what it read, FilteredOutEventCount what the filter
   * dropped (other streams), InvokedEventCount what reached the batcher.
   */
  public metricMappingEvents(
    metricName: "PolledEventCount" | "FilteredOutEventCount" | "InvokedEventCount" | "FailedInvokeEventCount",
  ): Metric {
    return new Metric({
      namespace: "AWS/Lambda",
      metricName,
      dimensionsMap: { EventSourceMappingUUID: this.mapping.eventSourceMappingId },
      statistic: "Sum",
      period: Duration.minutes(1),
    });
  }

  /** The batcher's EMF DeliveryLag (Maximum): a committed batch's oldest event time to its commit. */
  public metricDeliveryLag(): Metric {
    return new Metric({
      namespace: this.namespace,
      metricName: "DeliveryLag",
      dimensionsMap: { service: BATCH_SERVICE, Pipeline: this.pipelineName },
      statistic: "Maximum",
      period: Duration.minutes(1),
    });
  }

  public metricRecordsDelivered(): Metric {
    return this.logMetric("RecordsDelivered");
  }

  /** Records written under `errors/` by this pipeline. */
  public metricRecordsFailed(): Metric {
    return this.logMetric("RecordsFailed", Duration.minutes(5));
  }

  public metricRecordsDropped(): Metric {
    return this.logMetric("RecordsDropped");
  }

  /** Throttled invocations of the batcher and, when the pipeline has one, its transformer. */
  public metricThrottles(): IMetric {
    const period = Duration.minutes(5);
    const batcher = this.batcher.metricThrottles({ statistic: "Sum", period });
    if (!this.transformer) return batcher;
    return new MathExpression({
      expression: "batcher + transformer",
      usingMetrics: { batcher, transformer: this.transformer.metricThrottles({ statistic: "Sum", period }) },
      label: "Throttles",
      period,
    });
  }

  private logMetric(metricName: string, period = Duration.minutes(1)): Metric {
    return new Metric({
      namespace: this.namespace,
      metricName,
      dimensionsMap: { Pipeline: this.pipelineName },
      statistic: "Sum",
      period,
    });
  }

  /** A transformer named without an ARN is a function of this account and region. */
  private externalTransformerArn(transformer: string): string {
    if (transformer.startsWith("arn:")) return transformer;
    return Arn.format(
      {
        service: "lambda",
        resource: "function",
        resourceName: transformer,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      },
      Stack.of(this),
    );
  }
}
