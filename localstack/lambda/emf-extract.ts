/**
 * What CloudWatch Logs does with the Embedded Metric Format on AWS, for the local runner: each
 * EMF line of a function's log stream becomes metrics, sent on with PutMetricData to the
 * endpoint (the embedded CloudWatch, or real LocalStack's). Per the EMF specification: every
 * directive's metrics once per dimension set, the values at the root under the same names, a
 * list of values as that many samples, the document's `_aws.Timestamp` as their time.
 */
import { type CloudWatchClient, type MetricDatum, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import type { Logger } from "../../functions/core/logger.ts";

export interface ExtractedMetrics {
  readonly namespace: string;
  readonly data: MetricDatum[];
}

interface Directive {
  Namespace?: unknown;
  Dimensions?: unknown;
  Metrics?: unknown;
}

/** CloudWatch takes at most 150 values in one datum. */
const MAX_VALUES = 150;
/** And 1000 data in one PutMetricData. */
const MAX_DATA = 1000;

/** The metrics in one log line; none for a line that is not an EMF document (plain logs). */
export function extractEmf(line: string): ExtractedMetrics[] {
  if (!line.startsWith('{"_aws"')) return [];
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return [];
  }
  const aws = doc._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
  if (typeof aws?.Timestamp !== "number" || !Array.isArray(aws.CloudWatchMetrics)) return [];
  const timestamp = new Date(aws.Timestamp);
  const out: ExtractedMetrics[] = [];
  for (const d of aws.CloudWatchMetrics as Directive[]) {
    if (typeof d.Namespace !== "string" || !Array.isArray(d.Metrics)) continue;
    const sets = Array.isArray(d.Dimensions) ? (d.Dimensions as unknown[]) : [[]];
    const data: MetricDatum[] = [];
    for (const set of sets) {
      if (!Array.isArray(set)) continue;
      const dims = set.filter((n): n is string => typeof n === "string" && typeof doc[n] === "string");
      // A dimension without a string value at the root invalidates the set, as in CloudWatch Logs.
      if (dims.length !== set.length) continue;
      const Dimensions = dims.map((Name) => ({ Name, Value: doc[Name] as string }));
      for (const m of d.Metrics as { Name?: unknown; Unit?: unknown; StorageResolution?: unknown }[]) {
        if (typeof m.Name !== "string") continue;
        const raw = doc[m.Name];
        const values = (Array.isArray(raw) ? raw : [raw]).filter(
          (v): v is number => typeof v === "number" && Number.isFinite(v),
        );
        const common = {
          MetricName: m.Name,
          Dimensions,
          Timestamp: timestamp,
          ...(typeof m.Unit === "string" ? { Unit: m.Unit as MetricDatum["Unit"] } : {}),
          ...(m.StorageResolution === 1 ? { StorageResolution: 1 } : {}),
        };
        for (let i = 0; i < values.length; i += MAX_VALUES) {
          data.push({ ...common, Values: values.slice(i, i + MAX_VALUES) });
        }
      }
    }
    if (data.length > 0) out.push({ namespace: d.Namespace, data });
  }
  return out;
}

export interface MetricsForwarderOptions {
  readonly cloudWatch: CloudWatchClient;
  readonly logger: Logger;
  /** How long lines gather before a PutMetricData, as CloudWatch Logs batches. @default 250 */
  readonly intervalMs?: number;
}

/** Gathers the metrics of EMF lines and puts them, one call per namespace and thousand data. */
export class MetricsForwarder {
  readonly #o: MetricsForwarderOptions;
  #pending = new Map<string, MetricDatum[]>();
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> = Promise.resolve();

  constructor(o: MetricsForwarderOptions) {
    this.#o = o;
  }

  /** A log stream line (see LogLine). */
  readonly write = (line: string): void => {
    for (const { namespace, data } of extractEmf(line)) {
      const list = this.#pending.get(namespace) ?? [];
      list.push(...data);
      this.#pending.set(namespace, list);
    }
    if (this.#pending.size > 0 && this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush(), this.#o.intervalMs ?? 250);
      this.#timer.unref();
    }
  };

  /** Sends what has gathered; resolves when every earlier line's metrics were put (or refused). */
  flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = new Map();
    this.#sending = this.#sending.then(async () => {
      for (const [namespace, data] of batch) {
        for (let i = 0; i < data.length; i += MAX_DATA) {
          try {
            await this.#o.cloudWatch.send(
              new PutMetricDataCommand({ Namespace: namespace, MetricData: data.slice(i, i + MAX_DATA) }),
            );
          } catch (err) {
            // Metrics are best effort, as on AWS: a refused put costs figures, never a record.
            this.#o.logger.warn("metrics not put", {
              namespace,
              error: (err as Error).name,
              message: (err as Error).message.slice(0, 200),
            });
          }
        }
      }
    });
    return this.#sending;
  }
}
