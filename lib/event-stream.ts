import { Duration } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, type Metric, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { Stream, StreamEncryption, StreamMode } from "aws-cdk-lib/aws-kinesis";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";
import type { KinesisSettings } from "../functions/core/manifest/types.ts";
import { acknowledge } from "./nag.ts";

export interface EventStreamProps {
  readonly streamName: string;
  /** Key encrypting the stream (SSE-KMS). */
  readonly key: IKey;
  /** Capacity mode, shards and retention. @default on demand, 24 h retention */
  readonly settings?: KinesisSettings;
  /**
   * Throttled records in 5 minutes that raise the alarm. Ingest retries throttled records with
   * backoff before answering 503, so raise this where bursts are expected. @default 1
   */
  readonly writeThrottleAlarmThreshold?: number;
}

/** The Kinesis stream every logical stream shares: the write-ahead log of ingest. */
export class EventStream extends Construct {
  public readonly stream: Stream;
  /** Alarms this stream raises; the dashboard sends them to the alarm topic. */
  public readonly alarms: readonly Alarm[];

  constructor(scope: Construct, id: string, props: EventStreamProps) {
    super(scope, id);
    const s = props.settings ?? { mode: "on-demand", shards: 1, retentionHours: 24 };
    this.stream = new Stream(this, "Stream", {
      streamName: props.streamName,
      encryption: StreamEncryption.KMS,
      encryptionKey: props.key,
      retentionPeriod: Duration.hours(s.retentionHours),
      ...(s.mode === "provisioned"
        ? { streamMode: StreamMode.PROVISIONED, shardCount: s.shards }
        : { streamMode: StreamMode.ON_DEMAND }),
    });
    acknowledge(
      this.stream,
      "AwsSolutions-KDS3",
      "The stream uses Sluice's customer managed key on purpose: its key policy, not the account-wide aws/kinesis key, decides who can read the events.",
    );
    this.alarms = [
      new Alarm(this, "WriteThrottles", {
        alarmDescription: `${props.streamName}: writes throttled; ingest is answering 503 to some records`,
        metric: this.metricWriteThrottles(),
        threshold: props.writeThrottleAlarmThreshold ?? 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
  }

  /** Records PutRecords had throttled (AWS/Kinesis PutRecords.ThrottledRecords), per 5 min. */
  public metricWriteThrottles(): Metric {
    return this.stream.metricPutRecordsThrottledRecords({ statistic: "Sum", period: Duration.minutes(5) });
  }

  /** Records put on the stream (AWS/Kinesis IncomingRecords). */
  public metricIncomingRecords(): Metric {
    return this.stream.metricIncomingRecords({ statistic: "Sum", period: Duration.minutes(1) });
  }
}
