/**
 * The local runner's side of metrics: the functions' own Powertools Metrics, writing the same EMF
 * they print in Lambda, but to the runner's log stream instead of stdout; and what CloudWatch
 * Logs does with EMF lines there (./emf-extract.ts) sends them on with PutMetricData.
 *
 * Lambda runs one invocation per container and flushes at its end (`logMetrics`); the runner runs
 * concurrent invocations in one process, so each app's counts are flushed as soon as the
 * synchronous call that made them returns (a microtask later), before another invocation can add
 * a dimension to the same set.
 */
import { Metrics } from "@aws-lambda-powertools/metrics";
import type { MetricsOptions } from "@aws-lambda-powertools/metrics/types";

/** A log stream: one EMF JSON document per line, as Lambda writes it to CloudWatch Logs. */
export type LogLine = (line: string) => void;

export class LogStreamMetrics extends Metrics {
  readonly #options: MetricsOptions;
  readonly #write: LogLine;
  #scheduled = false;

  constructor(options: MetricsOptions, write: LogLine) {
    super(options);
    this.#options = options;
    this.#write = write;
  }

  override addMetric(...args: Parameters<Metrics["addMetric"]>): this {
    super.addMetric(...args);
    if (this.#scheduled) return this;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.publishStoredMetrics();
    });
    return this;
  }

  override publishStoredMetrics(): this {
    try {
      if (this.hasStoredMetrics()) this.#write(JSON.stringify(this.serializeMetrics()));
    } finally {
      this.clearMetrics();
      this.clearDimensions();
      this.clearMetadata();
    }
    return this;
  }

  /** The base class's would print to stdout: this one writes to the same log stream. */
  override singleMetric(): Metrics {
    return new LogStreamMetrics({ ...this.#options, singleMetric: true }, this.#write);
  }
}
