/**
 * An Iceberg sink's partition spec, from the manifest's `partition` list or derived from its
 * prefix template. Files are cut by the prefix, so every term must be constant within a file:
 * the prefix has to split at least as finely as the spec (hour(ts) needs {HH}, identity(f) needs
 * {field:f}). Partition field ids start at 1000, as the spec's reference implementation does.
 */
import { EVENT_TIME_FIELD_ID } from "./schema.ts";

export type PartitionTerm =
  | { readonly transform: "hour" | "day"; readonly source: "ts" }
  | { readonly transform: "identity"; readonly source: string };

export interface PartitionField {
  readonly "source-id": number;
  readonly "field-id": number;
  readonly name: string;
  readonly transform: string;
}

export const FIRST_PARTITION_FIELD_ID = 1000;

const TERM = /^(hour|day|identity)\(([^()\s]+)\)$/;

export function parsePartitionTerm(text: string): PartitionTerm | undefined {
  const m = TERM.exec(text);
  if (!m) return undefined;
  const [, transform, source] = m;
  if (transform === "identity") return { transform, source: source! };
  return source === "ts" ? { transform: transform as "hour" | "day", source: "ts" } : undefined;
}

/** The spec a prefix implies: the finest time unit it splits by, then its {field:...} values. */
export function derivePartition(prefix: string): string[] {
  const terms: string[] = [];
  if (prefix.includes("{HH}")) terms.push("hour(ts)");
  else if (prefix.includes("{dd}")) terms.push("day(ts)");
  for (const m of prefix.matchAll(/\{field:([^{}]+)\}/g)) terms.push(`identity(${m[1]})`);
  return [...new Set(terms)];
}

/** Why files cut by `prefix` could hold several values of `term`, or undefined when they cannot. */
export function partitionCoverageProblem(prefix: string, term: PartitionTerm): string | undefined {
  const has = (p: string) => prefix.includes(`{${p}}`);
  const dated = has("yyyy") && has("MM") && has("dd");
  if (term.transform === "hour" && !(dated && has("HH")))
    return "hour(ts) needs {yyyy}, {MM}, {dd} and {HH} in the prefix, so each file holds one hour";
  if (term.transform === "day" && !dated)
    return "day(ts) needs {yyyy}, {MM} and {dd} in the prefix, so each file holds one day";
  if (term.transform === "identity" && !has(`field:${term.source}`))
    return `identity(${term.source}) needs {field:${term.source}} in the prefix, so each file holds one value`;
  return undefined;
}

/** The terms of a sink: its own list, else the prefix's. */
export function partitionTerms(sink: { readonly prefix: string; readonly partition?: readonly string[] }) {
  return (sink.partition ?? derivePartition(sink.prefix)).map((t) => {
    const term = parsePartitionTerm(t);
    if (!term) throw new Error(`invalid partition term ${t}`);
    return term;
  });
}

/** Partition fields over a schema: `fieldIdOf` finds a field path's column id. */
export function partitionFields(
  terms: readonly PartitionTerm[],
  fieldIdOf: (path: string) => number | undefined,
): PartitionField[] {
  return terms.map((term, i) => {
    const sourceId =
      term.source === "ts" && term.transform !== "identity" ? EVENT_TIME_FIELD_ID : fieldIdOf(term.source);
    if (sourceId === undefined)
      throw new Error(`partition source ${term.source} is not a column of the table`);
    return {
      "source-id": sourceId,
      "field-id": FIRST_PARTITION_FIELD_ID + i,
      name: partitionFieldName(term),
      transform: term.transform,
    };
  });
}

export function partitionFieldName(term: PartitionTerm): string {
  return term.transform === "identity" ? term.source.replaceAll(".", "_") : `_event_time_${term.transform}`;
}

/** Where a file's partition values come from: any one of its records (they share them). */
export interface PartitionSource {
  readonly eventTimeMs: number;
  /** The record's payload, parsed; only read for identity terms. */
  readonly data?: unknown;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** A file's partition tuple: hours or days since the epoch, or the field's value (null if absent). */
export function partitionValues(
  terms: readonly PartitionTerm[],
  source: PartitionSource,
): Record<string, number | string | boolean | null> {
  const out: Record<string, number | string | boolean | null> = {};
  for (const term of terms) {
    const name = partitionFieldName(term);
    if (term.transform === "hour") out[name] = Math.floor(source.eventTimeMs / HOUR_MS);
    else if (term.transform === "day") out[name] = Math.floor(source.eventTimeMs / DAY_MS);
    else {
      let v: unknown = source.data;
      for (const p of term.source.split("."))
        v = v && typeof v === "object" ? (v as Record<string, unknown>)[p] : undefined;
      out[name] = typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? v : null;
    }
  }
  return out;
}
