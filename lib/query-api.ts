/**
 * The read path on AWS: the query function behind the API's `GET /v1/streams/{stream}/records`,
 * the tail function behind a function URL with response streaming (HTTP APIs do not stream), and
 * an Athena workgroup with named queries over the sinks' Glue tables. Both functions only read:
 * the sinks' objects and their keys' Decrypt, the checkpoints (the snapshot a read sees), the
 * idempotency claims (a key lookup by idempotency key), the API keys (auth) and the catalog; the
 * tail also reads the event stream and decrypts the data keys of the encrypted streams.
 *
 * Not yet instantiated by SluiceStack: its config carries every pipeline (the 24-pipeline size
 * test would fail) and the infra tests do not cover it yet; see the issue 16 report.
 */
import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import { CfnNamedQuery, CfnWorkGroup } from "aws-cdk-lib/aws-athena";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { Grant, type IRole } from "aws-cdk-lib/aws-iam";
import type { IStream } from "aws-cdk-lib/aws-kinesis";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { type FunctionUrl, FunctionUrlAuthType, InvokeMode } from "aws-cdk-lib/aws-lambda";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
} from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import type { RuntimeConfig } from "../functions/core/runtime-config.ts";
import { SluiceFunction } from "./function-defaults.ts";
import { encryptedStreams, grantTable, grantTailPayloadKeyDecryption } from "./grants.ts";
import { acknowledgeWildcardResources } from "./nag.ts";
import { functionEnvironment } from "./runtime-env.ts";

export interface LakeBucket {
  readonly bucket: IBucket;
  /** The SSE-KMS key its objects are encrypted with. */
  readonly key: IKey;
  /** The Glue table over it, when the sink has one. */
  readonly table?: { readonly database: string; readonly name: string };
}

export interface QueryApiProps {
  readonly queryFunctionName: string;
  readonly tailFunctionName: string;
  readonly workgroupName: string;
  readonly config: RuntimeConfig;
  readonly lakes: readonly LakeBucket[];
  readonly stream: IStream;
  /** The payload data keys' KMS key (the app's data key). */
  readonly key: IKey;
  readonly checkpoints: ITable;
  readonly idempotency: ITable;
  readonly apiKeys: ITable;
  /** Where the results bucket's access logs go. */
  readonly accessLogsBucket: IBucket;
  /** Athena refuses a query past this many bytes scanned. @default 10 GiB */
  readonly athenaBytesScannedCutoff?: number;
}

/** The read functions carry streams and pipelines (sinks' layout), not the catalog's tables. */
export function queryConfig(config: RuntimeConfig): RuntimeConfig {
  return { ...config, catalog: { database: config.catalog.database, tables: [] } };
}

export class QueryApi extends Construct {
  public readonly queryFn: NodejsFunction;
  public readonly tailFn: NodejsFunction;
  public readonly tailUrl: FunctionUrl;
  public readonly workgroup: CfnWorkGroup;
  public readonly resultsBucket: Bucket;

  constructor(scope: Construct, id: string, props: QueryApiProps) {
    super(scope, id);
    const config = queryConfig(props.config);
    const query = new SluiceFunction(this, "Query", {
      kind: "query",
      functionName: props.queryFunctionName,
      memorySize: 1769,
      // API Gateway gives up after 30 s; the reader's own time limit (25 s) answers first.
      timeout: Duration.seconds(29),
      environment: functionEnvironment(props.queryFunctionName, config),
    });
    this.queryFn = query.fn;
    const tail = new SluiceFunction(this, "Tail", {
      kind: "tail",
      functionName: props.tailFunctionName,
      memorySize: 1024,
      // The app ends a tail at 14 minutes so the client reconnects with `from` before this.
      timeout: Duration.minutes(15),
      environment: functionEnvironment(props.tailFunctionName, config),
    });
    this.tailFn = tail.fn;
    for (const role of [query.role, tail.role]) this.grantLakeReads(role, props);
    props.stream.grant(tail.role, "kinesis:ListShards", "kinesis:GetShardIterator", "kinesis:GetRecords");
    props.stream.encryptionKey?.grant(tail.role, "kms:Decrypt");
    const encrypted = encryptedStreams(props.config);
    grantTailPayloadKeyDecryption(props.key, tail.role, props.config.app, encrypted);

    // The function checks the API key or JWT itself, before the stream starts, as the API does.
    this.tailUrl = tail.fn.addFunctionUrl({
      authType: FunctionUrlAuthType.NONE,
      invokeMode: InvokeMode.RESPONSE_STREAM,
    });

    this.resultsBucket = new Bucket(this, "AthenaResults", {
      encryption: BucketEncryption.KMS,
      encryptionKey: props.key,
      bucketKeyEnabled: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: "athena-results/",
      lifecycleRules: [{ id: "expire-results", expiration: Duration.days(7) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.workgroup = new CfnWorkGroup(this, "Workgroup", {
      name: props.workgroupName,
      description: `Sluice ${props.config.app}: queries over the sinks' tables`,
      state: "ENABLED",
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: props.athenaBytesScannedCutoff ?? 10 * 1024 ** 3,
        resultConfiguration: {
          outputLocation: `s3://${this.resultsBucket.bucketName}/results/`,
          encryptionConfiguration: { encryptionOption: "SSE_KMS", kmsKey: props.key.keyArn },
        },
      },
    });
    for (const [i, lake] of props.lakes.entries()) {
      if (!lake.table) continue;
      const { database, name } = lake.table;
      const from = `"${database}"."${name}"`;
      const questions: [string, string, string][] = [
        ["latest", "The 100 newest records", `SELECT * FROM ${from} ORDER BY _event_time DESC LIMIT 100`],
        [
          "per-hour",
          "Records per hour over the last day",
          `SELECT date_trunc('hour', _event_time) AS hour, count(*) AS records FROM ${from} WHERE _event_time > current_timestamp - interval '1' day GROUP BY 1 ORDER BY 1`,
        ],
        [
          "by-id",
          "One record by its id (replace RECORD_ID)",
          `SELECT * FROM ${from} WHERE _id = 'RECORD_ID'`,
        ],
      ];
      for (const [slug, description, sql] of questions) {
        const q = new CfnNamedQuery(this, `Query-${i}-${slug}`, {
          name: `${name} ${slug}`,
          description,
          database,
          workGroup: this.workgroup.ref,
          queryString: sql,
        });
        q.addDependency(this.workgroup);
      }
    }
  }

  private grantLakeReads(role: IRole, props: QueryApiProps): void {
    const stack = Stack.of(this);
    for (const lake of props.lakes) {
      Grant.addToPrincipal({
        grantee: role,
        actions: ["s3:GetObject"],
        resourceArns: [lake.bucket.arnForObjects("*")],
      });
      Grant.addToPrincipal({
        grantee: role,
        actions: ["s3:ListBucket"],
        resourceArns: [lake.bucket.bucketArn],
      });
      lake.key.grant(role, "kms:Decrypt");
    }
    acknowledgeWildcardResources(
      role,
      props.lakes.map((l) => l.bucket.arnForObjects("*")),
      "Reads the sinks' objects, whose keys are the prefix template's partitions (unknown at deploy time); GetObject only.",
    );
    // A read's snapshot is each shard's checkpoint (Query by pipeline).
    grantTable(props.checkpoints, role, "dynamodb:Query");
    // A key lookup by idempotency key reads the claim that kept its record id.
    grantTable(props.idempotency, role, "dynamodb:BatchGetItem");
    grantTable(props.apiKeys, role, "dynamodb:GetItem");
    const tables = props.lakes.flatMap((l) => (l.table ? [l.table] : []));
    if (tables.length > 0)
      Grant.addToPrincipal({
        grantee: role,
        actions: ["glue:GetTable"],
        resourceArns: [
          stack.formatArn({ service: "glue", resource: "catalog" }),
          stack.formatArn({
            service: "glue",
            resource: "database",
            resourceName: props.config.catalog.database,
          }),
          ...tables.map((t) =>
            stack.formatArn({ service: "glue", resource: "table", resourceName: `${t.database}/${t.name}` }),
          ),
        ],
      });
  }
}
