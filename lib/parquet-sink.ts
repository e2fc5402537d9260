import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type { IKey } from "aws-cdk-lib/aws-kms";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
} from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import type { RetentionRule } from "../functions/core/streams/retention.ts";
import { dataBucketProps } from "./data-bucket.ts";
import { LakeTable, type LakeTableProps } from "./lake-table.ts";

export interface ParquetSinkProps {
  readonly bucketName: string;
  /** Key for the bucket's default SSE-KMS encryption (the batcher names it on every put too). */
  readonly key: IKey;
  /** Days before files under `errors/` expire. @default 30 */
  readonly errorRetentionDays?: number;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Days an overwritten or deleted object's previous version is kept: the window in which
   * anything a faulty or compromised batcher deletes or overwrites can be restored. @default 30
   */
  readonly noncurrentVersionRetentionDays?: number;
  /** Where S3 server access logs go. @default a bucket of the sink's own */
  readonly accessLogsBucket?: IBucket;
  /** Days access logs are kept in the sink's own log bucket. @default 90 */
  readonly accessLogRetentionDays?: number;
  /** Per-stream expirations (functions/core/streams/retention.ts). @default none */
  readonly retention?: readonly RetentionRule[];
  /** The Glue table over the data. @default no table */
  readonly catalog?: Omit<LakeTableProps, "bucketName">;
}

/**
 * The bucket a sink writes Parquet (and its `errors/` prefix) to: SSE-KMS with a bucket key,
 * private, TLS only, access-logged; and the Glue table that makes it queryable from Athena.
 */
export class ParquetSink extends Construct {
  public readonly bucket: Bucket;
  public readonly accessLogsBucket: IBucket;
  public readonly table?: LakeTable;

  constructor(scope: Construct, id: string, props: ParquetSinkProps) {
    super(scope, id);
    // Log delivery by bucket policy: ACLs, CDK's other way, are off under BUCKET_OWNER_ENFORCED.
    this.node.setContext("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", true);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    let accessLogs = props.accessLogsBucket;
    if (!accessLogs) {
      const own = new Bucket(this, "AccessLogs", {
        // Server access logs can only be delivered to SSE-S3 buckets.
        encryption: BucketEncryption.S3_MANAGED,
        blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
        objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforceSSL: true,
        lifecycleRules: [
          { id: "expire-logs", expiration: Duration.days(props.accessLogRetentionDays ?? 90) },
        ],
        removalPolicy,
      });
      accessLogs = own;
    }
    this.accessLogsBucket = accessLogs;
    this.bucket = new Bucket(this, "Bucket", {
      bucketName: props.bucketName,
      ...dataBucketProps(props.key, accessLogs, `${props.bucketName}/`),
      // Versioned: a batcher's DeleteObject (how a retried batch removes a failed attempt's
      // objects) only adds a delete marker, and it has no s3:DeleteObjectVersion, so no function
      // can erase the lake; previous versions expire after noncurrentVersionRetentionDays.
      versioned: true,
      lifecycleRules: [
        {
          id: "expire-errors",
          prefix: "errors/",
          // S3 applies the shortest of overlapping expirations: a stream's longer errors/ rule must win.
          expiration: Duration.days(
            Math.max(
              props.errorRetentionDays ?? 30,
              ...(props.retention ?? []).filter((r) => r.prefix.startsWith("errors/")).map((r) => r.days),
            ),
          ),
        },
        ...(props.retention ?? []).map((r) => ({
          id: r.id,
          prefix: r.prefix,
          expiration: Duration.days(r.days),
        })),
        { id: "abort-incomplete-uploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
        {
          id: "expire-previous-versions",
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionRetentionDays ?? 30),
          expiredObjectDeleteMarker: true,
        },
      ],
      removalPolicy,
    });
    if (props.catalog) {
      this.table = new LakeTable(this, "Catalog", { ...props.catalog, bucketName: props.bucketName });
    }
  }
}
