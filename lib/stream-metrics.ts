/**
 * The per-stream metrics ingest and the batcher emit in EMF (functions/core/metrics.ts), as CDK
 * metrics for the dashboard: the same names and dimension sets `GET /v1/streams/{stream}/stats`
 * reads, so the dashboard and the API show the same figures.
 */
import { Duration } from "aws-cdk-lib";
import { MathExpression, Metric } from "aws-cdk-lib/aws-cloudwatch";
import { BATCH_SERVICE, INGEST_SERVICE } from "../functions/core/metrics.ts";

export interface StreamMetricsProps {
  /** `Sluice/<app>`. */
  readonly namespace: string;
  readonly stream: string;
  /** The pipelines reading the stream: each delivers it on its own. */
  readonly pipelines: readonly string[];
}

const PERIOD = Duration.minutes(1);

export class StreamMetrics {
  constructor(private readonly props: StreamMetricsProps) {}

  /** RecordsAccepted, RecordsDuplicate, RecordsRejected, BytesAccepted of ingest, per minute. */
  public ingest(
    metricName: "RecordsAccepted" | "RecordsDuplicate" | "RecordsRejected" | "BytesAccepted",
    label: string,
  ): Metric {
    return new Metric({
      namespace: this.props.namespace,
      metricName,
      dimensionsMap: { service: INGEST_SERVICE, Stream: this.props.stream },
      statistic: "Sum",
      period: PERIOD,
      label,
    });
  }

  /** One series per rejection code met (codes are not known at deploy time). */
  public rejectedByCode(): MathExpression {
    const { namespace, stream } = this.props;
    return new MathExpression({
      expression: `SEARCH('{"${namespace}","Code","Stream","service"} Stream="${stream}" service="${INGEST_SERVICE}" MetricName="RecordsRejected"', 'Sum', 60)`,
      usingMetrics: {},
      label: "",
      period: PERIOD,
    });
  }

  /** RecordsDelivered and FilesWritten (Sum) or DeliveryLag (Maximum) of each pipeline reading it. */
  public delivery(metricName: "RecordsDelivered" | "FilesWritten" | "DeliveryLag"): Metric[] {
    return this.props.pipelines.map(
      (pipeline) =>
        new Metric({
          namespace: this.props.namespace,
          metricName,
          dimensionsMap: { service: BATCH_SERVICE, Pipeline: pipeline, Stream: this.props.stream },
          statistic: metricName === "DeliveryLag" ? "Maximum" : "Sum",
          period: PERIOD,
          label: `${metricName === "DeliveryLag" ? "lag" : metricName === "FilesWritten" ? "files" : "delivered"} (${pipeline})`,
        }),
    );
  }
}
