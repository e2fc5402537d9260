import { Duration } from "aws-cdk-lib";
import { Stream, StreamEncryption, StreamMode } from "aws-cdk-lib/aws-kinesis";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";
import type { KinesisSettings } from "../functions/core/manifest/types.ts";

export interface EventStreamProps {
  readonly streamName: string;
  readonly key: IKey;
  /** @default on demand, 24 h retention */
  readonly settings?: KinesisSettings;
}

/** The Kinesis stream every logical stream shares: the write-ahead log of ingest. */
export class EventStream extends Construct {
  public readonly stream: Stream;

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
  }
}
