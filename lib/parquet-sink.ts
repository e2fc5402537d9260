import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";

export interface ParquetSinkProps {
  readonly bucketName: string;
  readonly key: IKey;
  /** Days before error files expire. @default 30 */
  readonly errorRetentionDays?: number;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The bucket a sink writes Parquet (and its errors prefix) to: SSE-KMS, private, TLS only. */
export class ParquetSink extends Construct {
  public readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: ParquetSinkProps) {
    super(scope, id);
    this.bucket = new Bucket(this, "Bucket", {
      bucketName: props.bucketName,
      encryption: BucketEncryption.KMS,
      encryptionKey: props.key,
      bucketKeyEnabled: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: false,
      lifecycleRules: [
        { id: "expire-errors", prefix: "errors/", expiration: Duration.days(props.errorRetentionDays ?? 30) },
      ],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }
}
