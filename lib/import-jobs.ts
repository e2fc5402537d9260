import { Duration } from "aws-cdk-lib";
import type { HttpApi, IHttpRouteAuthorizer } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpMethod } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { Alarm, ComparisonOperator, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { type IGrantable, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IStream } from "aws-cdk-lib/aws-kinesis";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import { BucketGrants, type IBucket } from "aws-cdk-lib/aws-s3";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { IMPORTS_PREFIX, type RuntimeConfig } from "../functions/core/runtime-config.ts";
import { importsConfig } from "../functions/core/runtime-env.ts";
import { IMPORT_ROUTES } from "../functions/ingest/routes.ts";
import { SluiceFunction } from "./function-defaults.ts";
import {
  encryptedStreams,
  grantPayloadKeyGeneration,
  grantPutRecords,
  grantSendMessage,
  grantTable,
} from "./grants.ts";
import { acknowledge, acknowledgeWildcardResources } from "./nag.ts";
import { functionEnvironment } from "./runtime-env.ts";

export interface ImportJobsProps {
  readonly apiFunctionName: string;
  readonly chunkFunctionName: string;
  readonly queueName: string;
  readonly deadLetterQueueName: string;
  readonly config: RuntimeConfig;
  /** The HTTP API the import routes are added to. */
  readonly api: HttpApi;
  /** The gateway's JWT authorizer, when it verifies tokens (lib/ingest-api.ts). @default none: the function authenticates */
  readonly authorizer?: IHttpRouteAuthorizer;
  readonly stream: IStream;
  /** Encrypts the queues (the stack's data key). */
  readonly key: IKey;
  /** Where payload data keys come from, for streams with `encryption: payload`. @default the stream's key */
  readonly payloadKey?: IKey;
  readonly control: ITable;
  readonly idempotency: ITable;
  readonly schemas: ITable;
  readonly apiKeys: ITable;
  /** The buckets imports read (under `imports/`) and file rejected lines in (under `errors/imports/`). */
  readonly buckets: readonly IBucket[];
  /** Chunk functions running at once: each puts on Kinesis as fast as it can. @default 5 */
  readonly chunkConcurrency?: number;
  readonly logRetention?: RetentionDays;
}

/** How often a chunk is delivered before it is filed on the dead-letter queue. */
export const IMPORT_MAX_RECEIVES = 5;
const CHUNK_TIMEOUT = Duration.minutes(5);
/** Job items in the control table; stream states (`stream#...`) are only read. */
const JOB_ITEMS = "import#*";

/**
 * Import jobs: the API function (`POST /v1/imports`, `GET /v1/imports/{id}`) plans a job, records
 * it in the control table and queues its chunks on SQS; the chunk function, fed one message at a
 * time by an event source mapping with partial batch responses, puts each chunk's records on the
 * stream through the ingest core. A chunk delivered five times without success goes to the
 * dead-letter queue, which alarms. Both queues are encrypted with the stack's data key.
 *
 * Sources: the sinks' buckets, under `imports/` only. The API function may list that prefix and
 * head its objects; the chunk function may read them and write only `errors/imports/` beside them.
 * 20 CloudFormation resources in all (functions/core/manifest/deploy-limits.ts counts them).
 */
export class ImportJobs extends Construct {
  public readonly apiFn: NodejsFunction;
  public readonly chunkFn: NodejsFunction;
  public readonly queue: Queue;
  public readonly deadLetters: Queue;
  public readonly alarms: readonly Alarm[];

  constructor(scope: Construct, id: string, props: ImportJobsProps) {
    super(scope, id);
    const config = importsConfig(props.config);
    const logRetention = props.logRetention ? { logRetention: props.logRetention } : {};

    this.deadLetters = new Queue(this, "DeadLetters", {
      queueName: props.deadLetterQueueName,
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.deadLetters,
      "AwsSolutions-SQS3",
      "This queue is itself a dead-letter queue: where import chunks go after their deliveries run out.",
    );
    this.queue = new Queue(this, "Chunks", {
      queueName: props.queueName,
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      // Six times the function's timeout, as Lambda advises for SQS event sources.
      visibilityTimeout: Duration.seconds(CHUNK_TIMEOUT.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: IMPORT_MAX_RECEIVES },
    });

    const api = new SluiceFunction(this, "Api", {
      kind: "imports",
      functionName: props.apiFunctionName,
      memorySize: 512,
      timeout: Duration.seconds(29),
      environment: functionEnvironment(props.apiFunctionName, config),
      ...logRetention,
    });
    this.apiFn = api.fn;
    grantTable(props.apiKeys, api.role, "dynamodb:GetItem");
    // Reads stream states and jobs; writes only job items.
    grantTable(props.control, api.role, "dynamodb:GetItem");
    grantJobItems(props.control, api.role, "dynamodb:PutItem", "dynamodb:UpdateItem");
    grantSendMessage(this.queue, api.role);
    this.queue.grant(api.role, "sqs:GetQueueUrl");
    const sources = props.buckets.map((b) => b.arnForObjects(`${IMPORTS_PREFIX}*`));
    for (const bucket of props.buckets) {
      // HeadObject of one source; ListObjectsV2 of a prefix, only under imports/.
      BucketGrants.fromBucket(bucket).actionsOnObjectKeys(api.role, `${IMPORTS_PREFIX}*`, "s3:GetObject");
      api.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ["s3:ListBucket"],
          resources: [bucket.bucketArn],
          conditions: { StringLike: { "s3:prefix": [`${IMPORTS_PREFIX}*`] } },
        }),
      );
    }
    acknowledgeWildcardResources(
      api.role,
      sources,
      "S3 object ARNs can only be scoped by key prefix: this is the imports/ prefix of the sink buckets, which holds import sources only.",
    );

    const chunk = new SluiceFunction(this, "Chunk", {
      kind: "importChunk",
      functionName: props.chunkFunctionName,
      memorySize: 1024,
      timeout: CHUNK_TIMEOUT,
      reservedConcurrentExecutions: props.chunkConcurrency ?? 5,
      environment: functionEnvironment(props.chunkFunctionName, config),
      ...logRetention,
    });
    this.chunkFn = chunk.fn;
    const role = chunk.role;
    const errors = props.buckets.map((b) => b.arnForObjects("errors/imports/*"));
    for (const bucket of props.buckets) {
      const grants = BucketGrants.fromBucket(bucket);
      grants.actionsOnObjectKeys(role, `${IMPORTS_PREFIX}*`, "s3:GetObject", "kms:Decrypt");
      grants.actionsOnObjectKeys(role, "errors/imports/*", "s3:PutObject", "kms:GenerateDataKey");
    }
    acknowledgeWildcardResources(
      role,
      [...sources, ...errors],
      "S3 object ARNs can only be scoped by key prefix: the import sources (imports/) to read and the imports' own errors prefix (errors/imports/) to write, nothing else of the buckets.",
    );
    // What ingest does with a record: put it, claim and complete its idempotency key, validate it.
    grantPutRecords(props.stream, role);
    grantTable(
      props.idempotency,
      role,
      "dynamodb:BatchGetItem",
      "dynamodb:PutItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:DeleteItem",
    );
    grantTable(props.schemas, role, "dynamodb:GetItem", "dynamodb:Query");
    grantTable(props.control, role, "dynamodb:GetItem");
    grantJobItems(props.control, role, "dynamodb:UpdateItem");
    const encrypted = encryptedStreams(config);
    const payloadKey = props.payloadKey ?? props.stream.encryptionKey;
    if (encrypted.length > 0 && payloadKey)
      grantPayloadKeyGeneration(payloadKey, role, config.app, encrypted, "ImportChunk");

    this.chunkFn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: 1,
        reportBatchItemFailures: true,
        maxConcurrency: Math.max(2, props.chunkConcurrency ?? 5),
      }),
    );

    const integration = new HttpLambdaIntegration("Imports", this.apiFn);
    for (const route of IMPORT_ROUTES) {
      const [method, path] = route.split(" ") as [keyof typeof HttpMethod, string];
      props.api.addRoutes({
        path,
        methods: [HttpMethod[method]],
        integration,
        ...(props.authorizer === undefined ? {} : { authorizer: props.authorizer }),
      });
    }

    this.alarms = [
      new Alarm(this, "DeadLetterChunks", {
        alarmDescription: `${props.chunkFunctionName}: an import chunk ran out of deliveries; its job stays running until it is replayed`,
        metric: this.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, "ChunkErrors", {
        alarmDescription: `${props.chunkFunctionName}: chunk invocations failed`,
        metric: this.chunkFn.metricErrors({ statistic: "Sum", period: Duration.minutes(5) }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
  }
}

/** `actions` on the control table's job items only (`pk` starting `import#`), and the table's key. */
function grantJobItems(table: ITable, grantee: IGrantable, ...actions: string[]): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      actions,
      resources: [table.tableArn],
      conditions: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [JOB_ITEMS] } },
    }),
  );
  table.encryptionKey?.grant(grantee, "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey");
}
