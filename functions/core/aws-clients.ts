/**
 * AWS SDK v3 clients for the runtime. Endpoint and region come from the caller (a handler reads
 * them from the environment once), so the same code talks to AWS, LocalStack or the embedded stack.
 */
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KinesisClient } from "@aws-sdk/client-kinesis";
import { KMSClient } from "@aws-sdk/client-kms";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { NodeHttpHandler } from "@smithy/node-http-handler";

export interface AwsSettings {
  /** Custom endpoint (LocalStack, the embedded stack); AWS's own when absent. */
  readonly endpoint?: string;
  readonly region?: string;
}

export interface AwsClients {
  readonly kinesis: KinesisClient;
  /**
   * PutRecords without the SDK's retries: a retry after a lost answer would write copies nobody
   * marked as possible repeats. The Kinesis writer retries itself and marks them.
   */
  readonly kinesisPut: KinesisClient;
  readonly dynamo: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly kms: KMSClient;
  readonly lambda: LambdaClient;
  readonly sqs: SQSClient;
}

export function awsSettingsFromEnv(env: NodeJS.ProcessEnv): AwsSettings {
  return {
    ...(env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL } : {}),
    ...(env.AWS_REGION || env.AWS_DEFAULT_REGION ? { region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION } : {}),
  };
}

/** What every client shares: region, endpoint and a keep-alive HTTP/1.1 handler. */
export interface ClientBase {
  readonly region: string;
  readonly endpoint?: string;
  readonly requestHandler: NodeHttpHandler;
}

export function clientBase(settings: AwsSettings): ClientBase {
  return {
    region: settings.region ?? "us-east-1",
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    // One keep-alive HTTP/1.1 agent per client: the Kinesis client defaults to HTTP/2, which
    // buys nothing for PutRecords/GetRecords and breaks on emulators without h2c.
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 30_000 }),
  };
}

// One factory per client, so a handler that builds only the clients it uses bundles only those
// (the S3 and Lambda clients are ~180 KB of minified code the ingest function never calls).

export function kinesisClient(base: ClientBase): KinesisClient {
  return new KinesisClient(base);
}

/** See `AwsClients.kinesisPut`. */
export function kinesisPutClient(base: ClientBase): KinesisClient {
  return new KinesisClient({ ...base, maxAttempts: 1 });
}

export function dynamoClient(base: ClientBase): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(base), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export function s3Client(base: ClientBase): S3Client {
  return new S3Client({
    ...base,
    // Custom endpoints are addressed by IP or localhost, where virtual-hosted buckets cannot resolve.
    forcePathStyle: base.endpoint !== undefined,
    // Emulators such as s3rver store aws-chunked trailers verbatim; plain bodies are stored as sent.
    ...(base.endpoint ? { requestChecksumCalculation: "WHEN_REQUIRED" as const } : {}),
  });
}

export function kmsClient(base: ClientBase): KMSClient {
  return new KMSClient(base);
}

/** Only the functions that read or write metrics through the API build one (stats, the local runner). */
export function cloudWatchClient(base: ClientBase): CloudWatchClient {
  return new CloudWatchClient(base);
}

export function lambdaClient(base: ClientBase): LambdaClient {
  return new LambdaClient(base);
}

export function sqsClient(base: ClientBase): SQSClient {
  return new SQSClient(base);
}

export function createAwsClients(settings: AwsSettings): AwsClients {
  const base = clientBase(settings);
  return {
    kinesis: kinesisClient(base),
    kinesisPut: kinesisPutClient(base),
    dynamo: dynamoClient(base),
    s3: s3Client(base),
    kms: kmsClient(base),
    lambda: lambdaClient(base),
    sqs: sqsClient(base),
  };
}
