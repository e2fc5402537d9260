/**
 * The Athena workgroup over the sinks' Glue tables: results in their own bucket, encrypted with
 * the data key (SSE_KMS), a bytes-scanned limit per query, the workgroup's settings enforced over
 * the client's; and named queries for the common questions about each stream.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { CfnNamedQuery, CfnWorkGroup } from "aws-cdk-lib/aws-athena";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { Bucket, type IBucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { namedQueries, type QueryTarget } from "../functions/core/catalog/athena-queries.ts";
import { dataBucketProps } from "./data-bucket.ts";

export interface AthenaWorkgroupProps {
  readonly workgroupName: string;
  readonly description: string;
  /** Query results are encrypted with it (the app's data key). */
  readonly key: IKey;
  /** Where the results bucket's access logs go. */
  readonly accessLogsBucket: IBucket;
  /** What the named queries are about (`queryTargets`). */
  readonly targets: readonly QueryTarget[];
  /** Athena cancels a query past this many bytes scanned. @default 10 GiB */
  readonly bytesScannedCutoff?: number;
  /** Days results are kept. @default 7 */
  readonly resultRetentionDays?: number;
}

export class AthenaWorkgroup extends Construct {
  public readonly workgroup: CfnWorkGroup;
  public readonly resultsBucket: Bucket;

  constructor(scope: Construct, id: string, props: AthenaWorkgroupProps) {
    super(scope, id);
    this.resultsBucket = new Bucket(this, "Results", {
      ...dataBucketProps(props.key, props.accessLogsBucket, "athena-results/"),
      lifecycleRules: [{ id: "expire-results", expiration: Duration.days(props.resultRetentionDays ?? 7) }],
      // Retained like the lake: CloudFormation cannot delete a bucket that still holds results.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.workgroup = new CfnWorkGroup(this, "Workgroup", {
      name: props.workgroupName,
      description: props.description,
      state: "ENABLED",
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: props.bytesScannedCutoff ?? 10 * 1024 ** 3,
        resultConfiguration: {
          outputLocation: this.resultsBucket.s3UrlForObject("results/"),
          encryptionConfiguration: { encryptionOption: "SSE_KMS", kmsKey: props.key.keyArn },
        },
      },
    });
    for (const target of props.targets) {
      for (const query of namedQueries(target)) {
        new CfnNamedQuery(this, `Query-${query.name.replace(/[^A-Za-z0-9]/g, "-")}`, {
          name: query.name,
          description: query.description,
          database: query.database,
          workGroup: this.workgroup.ref,
          queryString: query.sql,
        });
      }
    }
  }
}
