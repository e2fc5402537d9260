import { Aws, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import { AccountRootPrincipal, PolicyDocument, PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Alias, Key } from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";

export interface DataKeyProps {
  /** e.g. `alias/sluice`. */
  readonly alias: string;
  readonly description: string;
  /** Services whose resources the key encrypts. @default dynamodb, kinesis, s3, sqs */
  readonly services?: readonly string[];
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Key administration, and nothing else, for the account's IAM. Listed one by one: the key policy
 * holds no wildcard action.
 */
const ADMIN_ACTIONS = [
  "kms:CancelKeyDeletion",
  "kms:CreateAlias",
  "kms:DeleteAlias",
  "kms:DescribeKey",
  "kms:DisableKey",
  "kms:DisableKeyRotation",
  "kms:EnableKey",
  "kms:EnableKeyRotation",
  "kms:GetKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:ListGrants",
  "kms:ListKeyPolicies",
  "kms:ListKeyRotations",
  "kms:ListResourceTags",
  "kms:PutKeyPolicy",
  "kms:RevokeGrant",
  "kms:RotateKeyOnDemand",
  "kms:ScheduleKeyDeletion",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateAlias",
  "kms:UpdateKeyDescription",
];

/**
 * What the services encrypting Sluice's data ask for with a caller's credentials: data keys,
 * decryption, and the grants DynamoDB takes when a table is created.
 */
const USE_ACTIONS = [
  "kms:CreateGrant",
  "kms:Decrypt",
  "kms:DescribeKey",
  "kms:Encrypt",
  "kms:GenerateDataKey",
  "kms:GenerateDataKeyWithoutPlaintext",
  "kms:ReEncryptFrom",
  "kms:ReEncryptTo",
];

/**
 * Sluice's data key, with a scoped key policy instead of CDK's default (`kms:*` for the account):
 * - the account's IAM may administer the key but not use it directly;
 * - it may use it only through the services that hold Sluice's data (kms:ViaService), so a role
 *   needs both an IAM grant (each function gets exact actions) and to come through DynamoDB,
 *   Kinesis, S3 or SQS: nobody decrypts events with a bare kms:Decrypt call;
 * - CloudWatch may use it only for the alarm topic (see `allowAlarmTopic`).
 * Payload encryption (`encryption: payload`, DESIGN.md `enc`) adds statements naming roles, only
 * when a stream uses it: ingest's may GenerateDataKey and each batcher's may Decrypt, both only
 * with the encryption context of the app and their streams (lib/grants.ts `grantPayloadKey*`).
 */
export class DataKey extends Construct {
  public readonly key: Key;
  public readonly alias: Alias;

  constructor(scope: Construct, id: string, props: DataKeyProps) {
    super(scope, id);
    const account = new AccountRootPrincipal();
    const services = props.services ?? ["dynamodb", "kinesis", "s3", "sqs"];
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.key = new Key(this, "Key", {
      description: props.description,
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
      removalPolicy,
      policy: new PolicyDocument({
        statements: [
          new PolicyStatement({
            sid: "KeyAdministration",
            principals: [account],
            actions: ADMIN_ACTIONS,
            resources: ["*"],
          }),
          new PolicyStatement({
            sid: "UseThroughSluiceServices",
            principals: [account],
            actions: USE_ACTIONS,
            resources: ["*"],
            conditions: {
              StringEquals: {
                "kms:CallerAccount": Aws.ACCOUNT_ID,
                "kms:ViaService": services.map((s) => `${s}.${Aws.REGION}.amazonaws.com`),
              },
            },
          }),
        ],
      }),
    });
    // Retained with the key: a destroyed stage leaves key and alias together, and both are
    // adopted again by `cdk import` (README, deploy), instead of one orphaned key per redeploy.
    this.alias = new Alias(this, "Alias", { aliasName: props.alias, targetKey: this.key, removalPolicy });
  }

  /**
   * Lets CloudWatch alarms publish to `topicName`, encrypted with this key: SNS asks KMS for a data
   * key as CloudWatch, and only with the topic's ARN as encryption context. The ARN is built from
   * the name, since the topic itself depends on the key.
   */
  public allowAlarmTopic(topicName: string): void {
    const topicArn = Stack.of(this).formatArn({ service: "sns", resource: topicName });
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: "CloudWatchAlarmsToSluiceTopic",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["kms:Decrypt", "kms:GenerateDataKey"],
        resources: ["*"],
        conditions: { StringEquals: { "kms:EncryptionContext:aws:sns:topicArn": topicArn } },
      }),
    );
  }
}
