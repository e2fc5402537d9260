/**
 * The per-stream metrics ingest, import jobs and the batcher emit in EMF
 * (functions/core/metrics.ts), as CDK metrics for the dashboard: the same names and dimension sets
 * `GET /v1/streams/{stream}/stats` reads, so the dashboard and the API show the same figures.
 */
import { Duration } from "aws-cdk-lib";
import { MathExpression, Metric } from "aws-cdk-lib/aws-cloudwatch";
import { BATCH_SERVICE, IMPORT_SERVICE, INGEST_SERVICE } from "../functions/core/metrics.ts";

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

  /**
   * RecordsAccepted, RecordsDuplicate, RecordsRejected, BytesAccepted per minute: the API's and
   * the import jobs' added, as the stats route adds them.
   */
  public ingest(
    metricName: "RecordsAccepted" | "RecordsDuplicate" | "RecordsRejected" | "BytesAccepted",
    label: string,
  ): MathExpression {
    const of = (service: string) =>
      new Metric({
        namespace: this.props.namespace,
        metricName,
        dimensionsMap: { service, Stream: this.props.stream },
        statistic: "Sum",
        period: PERIOD,
      });
    // Ids are per graph: a graph shows several of these.
    const id = metricName.charAt(0).toLowerCase() + metricName.slice(1);
    return new MathExpression({
      expression: `FILL(${id}Api, 0) + FILL(${id}Imports, 0)`,
      usingMetrics: { [`${id}Api`]: of(INGEST_SERVICE), [`${id}Imports`]: of(IMPORT_SERVICE) },
      label,
      period: PERIOD,
    });
  }

  /** One series per rejection code met and who met it (codes are not known at deploy time). */
  public rejectedByCode(): MathExpression {
    const { namespace, stream } = this.props;
    return new MathExpression({
      expression: `SEARCH('{"${namespace}","Code","Stream","service"} Stream="${stream}" MetricName="RecordsRejected"', 'Sum', 60)`,
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
