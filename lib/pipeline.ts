import { Duration } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import type { IStream } from "aws-cdk-lib/aws-kinesis";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { FilterCriteria, StartingPosition } from "aws-cdk-lib/aws-lambda";
import { KinesisEventSource, SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { esmFilterPattern } from "../functions/core/esm-filter.ts";
import type { PipelineRuntime } from "../functions/core/runtime-config.ts";
import { functionsDir, sluiceFunction } from "./function-defaults.ts";

export interface PipelineProps {
  readonly pipeline: PipelineRuntime;
  readonly stream: IStream;
  readonly bucket: IBucket;
  readonly key: IKey;
  readonly checkpoints: ITable;
  readonly schemas: ITable;
  /** Serialized runtime configuration given to the functions. */
  readonly configJson: string;
  readonly batchFunctionName: string;
  readonly transformFunctionName: string;
}

/**
 * One pipeline: its transformer (when it has steps), its batcher, and the event source mapping
 * feeding the batcher the envelopes of its source streams.
 */
export class Pipeline extends Construct {
  public readonly batcher: NodejsFunction;
  public readonly transformer?: NodejsFunction;
  public readonly deadLetters: Queue;

  constructor(scope: Construct, id: string, props: PipelineProps) {
    super(scope, id);
    const { pipeline } = props;
    const environment = { SLUICE_CONFIG: props.configJson, SLUICE_PIPELINE: pipeline.name };

    if (pipeline.steps.length > 0 && pipeline.transformer === props.transformFunctionName) {
      this.transformer = sluiceFunction(this, "Transformer", {
        functionName: props.transformFunctionName,
        entry: `${functionsDir}transform/handler.ts`,
        environment,
      });
    }

    this.batcher = sluiceFunction(this, "Batcher", {
      functionName: props.batchFunctionName,
      entry: `${functionsDir}batch/handler.ts`,
      memorySize: 1769,
      timeout: Duration.minutes(5),
      environment,
      bundling: {
        // parquet-wasm's Node build loads its wasm from beside the bundle (DESIGN.md).
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir, outputDir) => [
            `cp "${inputDir}/node_modules/parquet-wasm/node/parquet_wasm_bg.wasm" "${outputDir}/"`,
          ],
        },
      },
    });
    props.bucket.grantReadWrite(this.batcher);
    props.bucket.grantDelete(this.batcher);
    props.key.grantEncryptDecrypt(this.batcher);
    props.checkpoints.grantReadWriteData(this.batcher);
    props.schemas.grantReadData(this.batcher);
    this.transformer?.grantInvoke(this.batcher);

    this.deadLetters = new Queue(this, "DeadLetters", {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.batcher.addEventSource(
      new KinesisEventSource(props.stream, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: pipeline.batch.size,
        maxBatchingWindow: Duration.seconds(pipeline.batch.windowSeconds),
        bisectBatchOnError: pipeline.batch.bisectOnError,
        retryAttempts: pipeline.batch.maxRetries,
        parallelizationFactor: 1,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.deadLetters),
        filters: [
          FilterCriteria.filter(esmFilterPattern(pipeline.sources) as unknown as Record<string, unknown>),
        ],
      }),
    );
  }
}
