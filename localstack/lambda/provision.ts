/**
 * Creates a manifest's resources on a LocalStack-compatible endpoint with the names the CDK app
 * uses: the event stream, the tables, each sink's bucket, the app's KMS key and alias, and the
 * Glue database with a table per sink, the import jobs' queue of chunks and its dead-letter queue;
 * then registers the manifest's schemas, which brings the
 * tables to the registered columns. Safe to run again: what exists is left as it is.
 */

import { CreateTableCommand, DescribeTableCommand, UpdateTimeToLiveCommand } from "@aws-sdk/client-dynamodb";
import {
  CreateDatabaseCommand,
  CreateTableCommand as CreateGlueTableCommand,
  type GlueClient,
} from "@aws-sdk/client-glue";
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  waitUntilStreamExists,
} from "@aws-sdk/client-kinesis";
import { CreateAliasCommand, CreateKeyCommand, DescribeKeyCommand } from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  HeadBucketCommand,
  PutBucketLifecycleConfigurationCommand,
} from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { AwsClients } from "../../functions/core/aws-clients.ts";
import { sinkTableSpecs } from "../../functions/core/catalog/specs.ts";
import { lakeTableDefinition } from "../../functions/core/catalog/table-input.ts";
import { icebergTableInput } from "../../functions/core/iceberg/glue-table.ts";
import type { Manifest } from "../../functions/core/manifest/types.ts";
import type { RuntimeConfig } from "../../functions/core/runtime-config.ts";
import { subjectOf } from "../../functions/core/runtime-config.ts";
import { publishSchema } from "../../functions/core/schema-publish.ts";
import { SchemaRegistry } from "../../functions/core/schema-registry.ts";
import { retentionRules } from "../../functions/core/streams/retention.ts";
import { TABLE_SCHEMAS, type TableRole } from "../../functions/core/table-schemas.ts";

const isName = (err: unknown, ...names: string[]) => names.includes((err as { name?: string }).name ?? "");

async function ensureStream(clients: AwsClients, name: string, manifest: Manifest): Promise<void> {
  try {
    await clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    return;
  } catch (err) {
    if (!isName(err, "ResourceNotFoundException")) throw err;
  }
  await clients.kinesis.send(
    new CreateStreamCommand(
      manifest.kinesis.mode === "provisioned"
        ? { StreamName: name, ShardCount: manifest.kinesis.shards }
        : { StreamName: name, StreamModeDetails: { StreamMode: "ON_DEMAND" } },
    ),
  );
  await waitUntilStreamExists(
    { client: clients.kinesis, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
    { StreamName: name },
  );
}

async function ensureTable(clients: AwsClients, name: string, role: TableRole): Promise<void> {
  const schema = TABLE_SCHEMAS[role];
  const dynamo = clients.dynamo;
  try {
    await dynamo.send(new DescribeTableCommand({ TableName: name }));
    return;
  } catch (err) {
    if (!isName(err, "ResourceNotFoundException")) throw err;
  }
  const keys = [schema.partitionKey, ...("sortKey" in schema ? [schema.sortKey] : [])];
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: keys.map((k) => ({ AttributeName: k.name, AttributeType: k.type })),
        KeySchema: keys.map((k, i) => ({ AttributeName: k.name, KeyType: i === 0 ? "HASH" : "RANGE" })),
      }),
    );
  } catch (err) {
    if (!isName(err, "ResourceInUseException")) throw err;
  }
  if ("ttlAttribute" in schema) {
    await dynamo.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: schema.ttlAttribute, Enabled: true },
      }),
    );
  }
}

async function ensureBucket(clients: AwsClients, bucket: string): Promise<void> {
  try {
    await clients.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return;
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 404 && !isName(err, "NotFound", "NoSuchBucket")) throw err;
  }
  try {
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (!isName(err, "BucketAlreadyOwnedByYou", "BucketAlreadyExists")) throw err;
  }
}

async function ensureKey(clients: AwsClients, alias: string): Promise<string> {
  try {
    const out = await clients.kms.send(new DescribeKeyCommand({ KeyId: alias }));
    return out.KeyMetadata!.KeyId!;
  } catch (err) {
    if (!isName(err, "NotFoundException")) throw err;
  }
  const key = await clients.kms.send(new CreateKeyCommand({ Description: `Sluice data key (${alias})` }));
  await clients.kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.KeyMetadata!.KeyId! }));
  return key.KeyMetadata!.KeyId!;
}

export async function provision(
  clients: AwsClients,
  glue: GlueClient,
  manifest: Manifest,
  config: RuntimeConfig,
): Promise<void> {
  const buckets = new Set(Object.values(config.pipelines).map((p) => p.sink.bucket));
  await Promise.all([
    ensureStream(clients, config.eventStream, manifest),
    ...(Object.keys(TABLE_SCHEMAS) as TableRole[]).map((role) =>
      ensureTable(clients, config.tables[role], role),
    ),
    ...[...buckets].map((b) => ensureBucket(clients, b)),
    ensureKey(clients, config.kmsKeyId),
    ensureImportQueues(clients, config),
  ]);
  await applyRetention(clients, manifest, config);
  await ensureCatalog(glue, manifest, config);
  const publish = {
    registry: new SchemaRegistry(clients.dynamo, config.tables.schemas),
    glue,
    catalog: config.catalog,
  };
  for (const s of manifest.schemas) {
    await publishSchema(publish, subjectOf(s.namespace, s.name), s.schema, {
      ...(s.compatibility === undefined ? {} : { compatibility: s.compatibility }),
    });
  }
}

/** How often a chunk is received before it goes to the dead-letter queue (as the CDK app's). */
export const IMPORT_MAX_RECEIVES = 5;

/**
 * The chunks' queue with a redrive policy to its dead-letter queue. Locally a failed chunk comes
 * back after 60 s (the deployed queue waits six times the chunk function's timeout).
 */
async function ensureImportQueues(clients: AwsClients, config: RuntimeConfig): Promise<void> {
  const dlq = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: `${config.imports.queue}-dlq`,
      Attributes: { MessageRetentionPeriod: "1209600" },
    }),
  );
  const arn = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl!, AttributeNames: ["QueueArn"] }),
  );
  await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: config.imports.queue,
      Attributes: {
        VisibilityTimeout: "60",
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: arn.Attributes!.QueueArn!,
          maxReceiveCount: String(IMPORT_MAX_RECEIVES),
        }),
      },
    }),
  );
}

/**
 * Each sink's per-stream lifecycle rules, as the CDK sink declares them. Real LocalStack stores
 * them; so does the embedded stack's S3 (localstack/s3/lifecycle.ts), which does not expire anything.
 */
async function applyRetention(clients: AwsClients, manifest: Manifest, config: RuntimeConfig): Promise<void> {
  for (const p of Object.values(config.pipelines)) {
    const rules = retentionRules(manifest, p.sink.name);
    if (rules.length === 0) continue;
    await clients.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: p.sink.bucket,
        LifecycleConfiguration: {
          Rules: rules.map((r) => ({
            ID: r.id,
            Status: "Enabled",
            Filter: { Prefix: r.prefix },
            Expiration: { Days: r.days },
          })),
        },
      }),
    );
  }
}

/** The Glue database and each sink's table as the deploy declares them. */
async function ensureCatalog(glue: GlueClient, manifest: Manifest, config: RuntimeConfig): Promise<void> {
  try {
    await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: config.catalog.database } }));
  } catch (err) {
    // Real LocalStack Community has no Glue (501): run without tables; registrations say so.
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 501) return;
    if (!isName(err, "AlreadyExistsException")) throw err;
  }
  // Only sinks a pipeline writes to get a table; the pipelines know their sinks' buckets.
  const buckets = new Map(Object.values(config.pipelines).map((p) => [p.sink.name, p.sink.bucket]));
  const icebergSinkNames = new Set(manifest.sinks.filter((s) => s.type === "iceberg").map((s) => s.name));
  for (const spec of sinkTableSpecs(manifest, (sink) => buckets.get(sink) ?? "").values()) {
    if (spec.pipelines.length === 0) continue;
    try {
      await glue.send(
        new CreateGlueTableCommand({
          DatabaseName: config.catalog.database,
          TableInput: icebergSinkNames.has(spec.tableName)
            ? icebergTableInput(spec)
            : lakeTableDefinition(spec).input,
        }),
      );
    } catch (err) {
      if (!isName(err, "AlreadyExistsException")) throw err;
    }
  }
}
