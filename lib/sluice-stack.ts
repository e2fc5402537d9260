import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import { CfnDatabase } from "aws-cdk-lib/aws-glue";
import { Key } from "aws-cdk-lib/aws-kms";
import type { Construct } from "constructs";
import { queryTargets } from "../functions/core/catalog/athena-queries.ts";
import { sinkTableSpecs } from "../functions/core/catalog/specs.ts";
import type { Manifest } from "../functions/core/manifest/types.ts";
import { resourceNames } from "../functions/core/names.ts";
import { runtimeConfig, subjectOf } from "../functions/core/runtime-config.ts";
import { readConfig } from "../functions/core/runtime-env.ts";
import { retentionRules } from "../functions/core/streams/retention.ts";
import { AthenaWorkgroup } from "./athena-workgroup.ts";
import { Dashboard } from "./dashboard.ts";
import { DataKey } from "./data-key.ts";
import { EventStream } from "./event-stream.ts";
import { FailedBatches } from "./failed-batches.ts";
import { grantTable } from "./grants.ts";
import { IcebergCommitter } from "./iceberg-committer.ts";
import { ImportJobs } from "./import-jobs.ts";
import { IngestApi } from "./ingest-api.ts";
import { ParquetSink } from "./parquet-sink.ts";
import { objectKeyPatterns, Pipeline } from "./pipeline.ts";
import { QueryApi } from "./query-api.ts";
import { SchemaRegistration } from "./schema-registration.ts";
import { Tables } from "./tables.ts";

export interface SluiceStackProps extends StackProps {
  readonly manifest: Manifest;
  /**
   * Qualifies every resource name, output and the dashboard, so stages of one manifest live side
   * by side (`cdk deploy -c stage=prod`). @default none: names as the local runner's
   */
  readonly stage?: string;
}

/** Everything a manifest declares, box by box as in the architecture diagram. */
export class SluiceStack extends Stack {
  constructor(scope: Construct, id: string, props: SluiceStackProps) {
    super(scope, id, props);
    const { manifest } = props;
    const names = resourceNames(manifest.name, this.account, this.region, props.stage);
    const config = runtimeConfig(manifest, this.account, this.region, props.stage);

    const key = new DataKey(this, "DataKey", {
      alias: names.kmsAlias,
      description: `Sluice ${names.prefix} data at rest`,
    });
    const tables = new Tables(this, "Tables", { names: names.tables, key: key.key });
    const events = new EventStream(this, "Events", {
      streamName: names.eventStream,
      key: key.key,
      settings: manifest.kinesis,
    });
    const ingest = new IngestApi(this, "Ingest", {
      functionName: names.ingestFunction,
      registryFunctionName: names.registryFunction,
      adminFunctionName: names.adminFunction,
      config,
      stream: events.stream,
      idempotency: tables.idempotency,
      schemas: tables.schemas,
      apiKeys: tables.apiKeys,
    });

    // Stream lifecycle: ingest reads a stream's state at intake and its admin routes create and change it.
    grantTable(
      tables.control,
      ingest.fn,
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:Scan",
    );

    const catalogDb = new CfnDatabase(this, "Catalog", {
      catalogId: this.account,
      databaseInput: { name: names.glueDatabase, description: `Sluice ${names.prefix} sinks` },
    });
    const specs = sinkTableSpecs(manifest, (sink) =>
      names.bucket(sink, manifest.sinks.find((s) => s.name === sink)?.bucket),
    );
    const sinkKeys = new Map(
      manifest.sinks.map((s) => [
        s.name,
        s.kmsKeyArn ? Key.fromKeyArn(this, `SinkKey-${s.name}`, s.kmsKeyArn) : key.key,
      ]),
    );
    const sinks = new Map(
      manifest.sinks.map((s) => {
        const { bucketName, ...catalog } = specs.get(s.name)!;
        return [
          s.name,
          new ParquetSink(this, `Sink-${s.name}`, {
            bucketName,
            key: sinkKeys.get(s.name)!,
            catalog: { database: catalogDb, ...catalog, iceberg: s.type === "iceberg" },
            retention: retentionRules(manifest, s.name),
          }),
        ];
      }),
    );
    new SchemaRegistration(this, "Schemas", {
      table: tables.schemas,
      schemas: manifest.schemas.map((s) => ({
        subject: subjectOf(s.namespace, s.name),
        schema: s.schema,
        ...(s.compatibility === undefined ? {} : { compatibility: s.compatibility }),
      })),
      catalog: config.catalog,
      tables: [...sinks.values()].flatMap((s) => (s.table ? [s.table.table] : [])),
    });
    // One bucket for every pipeline that keeps its failed batches there (lib/failed-batches.ts).
    const firstSink = sinks.values().next().value;
    const failedBatches =
      firstSink !== undefined && manifest.pipelines.some((p) => p.batch.onFailure === "bucket")
        ? new FailedBatches(this, "FailedBatches", {
            key: key.key,
            accessLogsBucket: firstSink.accessLogsBucket,
          })
        : undefined;
    const pipelines = new Map(
      manifest.pipelines.map((p) => [
        p.name,
        new Pipeline(this, `Pipeline-${p.name}`, {
          pipeline: config.pipelines[p.name]!,
          config,
          stream: events.stream,
          bucket: sinks.get(p.sink)!.bucket,
          key: key.key,
          checkpoints: tables.checkpoints,
          schemas: tables.schemas,
          ...(failedBatches === undefined ? {} : { failedBatches }),
          batchFunctionName: names.batchFunction(p.name),
          transformFunctionName: names.transformFunction(p.name),
          metricsNamespace: `Sluice/${config.app}`,
        }),
      ]),
    );
    // One committer per Iceberg table a pipeline writes to (lib/iceberg-committer.ts).
    for (const s of manifest.sinks) {
      if (s.type !== "iceberg" || !manifest.pipelines.some((p) => p.sink === s.name)) continue;
      new IcebergCommitter(this, `Commit-${s.name}`, {
        sink: s.name,
        functionName: names.commitFunction(s.name),
        config,
        bucket: sinks.get(s.name)!.bucket,
        key: sinkKeys.get(s.name)!,
        checkpoints: tables.checkpoints,
        schemas: tables.schemas,
        dataKeyPatterns: manifest.pipelines
          .filter((p) => p.sink === s.name)
          .flatMap((p) =>
            objectKeyPatterns(config.pipelines[p.name]!).filter((k) => !k.startsWith("errors/")),
          ),
      });
    }
    const imports = new ImportJobs(this, "Imports", {
      apiFunctionName: names.importsFunction,
      chunkFunctionName: names.importChunkFunction,
      queueName: names.importQueue,
      deadLetterQueueName: names.importDeadLetters,
      config,
      api: ingest.api,
      ...(ingest.jwtAuthorizer === undefined ? {} : { authorizer: ingest.jwtAuthorizer }),
      stream: events.stream,
      key: key.key,
      control: tables.control,
      idempotency: tables.idempotency,
      schemas: tables.schemas,
      apiKeys: tables.apiKeys,
      buckets: [...sinks.values()].map((s) => s.bucket),
    });
    // The read path: lake reads through the API and the tail's function URL, SQL through Athena.
    const reads = readConfig(config);
    const query = new QueryApi(this, "Query", {
      queryFunctionName: names.queryFunction,
      tailFunctionName: names.tailFunction,
      config: reads,
      lakes: Object.values(reads.pipelines).map((p) => ({
        bucket: sinks.get(p.sink.name)!.bucket,
        key: sinkKeys.get(p.sink.name)!,
        // With the pipeline's errors/: GET /v1/streams/{stream}/files lists their reasons (no payloads).
        keyPatterns: objectKeyPatterns(p),
        ...(p.sink.table === undefined ? {} : { table: p.sink.table }),
      })),
      stream: events.stream,
      key: key.key,
      checkpoints: tables.checkpoints,
      idempotency: tables.idempotency,
      apiKeys: tables.apiKeys,
    });
    ingest.addReadRoutes(query.queryFn);
    const targets = queryTargets(manifest, config);
    const athena =
      targets.length > 0
        ? new AthenaWorkgroup(this, "Athena", {
            workgroupName: names.athenaWorkgroup,
            description: `Sluice ${names.prefix}: SQL over the sinks' tables`,
            key: key.key,
            accessLogsBucket: sinks.values().next().value!.accessLogsBucket,
            targets,
          })
        : undefined;
    const monitoring = new Dashboard(this, "Monitoring", {
      app: names.prefix,
      topicName: names.alarmTopic,
      dashboardName: names.dashboard,
      key,
      ingest,
      events,
      pipelines,
      alarms: imports.alarms,
      streams: manifest.streams.map((s) => ({
        name: s.name,
        pipelines: manifest.pipelines.filter((p) => p.sources.includes(s.name)).map((p) => p.name),
      })),
      metricsNamespace: `Sluice/${config.app}`,
      ...(manifest.alarms ? { subscriptions: manifest.alarms } : {}),
    });

    new CfnOutput(this, "IngestUrl", { value: ingest.stage.url, description: "Ingest API base URL" });
    new CfnOutput(this, "TailUrl", {
      value: query.tailUrl.url,
      description: "Live tail base URL (sluice tail --url)",
    });
    if (athena)
      new CfnOutput(this, "AthenaWorkgroup", {
        value: athena.workgroup.ref,
        description: "Athena workgroup of the sinks (sluice query --athena)",
      });
    new CfnOutput(this, "EventStreamName", { value: events.stream.streamName });
    for (const [name, sink] of sinks) {
      new CfnOutput(this, `Bucket-${name}`, { value: sink.bucket.bucketName, description: `Sink ${name}` });
    }
    new CfnOutput(this, "IdempotencyTable", { value: tables.idempotency.tableName });
    new CfnOutput(this, "CheckpointsTable", { value: tables.checkpoints.tableName });
    new CfnOutput(this, "SchemasTable", { value: tables.schemas.tableName });
    new CfnOutput(this, "ApiKeysTable", { value: tables.apiKeys.tableName });
    new CfnOutput(this, "ControlTable", { value: tables.control.tableName });
    new CfnOutput(this, "GlueDatabase", {
      value: catalogDb.ref,
      description: "Athena database of the sinks",
    });
    new CfnOutput(this, "AlarmTopicArn", { value: monitoring.topic.topicArn });
    if (failedBatches) {
      new CfnOutput(this, "FailedBatchesBucket", {
        value: failedBatches.bucket.bucketName,
        description: "Batches the event source mappings gave up on, records included",
      });
    }
    new CfnOutput(this, "KmsKeyArn", { value: key.key.keyArn });
  }
}
