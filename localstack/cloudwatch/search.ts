/**
 * TEST INFRASTRUCTURE ONLY: the part of CloudWatch's metric math the Sluice code sends, a
 * `SEARCH('{Namespace,Dim,...} Name="value" ...', 'Stat', period)`, and the `${PROP('Dim.X')}`
 * dynamic labels of its series. A schema matches the metrics with exactly those dimensions; a
 * quoted term matches its property's whole value, an unquoted one any part of it (case-blind).
 * Boolean operators, unqualified terms and the rest of metric math are refused by name.
 */
import { CloudWatchError } from "./errors.ts";

export interface MetricIdentity {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

export interface Search {
  readonly namespace: string;
  readonly dimensionNames: readonly string[];
  readonly terms: readonly { readonly property: string; readonly value: string; readonly exact: boolean }[];
  readonly stat: string;
  readonly period?: number;
}

const SEARCH = /^\s*SEARCH\(\s*'((?:[^'\\]|\\.)*)'\s*,\s*'([^']+)'\s*(?:,\s*(\d+)\s*)?\)\s*$/;

const invalid = (message: string) =>
  new CloudWatchError("InvalidParameterValueException", "InvalidParameterValue", message);

/** `"a b",c` -> [`a b`, `c`]: a schema's comma-separated, optionally quoted names. */
function schemaNames(text: string): string[] {
  const names: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|([^,"]+?))\s*(?:,|$)/gy;
  while (re.lastIndex < text.length) {
    const m = re.exec(text);
    if (m === null) break;
    const name = m[1] ?? m[2]?.trim() ?? "";
    if (name === "") throw invalid(`empty name in the metric schema {${text}}`);
    names.push(name);
  }
  return names;
}

export function parseSearch(expression: string): Search {
  const m = SEARCH.exec(expression);
  if (!m) {
    throw invalid(
      `the embedded CloudWatch evaluates SEARCH('{Namespace,...} Name="value"', 'Stat', period) expressions only, not ${JSON.stringify(expression.slice(0, 80))}`,
    );
  }
  const query = m[1]!.replace(/\\'/g, "'");
  const schema = /^\s*\{([^}]*)\}/.exec(query);
  if (!schema) throw invalid("a SEARCH needs a metric schema {Namespace,...} in the embedded CloudWatch");
  const [namespace, ...dimensionNames] = schemaNames(schema[1]!);
  if (namespace === undefined) throw invalid("the metric schema names no namespace");
  const terms: Search["terms"][number][] = [];
  const rest = query.slice(schema[0].length);
  const term = /\s*([A-Za-z0-9_.:-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"()]+))/y;
  let at = 0;
  while (rest.slice(at).trim() !== "") {
    term.lastIndex = at;
    const t = term.exec(rest);
    if (!t) throw invalid(`unsupported search term at ${JSON.stringify(rest.slice(at).trim().slice(0, 40))}`);
    terms.push({ property: t[1]!, value: t[2] ?? t[3]!, exact: t[2] !== undefined });
    at = term.lastIndex;
  }
  return { namespace, dimensionNames, terms, stat: m[2]!, ...(m[3] ? { period: Number(m[3]) } : {}) };
}

function propertyOf(metric: MetricIdentity, property: string): string | undefined {
  if (property === "MetricName") return metric.metricName;
  if (property === "Namespace") return metric.namespace;
  return metric.dimensions[property];
}

export function matchesSearch(search: Search, metric: MetricIdentity): boolean {
  if (metric.namespace !== search.namespace) return false;
  const names = Object.keys(metric.dimensions);
  if (names.length !== search.dimensionNames.length) return false;
  if (!search.dimensionNames.every((n) => names.includes(n))) return false;
  return search.terms.every((t) => {
    const value = propertyOf(metric, t.property);
    if (value === undefined) return false;
    return t.exact ? value === t.value : value.toLowerCase().includes(t.value.toLowerCase());
  });
}

/** `${PROP('Dim.Code')}`, `${PROP('MetricName')}`, `${PROP('Namespace')}` in a series' label. */
export function dynamicLabel(label: string, metric: MetricIdentity): string {
  return label.replace(/\$\{PROP\('([^']+)'\)\}/g, (whole, prop: string) => {
    if (prop === "MetricName") return metric.metricName;
    if (prop === "Namespace") return metric.namespace;
    if (prop.startsWith("Dim.")) return metric.dimensions[prop.slice(4)] ?? "";
    return whole;
  });
}
