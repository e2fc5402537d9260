/**
 * A stream's figures over the last minutes, from the metrics ingest, import jobs and the batcher
 * emit in EMF (functions/core/metrics.ts), read back with one GetMetricData: totals and a
 * per-minute series. Ingest's and imports' counts are read by their exact dimensions and added;
 * rejections by code and the pipelines' deliveries with SEARCH (one series per code or pipeline,
 * named by a dynamic label), because the codes met and the pipelines reading a stream are not
 * known here. A stream read by two
 * pipelines is delivered twice: `delivered` is the sum over `pipelines`, each listed with its own.
 */
import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type MetricDataQuery,
  type MetricDataResult,
} from "@aws-sdk/client-cloudwatch";
import { SluiceError } from "../errors.ts";
import { BATCH_SERVICE, IMPORT_SERVICE, INGEST_SERVICE, metricsNamespace } from "../metrics.ts";

export const DEFAULT_MINUTES = 60;
/** One day of minutes: 1440 points per series, well inside GetMetricData's 100,800. */
export const MAX_MINUTES = 1440;

export interface MinuteFigures {
  /** Start of the minute (ISO-8601). */
  readonly time: string;
  readonly accepted: number;
  readonly duplicates: number;
  readonly rejected: number;
  readonly bytes: number;
  readonly delivered: number;
}

export interface PipelineFigures {
  readonly delivered: number;
  readonly files: number;
  /** The longest event-time-to-file lag of a committed batch in the window; null without one. */
  readonly lagMaxMs: number | null;
}

export interface StreamStats {
  readonly stream: string;
  readonly minutes: number;
  readonly from: string;
  readonly to: string;
  readonly totals: Omit<MinuteFigures, "time"> & PipelineFigures;
  readonly rejectedByCode: Readonly<Record<string, number>>;
  readonly pipelines: Readonly<Record<string, PipelineFigures>>;
  /** One entry per minute, oldest first, zeros where nothing happened. */
  readonly series: readonly MinuteFigures[];
}

export function parseMinutes(raw: string | undefined): number {
  if (raw === undefined || raw === "") return DEFAULT_MINUTES;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_MINUTES) {
    throw new SluiceError(
      "INVALID_QUERY",
      `minutes must be a whole number from 1 to ${MAX_MINUTES}, not ${JSON.stringify(raw.slice(0, 20))}`,
      400,
      "/minutes",
    );
  }
  return n;
}

/** CloudWatch's dynamic label of a dimension's value, `${PROP('Dim.<name>')}`. */
const dimensionLabel = (name: string) => "${PROP('Dim." + name + "')}";
const quoted = (s: string) => `"${s.replace(/["\\]/g, "\\$&")}"`;

/** Who puts records on a stream (the API and import jobs), and the suffix of their query ids. */
const INTAKE = [
  [INGEST_SERVICE, ""],
  [IMPORT_SERVICE, "_import"],
] as const;

function queries(app: string, stream: string): MetricDataQuery[] {
  const Namespace = metricsNamespace(app);
  const ingest = (Id: string, MetricName: string, service: string): MetricDataQuery => ({
    Id,
    MetricStat: {
      Metric: {
        Namespace,
        MetricName,
        Dimensions: [
          { Name: "service", Value: service },
          { Name: "Stream", Value: stream },
        ],
      },
      Period: 60,
      Stat: "Sum",
    },
  });
  const search = (
    Id: string,
    by: string,
    service: string,
    MetricName: string,
    stat: string,
  ): MetricDataQuery => ({
    Id,
    Expression: `SEARCH('{${quoted(Namespace)},${quoted(by)},"Stream","service"} Stream=${quoted(stream)} service=${quoted(service)} MetricName=${quoted(MetricName)}', '${stat}', 60)`,
    Label: dimensionLabel(by),
  });
  const intake = INTAKE.flatMap(([service, suffix]) => [
    ingest(`accepted${suffix}`, "RecordsAccepted", service),
    ingest(`duplicates${suffix}`, "RecordsDuplicate", service),
    ingest(`rejected${suffix}`, "RecordsRejected", service),
    ingest(`bytes${suffix}`, "BytesAccepted", service),
    search(`byCode${suffix}`, "Code", service, "RecordsRejected", "Sum"),
  ]);
  return [
    ...intake,
    search("delivered", "Pipeline", BATCH_SERVICE, "RecordsDelivered", "Sum"),
    search("files", "Pipeline", BATCH_SERVICE, "FilesWritten", "Sum"),
    search("lag", "Pipeline", BATCH_SERVICE, "DeliveryLag", "Maximum"),
  ];
}

async function metricData(
  cloudWatch: CloudWatchClient,
  input: { StartTime: Date; EndTime: Date; MetricDataQueries: MetricDataQuery[] },
): Promise<MetricDataResult[]> {
  const results: MetricDataResult[] = [];
  let NextToken: string | undefined;
  do {
    const out = await cloudWatch.send(
      new GetMetricDataCommand({
        ...input,
        ScanBy: "TimestampAscending",
        ...(NextToken ? { NextToken } : {}),
      }),
    );
    results.push(...(out.MetricDataResults ?? []));
    NextToken = out.NextToken;
  } while (NextToken);
  return results;
}

const sum = (values: readonly number[] | undefined) => (values ?? []).reduce((a, b) => a + b, 0);

export async function streamStats(
  cloudWatch: CloudWatchClient,
  app: string,
  stream: string,
  minutes: number,
  nowMs: number,
): Promise<StreamStats> {
  const end = Math.ceil((nowMs + 1) / 60_000) * 60_000;
  const start = end - minutes * 60_000;
  const results = await metricData(cloudWatch, {
    StartTime: new Date(start),
    EndTime: new Date(end),
    MetricDataQueries: queries(app, stream),
  });
  // A paged answer may split one series; points of the same id and label belong together.
  const series = new Map<string, Map<number, number>>();
  for (const r of results) {
    const key = `${r.Id}\u0000${r.Label ?? ""}`;
    const points = series.get(key) ?? new Map<number, number>();
    for (const [i, t] of (r.Timestamps ?? []).entries()) points.set(t.getTime(), r.Values?.[i] ?? 0);
    series.set(key, points);
  }
  const byId = (id: string) =>
    [...series]
      .filter(([k]) => k.startsWith(`${id}\u0000`))
      .map(([k, p]) => [k.slice(id.length + 1), p] as const);
  const intake = (id: string) => INTAKE.flatMap(([, suffix]) => byId(`${id}${suffix}`));
  const at = (series: readonly (readonly [string, Map<number, number>])[], t: number) =>
    sum(series.map(([, p]) => p.get(t) ?? 0));

  const pipelines: Record<string, PipelineFigures> = {};
  for (const id of ["delivered", "files", "lag"] as const) {
    for (const [name, points] of byId(id)) {
      const p = pipelines[name] ?? { delivered: 0, files: 0, lagMaxMs: null };
      const values = [...points.values()];
      pipelines[name] =
        id === "lag"
          ? { ...p, lagMaxMs: values.length === 0 ? null : Math.max(...values) }
          : { ...p, [id]: sum(values) };
    }
  }
  const rejectedByCode: Record<string, number> = {};
  for (const [code, points] of intake("byCode")) {
    const n = sum([...points.values()]);
    if (n > 0) rejectedByCode[code] = (rejectedByCode[code] ?? 0) + n;
  }

  const minutesSeries: MinuteFigures[] = [];
  for (let t = start; t < end; t += 60_000) {
    minutesSeries.push({
      time: new Date(t).toISOString(),
      accepted: at(intake("accepted"), t),
      duplicates: at(intake("duplicates"), t),
      rejected: at(intake("rejected"), t),
      bytes: at(intake("bytes"), t),
      delivered: at(byId("delivered"), t),
    });
  }
  const lags = Object.values(pipelines).flatMap((p) => (p.lagMaxMs === null ? [] : [p.lagMaxMs]));
  const total = (k: "accepted" | "duplicates" | "rejected" | "bytes") => sum(minutesSeries.map((m) => m[k]));
  return {
    stream,
    minutes,
    from: new Date(start).toISOString(),
    to: new Date(end).toISOString(),
    totals: {
      accepted: total("accepted"),
      duplicates: total("duplicates"),
      rejected: total("rejected"),
      bytes: total("bytes"),
      delivered: sum(Object.values(pipelines).map((p) => p.delivered)),
      files: sum(Object.values(pipelines).map((p) => p.files)),
      lagMaxMs: lags.length === 0 ? null : Math.max(...lags),
    },
    rejectedByCode,
    pipelines,
    series: minutesSeries,
  };
}
