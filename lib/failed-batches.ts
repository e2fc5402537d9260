/**
 * The failed-batches bucket: where an event source mapping with `batch.onFailure: bucket` files
 * a batch it gives up on, the whole invocation (the records themselves) with its shard and
 * sequence range, so a batch stays recoverable long after the stream's retention has dropped it
 * (README, Deploy, "Failed batches", says how to put one back on the stream).
 *
 * Lambda writes the records as `aws/lambda/<mapping uuid>/<shard id>/YYYY/MM/DD/<time>-<uuid>`;
 * the mapping's role may put objects under `aws/lambda/` and list the bucket (what Lambda asks
 * for), nothing else: no reads, no deletes.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Grant, type IGrantable } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import type { IEventSourceDlq } from "aws-cdk-lib/aws-lambda";
import { Bucket, BucketGrants, type IBucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { dataBucketProps } from "./data-bucket.ts";
import { acknowledgeWildcardResources } from "./nag.ts";

/** Where Lambda writes a mapping's failed invocations in the destination bucket. */
export const FAILED_BATCH_PREFIX = "aws/lambda/";

export interface FailedBatchesProps {
  /** Encrypts the records at rest, as the stream and the lake do. */
  readonly key: IKey;
  /** Where S3 server access logs go. */
  readonly accessLogsBucket: IBucket;
  /** Days a failed batch is kept. @default 90 */
  readonly retentionDays?: number;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

export class FailedBatches extends Construct {
  public readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: FailedBatchesProps) {
    super(scope, id);
    this.bucket = new Bucket(this, "Bucket", {
      ...dataBucketProps(props.key, props.accessLogsBucket, "failed-batches/"),
      versioned: true,
      lifecycleRules: [
        { id: "expire-failed-batches", expiration: Duration.days(props.retentionDays ?? 90) },
        { id: "expire-previous-versions", noncurrentVersionExpiration: Duration.days(30) },
      ],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  /**
   * The on-failure destination for one mapping, granting its function's role only what Lambda
   * needs to write there (CDK's S3OnFailureDestination grants read and delete too).
   */
  public destinationFor(grantee: IGrantable): IEventSourceDlq {
    const bucket = this.bucket;
    return {
      bind: () => {
        BucketGrants.fromBucket(bucket).actionsOnObjectKeys(
          grantee,
          `${FAILED_BATCH_PREFIX}*`,
          "s3:PutObject",
          "kms:GenerateDataKey",
        );
        Grant.addToPrincipal({ grantee, actions: ["s3:ListBucket"], resourceArns: [bucket.bucketArn] });
        acknowledgeWildcardResources(
          grantee.grantPrincipal as unknown as Construct,
          [bucket.arnForObjects(`${FAILED_BATCH_PREFIX}*`)],
          "Lambda names each failed batch's object itself (mapping uuid, shard, time); the role may only put objects under aws/lambda/ in the failed-batches bucket.",
        );
        return { destination: bucket.bucketArn };
      },
    };
  }
}
