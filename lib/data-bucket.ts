/** The settings every bucket holding Sluice data shares: SSE-KMS with a bucket key, private, TLS only, access-logged. */
import type { IKey } from "aws-cdk-lib/aws-kms";
import {
  BlockPublicAccess,
  BucketEncryption,
  type BucketProps,
  type IBucket,
  ObjectOwnership,
} from "aws-cdk-lib/aws-s3";

export function dataBucketProps(key: IKey, accessLogs: IBucket, logPrefix: string): BucketProps {
  return {
    encryption: BucketEncryption.KMS,
    encryptionKey: key,
    bucketKeyEnabled: true,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: logPrefix,
  };
}
