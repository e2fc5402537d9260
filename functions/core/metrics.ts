/**
 * What Sluice counts, as CloudWatch metrics in the Embedded Metric Format (Powertools Metrics
 * prints one JSON object per flush to stdout; CloudWatch Logs turns it into metrics), namespace
 * `Sluice/<app>`. The apps call these with what their core already returns; the Lambda handlers
 * flush once per invocation (`logMetrics`); the local runner gives them Metrics that write the same
 * EMF to its own log stream and turns it into metrics as CloudWatch Logs does
 * (localstack/lambda/emf-metrics.ts).
 *
 * Every metric also has Powertools' `service` dimension (`sluice-ingest`, `sluice-batch`), constant
 * per function, so it costs nothing. Ingest, dimension `Stream`: RecordsAccepted, RecordsDuplicate, RecordsRejected (Count) and
 * BytesAccepted (Bytes: the envelopes Kinesis took). RecordsRejected again with the single
 * dimension `Code`: one metric per error code, however many streams there are.
 *
 * Batcher, dimension `Pipeline`: FilesWritten (data files), BytesWritten (their bytes),
 * RecordsRepeated (copies dropped), DeliveryLag (Milliseconds, the batch's oldest event time to
 * its commit: graph its Maximum), and RecordsFailed with `Pipeline` and `Code`. RecordsDelivered,
 * RecordsDropped and RecordsFailed by `Pipeline` alone are not emitted here: lib/pipeline.ts
 * derives them from the batcher's `batch committed` log line under the same names and dimension
 * (its alarm and the dashboard read them), and a second source would double every sum.
 *
 * DeliveryLag also by `service` alone (the app's, over every pipeline: its one alarm).
 *
 * The import chunk worker counts the records it puts on a stream as ingest does (the same names
 * and dimensions, its own `service`), so a stream's figures add the two.
 *
 * Per stream (the `GET /v1/streams/{stream}/stats` figures): ingest's RecordsRejected with `Stream`
 * and `Code`; the batcher's RecordsDelivered, FilesWritten and DeliveryLag (event time to file)
 * with `Pipeline` and `Stream`. A different dimension set is a different CloudWatch metric, so
 * these add no second count to the `Pipeline`-only sums.
 */
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { MetricsOptions } from "@aws-lambda-powertools/metrics/types";
import type { BatchSummary } from "./delivery/batcher.ts";
import type { RecordResult } from "./ingest/ingest.ts";

/** The part of Powertools Metrics the apps use; tests and the local runner may pass none. */
export type MetricsSink = Pick<Metrics, "addDimension" | "addMetric" | "singleMetric">;

/** Logs what Powertools Metrics has to say, without the notice that an invocation counted nothing. */
export interface MetricsLog {
  warn(message: string): void;
}

/** The `service` dimension of ingest's and the batcher's metrics (the stats queries name them). */
export const INGEST_SERVICE = "sluice-ingest";
export const BATCH_SERVICE = "sluice-batch";
/** The import chunk worker's: it counts its records under ingest's names and dimensions. */
export const IMPORT_SERVICE = "sluice-import-chunk";

/** `Sluice/<app>`, or `Sluice` without an app. */
export function metricsNamespace(app: string | undefined): string {
  return app === undefined ? "Sluice" : `Sluice/${app}`;
}

/** What a Sluice function's Powertools Metrics is built with (the Lambda handler's, the local runner's). */
export function metricsOptions(
  app: string | undefined,
  service: string,
  log: MetricsLog,
  dimensions: Readonly<Record<string, string>> = {},
): MetricsOptions {
  const quiet = (message: unknown) => {
    // A health check or a registry read counts nothing; that is not worth a line per request.
    if (typeof message === "string" && message.startsWith("No application metrics to publish")) return;
    log.warn(String(message));
  };
  return {
    namespace: metricsNamespace(app),
    serviceName: service,
    defaultDimensions: { ...dimensions },
    logger: { debug: () => {}, info: () => {}, warn: quiet, error: quiet },
  };
}

export function createMetrics(
  app: string | undefined,
  service: string,
  log: MetricsLog,
  dimensions: Readonly<Record<string, string>> = {},
): Metrics {
  return new Metrics(metricsOptions(app, service, log, dimensions));
}

export interface IngestTally {
  readonly accepted: number;
  readonly duplicate: number;
  readonly rejected: number;
  readonly rejectedByCode: ReadonlyMap<string, number>;
}

export function tallyResults(results: readonly RecordResult[]): IngestTally {
  const counts = { accepted: 0, duplicate: 0, rejected: 0 };
  const rejectedByCode = new Map<string, number>();
  for (const r of results) {
    counts[r.status]++;
    if (r.status === "rejected") {
      const code = r.error?.code ?? "UNKNOWN";
      rejectedByCode.set(code, (rejectedByCode.get(code) ?? 0) + 1);
    }
  }
  return { ...counts, rejectedByCode };
}

export function countIngest(
  metrics: MetricsSink,
  stream: string,
  tally: IngestTally,
  bytesAccepted: number,
): void {
  metrics.addDimension("Stream", stream);
  metrics.addMetric("RecordsAccepted", MetricUnit.Count, tally.accepted);
  metrics.addMetric("RecordsDuplicate", MetricUnit.Count, tally.duplicate);
  metrics.addMetric("RecordsRejected", MetricUnit.Count, tally.rejected);
  metrics.addMetric("BytesAccepted", MetricUnit.Bytes, bytesAccepted);
  for (const [code, n] of tally.rejectedByCode) {
    metrics.singleMetric().addDimension("Code", code).addMetric("RecordsRejected", MetricUnit.Count, n);
    metrics
      .singleMetric()
      .addDimension("Stream", stream)
      .addDimension("Code", code)
      .addMetric("RecordsRejected", MetricUnit.Count, n);
  }
}

/** A committed batch's counts; `nowMs` is the commit, for the lag. */
export function countBatch(metrics: MetricsSink, summary: BatchSummary, nowMs: number): void {
  metrics.addMetric(
    "FilesWritten",
    MetricUnit.Count,
    summary.files.filter((key) => key.endsWith(".parquet")).length,
  );
  metrics.addMetric("BytesWritten", MetricUnit.Bytes, summary.bytes);
  metrics.addMetric("RecordsRepeated", MetricUnit.Count, summary.repeats);
  if (summary.oldestEventMs !== undefined) {
    // An event time ahead of the clock is a producer's skew, not negative lag.
    const lag = Math.max(0, nowMs - summary.oldestEventMs);
    metrics.addMetric("DeliveryLag", MetricUnit.Milliseconds, lag);
    // Once more by `service` alone: the app's lag over every pipeline, for one alarm however many.
    const app = metrics.singleMetric();
    app.clearDefaultDimensions();
    app.addDimension("service", BATCH_SERVICE).addMetric("DeliveryLag", MetricUnit.Milliseconds, lag);
  }
  for (const [code, n] of Object.entries(summary.failedByCode)) {
    metrics.singleMetric().addDimension("Code", code).addMetric("RecordsFailed", MetricUnit.Count, n);
  }
  for (const [stream, s] of Object.entries(summary.byStream ?? {})) {
    // A single metric flushes (and forgets its dimensions) at each addMetric: one per figure.
    const one = () => metrics.singleMetric().addDimension("Stream", stream);
    one().addMetric("RecordsDelivered", MetricUnit.Count, s.delivered);
    one().addMetric("FilesWritten", MetricUnit.Count, s.files);
    if (s.oldestEventMs !== undefined) {
      one().addMetric("DeliveryLag", MetricUnit.Milliseconds, Math.max(0, nowMs - s.oldestEventMs));
    }
  }
}
