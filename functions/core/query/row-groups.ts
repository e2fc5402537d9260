/**
 * What row-group statistics rule out: a row group whose event times all fall outside the range
 * (or before the cursor), or whose min/max of a key column cannot hold any of the keys sought.
 * A missing statistic rules nothing out.
 */
import type { FileMetaData } from "hyparquet";
import type { Position, TimeRange } from "./types.ts";

/** A key sought in one column: the column's dotted path and the values that match. */
export interface KeyMatch {
  readonly column: string;
  readonly values: readonly string[];
}

type Stat = bigint | boolean | number | string | Date | Uint8Array | undefined;

function statsOf(metadata: FileMetaData, rg: number, path: string) {
  const c = metadata.row_groups[rg]!.columns.find((col) => col.meta_data?.path_in_schema.join(".") === path);
  const s = c?.meta_data?.statistics;
  return { min: (s?.min_value ?? s?.min) as Stat, max: (s?.max_value ?? s?.max) as Stat };
}

const msOf = (v: Stat) => (v instanceof Date ? v.getTime() : undefined);

/** Event-time bounds of a row group, in ms; infinite where the statistic is missing. */
export function timeBounds(metadata: FileMetaData, rg: number): { min: number; max: number } {
  const { min, max } = statsOf(metadata, rg, "_event_time");
  return { min: msOf(min) ?? -Infinity, max: msOf(max) ?? Infinity };
}

export function timeMayMatch(
  bounds: { min: number; max: number },
  range: TimeRange | undefined,
  after: Position | undefined,
): boolean {
  if (range && (bounds.max < range.fromMs || bounds.min >= range.toMs)) return false;
  // Rows at the cursor's own millisecond may still follow it by record id.
  if (after && bounds.max < after.ts) return false;
  return true;
}

/** The key as the column's statistic type, for comparing with its min/max; undefined if it cannot be one. */
function asStatType(key: string, sample: Stat): Stat {
  if (typeof sample === "string") return key;
  if (typeof sample === "bigint") return /^-?[0-9]{1,19}$/.test(key) ? BigInt(key) : undefined;
  if (typeof sample === "number")
    return key.trim() !== "" && Number.isFinite(Number(key)) ? Number(key) : undefined;
  if (typeof sample === "boolean") return key === "true" ? true : key === "false" ? false : undefined;
  if (sample instanceof Date) {
    const ms = Date.parse(key);
    return Number.isNaN(ms) ? undefined : new Date(ms);
  }
  return undefined;
}

function within(v: Stat, min: Stat, max: Stat): boolean {
  if (typeof v === "string") {
    // Parquet orders strings by unsigned bytes, which UTF-16 comparison does not always agree with.
    const b = Buffer.from(v);
    return (
      Buffer.compare(b, Buffer.from(String(min))) >= 0 && Buffer.compare(b, Buffer.from(String(max))) <= 0
    );
  }
  const n = (x: Stat) => (x instanceof Date ? x.getTime() : x);
  const [a, lo, hi] = [n(v), n(min), n(max)] as [
    string | number | bigint,
    string | number | bigint,
    string | number | bigint,
  ];
  return a >= lo && a <= hi;
}

/**
 * Whether row group `rg` may hold a row matching any of `keys`. A key that cannot be a value of
 * the column's type (`abc` for an INT64 column) can never match there.
 */
export function keyMayMatch(metadata: FileMetaData, rg: number, keys: readonly KeyMatch[]): boolean {
  for (const k of keys) {
    const { min, max } = statsOf(metadata, rg, k.column);
    const known = metadata.row_groups[rg]!.columns.some(
      (c) => c.meta_data?.path_in_schema.join(".") === k.column,
    );
    if (!known) continue;
    if (min === undefined || max === undefined) return true;
    for (const value of k.values) {
      const v = asStatType(value, min);
      if (v !== undefined && within(v, min, max)) return true;
    }
  }
  return false;
}

/** Whether a decoded value equals a key given as text. */
export function valueMatches(value: unknown, key: string): boolean {
  if (value === null || value === undefined) return false;
  if (value instanceof Date) return value.toISOString() === key || value.getTime() === Date.parse(key);
  return String(value) === key;
}
