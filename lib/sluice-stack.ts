import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import { Key } from "aws-cdk-lib/aws-kms";
import type { Construct } from "constructs";
import type { Manifest } from "../functions/core/manifest/types.ts";
import { resourceNames } from "../functions/core/names.ts";
import { runtimeConfig } from "../functions/core/runtime-config.ts";
import { EventStream } from "./event-stream.ts";
import { IngestApi } from "./ingest-api.ts";
import { ParquetSink } from "./parquet-sink.ts";
import { Pipeline } from "./pipeline.ts";
import { Tables } from "./tables.ts";

export interface SluiceStackProps extends StackProps {
  readonly manifest: Manifest;
}

/** Everything a manifest declares, box by box as in the architecture diagram. */
export class SluiceStack extends Stack {
  constructor(scope: Construct, id: string, props: SluiceStackProps) {
    super(scope, id, props);
    const { manifest } = props;
    const names = resourceNames(manifest.name, this.account, this.region);
    const config = runtimeConfig(manifest, this.account, this.region);
    const configJson = JSON.stringify(config);

    const key = new Key(this, "Key", {
      alias: names.kmsAlias,
      enableKeyRotation: true,
      description: `Sluice ${manifest.name} data at rest`,
    });
    const tables = new Tables(this, "Tables", { names: names.tables, key });
    const events = new EventStream(this, "Events", {
      streamName: names.eventStream,
      key,
      settings: manifest.kinesis,
    });
    new IngestApi(this, "Ingest", {
      functionName: names.ingestFunction,
      stream: events.stream,
      key,
      idempotency: tables.idempotency,
      schemas: tables.schemas,
      apiKeys: tables.apiKeys,
      configJson,
    });
    const sinks = new Map(
      manifest.sinks.map((s) => [
        s.name,
        new ParquetSink(this, `Sink-${s.name}`, { bucketName: names.bucket(s.name, s.bucket), key }),
      ]),
    );
    for (const p of manifest.pipelines) {
      new Pipeline(this, `Pipeline-${p.name}`, {
        pipeline: config.pipelines[p.name]!,
        stream: events.stream,
        bucket: sinks.get(p.sink)!.bucket,
        key,
        checkpoints: tables.checkpoints,
        schemas: tables.schemas,
        configJson,
        batchFunctionName: names.batchFunction(p.name),
        transformFunctionName: names.transformFunction(p.name),
      });
    }
    new CfnOutput(this, "EventStreamName", { value: events.stream.streamName });
    for (const [name, sink] of sinks)
      new CfnOutput(this, `Bucket-${name}`, { value: sink.bucket.bucketName });
    new CfnOutput(this, "IdempotencyTable", { value: tables.idempotency.tableName });
    new CfnOutput(this, "CheckpointsTable", { value: tables.checkpoints.tableName });
    new CfnOutput(this, "SchemasTable", { value: tables.schemas.tableName });
  }
}
