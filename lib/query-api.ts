/**
 * The read path on AWS: the query function behind the API's `GET /v1/streams/{stream}/records`,
 * and the tail function behind a function URL with response streaming (HTTP APIs do not stream).
 * Both only read: the objects of each stream's lake under its pipeline's key patterns (GetObject,
 * and ListBucket limited to those prefixes) with their key's Decrypt, the checkpoints (the
 * snapshot a read sees), the idempotency claims (a key lookup by idempotency key) and the API keys
 * (auth). The reader finds files through the prefix template and the checkpoints, never through
 * the Glue catalog, so neither function may read it. The tail also reads the event stream and
 * decrypts the data keys of the encrypted streams.
 */
import { Duration, Stack } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { Grant, type IRole, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IStream } from "aws-cdk-lib/aws-kinesis";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { type FunctionUrl, FunctionUrlAuthType, InvokeMode } from "aws-cdk-lib/aws-lambda";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import type { ReadConfig } from "../functions/core/runtime-config.ts";
import { SluiceFunction } from "./function-defaults.ts";
import { encryptedStreams, grantTable, grantTailPayloadKeyDecryption } from "./grants.ts";
import { ICEBERG_PREFIX } from "./iceberg-committer.ts";
import { acknowledgeWildcardResources } from "./nag.ts";
import { functionEnvironment } from "./runtime-env.ts";

/** Where one pipeline's files are: what a read of its streams may list and get. */
export interface LakeObjects {
  readonly bucket: IBucket;
  /** The SSE-KMS key its objects are encrypted with. */
  readonly key: IKey;
  /** Object key patterns of its data files (`feedback/*`), from `objectKeyPatterns`. */
  readonly keyPatterns: readonly string[];
  /** An Iceberg sink's Glue table, whose snapshot a query reads (`ReadPipelineRuntime.sink.table`). */
  readonly table?: { readonly database: string; readonly table: string };
}

export interface QueryApiProps {
  readonly queryFunctionName: string;
  readonly tailFunctionName: string;
  /** The read slice of the runtime config (`readConfig`): it must fit Lambda's 4 KB. */
  readonly config: ReadConfig;
  /** The lakes of the config's pipelines. */
  readonly lakes: readonly LakeObjects[];
  readonly stream: IStream;
  /** The payload data keys' KMS key (the app's data key). */
  readonly key: IKey;
  readonly checkpoints: ITable;
  readonly idempotency: ITable;
  readonly apiKeys: ITable;
  /** @default 1769 (one full vCPU: decoding Parquet is CPU-bound) */
  readonly memorySize?: number;
}

export class QueryApi extends Construct {
  /** Serves `GET /v1/streams/{stream}/records` behind the HTTP API. */
  public readonly queryFn: NodejsFunction;
  /** Serves `GET /v1/streams/{stream}/tail` behind `tailUrl`. */
  public readonly tailFn: NodejsFunction;
  public readonly tailUrl: FunctionUrl;

  constructor(scope: Construct, id: string, props: QueryApiProps) {
    super(scope, id);
    const query = new SluiceFunction(this, "Query", {
      kind: "query",
      functionName: props.queryFunctionName,
      memorySize: props.memorySize ?? 1769,
      // API Gateway gives up after 30 s; the reader's own time limit (25 s) answers first.
      timeout: Duration.seconds(29),
      environment: functionEnvironment(props.queryFunctionName, props.config),
    });
    this.queryFn = query.fn;
    const tail = new SluiceFunction(this, "Tail", {
      kind: "tail",
      functionName: props.tailFunctionName,
      memorySize: 1024,
      // The app ends a tail at 14 minutes so the client reconnects with `from` before this.
      timeout: Duration.minutes(15),
      environment: functionEnvironment(props.tailFunctionName, props.config),
    });
    this.tailFn = tail.fn;
    for (const role of [query.role, tail.role]) this.grantLakeReads(role, props);
    for (const role of [query.role, tail.role]) this.grantTableReads(role, props);
    props.stream.grant(tail.role, "kinesis:ListShards", "kinesis:GetShardIterator", "kinesis:GetRecords");
    props.stream.encryptionKey?.grant(tail.role, "kms:Decrypt");
    grantTailPayloadKeyDecryption(props.key, tail.role, props.config.app, encryptedStreams(props.config));

    // AuthType NONE, not AWS_IAM: the tail takes the same API keys and JWTs as the API (reader
    // role and up), which SigV4 signing would replace with IAM users. The app checks them before
    // the stream starts and answers a refusal as the API does.
    this.tailUrl = tail.fn.addFunctionUrl({
      authType: FunctionUrlAuthType.NONE,
      invokeMode: InvokeMode.RESPONSE_STREAM,
    });
  }

  /** A read of an Iceberg lake (query or tail) takes its table's snapshot: the Glue entry and the metadata files, read-only. */
  private grantTableReads(role: IRole, props: QueryApiProps): void {
    const stack = Stack.of(this);
    for (const lake of props.lakes) {
      if (lake.table === undefined) continue;
      Grant.addToPrincipal({
        grantee: role,
        actions: ["glue:GetTable"],
        resourceArns: [
          stack.formatArn({ service: "glue", resource: "catalog" }),
          stack.formatArn({ service: "glue", resource: "database", resourceName: lake.table.database }),
          stack.formatArn({
            service: "glue",
            resource: "table",
            resourceName: `${lake.table.database}/${lake.table.table}`,
          }),
        ],
      });
      const metadata = lake.bucket.arnForObjects(`${ICEBERG_PREFIX}${lake.table.table}/*`);
      Grant.addToPrincipal({ grantee: role, actions: ["s3:GetObject"], resourceArns: [metadata] });
      acknowledgeWildcardResources(
        role,
        [metadata],
        "Reads the Iceberg table's metadata files (metadata JSON, manifest lists, manifests), whose names are per commit; GetObject only.",
      );
    }
  }

  private grantLakeReads(role: IRole, props: QueryApiProps): void {
    const objects: string[] = [];
    for (const lake of props.lakes) {
      const arns = lake.keyPatterns.map((p) => lake.bucket.arnForObjects(p));
      objects.push(...arns);
      Grant.addToPrincipal({ grantee: role, actions: ["s3:GetObject"], resourceArns: arns });
      // A template starting with a time placeholder lists from the bucket's root.
      const whole = lake.keyPatterns.includes("*");
      role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ["s3:ListBucket"],
          resources: [lake.bucket.bucketArn],
          ...(whole ? {} : { conditions: { StringLike: { "s3:prefix": [...lake.keyPatterns] } } }),
        }),
      );
      lake.key.grant(role, "kms:Decrypt");
    }
    acknowledgeWildcardResources(
      role,
      objects,
      "Reads the data files under each stream's key patterns, whose partitions (time, fields) are only known per record; GetObject only.",
    );
    // A read's snapshot is each shard's checkpoint (Query by pipeline).
    grantTable(props.checkpoints, role, "dynamodb:Query");
    // A key lookup by idempotency key reads the claim that kept its record id.
    grantTable(props.idempotency, role, "dynamodb:BatchGetItem");
    grantTable(props.apiKeys, role, "dynamodb:GetItem");
  }
}
