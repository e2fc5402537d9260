/**
 * TEST INFRASTRUCTURE ONLY: CloudWatch metrics for the embedded stack (no CloudWatch emulator is
 * reachable from the registries here): PutMetricData and GetMetricData as
 * @aws-sdk/client-cloudwatch speaks them (AWS JSON 1.0, Query-compatible errors, timestamps in
 * epoch seconds). Datapoints are kept in memory for two weeks as statistic sets, so Sum, Average,
 * Minimum, Maximum and SampleCount are exact; percentiles are refused. Periods are aligned to the
 * epoch (CloudWatch rounds StartTime to the period the same way for recent data). Expressions are
 * SEARCH only (./search.ts).
 */
import type { JsonObject } from "../aws-json-server.ts";
import { CloudWatchError } from "./errors.ts";
import { dynamicLabel, type MetricIdentity, matchesSearch, parseSearch, type Search } from "./search.ts";

export const CLOUDWATCH_OPERATIONS = ["PutMetricData", "GetMetricData"] as const;
export type CloudWatchOperation = (typeof CLOUDWATCH_OPERATIONS)[number];

export function isCloudWatchOperation(name: string): name is CloudWatchOperation {
  return (CLOUDWATCH_OPERATIONS as readonly string[]).includes(name);
}

const RETENTION_MS = 14 * 24 * 3600_000;
const MAX_FUTURE_MS = 2 * 3600_000;
const STATS = ["Sum", "Average", "Minimum", "Maximum", "SampleCount"] as const;
type Stat = (typeof STATS)[number];
const UNITS = new Set([
  "Seconds",
  "Microseconds",
  "Milliseconds",
  "Bytes",
  "Kilobytes",
  "Megabytes",
  "Gigabytes",
  "Terabytes",
  "Bits",
  "Kilobits",
  "Megabits",
  "Gigabits",
  "Terabits",
  "Percent",
  "Count",
  "Bytes/Second",
  "Kilobytes/Second",
  "Megabytes/Second",
  "Gigabytes/Second",
  "Terabytes/Second",
  "Bits/Second",
  "Kilobits/Second",
  "Megabits/Second",
  "Gigabits/Second",
  "Terabits/Second",
  "Count/Second",
  "None",
]);
const QUERY_ID = /^[a-z][a-zA-Z0-9_]*$/;

interface Datapoint {
  readonly t: number;
  readonly unit: string;
  readonly n: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
}

interface StoredMetric extends MetricIdentity {
  readonly points: Datapoint[];
}

const invalid = (message: string) =>
  new CloudWatchError("InvalidParameterValueException", "InvalidParameterValue", message);
const missing = (name: string) =>
  new CloudWatchError(
    "MissingRequiredParameterException",
    "MissingParameter",
    `The parameter ${name} is required.`,
  );

function str(input: JsonObject, name: string, where: string, max = 255): string {
  const v = input[name];
  if (v === undefined || v === null) throw missing(`${where}${name}`);
  if (typeof v !== "string" || v.length < 1 || v.length > max) {
    throw invalid(`The parameter ${where}${name} must be a string of 1 to ${max} characters.`);
  }
  return v;
}

function list(input: JsonObject, name: string): JsonObject[] {
  const v = input[name];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(`The parameter ${name} must be a list.`);
  return v as JsonObject[];
}

function finite(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isFinite(v))
    throw invalid(`The value ${where} must be a finite number.`);
  return v;
}

/** Epoch seconds on the wire (the JSON protocol's default timestamp format). */
function time(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isFinite(v))
    throw invalid(`The parameter ${where} must be a timestamp.`);
  return v * 1000;
}

function dimensionsOf(input: JsonObject, where: string): Record<string, string> {
  const dims: Record<string, string> = {};
  const given = list(input, "Dimensions");
  if (given.length > 30)
    throw invalid(`The collection ${where}Dimensions must not have more than 30 members.`);
  given.forEach((d, i) => {
    const name = str(d, "Name", `${where}Dimensions.member.${i + 1}.`);
    dims[name] = str(d, "Value", `${where}Dimensions.member.${i + 1}.`, 1024);
  });
  return dims;
}

const keyOf = (m: MetricIdentity) =>
  JSON.stringify([
    m.namespace,
    m.metricName,
    Object.entries(m.dimensions).sort(([a], [b]) => (a < b ? -1 : 1)),
  ]);

export class CloudWatchEmulator {
  readonly #metrics = new Map<string, StoredMetric>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  handle(operation: CloudWatchOperation, input: JsonObject): JsonObject {
    return operation === "PutMetricData" ? this.putMetricData(input) : this.getMetricData(input);
  }

  putMetricData(input: JsonObject): JsonObject {
    const namespace = str(input, "Namespace", "", 255);
    if (namespace.startsWith("AWS/")) throw invalid("The value AWS/ for parameter Namespace is reserved.");
    const data = list(input, "MetricData");
    if (data.length === 0) throw missing("MetricData");
    if (data.length > 1000) throw invalid("The collection MetricData must not have more than 1000 members.");
    const now = this.#now();
    // Validate all before storing any: a refused call stores nothing, as CloudWatch's does.
    const parsed = data.map((d, i) => {
      const where = `MetricData.member.${i + 1}.`;
      const metricName = str(d, "MetricName", where);
      const dimensions = dimensionsOf(d, where);
      const t = d.Timestamp === undefined ? now : time(d.Timestamp, `${where}Timestamp`);
      if (t < now - RETENTION_MS || t > now + MAX_FUTURE_MS) {
        throw invalid(
          `The parameter ${where}Timestamp must be within the past two weeks and 2 hours from now.`,
        );
      }
      const unit = d.Unit === undefined ? "None" : String(d.Unit);
      if (!UNITS.has(unit)) throw invalid(`The parameter ${where}Unit has an invalid value ${unit}.`);
      return {
        identity: { namespace, metricName, dimensions },
        point: { t, unit, ...statisticSet(d, where) },
      };
    });
    for (const { identity, point } of parsed) {
      const key = keyOf(identity);
      let stored = this.#metrics.get(key);
      if (!stored) {
        stored = { ...identity, points: [] };
        this.#metrics.set(key, stored);
      }
      stored.points.push(point);
      // Old datapoints leave from the front; an out-of-order one only delays that by a call.
      while (stored.points.length > 0 && stored.points[0]!.t < now - RETENTION_MS) stored.points.shift();
    }
    return {};
  }

  getMetricData(input: JsonObject): JsonObject {
    const queries = list(input, "MetricDataQueries");
    if (queries.length === 0) throw missing("MetricDataQueries");
    if (queries.length > 500)
      throw invalid("The collection MetricDataQueries must not have more than 500 members.");
    if (input.StartTime === undefined) throw missing("StartTime");
    if (input.EndTime === undefined) throw missing("EndTime");
    const start = time(input.StartTime, "StartTime");
    const end = time(input.EndTime, "EndTime");
    if (start >= end) throw invalid("The parameter StartTime must be less than the parameter EndTime.");
    const descending = (input.ScanBy ?? "TimestampDescending") === "TimestampDescending";
    const ids = new Set<string>();
    const results: JsonObject[] = [];
    queries.forEach((q, i) => {
      const where = `MetricDataQueries.member.${i + 1}.`;
      const id = str(q, "Id", where);
      if (!QUERY_ID.test(id)) throw invalid(`The value ${id} for parameter ${where}Id is not valid.`);
      if (ids.has(id)) throw invalid(`The value ${id} for parameter MetricDataQueries is duplicated.`);
      ids.add(id);
      const hasStat = q.MetricStat !== undefined;
      if (hasStat === (q.Expression !== undefined)) {
        throw new CloudWatchError(
          "InvalidParameterCombinationException",
          "InvalidParameterCombination",
          `Exactly one of ${where}MetricStat and ${where}Expression must be given.`,
        );
      }
      const series = hasStat
        ? this.#statSeries(q.MetricStat as JsonObject, `${where}MetricStat.`)
        : this.#searchSeries(String(q.Expression), q.Period, where);
      if (q.ReturnData === false) return;
      for (const s of series) {
        const points = this.#aggregate(s, start, end, descending);
        const label = typeof q.Label === "string" ? dynamicLabel(q.Label, s.metric) : s.metric.metricName;
        results.push({
          Id: id,
          Label: label,
          Timestamps: points.map(([t]) => t / 1000),
          Values: points.map(([, v]) => v),
          StatusCode: "Complete",
        });
      }
    });
    return { MetricDataResults: results, Messages: [] };
  }

  #statSeries(stat: JsonObject, where: string): Series[] {
    const metric = (stat.Metric ?? {}) as JsonObject;
    const identity: MetricIdentity = {
      namespace: str(metric, "Namespace", `${where}Metric.`),
      metricName: str(metric, "MetricName", `${where}Metric.`),
      dimensions: dimensionsOf(metric, `${where}Metric.`),
    };
    const period = periodOf(stat.Period, `${where}Period`);
    const unit = stat.Unit === undefined ? undefined : String(stat.Unit);
    const s = statOf(str(stat, "Stat", where));
    const stored = this.#metrics.get(keyOf(identity));
    return [{ metric: identity, points: stored?.points ?? [], period, stat: s, ...(unit ? { unit } : {}) }];
  }

  #searchSeries(expression: string, queryPeriod: unknown, where: string): Series[] {
    const search: Search = parseSearch(expression);
    const period = periodOf(search.period ?? queryPeriod, `${where}Period`);
    const stat = statOf(search.stat);
    const found: Series[] = [];
    for (const m of this.#metrics.values()) {
      if (matchesSearch(search, m)) found.push({ metric: m, points: m.points, period, stat });
    }
    // CloudWatch answers at most 500 series for one search.
    return found.slice(0, 500);
  }

  #aggregate(s: Series, start: number, end: number, descending: boolean): [number, number][] {
    const from = Math.floor(start / (s.period * 1000)) * s.period * 1000;
    const buckets = new Map<number, { n: number; sum: number; min: number; max: number }>();
    for (const p of s.points) {
      if (p.t < from || p.t >= end || (s.unit !== undefined && p.unit !== s.unit)) continue;
      const b = Math.floor(p.t / (s.period * 1000)) * s.period * 1000;
      const acc = buckets.get(b);
      if (!acc) buckets.set(b, { n: p.n, sum: p.sum, min: p.min, max: p.max });
      else {
        acc.n += p.n;
        acc.sum += p.sum;
        acc.min = Math.min(acc.min, p.min);
        acc.max = Math.max(acc.max, p.max);
      }
    }
    const value = (a: { n: number; sum: number; min: number; max: number }): number => {
      switch (s.stat) {
        case "Sum":
          return a.sum;
        case "Average":
          return a.n === 0 ? 0 : a.sum / a.n;
        case "Minimum":
          return a.min;
        case "Maximum":
          return a.max;
        case "SampleCount":
          return a.n;
      }
    };
    const out = [...buckets].map(([t, a]): [number, number] => [t, value(a)]);
    return out.sort(([a], [b]) => (descending ? b - a : a - b));
  }
}

interface Series {
  readonly metric: MetricIdentity;
  readonly points: readonly Datapoint[];
  readonly period: number;
  readonly stat: Stat;
  readonly unit?: string;
}

function statOf(stat: string): Stat {
  if ((STATS as readonly string[]).includes(stat)) return stat as Stat;
  throw invalid(
    `The embedded CloudWatch keeps statistic sets only: Stat ${JSON.stringify(stat)} is not one of ${STATS.join(", ")}.`,
  );
}

function periodOf(v: unknown, where: string): number {
  if (v === undefined) throw missing(where);
  const period = finite(v, where);
  if (
    !Number.isInteger(period) ||
    period < 1 ||
    (period >= 60 ? period % 60 !== 0 : ![1, 5, 10, 30].includes(period))
  ) {
    throw invalid(`The parameter ${where} must be 1, 5, 10, 30 or a multiple of 60.`);
  }
  return period;
}

function statisticSet(d: JsonObject, where: string): { n: number; sum: number; min: number; max: number } {
  const given = [d.Value !== undefined, d.Values !== undefined, d.StatisticValues !== undefined].filter(
    Boolean,
  );
  if (given.length !== 1) {
    throw new CloudWatchError(
      "InvalidParameterCombinationException",
      "InvalidParameterCombination",
      `Exactly one of ${where}Value, ${where}Values and ${where}StatisticValues must be given.`,
    );
  }
  if (d.Value !== undefined) {
    const v = finite(d.Value, `${where}Value`);
    return { n: 1, sum: v, min: v, max: v };
  }
  if (d.Values !== undefined) {
    const values = (d.Values as unknown[]).map((v, i) => finite(v, `${where}Values.member.${i + 1}`));
    if (values.length === 0 || values.length > 150) {
      throw invalid(`The collection ${where}Values must have 1 to 150 members.`);
    }
    const counts =
      d.Counts === undefined
        ? values.map(() => 1)
        : (d.Counts as unknown[]).map((c, i) => finite(c, `${where}Counts.member.${i + 1}`));
    if (counts.length !== values.length) {
      throw invalid(
        `The collections ${where}Values and ${where}Counts must have the same number of members.`,
      );
    }
    let n = 0;
    let sum = 0;
    for (const [i, v] of values.entries()) {
      n += counts[i]!;
      sum += v * counts[i]!;
    }
    return { n, sum, min: Math.min(...values), max: Math.max(...values) };
  }
  const set = d.StatisticValues as JsonObject;
  return {
    n: finite(set.SampleCount, `${where}StatisticValues.SampleCount`),
    sum: finite(set.Sum, `${where}StatisticValues.Sum`),
    min: finite(set.Minimum, `${where}StatisticValues.Minimum`),
    max: finite(set.Maximum, `${where}StatisticValues.Maximum`),
  };
}
