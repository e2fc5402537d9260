/**
 * The committer of one Iceberg sink's table: a function on a one-minute schedule with reserved
 * concurrency 1, so commits are few (one per minute at most, whatever the shard count) and never
 * race each other in the normal course; the Glue VersionId swap still protects the table from a
 * second writer (an operator's `sluice compact`, a retried invocation). Compaction (hourly) and
 * expiry with orphan removal (daily) run in the same function, so they never overlap a commit. The batchers never touch
 * the table: a commit per batch would turn every shard's batch into a Glue write and a snapshot.
 */
import { Duration } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { Rule, RuleTargetInput, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { Grant } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import type { MaintenanceEvent } from "../functions/commit/maintain.ts";
import { glueName } from "../functions/core/catalog/projection.ts";
import { pendingPartition } from "../functions/core/iceberg/pending-files.ts";
import type { RuntimeConfig } from "../functions/core/runtime-config.ts";
import { SluiceFunction } from "./function-defaults.ts";
import { grantCatalogSync, grantTable, grantTableItems } from "./grants.ts";
import { acknowledgeWildcardResources } from "./nag.ts";
import { functionEnvironment } from "./runtime-env.ts";

/** The variable naming the sink a committer serves. */
export const SINK_ENV = "SLUICE_SINK";

/** The metadata folder of the sink's tables (tableLocation in functions/core/iceberg/committer.ts). */
export const ICEBERG_PREFIX = "_iceberg/";

export interface IcebergCommitterProps {
  readonly sink: string;
  readonly functionName: string;
  readonly config: RuntimeConfig;
  readonly bucket: IBucket;
  /** The sink bucket's key: metadata is written under SSE-KMS like the data. */
  readonly key: IKey;
  readonly checkpoints: ITable;
  readonly schemas: ITable;
  /** @default Duration.minutes(1) */
  readonly interval?: Duration;
  /** Key patterns of the table's data files (the pipelines' data prefixes), for orphan removal. */
  readonly dataKeyPatterns: readonly string[];
  /** Compaction, snapshot expiry and orphan removal, daily. @default { expireDays: 7, retainLast: 1, graceHours: 24 } */
  readonly maintenance?: MaintenanceEvent["maintain"];
  readonly logRetention?: RetentionDays;
  /** How often closed partitions are compacted (the sink's `compaction` settings). @default Duration.hours(1) */
  readonly compactionInterval?: Duration;
}

/** The committer's slice of the config: the pipelines feeding the sink and the sink's table. */
export function committerConfig(config: RuntimeConfig, sink: string): RuntimeConfig {
  const table = glueName(sink);
  return {
    ...config,
    streams: {},
    pipelines: Object.fromEntries(Object.entries(config.pipelines).filter(([, p]) => p.sink.name === sink)),
    catalog: {
      database: config.catalog.database,
      tables: config.catalog.tables.filter((t) => t.table === table),
    },
  };
}

export class IcebergCommitter extends Construct {
  public readonly fn: NodejsFunction;
  public readonly rule: Rule;
  public readonly maintenanceRule: Rule;
  public readonly compactionRule: Rule;

  constructor(scope: Construct, id: string, props: IcebergCommitterProps) {
    super(scope, id);
    const config = committerConfig(props.config, props.sink);
    const f = new SluiceFunction(this, "Commit", {
      kind: "commit",
      functionName: props.functionName,
      description: `Commits the files of sink ${props.sink} to its Iceberg table (scheduled)`,
      // One committer per table: a second invocation while one runs is throttled, not raced.
      reservedConcurrentExecutions: 1,
      // Compaction runs here too (so it never overlaps a commit): a 128 MiB output file in memory
      // beside one input and one output row group, within Lambda's longest timeout.
      timeout: Duration.minutes(15),
      memorySize: 2048,
      environment: functionEnvironment(props.functionName, config, { [SINK_ENV]: props.sink }),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    this.fn = f.fn;
    const role = f.role;
    // Pending files are items of the checkpoints table under `iceberg:{sink}`: listed, then
    // removed; the shards' checkpoints beside them stay out of reach.
    grantTableItems(
      props.checkpoints,
      role,
      [pendingPartition(props.sink)],
      "dynamodb:Query",
      "dynamodb:DeleteItem",
    );
    grantTable(props.schemas, role, "dynamodb:Query");
    grantCatalogSync(role, config.catalog);
    const metadata = props.bucket.arnForObjects(`${ICEBERG_PREFIX}*`);
    const data = props.dataKeyPatterns.map((p) => props.bucket.arnForObjects(p));
    // The metadata folder; and the data prefixes, whose small files compaction reads and
    // rewrites (its outputs go beside them, so the table's files stay under its prefixes).
    Grant.addToPrincipal({
      grantee: role,
      actions: ["s3:GetObject", "s3:PutObject"],
      resourceArns: [metadata, ...data],
    });
    props.key.grant(role, "kms:Decrypt", "kms:GenerateDataKey");
    // Maintenance: expiry deletes metadata no kept snapshot reaches; orphan removal lists the
    // bucket and deletes unreferenced files in the metadata folder and the pipelines' data prefixes.
    const deletable = [metadata, ...data];
    Grant.addToPrincipal({ grantee: role, actions: ["s3:DeleteObject"], resourceArns: deletable });
    Grant.addToPrincipal({
      grantee: role,
      actions: ["s3:ListBucket"],
      resourceArns: [props.bucket.bucketArn],
    });
    acknowledgeWildcardResources(
      role,
      deletable,
      "S3 object ARNs can only be scoped by key prefix: these are the sink's Iceberg metadata folder and the data prefixes of the pipelines writing the table, nothing else in the bucket.",
    );
    this.rule = new Rule(this, "Schedule", {
      schedule: Schedule.rate(props.interval ?? Duration.minutes(1)),
      description: `Iceberg commits of sink ${props.sink}`,
      targets: [new LambdaFunction(f.fn, { retryAttempts: 0 })],
    });
    const settings = props.maintenance ?? { expireDays: 7, retainLast: 1, graceHours: 24 };
    const maintain: MaintenanceEvent = { maintain: settings };
    this.maintenanceRule = new Rule(this, "Maintenance", {
      schedule: Schedule.rate(Duration.days(1)),
      description: `Iceberg compaction, snapshot expiry and orphan removal of sink ${props.sink}`,
      targets: [new LambdaFunction(f.fn, { retryAttempts: 2, event: RuleTargetInput.fromObject(maintain) })],
    });
    // Hour partitions close every hour: compact them then, leaving expiry to the daily run.
    const compact: MaintenanceEvent = { maintain: { ...settings, compact: true, expire: false } };
    this.compactionRule = new Rule(this, "Compaction", {
      schedule: Schedule.rate(props.compactionInterval ?? Duration.hours(1)),
      description: `Iceberg compaction of the closed partitions of sink ${props.sink}`,
      targets: [new LambdaFunction(f.fn, { retryAttempts: 2, event: RuleTargetInput.fromObject(compact) })],
    });
  }
}
