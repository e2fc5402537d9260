/**
 * Least-privilege grants: the exact API actions Sluice's code calls, on exactly the resource, plus
 * the KMS actions the service performs with the caller's credentials when the resource is
 * KMS-encrypted. CDK's broad helpers (`grantReadWriteData`, `grantWrite`, `grantEncryptDecrypt`)
 * add actions Sluice never calls and wildcard actions (`kms:ReEncrypt*`, `kms:GenerateDataKey*`).
 */
import { Stack } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { ArnPrincipal, Grant, type IGrantable, type IRole, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IStream } from "aws-cdk-lib/aws-kinesis";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { BucketGrants, type IBucket } from "aws-cdk-lib/aws-s3";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import type { IConstruct } from "constructs";
import type { CatalogConfig } from "../functions/core/catalog/sync.ts";
import { CONTEXT_APP, CONTEXT_STREAM } from "../functions/core/crypto/context.ts";
import type { RuntimeConfig } from "../functions/core/runtime-config.ts";

/** What DynamoDB asks KMS for on behalf of a caller reading, or also writing, an encrypted table. */
const KMS_FOR_TABLE_READ = ["kms:Decrypt", "kms:DescribeKey"] as const;
const KMS_FOR_TABLE_WRITE = [...KMS_FOR_TABLE_READ, "kms:Encrypt", "kms:GenerateDataKey"] as const;
const TABLE_WRITES = new Set([
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
]);

export type TableAction =
  | "dynamodb:GetItem"
  | "dynamodb:BatchGetItem"
  | "dynamodb:Query"
  | "dynamodb:Scan"
  | "dynamodb:PutItem"
  | "dynamodb:UpdateItem"
  | "dynamodb:DeleteItem"
  | "dynamodb:BatchWriteItem";

/** Like grantTable, but only on the items whose partition key is one of `leadingKeys`. */
export function grantTableItems(
  table: ITable,
  grantee: IGrantable,
  leadingKeys: readonly string[],
  ...actions: TableAction[]
): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      actions,
      resources: [table.tableArn],
      conditions: { "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": [...leadingKeys] } },
    }),
  );
  const writes = actions.some((a) => TABLE_WRITES.has(a));
  table.encryptionKey?.grant(grantee, ...(writes ? KMS_FOR_TABLE_WRITE : KMS_FOR_TABLE_READ));
}

/** Grants `actions` on the table (not its indexes: Sluice's tables have none) and its key. */
export function grantTable(table: ITable, grantee: IGrantable, ...actions: TableAction[]): void {
  table.grant(grantee, ...actions);
  const writes = actions.some((a) => TABLE_WRITES.has(a));
  table.encryptionKey?.grant(grantee, ...(writes ? KMS_FOR_TABLE_WRITE : KMS_FOR_TABLE_READ));
}

/** PutRecords, the only write ingest makes; Kinesis generates a data key for each encrypted put. */
export function grantPutRecords(stream: IStream, grantee: IGrantable): void {
  stream.grant(grantee, "kinesis:PutRecords");
  stream.encryptionKey?.grant(grantee, "kms:GenerateDataKey");
}

/**
 * What an event source mapping reads a stream with, using the function's role (Lambda's
 * documented set for Kinesis, without the enhanced fan-out and ListStreams actions it does not use).
 */
export function grantEventSourceRead(stream: IStream, grantee: IGrantable): void {
  stream.grant(
    grantee,
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
  );
  stream.encryptionKey?.grant(grantee, "kms:Decrypt");
}

/** SendMessage to a queue; SQS needs a data key, and Decrypt to reuse it, on encrypted queues. */
export function grantSendMessage(queue: IQueue, grantee: IGrantable): void {
  queue.grant(grantee, "sqs:SendMessage");
  queue.encryptionMasterKey?.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt");
}

/**
 * PutObject and DeleteObject on the objects matching `keyPatterns` (`feedback/dt=*`), with the
 * bucket key's GenerateDataKey for SSE-KMS (single-part puts; Sluice never uploads in parts).
 * Deleting is how a retried batch removes what a failed attempt wrote. Returns the object ARNs.
 */
export function grantObjectWrites(
  bucket: IBucket,
  grantee: IGrantable,
  keyPatterns: readonly string[],
): string[] {
  const grants = BucketGrants.fromBucket(bucket);
  for (const pattern of keyPatterns) {
    grants.actionsOnObjectKeys(grantee, pattern, "s3:PutObject", "s3:DeleteObject", "kms:GenerateDataKey");
  }
  return keyPatterns.map((p) => bucket.arnForObjects(p));
}

/** InvokeFunction on exactly `functionArn`: not its versions or aliases (CDK's grantInvoke adds `:*`). */
export function grantInvoke(functionArn: string, grantee: IGrantable): void {
  Grant.addToPrincipal({ grantee, actions: ["lambda:InvokeFunction"], resourceArns: [functionArn] });
}

/** What schema registration calls to keep the sinks' tables on the registered columns. */
export function grantCatalogSync(grantee: IGrantable, catalog: CatalogConfig): void {
  if (catalog.tables.length === 0) return;
  const stack = Stack.of(grantee.grantPrincipal as unknown as IConstruct);
  const arn = (resource: string, resourceName?: string) =>
    stack.formatArn({ service: "glue", resource, ...(resourceName === undefined ? {} : { resourceName }) });
  Grant.addToPrincipal({
    grantee,
    actions: ["glue:GetTable", "glue:UpdateTable"],
    resourceArns: [
      stack.formatArn({ service: "glue", resource: "catalog" }),
      arn("database", catalog.database),
      ...catalog.tables.map((t) => arn("table", `${t.database}/${t.table}`)),
    ],
  });
}

/** The streams of `config` whose payloads ingest encrypts, among `names` when given. */
export function encryptedStreams(
  config: Pick<RuntimeConfig, "streams">,
  names?: readonly string[],
): string[] {
  return (names ?? Object.keys(config.streams)).filter((n) => config.streams[n]?.encryption === "payload");
}

/** Who and what, readable in the console; the role's construct address keeps it unique. */
function statementId(who: string, action: string, role: IRole): string {
  const verb = action === "kms:Decrypt" ? "Decrypts" : "Generates";
  return `${who.replace(/[^A-Za-z0-9]/g, "")}${verb}PayloadKeys${role.node.addr.slice(0, 6)}`;
}

/**
 * Payload data key use, in the role's policy and in the key's own policy (which names the role:
 * Sluice's key otherwise admits direct calls from nobody, see DataKey), conditioned on the
 * encryption context: the app, and one of `streams`. Nothing when `streams` is empty.
 */
function grantPayloadKeys(
  who: string,
  key: IKey,
  role: IRole,
  action: "kms:GenerateDataKey" | "kms:Decrypt",
  app: string,
  streams: readonly string[],
): void {
  if (streams.length === 0) return;
  const conditions = {
    StringEquals: {
      [`kms:EncryptionContext:${CONTEXT_APP}`]: app,
      [`kms:EncryptionContext:${CONTEXT_STREAM}`]: [...streams].sort(),
    },
  };
  Grant.addToPrincipal({ grantee: role, actions: [action], resourceArns: [key.keyArn], conditions });
  key.addToResourcePolicy(
    new PolicyStatement({
      sid: statementId(who, action, role),
      principals: [new ArnPrincipal(role.roleArn)],
      actions: [action],
      resources: ["*"],
      conditions,
    }),
    true,
  );
}

/**
 * Ingest makes data keys for the encrypted streams (GenerateDataKey, AES_256) and may not decrypt
 * them: what it encrypted, it cannot read back from the stream.
 */
export function grantPayloadKeyGeneration(
  key: IKey,
  role: IRole,
  app: string,
  streams: readonly string[],
  who = "Ingest",
): void {
  grantPayloadKeys(who, key, role, "kms:GenerateDataKey", app, streams);
}

/** A pipeline's batcher decrypts the data keys of the encrypted streams it reads, and no others. */
export function grantPayloadKeyDecryption(
  pipeline: string,
  key: IKey,
  role: IRole,
  app: string,
  streams: readonly string[],
): void {
  grantPayloadKeys(`Pipeline-${pipeline}`, key, role, "kms:Decrypt", app, streams);
}

/** The tail decrypts the data keys of the encrypted streams to show their live records. */
export function grantTailPayloadKeyDecryption(
  key: IKey,
  role: IRole,
  app: string,
  streams: readonly string[],
): void {
  grantPayloadKeys("Tail", key, role, "kms:Decrypt", app, streams);
}
